//! The service's commands, parsed at the edge from the gRPC requests and the queue's quality
//! evidence: every identifier, date, rating and enum is validated here, and a wrong or missing
//! input names its field and record (`ratings[2].key_question: …`). Inside, the commands are
//! trusted.

use chrono::NaiveDate;
use cqc_rules::{
    Entity, MergedExclusion, QualityStatementScore, SignificantlySmall, Stage, TrustType,
};
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::google_type::Date;
use oversight_proto::quality::v1 as pb;
use oversight_rating::{KeyQuestion, LocationId, Rating, RatingValue, ServiceId, TrustCode};

use crate::error::{InvalidEvidence, invalid};
use crate::store::{ActionKind, ServiceRatingRow};

/// The longest NHS England region name accepted in evidence (in characters).
pub const MAX_REGION_CHARS: usize = 64;

/// One piece of quality evidence from the queue (`<ns>.evidence.quality`), validated and ready
/// to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub trust: TrustCode,
    pub trust_name: String,
    pub trust_type: Option<TrustType>,
    pub region: String,
    pub evidence_id: String,
    pub rows: Vec<ServiceRatingRow>,
    pub well_led: Vec<(RatingValue, NaiveDate)>,
}

/// An inspection's findings: key question × service ratings of one location on one report date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub trust: TrustCode,
    /// Set to register a trust the service has not heard of.
    pub register: Option<(String, TrustType)>,
    /// `""` for trusts without a location level.
    pub location_id: String,
    pub location_name: String,
    pub report_date: NaiveDate,
    pub ratings: Vec<Finding>,
}

/// One key question × service judgement of an inspection, with its SAF quality-statement scores
/// (empty when not assessed under the SAF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub service: ServiceId,
    pub key_question: KeyQuestion,
    pub rating: RatingValue,
    pub statement_scores: Vec<QualityStatementScore>,
}

/// A trust-level well-led assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WellLed {
    pub trust: TrustCode,
    pub rating: RatingValue,
    pub report_date: NaiveDate,
    pub statement_scores: Vec<QualityStatementScore>,
}

/// A limiter on one key question × service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcementAction {
    pub trust: TrustCode,
    pub location_id: String,
    pub service_id: ServiceId,
    pub key_question: KeyQuestion,
    pub kind: ActionKind,
    pub reason: String,
    pub action_date: NaiveDate,
}

/// A service from a merged organisation, left out of trust aggregation for at most two years from
/// the merger (DOMAIN.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedService {
    pub trust: TrustCode,
    pub location_id: String,
    pub service_id: ServiceId,
    pub exclusion: MergedExclusion,
}

/// A decision that a service is "significantly small" (DOMAIN.md §2.1): left out of its
/// location's aggregation (and so the trust's) while it stands. `decision.recorded_by` is the
/// caller, set by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallService {
    pub trust: TrustCode,
    pub location_id: String,
    pub service_id: ServiceId,
    pub decision: SignificantlySmall,
}

/// A published (or draft) decision about one rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedDecision {
    pub trust: TrustCode,
    pub entity: Entity,
    pub key_question: Option<KeyQuestion>,
    pub published: Rating,
    pub rationale: Option<String>,
    pub stage: Stage,
    pub decided_on: NaiveDate,
}

pub fn trust_code(field: &str, s: &str) -> Result<TrustCode, InvalidEvidence> {
    if s.trim().is_empty() {
        return Err(invalid(field, "missing"));
    }
    s.parse().map_err(|e| invalid(field, format!("{e}")))
}

/// A required date: unset → `missing`; not a full calendar date (e.g. 2023-02-29, or a month
/// with day 0) → the reason, naming the field.
pub fn date(field: &str, d: Option<&Date>) -> Result<NaiveDate, InvalidEvidence> {
    let d = d.ok_or_else(|| invalid(field, "missing (a calendar date)"))?;
    convert::to_date(d).map_err(|e| invalid(field, e.to_string()))
}

