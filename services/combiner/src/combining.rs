//! The service's core: keep every version of each part (quality, approved UoR; through `store`),
//! recombine the trust from the newest of each (`combined-rules`) when a part changes, and append +
//! publish a new combined version through the outbox when the result changed. No SQL here.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use combined_rules::{ApprovedUor, CombineInput, CombinedRuleSet, DatedRating, InputSources, Mode};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_rating::{ExplanationText, TrustCode};
use oversight_runtime::Subjects;
use oversight_runtime::outbox::{NewEvent, Outbox, fingerprint};
use prost::Message;
use sqlx::AnyPool;
use tokio::sync::{Mutex, broadcast};

use crate::store;
use crate::view::RatingsView;

pub struct Combiner {
    pool: AnyPool,
    outbox: Outbox,
    subjects: Subjects,
    rules: CombinedRuleSet,
    /// Recombining is one at a time per trust (striped by trust code).
    combining: Vec<Mutex<()>>,
    view: Arc<RatingsView>,
}

/// Stripes of the per-trust recombining lock.
const COMBINE_STRIPES: usize = 16;

/// A wire report date as the rules read it: one that is unset or not a calendar date is no date
/// (the part is undated), as an unreadable date string was before dates were typed. The parts'
/// publishers write real dates; the rating still counts, and the event keeps the date as it came.
pub fn report_date(d: Option<&common::DatedRating>) -> Option<NaiveDate> {
    convert::to_opt_date(d?.report_date.as_ref()).ok().flatten()
}

/// A dated rating on the wire as the rules read it.
pub fn dated_part(d: Option<&common::DatedRating>) -> DatedRating {
    DatedRating {
        rating: d.and_then(|d| convert::real_rating(d.rating)),
        date: report_date(d),
    }
}

/// The wire publication mode.
fn mode_pb(m: Mode) -> pb::Mode {
    match m {
        Mode::Combined => pb::Mode::Combined,
        Mode::Shadow => pb::Mode::Shadow,
    }
}

/// The two parts of a combined rating; every version of each is kept (append-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Quality,
    Uor,
}

/// A version of a part as the consumer validated it: the trust it rates, its version and the event
/// as it is kept (protobuf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartVersion {
    pub trust: TrustCode,
    pub version: u64,
    pub payload: Vec<u8>,
}

impl Combiner {
    pub fn new(pool: AnyPool, outbox: Outbox, subjects: Subjects, rules: CombinedRuleSet) -> Self {
        Combiner {
            pool,
            outbox,
            subjects,
            rules,
            combining: (0..COMBINE_STRIPES).map(|_| Mutex::new(())).collect(),
            view: Arc::new(RatingsView::default()),
        }
    }

    /// The in-memory read view of the latest versions.
    pub fn view(&self) -> &Arc<RatingsView> {
        &self.view
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// New combined versions as this replica learns of them (for `WatchRatings`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<pb::CombinedRatingPublished>> {
        self.view.subscribe()
    }

