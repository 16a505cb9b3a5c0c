//! The service's core: store quality evidence, re-rate the trusts it touches with the CQC rules,
//! and publish a new version of a trust's quality rating when (and only when) it changed.

use chrono::NaiveDate;
use cqc_rules::{RatedResult, RuleSet, TrustQuality, TrustType};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::quality::v1 as pb;
use oversight_rating::{KeyQuestion, LocationId, RatingValue, ServiceId, TrustCode};
use oversight_runtime::Subjects;
use oversight_runtime::nats::{HandleError, Incoming};
use oversight_runtime::outbox::{NewEvent, Outbox, fingerprint};
use prost::Message;
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::store::{self, ServiceRatingRow};

/// Evidence that cannot be recorded, naming the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct InvalidEvidence {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> InvalidEvidence {
    InvalidEvidence {
        field: field.to_string(),
        reason: reason.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid evidence: {0}")]
    Invalid(#[from] InvalidEvidence),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct Rater {
    pool: AnyPool,
    outbox: Outbox,
    subjects: Subjects,
    rule_set: Option<String>,
    rerating: Mutex<()>,
}

fn date(field: &str, s: &str) -> Result<NaiveDate, InvalidEvidence> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{s:?} is not an ISO date")))
}

fn rating(field: &str, raw: i32) -> Result<RatingValue, InvalidEvidence> {
    convert::rating_value(raw)
        .ok_or_else(|| invalid(field, format!("rating {raw} is not a rating")))
}

fn to_rules_trust_type(t: oversight_rating::TrustType) -> TrustType {
    match t {
        oversight_rating::TrustType::Acute => TrustType::Acute,
        oversight_rating::TrustType::SpecialistAcute => TrustType::SpecialistAcute,
        oversight_rating::TrustType::MentalHealth => TrustType::MentalHealth,
        oversight_rating::TrustType::Community => TrustType::Community,
        oversight_rating::TrustType::Ambulance => TrustType::Ambulance,
    }
}

fn to_wire_trust_type(t: TrustType) -> common::TrustType {
    match t {
        TrustType::Acute => common::TrustType::Acute,
        TrustType::SpecialistAcute => common::TrustType::SpecialistAcute,
        TrustType::MentalHealth => common::TrustType::MentalHealth,
        TrustType::Community => common::TrustType::Community,
        TrustType::Ambulance => common::TrustType::Ambulance,
    }
}

fn dated(r: &RatedResult) -> common::DatedRating {
    convert::dated(r.rating, r.date.map(|d| d.to_string()), &r.explanation)
}

fn kq_ratings(
    map: &std::collections::BTreeMap<KeyQuestion, RatedResult>,
) -> Vec<common::KeyQuestionRating> {
    KeyQuestion::ALL
        .iter()
        .filter_map(|kq| {
            map.get(kq).map(|r| common::KeyQuestionRating {
                key_question: common::KeyQuestion::from(*kq) as i32,
                rating: Some(dated(r)),
            })
        })
        .collect()
}

/// The wire form of a trust's quality rating (without version and timestamps).
pub fn to_event(q: &TrustQuality, trust_name: &str) -> pb::QualityRatingIssued {
    pb::QualityRatingIssued {
        event_id: String::new(),
        trust_code: q.trust.to_string(),
        trust_name: trust_name.to_string(),
        trust_type: to_wire_trust_type(q.trust_type) as i32,
        version: 0,
        rule_set: q.rule_set.clone(),
        key_questions: kq_ratings(&q.key_questions),
        overall: Some(dated(&q.overall)),
        issued_at: String::new(),
        locations: q
            .locations
            .iter()
            .map(|l| pb::LocationRating {
                location_id: l.id.to_string(),
                name: l.name.clone().unwrap_or_default(),
                key_questions: kq_ratings(&l.key_questions),
                overall: Some(dated(&l.overall)),
            })
            .collect(),
    }
}