/// An optional date: `None` when unset; a set date must be a full calendar date.
fn optional_date(field: &str, d: Option<&Date>) -> Result<Option<NaiveDate>, InvalidEvidence> {
    convert::to_opt_date(d).map_err(|e| invalid(field, e.to_string()))
}

/// A location id, or `""` when empty (trusts without a location level).
fn location(field: &str, s: &str) -> Result<String, InvalidEvidence> {
    Ok(optional_location(field, s)?
        .map(|l| l.to_string())
        .unwrap_or_default())
}

/// A location id, or `None` when empty (trusts without a location level).
fn optional_location(field: &str, s: &str) -> Result<Option<LocationId>, InvalidEvidence> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e| invalid(field, format!("{e}")))
}

fn service(field: &str, s: &str) -> Result<ServiceId, InvalidEvidence> {
    if s.trim().is_empty() {
        return Err(invalid(
            field,
            "missing (an inspection area id such as urgent)",
        ));
    }
    s.parse().map_err(|e| invalid(field, format!("{e}")))
}

fn key_question(field: &str, raw: i32) -> Result<KeyQuestion, InvalidEvidence> {
    if raw == 0 {
        return Err(invalid(field, "missing"));
    }
    convert::key_question(raw).ok_or_else(|| invalid(field, format!("unknown key question {raw}")))
}

pub fn rating_value(field: &str, raw: i32) -> Result<RatingValue, InvalidEvidence> {
    if raw == 0 {
        return Err(invalid(field, "missing"));
    }
    convert::rating_value(raw).ok_or_else(|| invalid(field, format!("unknown rating {raw}")))
}

/// SAF quality-statement scores, each 1–4; a wrong one is named `<field>[i]`.
pub fn statement_scores(
    field: &str,
    raw: &[u32],
) -> Result<Vec<QualityStatementScore>, InvalidEvidence> {
    raw.iter()
        .enumerate()
        .map(|(i, s)| {
            QualityStatementScore::new(i64::from(*s), &format!("{field}[{i}]"))
                .map_err(InvalidEvidence::from)
        })
        .collect()
}

fn text(field: &str, s: &str) -> Result<String, InvalidEvidence> {
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid(field, "missing"));
    }
    Ok(t.to_string())
}

/// Validate one piece of quality evidence from the queue, naming the field (and record) on error.
pub fn evidence(e: &ev::QualityEvidence) -> Result<Evidence, InvalidEvidence> {
    let trust: TrustCode = e
        .trust_code
        .parse()
        .map_err(|err| invalid("trust_code", format!("{err}")))?;
    let trust_type = convert::trust_type(e.trust_type);
    let region = e.region.trim();
    if region.chars().count() > MAX_REGION_CHARS {
        return Err(invalid(
            "region",
            format!("a region is at most {MAX_REGION_CHARS} characters"),
        ));
    }
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
            key_question: convert::key_question(s.key_question)
                .ok_or_else(|| invalid(&f("key_question"), "missing or unknown key question"))?,
            rating: rating_value(&f("rating"), s.rating)?,
            report_date: date(&f("report_date"), s.report_date.as_ref())?,
            evidence_id: evidence_id.clone(),
            // Feeds carry judgements only.
            statement_scores: vec![],
        });
    }
    let mut well_led = Vec::new();
    for (i, w) in e.well_led.iter().enumerate() {
        well_led.push((
            rating_value(&format!("well_led[{i}].rating"), w.rating)?,
            date(
                &format!("well_led[{i}].report_date"),
                w.report_date.as_ref(),
            )?,
        ));
    }
    Ok(Evidence {
        trust,
        trust_name: e.trust_name.clone(),
        trust_type,
        region: region.to_string(),
        evidence_id,
        rows,
        well_led,
    })
}

