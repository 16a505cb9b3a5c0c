//! The queue handlers: quality ratings (`<ns>.quality.rated`) and approved use-of-resources ratings
//! (`<ns>.uor.approved`) in batches — decode and validate each message, hand the valid ones to the
//! core ([`Combiner`]), settle each through the runtime's one map
//! (`oversight_runtime::error::settle`) — and the combined stream (`<ns>.combined.published`) that
//! keeps the read view current.

use anyhow::Context;
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt;
use oversight_proto::convert;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_rating::TrustCode;
use oversight_runtime::Shutdown;
use oversight_runtime::consumer::BatchOutcome;
use oversight_runtime::error::settle;
use oversight_runtime::nats::{Bus, HandleError, Incoming};
use prost::Message;

use crate::combining::{Combiner, Part, PartVersion};
use crate::error::CombinerError;
use crate::view::RatingsView;

/// A consumed part version: what it is (for the log and the dead letter) and the version when it
/// is valid.
type Checked = (String, Result<PartVersion, CombinerError>);

/// Batch handler for `<ns>.quality.rated` and `<ns>.uor.approved`: validate each message (an
/// invalid one is poison, alone), keep every part version in one transaction, recombine each
/// trust once, then publish the new combined versions together. A failure to keep or recombine is
/// transient for the messages it concerns.
pub async fn handle_batch(combiner: &Combiner, part: Part, batch: Vec<Incoming>) -> BatchOutcome {
    let mut outcomes: BatchOutcome = Vec::with_capacity(batch.len());
    let mut valid: Vec<(usize, String, PartVersion)> = Vec::with_capacity(batch.len());
    for (i, msg) in batch.iter().enumerate() {
        let checked = match part {
            Part::Quality => quality_part(msg),
            Part::Uor => uor_part(msg),
        };
        match checked {
            Ok((what, Ok(version))) => {
                valid.push((i, what, version));
                outcomes.push(Ok(()));
            }
            Ok((what, Err(e))) => outcomes.push(settle(what, Err(e))),
            // Undecodable: poison, as the runtime decodes.
            Err(e) => outcomes.push(Err(e)),
        }
    }
    if valid.is_empty() {
        return outcomes;
    }
    let versions: Vec<&PartVersion> = valid.iter().map(|(.., v)| v).collect();
    if let Err(e) = combiner.keep_parts(part, &versions).await {
        let e = format!("{e}");
        for (i, what, _) in &valid {
            let failed = anyhow::anyhow!("failed to keep {part:?} part versions: {e}");
            outcomes[*i] = settle(what, Err(CombinerError::Internal(failed)));
        }
        return outcomes;
    }
    // Each trust once, in the order of its first message.
    let mut trusts: Vec<&TrustCode> = Vec::new();
    for (.., v) in &valid {
        if !trusts.contains(&&v.trust) {
            trusts.push(&v.trust);
        }
    }
    let recombined = combiner.recombine_each(&trusts).await;
    for (trust, result) in trusts.iter().zip(recombined) {
        let Err(e) = result else { continue };
        let e = format!("{e:#}");
        for (i, what, v) in &valid {
            if &&v.trust == trust {
                let failed = anyhow::anyhow!("failed to recombine {trust}: {e}");
                outcomes[*i] = settle(what, Err(CombinerError::Internal(failed)));
            }
        }
    }
    outcomes
}

/// The trust a part version rates, when it names one and has a version.
fn checked_trust(trust_code: &str, version: u64) -> Result<TrustCode, CombinerError> {
    let trust = trust_code
        .parse()
        .map_err(|e| CombinerError::invalid("trust_code", e))?;
    if version == 0 {
        return Err(CombinerError::invalid("version", "no version"));
    }
    Ok(trust)
}

fn quality_part(msg: &Incoming) -> Result<Checked, HandleError> {
    let q: QualityRatingIssued = msg.decode()?;
    let checked = checked_trust(&q.trust_code, q.version).map(|trust| PartVersion {
        trust,
        version: q.version,
        payload: q.encode_to_vec(),
    });
    Ok((format!("quality rating {}", q.event_id), checked))
}