impl Rater {
    pub fn new(
        pool: AnyPool,
        outbox: Outbox,
        subjects: Subjects,
        rule_set: Option<String>,
    ) -> Self {
        Rater {
            pool,
            outbox,
            subjects,
            rule_set,
            rerating: Mutex::new(()),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The consumer's handler for `<ns>.evidence.quality`.
    pub async fn handle_evidence(&self, msg: Incoming) -> Result<(), HandleError> {
        let evidence: ev::QualityEvidence = msg.decode()?;
        let trust = match self.record(&evidence).await {
            Ok(t) => t,
            Err(RecordError::Invalid(e)) => {
                let id = evidence
                    .provenance
                    .as_ref()
                    .map(|p| p.evidence_id.as_str())
                    .unwrap_or("?");
                return Err(HandleError::poison(format!(
                    "evidence {id} for trust {:?}: {e}",
                    evidence.trust_code
                )));
            }
            Err(e) => return Err(HandleError::Transient(anyhow::Error::new(e))),
        };
        self.rerate(&trust).await.map_err(HandleError::Transient)?;
        Ok(())
    }

    /// Validate and store one piece of quality evidence; returns the trust it concerns.
    pub async fn record(&self, e: &ev::QualityEvidence) -> Result<TrustCode, RecordError> {
        let trust: TrustCode = e
            .trust_code
            .parse()
            .map_err(|err| invalid("trust_code", format!("{err}")))?;
        let trust_type = convert::trust_type(e.trust_type)
            .map(to_rules_trust_type)
            .unwrap_or(TrustType::Acute);
        let evidence_id = e
            .provenance
            .as_ref()
            .map(|p| p.evidence_id.clone())
            .unwrap_or_default();
        let mut rows = Vec::new();
        for (i, s) in e.service_ratings.iter().enumerate() {
            let f = |name: &str| format!("service_ratings[{i}].{name}");
            let location_id = if s.location_id.is_empty() {
                String::new()
            } else {
                s.location_id
                    .parse::<LocationId>()
                    .map_err(|err| invalid(&f("location_id"), format!("{err}")))?
                    .to_string()
            };
            rows.push(ServiceRatingRow {
                location_id,
                location_name: s.location_name.clone(),
                service_id: s
                    .service_id
                    .parse::<ServiceId>()
                    .map_err(|err| invalid(&f("service_id"), format!("{err}")))?
                    .to_string(),
                key_question: convert::key_question(s.key_question).ok_or_else(|| {
                    invalid(&f("key_question"), "missing or unknown key question")
                })?,
                rating: rating(&f("rating"), s.rating)?,
                report_date: date(&f("report_date"), &s.report_date)?,
                evidence_id: evidence_id.clone(),
            });
        }
        let mut well_led = Vec::new();
        for (i, w) in e.well_led.iter().enumerate() {
            well_led.push((
                rating(&format!("well_led[{i}].rating"), w.rating)?,
                date(&format!("well_led[{i}].report_date"), &w.report_date)?,
            ));
        }
        let mut tx = self.pool.begin().await?;
        store::upsert_trust(&mut tx, &trust, &e.trust_name, trust_type).await?;
        for r in &rows {
            store::upsert_service_rating(&mut tx, &trust, r).await?;
        }
        for (r, d) in well_led {
            store::upsert_well_led(&mut tx, &trust, r, d, &evidence_id).await?;
        }
        tx.commit().await?;
        Ok(trust)
    }

    /// Record a trust-level well-led assessment (from the gRPC API) and re-rate.
    pub async fn record_well_led(
        &self,
        trust: &TrustCode,
        rating: RatingValue,
        date: NaiveDate,
    ) -> Result<(), RecordError> {
        let Some((_, trust_type)) = store::trust(&self.pool, trust).await? else {
            return Err(invalid("trust_code", format!("unknown trust {trust}")).into());
        };
        let mut tx = self.pool.begin().await?;
        store::upsert_trust(&mut tx, trust, "", trust_type).await?;
        store::upsert_well_led(&mut tx, trust, rating, date, "grpc").await?;
        tx.commit().await?;
        self.rerate(trust).await?;
        Ok(())
    }

    fn rules_for(&self, latest_report: Option<NaiveDate>) -> anyhow::Result<RuleSet> {
        let when = latest_report.unwrap_or_else(oversight_runtime::time::today);
        RuleSet::select(when, self.rule_set.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Re-rate one trust; publish a new version if its ratings changed. Returns the new version.
    pub async fn rerate(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let _one_at_a_time = self.rerating.lock().await;
        let Some((name, trust_type)) = store::trust(&self.pool, trust).await? else {
            anyhow::bail!("unknown trust {trust}");
        };
        let evidence = store::evidence(&self.pool, trust, trust_type).await?;
        let latest_report = evidence
            .locations
            .iter()
            .flat_map(|l| l.services.iter())
            .flat_map(|s| s.ratings.iter().map(|r| r.report_date))
            .chain(evidence.well_led.iter().map(|w| w.report_date))
            .max();
        let rules = self.rules_for(latest_report)?;
        let as_of = latest_report.unwrap_or_else(oversight_runtime::time::today);
        let quality = cqc_rules::rate_trust(&evidence, as_of, &rules);
        let event = to_event(&quality, &name);
        let fp = fingerprint(&event.encode_to_vec());
        let subject = self.subjects.quality_rated();
        let key = trust.to_string();
        let version = self
            .outbox
            .append_if_changed(&key, &fp, |version| {
                let mut e = event.clone();
                e.version = version;
                e.event_id = format!("{key}-quality-v{version}");
                e.issued_at = oversight_runtime::time::now_rfc3339();
                NewEvent {
                    subject,
                    msg_id: e.event_id.clone(),
                    payload: e.encode_to_vec(),
                }
            })
            .await?;
        if let Some(v) = version {
            tracing::info!(trust = %trust, version = v, rule_set = %quality.rule_set,
                overall = ?quality.overall.rating, "trust quality rated");
        }
        self.outbox.publish_pending().await?;
        Ok(version)
    }

    /// The latest published quality rating of a trust.
    pub async fn latest(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<pb::QualityRatingIssued>> {
        match self.outbox.latest(trust.as_str()).await? {
            Some(e) => Ok(Some(pb::QualityRatingIssued::decode(e.payload.as_slice())?)),
            None => Ok(None),
        }
    }
}
