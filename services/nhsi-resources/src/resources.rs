//! The service's core: record resource evidence and publish each trust's latest approved
//! use-of-resources rating when it changes. Nothing unapproved is ever published: feed ratings are
//! published CQC ratings (approved by definition), and workflow ratings reach `nhsi_uor_ratings`
//! only on CQC's approval or revision (`crate::workflow`).

use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1 as pb;
use oversight_rating::{ExplanationText, Rating, TrustCode, TrustType};
use oversight_runtime::Subjects;
use oversight_runtime::error::{ErrorKind, Failure};
use oversight_runtime::outbox::{NewEvent, Outbox, fingerprint};
use prost::Message;
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::observations::{BadField, PackedObservation, required_date};
use crate::store;
use crate::store::observations::NewObservation;
pub use crate::store::uor::ApprovedRow;
use crate::store::uor::Replaces;

/// The rule-set name recorded on approved ratings taken from feeds.
pub const FEED_RULE_SET: &str = "uor-2017";

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// A concurrent writer numbered a record of the same trust first; retrying is safe.
    #[error("{0}: changed concurrently; retry")]
    Conflict(String),
}

/// The runtime's one map (queue decision, gRPC status) sees these kinds.
impl Failure for RecordError {
    fn kind(&self) -> ErrorKind {
        match self {
            RecordError::Invalid { field, reason } => ErrorKind::invalid(field, reason),
            RecordError::Store(_) => ErrorKind::Unavailable,
            RecordError::Conflict(_) => ErrorKind::Aborted,
        }
    }
}

