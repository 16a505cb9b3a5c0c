//! The queue handlers: decode each message, hand it to the core (`crate::resources`), and settle
//! it — ack, retry in place or dead-letter — through the runtime's one map
//! (`oversight_runtime::error::settle`).

use oversight_proto::evidence::v1 as ev;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_rating::TrustCode;
use oversight_runtime::consumer::{BatchOutcome, check_each, evidence_name, retry_in_place};
use oversight_runtime::error::settle;
use oversight_runtime::nats::{HandleError, Incoming};

use crate::resources::{Resources, ValidResource, validate_resource};

/// The batch handler for `<ns>.evidence.resources`: validate every message (an invalid one is
/// poison, alone), store the valid ones in one transaction, then publish a new approved-UoR
/// version for each trust whose rating changed. A failure to store is transient for the whole
/// batch; a failure to publish leaves the versions to the outbox sweep.
pub async fn evidence_batch(resources: &Resources, batch: Vec<Incoming>) -> BatchOutcome {
    let (mut outcomes, valid): (BatchOutcome, Vec<(usize, ValidResource)>) =
        check_each(&batch, validate_resource, |e: &ev::ResourceEvidence| {
            evidence_name(e.provenance.as_ref(), &e.trust_code)
        });
    if valid.is_empty() {
        return outcomes;
    }
    let stored = resources
        .store_resources(valid.iter().map(|(_, v)| v))
        .await;
    if let Err(e) = stored {
        let reason = format!("failed to store resource evidence: {e}");
        retry_in_place(&mut outcomes, valid.iter().map(|(i, _)| *i), reason);
        return outcomes;
    }
    let mut changed: Vec<&TrustCode> = Vec::new();
    for (_, v) in &valid {
        if v.rates_use_of_resources() && !changed.contains(&&v.trust) {
            changed.push(&v.trust);
        }
    }
    for trust in changed {
        if let Err(e) = resources.republish_unpublished(trust).await {
            let of_trust = valid.iter().filter(|(_, v)| &v.trust == trust);
            let reason = format!("failed to version the UoR rating of {trust}: {e:#}");
            retry_in_place(&mut outcomes, of_trust.map(|(i, _)| *i), reason);
        }
    }
    resources.outbox().publish_pending_or_defer().await;
    outcomes
}

/// The handler for `<ns>.quality.rated`: keep each trust's latest CQC overall rating (a
/// segmentation trigger) and learn trusts and their types.
pub async fn quality(resources: &Resources, msg: Incoming) -> Result<(), HandleError> {
    let q: QualityRatingIssued = msg.decode()?;
    let what = format!("quality rating {} for trust {:?}", q.event_id, q.trust_code);
    settle(what, resources.record_quality(&q).await)
}