    /// Keep part versions, all in one transaction (append-only: a repeated version changes
    /// nothing). The newest version is the one combined, whatever order versions arrive in.
    pub async fn keep_parts(&self, part: Part, versions: &[&PartVersion]) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for v in versions {
            store::insert_part_version(&mut tx, part, &v.trust, v.version, &v.payload).await?;
        }
        tx.commit().await
    }

    /// The versions of a part stored for a trust, oldest first.
    pub async fn part_versions(&self, part: Part, trust: &TrustCode) -> sqlx::Result<Vec<u64>> {
        store::part_versions(&self.pool, part, trust).await
    }

    /// Recombine each trust once (in the order given), then publish the new combined versions
    /// together; a failure to publish is not the trusts' (the versions wait in the outbox for the
    /// sweep). Returns whether each trust was recombined, in the same order.
    pub async fn recombine_each(&self, trusts: &[&TrustCode]) -> Vec<anyhow::Result<()>> {
        let mut appended = Vec::new();
        let mut recombined = Vec::with_capacity(trusts.len());
        for trust in trusts {
            let event = self.recombine_unpublished(trust).await;
            recombined.push(event.map(|event| appended.extend(event)));
        }
        self.outbox.publish_pending_or_defer().await;
        for event in appended {
            self.view.apply(event);
        }
        recombined
    }

    /// Recompute a trust's combined rating and append a new version to the outbox if it changed,
    /// without publishing it; returns the appended version.
    async fn recombine_unpublished(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<pb::CombinedRatingPublished>> {
        let stripe = oversight_runtime::consumer::lane_of(trust.as_str(), self.combining.len());
        let _one_at_a_time = self.combining[stripe].lock().await;
        let Some(q) = store::newest_part(&self.pool, Part::Quality, trust).await? else {
            tracing::info!(trust = %trust, "no quality rating yet; combined rating waits");
            return Ok(None);
        };
        let quality = QualityRatingIssued::decode(q.as_slice())?;
        let uor = match store::newest_part(&self.pool, Part::Uor, trust).await? {
            Some(u) => Some(UseOfResourcesRatingApproved::decode(u.as_slice())?),
            None => None,
        };
        let event = self.combine(&quality, uor.as_ref());
        let fp = fingerprint(&event.encode_to_vec());
        let key = trust.to_string();
        let subject = self.subjects.combined_published();
        let mut appended = None;
        self.outbox
            .append_if_changed(&key, &fp, |version| {
                let mut e = event.clone();
                e.version = version;
                e.event_id = format!("{key}-combined-v{version}");
                e.published_at = Some(convert::timestamp(chrono::Utc::now()));
                appended = Some(e.clone());
                NewEvent {
                    subject,
                    msg_id: e.event_id.clone(),
                    payload: e.encode_to_vec(),
                }
            })
            .await?;
        if let Some(e) = &appended {
            tracing::info!(trust = %trust, version = e.version, mode = ?e.mode(),
                combined = ?e.combined.as_ref().map(|c| c.rating), "combined rating versioned");
        }
        Ok(appended)
    }

    /// The combined event for the given parts (version and timestamps left empty).
    pub fn combine(
        &self,
        quality: &QualityRatingIssued,
        uor: Option<&UseOfResourcesRatingApproved>,
    ) -> pb::CombinedRatingPublished {
        // The key questions the quality overall stands on (DOMAIN.md §2.3: the overall is only
        // re-rated after a well-led assessment): the combined rating combines those, never newer
        // key questions beside an overall that was not re-rated. The newest key questions are
        // still shown beside it (`key_questions` of the event).
        let beneath = if quality.overall_key_questions.is_empty() {
            &quality.key_questions
        } else {
            &quality.overall_key_questions
        };
        let key_questions: BTreeMap<_, _> = beneath
            .iter()
            .filter_map(|k| {
                convert::key_question(k.key_question).map(|kq| (kq, dated_part(k.rating.as_ref())))
            })
            .collect();
        let overall_quality = dated_part(quality.overall.as_ref());
        let approved = uor.and_then(|u| {
            let r = u.rating.as_ref()?;
            Some(ApprovedUor {
                rating: convert::real_rating(r.rating)?,
                date: report_date(Some(r))?,
                version: u32::try_from(u.version).unwrap_or(u32::MAX),
            })
        });
        let input = CombineInput {
            trust_type: convert::trust_type(quality.trust_type)
                .unwrap_or(combined_rules::TrustType::Acute),
            key_questions,
            overall_quality,
            uor: approved,
            sources: InputSources {
                quality: format!(
                    "CQC quality rating {}, version {}",
                    quality.rule_set, quality.version
                ),
                use_of_resources: uor
                    .map(|u| format!("NHSI use of resources, approved by {}", u.approved_by))
                    .unwrap_or_default(),
            },
        };
        // The publication date of the combination is the date of its latest part: ratings set
        // before 5 March 2018 are shown in shadow mode.
        let as_of = [overall_quality.date, approved.map(|a| a.date)]
            .into_iter()
            .flatten()
            .chain(input.key_questions.values().filter_map(|d| d.date))
            .max()
            .unwrap_or_else(oversight_runtime::time::today);
        let outcome = combined_rules::combine(&input, as_of, &self.rules);
        let combined_date = outcome.combined.map(|_| as_of);
        pb::CombinedRatingPublished {
            event_id: String::new(),
            trust_code: quality.trust_code.clone(),
            trust_name: quality.trust_name.clone(),
            trust_type: quality.trust_type,
            version: 0,
            rule_set: self.rules.version.to_string(),
            mode: mode_pb(outcome.mode) as i32,
            key_questions: quality.key_questions.clone(),
            overall_quality: quality.overall.clone(),
            use_of_resources: uor.and_then(|u| u.rating.clone()).or_else(|| {
                Some(convert::dated(
                    None,
                    None,
                    &ExplanationText::new("uor-2017", "no CQC-approved use-of-resources rating"),
                ))
            }),
            combined: Some(convert::dated(
                outcome.combined,
                combined_date,
                &outcome.explanation,
            )),
            no_combined_reason: outcome.no_combined_reason.clone().unwrap_or_default(),
            flags: outcome
                .flags
                .iter()
                .map(|f| pb::Flag {
                    code: f.code().to_string(),
                    description: f.describe(),
                })
                .collect(),
            published_at: None,
            quality_version: quality.version,
            use_of_resources_version: uor.map_or(0, |u| u.version),
            region: quality.region.clone(),
            // What was combined, so that what would change the rating is worked from the same
            // key questions (`api::rating_changes`).
            overall_key_questions: quality.overall_key_questions.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oversight_proto::google_type::Date;

    fn dated(report_date: Option<Date>) -> common::DatedRating {
        common::DatedRating {
            rating: common::Rating::Good as i32,
            report_date,
            explanation: None,
        }
    }

    #[test]
    fn a_part_dated_with_no_calendar_date_counts_undated() {
        let good = Some(oversight_rating::Rating::Good);
        let on = dated(Some(convert::date("2018-06-01".parse().unwrap())));
        assert_eq!(
            dated_part(Some(&on)),
            DatedRating {
                rating: good,
                date: Some("2018-06-01".parse().unwrap()),
            }
        );
        // 2023 is not a leap year; day 0 is a month; unset is no date: the rating still counts.
        for bad in [
            Some(Date {
                year: 2023,
                month: 2,
                day: 29,
            }),
            Some(Date {
                year: 2018,
                month: 6,
                day: 0,
            }),
            None,
        ] {
            assert_eq!(
                dated_part(Some(&dated(bad))),
                DatedRating {
                    rating: good,
                    date: None
                },
                "{bad:?}"
            );
        }
        assert_eq!(
            dated_part(None),
            DatedRating {
                rating: None,
                date: None
            }
        );
    }
}