fn uor_part(msg: &Incoming) -> Result<Checked, HandleError> {
    let u: UseOfResourcesRatingApproved = msg.decode()?;
    let checked = checked_trust(&u.trust_code, u.version).and_then(|trust| {
        if u.rating
            .as_ref()
            .and_then(|r| convert::real_rating(r.rating))
            .is_none()
        {
            return Err(CombinerError::invalid("rating", "no real rating"));
        }
        Ok(PartVersion {
            trust,
            version: u.version,
            payload: u.encode_to_vec(),
        })
    });
    Ok((format!("UoR rating {}", u.event_id), checked))
}

/// The read view's reader: follow the combined stream from its start until `shutdown`, with an
/// ordered consumer (ephemeral, per replica; it recreates itself after a NATS outage), and apply
/// every version to `view` (an undecodable one is skipped: the stream is not ours to settle).
pub async fn follow_combined(
    view: &RatingsView,
    bus: &Bus,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let subjects = bus.subjects();
    let stream_name = subjects.combined_stream().name;
    let mut attempt = 0u32;
    loop {
        let started = async {
            let stream = bus
                .jetstream()
                .get_stream(&stream_name)
                .await
                .with_context(|| format!("stream {stream_name} is not there"))?;
            let consumer = stream
                .create_consumer(OrderedConfig {
                    filter_subject: subjects.combined_published(),
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .context("failed to create the read view's consumer")?;
            consumer
                .messages()
                .await
                .context("failed to follow the combined stream")
        }
        .await;
        let mut messages = match started {
            Ok(m) => m,
            Err(e) => {
                attempt += 1;
                tracing::warn!(error = %format!("{e:#}"), "read view waiting for the combined stream");
                let delay = oversight_runtime::consumer::retry_backoff(
                    attempt,
                    std::time::Duration::from_secs(5),
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        attempt = 0;
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                next = messages.next() => next,
            };
            match next {
                Some(Ok(msg)) => {
                    if let Err(e) = view.apply_encoded(msg.payload.as_ref()) {
                        tracing::warn!(error = %e, subject = %msg.subject, "undecodable combined rating skipped by the read view");
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "read view lost the combined stream; following it again");
                    break;
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oversight_proto::common::v1 as common;

    fn incoming(payload: Vec<u8>) -> Incoming {
        Incoming {
            subject: oversight_runtime::subjects::Subjects::default().uor_approved(),
            payload: payload.into(),
            headers: None,
            deliveries: 1,
            stream_sequence: 1,
        }
    }

    /// The queue decision for a consumed part version that is not valid.
    fn settled(checked: Result<Checked, HandleError>) -> Result<(), HandleError> {
        let (what, checked) = checked?;
        settle(what, checked.map(|_| ()))
    }

    fn uor(trust: &str, version: u64, rating: common::Rating) -> UseOfResourcesRatingApproved {
        UseOfResourcesRatingApproved {
            event_id: format!("{trust}-uor-v{version}"),
            trust_code: trust.into(),
            version,
            rating: Some(common::DatedRating {
                rating: rating as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_part_version_is_kept_as_it_came() {
        let u = uor("RXX", 2, common::Rating::Good);
        let (what, checked) = uor_part(&incoming(u.encode_to_vec())).unwrap();
        assert_eq!(what, "UoR rating RXX-uor-v2");
        assert_eq!(
            checked.unwrap(),
            PartVersion {
                trust: "RXX".parse().unwrap(),
                version: 2,
                payload: u.encode_to_vec(),
            }
        );
    }

    #[test]
    fn invalid_part_versions_are_dead_lettered_naming_the_field() {
        let quality = QualityRatingIssued {
            event_id: "Q1".into(),
            trust_code: "not a trust".into(),
            version: 1,
            ..Default::default()
        };
        let cases = [
            (
                settled(quality_part(&incoming(quality.encode_to_vec()))),
                "quality rating Q1: trust_code: ",
            ),
            (
                settled(uor_part(&incoming(
                    uor("RZZ", 0, common::Rating::Good).encode_to_vec(),
                ))),
                "UoR rating RZZ-uor-v0: version: no version",
            ),
            (
                settled(uor_part(&incoming(
                    uor("RZZ", 1, common::Rating::Unspecified).encode_to_vec(),
                ))),
                "UoR rating RZZ-uor-v1: rating: no real rating",
            ),
            (settled(quality_part(&incoming(vec![0xff]))), "undecodable"),
        ];
        for (outcome, reason) in cases {
            match outcome {
                Err(HandleError::Poison(r)) => assert!(r.contains(reason), "{r}"),
                other => panic!("{reason}: {other:?}"),
            }
        }
    }
}
