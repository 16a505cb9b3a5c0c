//! The service's core: keep the latest version of each part (quality, approved UoR), recombine the
//! trust when a part changes, and append + publish a new combined version when the result changed.

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
use oversight_runtime::consumer::BatchOutcome;
use oversight_runtime::nats::{HandleError, Incoming};
use oversight_runtime::outbox::{NewEvent, Outbox, fingerprint};
use prost::Message;
use sqlx::{AnyPool, Row};
use tokio::sync::{Mutex, broadcast};

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

impl Part {
    fn table(self) -> &'static str {
        match self {
            Part::Quality => "combiner_quality_part_versions",
            Part::Uor => "combiner_uor_part_versions",
        }
    }
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

    /// Batch handler for `<ns>.quality.rated` and `<ns>.uor.approved`: validate each message (an
    /// invalid one is poison, alone), keep every part version in one transaction, recombine each
    /// trust once, then publish the new combined versions together.
    pub async fn handle_batch(&self, part: Part, batch: Vec<Incoming>) -> BatchOutcome {
        let mut outcomes: BatchOutcome = Vec::with_capacity(batch.len());
        let mut valid: Vec<(usize, TrustCode, u64, Vec<u8>)> = Vec::with_capacity(batch.len());
        for (i, msg) in batch.iter().enumerate() {
            let parsed = match part {
                Part::Quality => Self::quality_part(msg),
                Part::Uor => Self::uor_part(msg),
            };
            match parsed {
                Ok((trust, version, payload)) => {
                    valid.push((i, trust, version, payload));
                    outcomes.push(Ok(()));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        if valid.is_empty() {
            return outcomes;
        }
        let stored = async {
            let mut tx = self.pool.begin().await?;
            for (_, trust, version, payload) in &valid {
                Self::store_part(&mut tx, part, trust, *version, payload).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = stored {
            let e = format!("{e}");
            for (i, ..) in &valid {
                outcomes[*i] = Err(HandleError::Transient(anyhow::anyhow!(
                    "failed to keep {part:?} part versions: {e}"
                )));
            }
            return outcomes;
        }
        let mut trusts: Vec<&TrustCode> = Vec::new();
        for (_, trust, ..) in &valid {
            if !trusts.contains(&trust) {
                trusts.push(trust);
            }
        }
        let mut appended = Vec::new();
        for trust in trusts {
            match self.recombine_unpublished(trust).await {
                Ok(Some(event)) => appended.push(event),
                Ok(None) => {}
                Err(e) => {
                    let e = format!("{e:#}");
                    for (i, t, ..) in &valid {
                        if t == trust {
                            outcomes[*i] = Err(HandleError::Transient(anyhow::anyhow!(
                                "failed to recombine {trust}: {e}"
                            )));
                        }
                    }
                }
            }
        }
        if let Err(e) = self.outbox.publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "publishing deferred to the outbox sweep");
        }
        for event in appended {
            self.view.apply(event);
        }
        outcomes
    }

    fn quality_part(msg: &Incoming) -> Result<(TrustCode, u64, Vec<u8>), HandleError> {
        let q: QualityRatingIssued = msg.decode()?;
        let trust: TrustCode = q.trust_code.parse().map_err(|e| {
            HandleError::poison(format!("quality rating {}: trust_code: {e}", q.event_id))
        })?;
        if q.version == 0 {
            return Err(HandleError::poison(format!(
                "quality rating {} has no version",
                q.event_id
            )));
        }
        Ok((trust, q.version, q.encode_to_vec()))
    }

    fn uor_part(msg: &Incoming) -> Result<(TrustCode, u64, Vec<u8>), HandleError> {
        let u: UseOfResourcesRatingApproved = msg.decode()?;
        let trust: TrustCode = u.trust_code.parse().map_err(|e| {
            HandleError::poison(format!("UoR rating {}: trust_code: {e}", u.event_id))
        })?;
        if u.version == 0 {
            return Err(HandleError::poison(format!(
                "UoR rating {} has no version",
                u.event_id
            )));
        }
        if u.rating
            .as_ref()
            .and_then(|r| convert::real_rating(r.rating))
            .is_none()
        {
            return Err(HandleError::poison(format!(
                "UoR rating {} carries no real rating",
                u.event_id
            )));
        }
        Ok((trust, u.version, u.encode_to_vec()))
    }

    /// Keep every version of a part (append-only); a repeated version changes nothing. The newest
    /// version is the one combined, whatever order versions arrive in.
    async fn store_part(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        part: Part,
        trust: &TrustCode,
        version: u64,
        payload: &[u8],
    ) -> sqlx::Result<()> {
        let sql = format!(
            "INSERT INTO {} (trust_code, version, payload_hex) VALUES ($1, $2, $3)
             ON CONFLICT (trust_code, version) DO NOTHING",
            part.table()
        );
        sqlx::query(&sql)
            .bind(trust.as_str())
            .bind(i64::try_from(version).unwrap_or(i64::MAX))
            .bind(hex::encode(payload))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The newest stored version of a part.
    async fn load_part(&self, part: Part, trust: &TrustCode) -> anyhow::Result<Option<Vec<u8>>> {
        let sql = format!(
            "SELECT payload_hex FROM {} WHERE trust_code = $1 ORDER BY version DESC LIMIT 1",
            part.table()
        );
        let row = sqlx::query(&sql)
            .bind(trust.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => {
                let h: String = r.try_get("payload_hex")?;
                Ok(Some(hex::decode(h)?))
            }
            None => Ok(None),
        }
    }

    /// The versions of a part stored for a trust, oldest first.
    pub async fn part_versions(&self, part: Part, trust: &TrustCode) -> anyhow::Result<Vec<u64>> {
        let sql = format!(
            "SELECT version FROM {} WHERE trust_code = $1 ORDER BY version",
            part.table()
        );
        let rows = sqlx::query(&sql)
            .bind(trust.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let v: i64 = r.try_get("version")?;
                Ok(u64::try_from(v).unwrap_or(0))
            })
            .collect()
    }

    /// Recompute a trust's combined rating from its stored parts; publish a new version if it
    /// changed. No quality rating yet → nothing to publish.
    pub async fn recombine(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let appended = self.recombine_unpublished(trust).await?;
        self.outbox.publish_pending().await?;
        let version = appended.as_ref().map(|e| e.version);
        if let Some(e) = appended {
            self.view.apply(e);
        }
        Ok(version)
    }

    /// Recompute a trust's combined rating and append a new version to the outbox if it changed,
    /// without publishing it; returns the appended version.
    async fn recombine_unpublished(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<pb::CombinedRatingPublished>> {
        let stripe = oversight_runtime::consumer::lane_of(trust.as_str(), self.combining.len());
        let _one_at_a_time = self.combining[stripe].lock().await;
        let Some(q) = self.load_part(Part::Quality, trust).await? else {
            tracing::info!(trust = %trust, "no quality rating yet; combined rating waits");
            return Ok(None);
        };
        let quality = QualityRatingIssued::decode(q.as_slice())?;
        let uor = match self.load_part(Part::Uor, trust).await? {
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