pub fn inspection(r: &pb::RecordInspectionRequest) -> Result<Inspection, InvalidEvidence> {
    let trust = trust_code("trust_code", &r.trust_code)?;
    let register = match r.trust_type {
        0 => None,
        raw => {
            let t = convert::trust_type(raw)
                .ok_or_else(|| invalid("trust_type", format!("unknown trust type {raw}")))?;
            Some((r.trust_name.trim().to_string(), t))
        }
    };
    let location_id = location("location_id", &r.location_id)?;
    let report_date = date("report_date", r.report_date.as_ref())?;
    if r.ratings.is_empty() {
        return Err(invalid(
            "ratings",
            "at least one key question × service rating is required",
        ));
    }
    let mut ratings = Vec::with_capacity(r.ratings.len());
    for (i, x) in r.ratings.iter().enumerate() {
        let f = |name: &str| format!("ratings[{i}].{name}");
        let service_id = service(&f("service_id"), &x.service_id)?;
        let kq = key_question(&f("key_question"), x.key_question)?;
        let rating = rating_value(&f("rating"), x.rating)?;
        let statement_scores = statement_scores(&f("statement_scores"), &x.statement_scores)?;
        if let Some(j) = ratings
            .iter()
            .position(|r: &Finding| r.service == service_id && r.key_question == kq)
        {
            return Err(invalid(
                &format!("ratings[{i}]"),
                format!("{service_id} {kq} is already rated by ratings[{j}]"),
            ));
        }
        ratings.push(Finding {
            service: service_id,
            key_question: kq,
            rating,
            statement_scores,
        });
    }
    Ok(Inspection {
        trust,
        register,
        location_id,
        location_name: r.location_name.trim().to_string(),
        report_date,
        ratings,
    })
}

pub fn well_led(r: &pb::RecordWellLedAssessmentRequest) -> Result<WellLed, InvalidEvidence> {
    Ok(WellLed {
        trust: trust_code("trust_code", &r.trust_code)?,
        rating: rating_value("rating", r.rating)?,
        report_date: date("report_date", r.report_date.as_ref())?,
        statement_scores: statement_scores("statement_scores", &r.statement_scores)?,
    })
}

pub fn enforcement_action(
    r: &pb::RecordEnforcementActionRequest,
) -> Result<EnforcementAction, InvalidEvidence> {
    let kind = match pb::EnforcementKind::try_from(r.kind) {
        Ok(pb::EnforcementKind::RequirementNotice) => ActionKind::RequirementNotice,
        Ok(pb::EnforcementKind::WarningNotice) => ActionKind::WarningNotice,
        Ok(pb::EnforcementKind::ConditionOfRegistration) => ActionKind::Condition,
        Ok(pb::EnforcementKind::Unspecified) => return Err(invalid("kind", "missing")),
        Err(_) => {
            return Err(invalid(
                "kind",
                format!("unknown enforcement kind {}", r.kind),
            ));
        }
    };
    Ok(EnforcementAction {
        trust: trust_code("trust_code", &r.trust_code)?,
        location_id: location("location_id", &r.location_id)?,
        service_id: service("service_id", &r.service_id)?,
        key_question: key_question("key_question", r.key_question)?,
        kind,
        reason: text("reason", &r.reason)?,
        action_date: date("action_date", r.action_date.as_ref())?,
    })
}

pub fn merged_service(
    r: &pb::RecordMergedServiceRequest,
) -> Result<MergedService, InvalidEvidence> {
    let trust = trust_code("trust_code", &r.trust_code)?;
    let location_id = location("location_id", &r.location_id)?;
    let service_id = service("service_id", &r.service_id)?;
    let organisation = text("organisation", &r.organisation)?;
    let merged_on = optional_date("merged_on", r.merged_on.as_ref())?;
    let until = optional_date("until", r.until.as_ref())?;
    let reason = text("reason", &r.reason)?;
    // The rules refuse a missing merger date (the two-year cap runs from it) and an end on or
    // before it, naming the field.
    let exclusion = MergedExclusion::new(organisation, merged_on, until, reason)?;
    Ok(MergedService {
        trust,
        location_id,
        service_id,
        exclusion,
    })
}