impl From<BadField> for RecordError {
    fn from(bad: BadField) -> Self {
        RecordError::Invalid {
            field: bad.field,
            reason: bad.reason,
        }
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// One piece of resource evidence, validated.
pub(crate) struct ValidResource {
    pub(crate) trust: TrustCode,
    trust_type: Option<TrustType>,
    evidence_id: String,
    body: ValidBody,
}

enum ValidBody {
    UseOfResources {
        rating: Rating,
        date: chrono::NaiveDate,
        source: String,
    },
    Observations(Vec<PackedObservation>),
    /// An oversight status from the oversight status feed, with who recorded it.
    OversightStatus {
        status: nhsi_rules::status::OversightStatus,
        recorded_by: String,
    },
}

/// An observation read into the rules' types; a refusal names the field within the evidence,
/// e.g. `metric.finance.liquidity_days`.
fn validate_observation(
    field: &str,
    trust: &TrustCode,
    m: &ev::MetricObservation,
) -> Result<PackedObservation, RecordError> {
    crate::observations::read_observation(trust, m)
        .map_err(|bad| invalid(&format!("{field}.{}", bad.field), bad.reason))
}

/// An oversight status as the rules check it; a refusal names the evidence field.
fn validate_status(
    o: &ev::OversightStatusEvidence,
) -> Result<nhsi_rules::status::OversightStatus, RecordError> {
    use nhsi_rules::status::{OversightStatus, StatusError};
    let kind = crate::statuses::kind(o.kind).ok_or_else(|| {
        invalid(
            "oversight_status.kind",
            crate::statuses::unknown_kind(o.kind),
        )
    })?;
    let from = required_date("oversight_status.from_date", o.from_date.as_ref())?;
    let to = convert::to_opt_date(o.to_date.as_ref())
        .map_err(|e| invalid("oversight_status.to_date", e.to_string()))?;
    OversightStatus::new(kind, from, to, &o.source).map_err(|e| match e {
        StatusError::InvalidArgument { field, reason } => {
            let field = if field == "to" { "to_date" } else { field };
            invalid(&format!("oversight_status.{field}"), reason)
        }
    })
}

pub(crate) fn validate_resource(e: &ev::ResourceEvidence) -> Result<ValidResource, RecordError> {
    let trust: TrustCode = e
        .trust_code
        .parse()
        .map_err(|err| invalid("trust_code", format!("{err}")))?;
    // An unspecified type (feeds that do not say) never overwrites a known one.
    let trust_type = convert::trust_type(e.trust_type);
    let provenance = e.provenance.as_ref();
    let evidence_id = provenance
        .map(|p| p.evidence_id.clone())
        .unwrap_or_default();
    let body = match &e.body {
        Some(ev::resource_evidence::Body::UseOfResources(u)) => {
            let rating = convert::real_rating(u.rating).ok_or_else(|| {
                invalid(
                    "use_of_resources.rating",
                    "a use-of-resources rating must be a real rating",
                )
            })?;
            let date = required_date("use_of_resources.report_date", u.report_date.as_ref())?;
            ValidBody::UseOfResources {
                rating,
                date,
                source: provenance.map(|p| p.source.clone()).unwrap_or_default(),
            }
        }
        Some(ev::resource_evidence::Body::Metric(m)) => {
            ValidBody::Observations(vec![validate_observation("metric", &trust, m)?])
        }
        Some(ev::resource_evidence::Body::Metrics(group)) => {
            if group.observations.is_empty() {
                return Err(invalid("metrics.observations", "no observations"));
            }
            ValidBody::Observations(
                group
                    .observations
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        validate_observation(&format!("metrics.observations[{i}]"), &trust, m)
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(ev::resource_evidence::Body::OversightStatus(o)) => ValidBody::OversightStatus {
            status: validate_status(o)?,
            recorded_by: format!("feed {}", provenance.map_or("?", |p| p.file_name.as_str())),
        },
        None => return Err(invalid("body", "resource evidence without a body")),
    };
    Ok(ValidResource {
        trust,
        trust_type,
        evidence_id,
        body,
    })
}

impl ValidResource {
    /// Whether the evidence is an approved use-of-resources rating (the trust's published
    /// version may change).
    pub(crate) fn rates_use_of_resources(&self) -> bool {
        matches!(self.body, ValidBody::UseOfResources { .. })
    }
}

pub struct Resources {
    pool: AnyPool,
    outbox: Outbox,
    subjects: Subjects,
    publishing: Mutex<()>,
}

impl Resources {
    pub fn new(pool: AnyPool, outbox: Outbox, subjects: Subjects) -> Self {
        Resources {
            pool,
            outbox,
            subjects,
            publishing: Mutex::new(()),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Store one piece of resource evidence. Returns the trust when its approved UoR changed.
    pub async fn record(&self, e: &ev::ResourceEvidence) -> Result<Option<TrustCode>, RecordError> {
        let v = validate_resource(e)?;
        self.store_resources(std::iter::once(&v)).await?;
        Ok(v.rates_use_of_resources().then_some(v.trust))
    }

    /// Store validated resource evidence in one transaction, observations many rows a statement.
    pub(crate) async fn store_resources<'a>(
        &self,
        items: impl Iterator<Item = &'a ValidResource>,
    ) -> Result<(), RecordError> {
        let mut tx = self.pool.begin().await?;
        let recorded_at = oversight_runtime::time::now_rfc3339();
        let mut observations: Vec<NewObservation<'a>> = Vec::new();
        for v in items {
            store::trusts::upsert_from_evidence(&mut tx, &v.trust, v.trust_type).await?;
            match &v.body {
                ValidBody::UseOfResources {
                    rating,
                    date,
                    source,
                } => {
                    let approved = store::uor::NewApproved {
                        trust: &v.trust,
                        report_date: Some(*date),
                        rating: *rating,
                        approved_by: &format!("published (feed {source})"),
                        rationale: "published rating taken from a feed",
                        evidence_id: &v.evidence_id,
                    };
                    store::uor::upsert(&mut tx, &approved, Replaces::AllButRationale).await?;
                }
                ValidBody::Observations(obs) => {
                    observations.extend(obs.iter().map(|o| NewObservation {
                        trust: &v.trust,
                        observation: o,
                        adds: o.adds_to_stored(),
                        evidence_id: &v.evidence_id,
                    }));
                }
                ValidBody::OversightStatus {
                    status,
                    recorded_by,
                } => {
                    let appended = crate::statuses::append(
                        &mut tx,
                        &v.trust,
                        status,
                        recorded_by,
                        &recorded_at,
                        &v.evidence_id,
                    )
                    .await?;
                    if appended == crate::statuses::Appended::Conflict {
                        return Err(RecordError::Conflict(format!(
                            "oversight status of trust {}",
                            v.trust
                        )));
                    }
                }
            }
        }
        store::observations::upsert(&mut tx, &observations).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Store a trust's CQC overall rating if it is newer than the one held.
    pub async fn record_quality(&self, q: &QualityRatingIssued) -> Result<(), RecordError> {
        let trust: TrustCode = q
            .trust_code
            .parse()
            .map_err(|err| invalid("trust_code", format!("{err}")))?;
        let trust_type = convert::trust_type(q.trust_type)
            .ok_or_else(|| invalid("trust_type", "a trust type is required"))?;
        let overall = q.overall.as_ref();
        let rating = overall
            .and_then(|o| convert::rating_value(o.rating))
            .map(|r| r.cqc_str().to_string())
            .unwrap_or_default();
        // Stored as ISO 8601, empty when there is no rating.
        let report_date = convert::to_opt_date(overall.and_then(|o| o.report_date.as_ref()))
            .map_err(|e| invalid("overall.report_date", e.to_string()))?
            .map(|d| d.to_string())
            .unwrap_or_default();
        let version = i64::try_from(q.version).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        store::trusts::insert_if_new(&mut tx, &trust, trust_type).await?;
        if !rating.is_empty() {
            store::quality::upsert_overall(&mut tx, &trust, version, &rating, &report_date).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest approved UoR rating of a trust.
    pub async fn latest_approved(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<(ApprovedRow, TrustType)>> {
        Ok(store::uor::latest_with_trust_type(&self.pool, trust).await?)
    }

    /// Publish a new version of the trust's approved UoR event if it changed.
    pub async fn republish(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let version = self.republish_unpublished(trust).await?;
        self.outbox.publish_pending().await?;
        Ok(version)
    }

    /// Append a new version of the trust's approved UoR event to the outbox if it changed,
    /// without publishing it (the caller publishes, once for many trusts).
    pub(crate) async fn republish_unpublished(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<u64>> {
        let _one_at_a_time = self.publishing.lock().await;
        let Some((row, trust_type)) = self.latest_approved(trust).await? else {
            return Ok(None);
        };
        let mut explanation = ExplanationText::new(
            FEED_RULE_SET,
            format!("approved use-of-resources rating {}", row.rating),
        );
        explanation.inputs.push(format!(
            "use of resources: {} ({}, {})",
            row.rating, row.report_date, row.approved_by
        ));
        let event = pb::UseOfResourcesRatingApproved {
            event_id: String::new(),
            trust_code: trust.to_string(),
            trust_type: common::TrustType::from(trust_type) as i32,
            version: 0,
            rating: Some(convert::dated(
                Some(row.rating),
                Some(row.report_date),
                &explanation,
            )),
            approved_by: row.approved_by.clone(),
            rationale: row.rationale.clone(),
            approved_at: None,
        };
        let fp = fingerprint(&event.encode_to_vec());
        let key = trust.to_string();
        let subject = self.subjects.uor_approved();
        let version = self
            .outbox
            .append_if_changed(&key, &fp, |version| {
                let mut e = event.clone();
                e.version = version;
                e.event_id = format!("{key}-uor-v{version}");
                e.approved_at = Some(convert::timestamp(chrono::Utc::now()));
                NewEvent {
                    subject,
                    msg_id: e.event_id.clone(),
                    payload: e.encode_to_vec(),
                }
            })
            .await?;
        Ok(version)
    }

    /// Every published version of a trust's approved UoR event, oldest first.
    pub async fn published_history(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Vec<pb::UseOfResourcesRatingApproved>> {
        self.outbox
            .history(trust.as_str())
            .await?
            .iter()
            .map(|e| {
                Ok(pb::UseOfResourcesRatingApproved::decode(
                    e.payload.as_slice(),
                )?)
            })
            .collect()
    }

    /// The latest published event of a trust.
    pub async fn latest_event(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<pb::UseOfResourcesRatingApproved>> {
        match self.outbox.latest(trust.as_str()).await? {
            Some(e) => Ok(Some(pb::UseOfResourcesRatingApproved::decode(
                e.payload.as_slice(),
            )?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oversight_proto::common::v1::OversightStatusKind as Kind;
    use oversight_proto::google_type::Date;

    fn d(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn status(
        kind: Kind,
        from: Option<Date>,
        to: Option<Date>,
        source: &str,
    ) -> ev::OversightStatusEvidence {
        ev::OversightStatusEvidence {
            kind: kind as i32,
            from_date: from,
            to_date: to,
            source: source.into(),
        }
    }

    /// Oversight status evidence is poison when the rules would refuse it, naming the field.
    #[test]
    fn bad_oversight_status_evidence_names_the_field() {
        let fsm = Kind::FinancialSpecialMeasures;
        let jan = d(2018, 1, 1);
        assert!(validate_status(&status(fsm, jan, None, "NHSI")).is_ok());
        let mut unknown = status(fsm, jan, None, "NHSI");
        unknown.kind = 99;
        let cases = [
            (
                status(Kind::Unspecified, jan, None, "NHSI"),
                "oversight_status.kind",
            ),
            (unknown, "oversight_status.kind"),
            (
                status(fsm, None, None, "NHSI"),
                "oversight_status.from_date",
            ),
            (
                status(fsm, d(2018, 2, 30), None, "NHSI"),
                "oversight_status.from_date",
            ),
            (
                status(fsm, jan, d(2018, 2, 0), "NHSI"),
                "oversight_status.to_date",
            ),
            (
                status(fsm, jan, d(2017, 1, 1), "NHSI"),
                "oversight_status.to_date",
            ),
            (status(fsm, jan, None, ""), "oversight_status.source"),
        ];
        for (evidence, want) in cases {
            match validate_status(&evidence) {
                Err(RecordError::Invalid { field, .. }) => assert_eq!(field, want, "{evidence:?}"),
                other => panic!("{evidence:?}: {other:?}"),
            }
        }
    }

    fn metric(feed: ev::metric_observation::Feed) -> ev::MetricObservation {
        ev::MetricObservation { feed: Some(feed) }
    }

    fn productivity(metric_name: &str, value: &str) -> ev::MetricObservation {
        metric(ev::metric_observation::Feed::Productivity(
            ev::ProductivityObservation {
                period_end: d(2018, 3, 31),
                metric: metric_name.into(),
                value: value.into(),
            },
        ))
    }

    fn resource(body: ev::resource_evidence::Body) -> ev::ResourceEvidence {
        ev::ResourceEvidence {
            provenance: None,
            trust_code: "RXX".into(),
            trust_type: common::TrustType::Acute as i32,
            body: Some(body),
        }
    }

    fn refused_field(e: &ev::ResourceEvidence) -> String {
        match validate_resource(e) {
            Err(RecordError::Invalid { field, .. }) => field,
            other => panic!("{e:?}: expected invalid, got {}", other.is_ok()),
        }
    }

    /// A typed observation with an unusable value is poison, naming the field within the
    /// message (as a bad value of the old map was).
    #[test]
    fn bad_observations_name_the_field() {
        use ev::metric_observation::Feed;
        let finance = ev::FinanceObservation {
            period_end: d(2018, 3, 31),
            capital_service_capacity: "2.6".into(),
            liquidity_days: "lots".into(),
            income_expenditure_margin_pct: "-0.5".into(),
            distance_from_plan_pct: "0".into(),
            agency_spend_vs_ceiling_pct: "60".into(),
        };
        let ward = ev::WardStaffingObservation {
            ward_code: String::new(),
            date: d(2018, 4, 1),
            patients_at_midnight: 20,
            registered_nurse_hours: "100".into(),
            registered_midwife_hours: "0".into(),
            allied_health_professional_hours: "10".into(),
            healthcare_support_worker_hours: "50".into(),
        };
        let operational = ev::OperationalObservation {
            period_end: d(2018, 3, 31),
            standard: "ae_4h".into(),
            value_pct: "91.2".into(),
        };
        let cases = [
            (
                metric(Feed::Finance(finance.clone())),
                "metric.finance.liquidity_days",
            ),
            (
                metric(Feed::Finance(ev::FinanceObservation {
                    period_end: d(2018, 2, 29),
                    liquidity_days: "5".into(),
                    ..finance.clone()
                })),
                "metric.finance.period_end",
            ),
            (
                metric(Feed::WardStaffing(ward.clone())),
                "metric.ward_staffing.ward_code",
            ),
            (
                metric(Feed::WardStaffing(ev::WardStaffingObservation {
                    ward_code: "W1".into(),
                    date: None,
                    ..ward.clone()
                })),
                "metric.ward_staffing.date",
            ),
            (productivity("weather", "1"), "metric.productivity.metric"),
            (
                productivity("sickness_absence_rate", "1,5"),
                "metric.productivity.value",
            ),
            (
                metric(Feed::Operational(ev::OperationalObservation {
                    standard: "ae_12h".into(),
                    ..operational.clone()
                })),
                "metric.operational.standard",
            ),
            (ev::MetricObservation { feed: None }, "metric.feed"),
        ];
        for (m, want) in cases {
            let e = resource(ev::resource_evidence::Body::Metric(m));
            assert_eq!(refused_field(&e), want);
        }
        let group = resource(ev::resource_evidence::Body::Metrics(
            ev::MetricObservations {
                observations: vec![
                    metric(Feed::Operational(operational)),
                    productivity("sickness_absence_rate", "x"),
                ],
            },
        ));
        assert_eq!(
            refused_field(&group),
            "metrics.observations[1].productivity.value"
        );
    }
}