pub fn significantly_small(
    r: &pb::RecordSignificantlySmallServiceRequest,
    recorded_by: &str,
) -> Result<SmallService, InvalidEvidence> {
    let trust = trust_code("trust_code", &r.trust_code)?;
    let location_id = location("location_id", &r.location_id)?;
    let service_id = service("service_id", &r.service_id)?;
    let from = date("from_date", r.from_date.as_ref())?;
    let until = optional_date("until", r.until.as_ref())?;
    let reason = text("reason", &r.reason)?;
    // The rules refuse an end on or before the start, naming `until`.
    let decision = SignificantlySmall::new(from, until, reason, recorded_by)?;
    Ok(SmallService {
        trust,
        location_id,
        service_id,
        decision,
    })
}

/// The entity a decision or a query is about, and its trust.
pub fn entity(
    field: &str,
    e: Option<&pb::EntityRef>,
) -> Result<(TrustCode, Entity), InvalidEvidence> {
    let e = e.ok_or_else(|| invalid(field, "missing"))?;
    let f = |name: &str| format!("{field}.{name}");
    let trust = trust_code(&f("trust_code"), &e.trust_code)?;
    let entity = match pb::EntityKind::try_from(e.kind) {
        Ok(pb::EntityKind::Trust) => Entity::Trust(trust.clone()),
        Ok(pb::EntityKind::Location) => Entity::Location(
            optional_location(&f("location_id"), &e.location_id)?
                .ok_or_else(|| invalid(&f("location_id"), "missing"))?,
        ),
        Ok(pb::EntityKind::Service) => Entity::Service {
            trust: trust.clone(),
            location: optional_location(&f("location_id"), &e.location_id)?,
            service: service(&f("service_id"), &e.service_id)?,
        },
        Ok(pb::EntityKind::Unspecified) => return Err(invalid(&f("kind"), "missing")),
        Err(_) => {
            return Err(invalid(
                &f("kind"),
                format!("unknown entity kind {}", e.kind),
            ));
        }
    };
    Ok((trust, entity))
}

pub fn published_decision(
    r: &pb::RecordPublishedDecisionRequest,
) -> Result<PublishedDecision, InvalidEvidence> {
    let (trust, entity) = entity("entity", r.entity.as_ref())?;
    let key_question = match r.key_question {
        0 => None,
        raw => Some(key_question("key_question", raw)?),
    };
    let published = match rating_value("published", r.published)? {
        RatingValue::Rated(p) => p,
        RatingValue::Unrated(n) => {
            return Err(invalid(
                "published",
                format!("{} is not a rating that can be published", n.cqc_str()),
            ));
        }
    };
    let stage = match pb::Stage::try_from(r.stage) {
        Ok(pb::Stage::Draft) => Stage::Draft,
        Ok(pb::Stage::Final) => Stage::Final,
        Ok(pb::Stage::Unspecified) => return Err(invalid("stage", "missing (draft or final)")),
        Err(_) => return Err(invalid("stage", format!("unknown stage {}", r.stage))),
    };
    let rationale = Some(r.rationale.trim().to_string()).filter(|s| !s.is_empty());
    let decided_on = optional_date("decided_on", r.decided_on.as_ref())?
        .unwrap_or_else(oversight_runtime::time::today);
    Ok(PublishedDecision {
        trust,
        entity,
        key_question,
        published,
        rationale,
        stage,
        decided_on,
    })
}

/// `GetRatings.as_of`: unset → as of the latest evidence.
pub fn as_of(d: Option<&Date>) -> Result<Option<NaiveDate>, InvalidEvidence> {
    optional_date("as_of", d)
}
