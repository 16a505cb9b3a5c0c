//! What the rules are given: a trust's inspection evidence, as the service holds it.
//!
//! Ratings are written as CQC strings in JSON ("Requires improvement"), dates as ISO 8601.

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, LocationId, RatingValue, ServiceId, TrustCode};
use serde::{Deserialize, Serialize};

use crate::RulesError;
use crate::rule_set::QualityStatementScore;
use crate::serde_cqc;

/// The kind of NHS trust, which decides whether there is a location level (DOMAIN.md §2): the
/// shared vocabulary type.
pub use oversight_rating::TrustType;

/// Everything the rules need to rate one trust.
///
/// Trusts without a location level (mental health, community, ambulance) still list their
/// services under `locations` (as CQC registers them); the rules pool the services of all
/// locations and rate them straight into the trust key questions. A service id that appears at
/// several locations of such a trust is one trust-wide service: its ratings are merged and the
/// latest per key question stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEvidence {
    /// The trust's ODS code.
    pub trust: TrustCode,
    /// The kind of trust.
    pub trust_type: TrustType,
    /// Locations with their services' ratings.
    #[serde(default)]
    pub locations: Vec<LocationEvidence>,
    /// Every trust-level well-led assessment; the latest on or before the rating date stands.
    #[serde(default)]
    pub well_led: Vec<WellLedAssessment>,
}

/// A trust-level well-led assessment (the only source of the trust's well-led rating).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WellLedAssessment {
    /// The judgement. Under `saf-2023` non-empty `statement_scores` replace it.
    #[serde(with = "serde_cqc::rating_value")]
    pub rating: RatingValue,
    /// Date of the report.
    pub report_date: NaiveDate,
    /// SAF quality-statement scores (1–4), if assessed under the SAF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statement_scores: Vec<QualityStatementScore>,
}

/// One location (hospital) of a trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationEvidence {
    /// CQC location id or ODS site code.
    pub id: LocationId,
    /// Display name, for explanations.
    #[serde(default)]
    pub name: Option<String>,
    /// The services rated at this location.
    #[serde(default)]
    pub services: Vec<ServiceEvidence>,
}

/// One service (inspection area) with every rating it has received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEvidence {
    /// Inspection area id (`urgent`, `surgery`, `npimaternity`, …).
    pub service: ServiceId,
    /// All key question ratings, any dates; the latest per key question stands (carry-forward).
    #[serde(default)]
    pub ratings: Vec<KqServiceRating>,
    /// Set when the service came from a merged organisation and is left out of trust aggregation.
    #[serde(default)]
    pub merged_from: Option<MergedExclusion>,
    /// Decisions that the service is "significantly small" (§2.1), in the order recorded; the one
    /// that stands on the rating date leaves it out of aggregation
    /// ([`SignificantlySmall::standing`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub significantly_small: Vec<SignificantlySmall>,
}

/// One inspection judgement for a key question of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KqServiceRating {
    /// The key question.
    pub key_question: KeyQuestion,
    /// The judgement. Under `saf-2023` non-empty `statement_scores` replace it.
    #[serde(with = "serde_cqc::rating_value")]
    pub rating: RatingValue,
    /// Date of the report that set it.
    pub report_date: NaiveDate,
    /// A breach or enforcement action that limits the rating (§2.2).
    #[serde(default)]
    pub limiter: Option<Limiter>,
    /// SAF quality-statement scores (1–4) for this key question, if assessed under the SAF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statement_scores: Vec<QualityStatementScore>,
}

/// A limiter on a key question × service rating (DOMAIN.md §2.2), applied before aggregation.
///
/// \[A\] A limiter lowers a real rating only: a non-rating stays a non-rating (excluded from
/// counts) and the limiter is noted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Limiter {
    /// A breach of regulation with a requirement notice: the rating is at best requires
    /// improvement.
    RequirementNotice {
        /// The regulation breached, in words.
        reason: String,
    },
    /// Enforcement action: the rating is inadequate.
    EnforcementAction {
        /// Which action.
        action: EnforcementKind,
        /// Why, in words.
        reason: String,
    },
}

/// The enforcement actions that make a rating inadequate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementKind {
    /// A warning notice.
    WarningNotice,
    /// A condition of registration.
    Condition,
}

impl Limiter {
    /// The best rating this limiter allows.
    pub fn cap(&self) -> oversight_rating::Rating {
        match self {
            Limiter::RequirementNotice { .. } => oversight_rating::Rating::RequiresImprovement,
            Limiter::EnforcementAction { .. } => oversight_rating::Rating::Inadequate,
        }
    }
}

/// The limiter in words, for explanations: "requirement notice (Regulation 12) limits to at best
/// Requires improvement", "enforcement action: warning notice (Section 29A) → Inadequate".
impl std::fmt::Display for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limiter::RequirementNotice { reason } => write!(
                f,
                "requirement notice ({reason}) limits to at best Requires improvement"
            ),
            Limiter::EnforcementAction { action, reason } => {
                let what = match action {
                    EnforcementKind::WarningNotice => "warning notice",
                    EnforcementKind::Condition => "condition of registration",
                };
                write!(f, "enforcement action: {what} ({reason}) → Inadequate")
            }
        }
    }
}

/// Marks a service from a previously separate organisation (§2.3: "may be left out of trust-level
/// aggregation for up to two years, with the reason stated").
///
/// The merger date is required: the two-year limit runs from it, so an exclusion without one
/// could last for ever. [`MergedExclusion::new`] (and deserialisation) refuse a record without it
/// with [`RulesError::MergerDateMissing`]. The service is left out of trust-level aggregation
/// while the rating date is before the exclusion end: `until` when given, capped at the rule
/// set's `merged_exclusion_max_months` (24) after `merged_on`; without `until`, the full two
/// years ([`crate::RuleSet::exclusion_end`]). The service and its location are still rated; only
/// the trust level leaves it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MergedExclusionRecord", into = "MergedExclusionRecord")]
pub struct MergedExclusion {
    /// The organisation the service came from.
    pub organisation: String,
    /// Date of the merger or acquisition, from which the two-year cap runs.
    pub merged_on: NaiveDate,
    /// An earlier end of the exclusion (exclusive: from this date the service counts again);
    /// `None` for the full cap. Always after `merged_on`.
    pub until: Option<NaiveDate>,
    /// Why it is left out, as stated.
    pub reason: String,
}

impl MergedExclusion {
    /// A merged-organisation exclusion. `merged_on` is required
    /// ([`RulesError::MergerDateMissing`]); `until`, when given, must be after it
    /// ([`RulesError::InvalidValue`] naming `until`).
    pub fn new(
        organisation: impl Into<String>,
        merged_on: Option<NaiveDate>,
        until: Option<NaiveDate>,
        reason: impl Into<String>,
    ) -> Result<Self, RulesError> {
        let merged_on = merged_on.ok_or_else(|| RulesError::MergerDateMissing {
            field: "merged_on".into(),
        })?;
        if let Some(u) = until.filter(|u| *u <= merged_on) {
            return Err(RulesError::InvalidValue {
                field: "until".into(),
                value: u.to_string(),
                reason: format!("must be after merged_on ({merged_on})"),
            });
        }
        Ok(MergedExclusion {
            organisation: organisation.into(),
            merged_on,
            until,
            reason: reason.into(),
        })
    }
}

/// [`MergedExclusion`] as written in JSON, before validation: a missing `merged_on` becomes a
/// typed error instead of a serde message.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MergedExclusionRecord {
    organisation: String,
    #[serde(default)]
    merged_on: Option<NaiveDate>,
    #[serde(default)]
    until: Option<NaiveDate>,
    reason: String,
}

impl TryFrom<MergedExclusionRecord> for MergedExclusion {
    type Error = RulesError;
    fn try_from(r: MergedExclusionRecord) -> Result<Self, Self::Error> {
        MergedExclusion::new(r.organisation, r.merged_on, r.until, r.reason)
    }
}

impl From<MergedExclusion> for MergedExclusionRecord {
    fn from(m: MergedExclusion) -> Self {
        MergedExclusionRecord {
            organisation: m.organisation,
            merged_on: Some(m.merged_on),
            until: m.until,
            reason: m.reason,
        }
    }
}

/// A recorded decision that a service is "significantly small" (DOMAIN.md §2.1: "all services
/// weigh equally except 'significantly small' ones"): while it stands, the service's ratings are
/// left out of its location's aggregation (and so the trust's; for trusts without a location
/// level, out of the trust's), with the reason shown in each explanation it was left out of. The
/// service's own ratings are still rated and shown.
///
/// \[A\] Leave out only, never down-weight: §2.1 counts ratings against thresholds (X of n), and
/// no published text gives a fractional weight a meaning in that count, so the one weight other
/// than 1 the rule can express is 0.
///
/// [`SignificantlySmall::new`] (and deserialisation) refuse an empty reason
/// ([`RulesError::MissingField`] naming `reason`) and an end on or before the start
/// ([`RulesError::InvalidValue`] naming `until`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "SignificantlySmallRecord",
    into = "SignificantlySmallRecord"
)]
pub struct SignificantlySmall {
    /// From this date the service is left out.
    pub from: NaiveDate,
    /// From this date it counts again (exclusive); `None`: until a later decision.
    pub until: Option<NaiveDate>,
    /// Why, as decided.
    pub reason: String,
    /// Who recorded the decision.
    pub recorded_by: String,
}

impl SignificantlySmall {
    /// A decision; `reason` must not be blank, `until` (when given) must be after `from`.
    pub fn new(
        from: NaiveDate,
        until: Option<NaiveDate>,
        reason: impl Into<String>,
        recorded_by: impl Into<String>,
    ) -> Result<Self, RulesError> {
        let reason = reason.into().trim().to_string();
        if reason.is_empty() {
            return Err(RulesError::MissingField {
                field: "reason".into(),
            });
        }
        if let Some(u) = until.filter(|u| *u <= from) {
            return Err(RulesError::InvalidValue {
                field: "until".into(),
                value: u.to_string(),
                reason: format!("must be after the start of the decision ({from})"),
            });
        }
        Ok(SignificantlySmall {
            from,
            until,
            reason,
            recorded_by: recorded_by.into(),
        })
    }

    /// The decision standing on `as_of` among one service's `decisions` (in the order recorded),
    /// if it leaves the service out.
    ///
    /// \[A\] Decisions are a history, never edited: the latest decision that has started by
    /// `as_of` (latest `from`; on the same date, the later recorded) governs, and it leaves the
    /// service out while `as_of` is before its `until`. So a decision that ended in the past
    /// leaves nothing out, and an open decision is ended by recording a later one with an end.
    pub fn standing<'a>(
        decisions: impl IntoIterator<Item = &'a SignificantlySmall>,
        as_of: NaiveDate,
    ) -> Option<&'a SignificantlySmall> {
        decisions
            .into_iter()
            .filter(|s| s.from <= as_of)
            // `max_by_key` returns the last of equal keys: the later recorded on the same date.
            .max_by_key(|s| s.from)
            .filter(|s| s.until.is_none_or(|u| as_of < u))
    }
}

/// [`SignificantlySmall`] as written in JSON, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignificantlySmallRecord {
    from: NaiveDate,
    #[serde(default)]
    until: Option<NaiveDate>,
    reason: String,
    #[serde(default)]
    recorded_by: String,
}

impl TryFrom<SignificantlySmallRecord> for SignificantlySmall {
    type Error = RulesError;
    fn try_from(r: SignificantlySmallRecord) -> Result<Self, Self::Error> {
        SignificantlySmall::new(r.from, r.until, r.reason, r.recorded_by)
    }
}

impl From<SignificantlySmall> for SignificantlySmallRecord {
    fn from(s: SignificantlySmall) -> Self {
        SignificantlySmallRecord {
            from: s.from,
            until: s.until,
            reason: s.reason,
            recorded_by: s.recorded_by,
        }
    }
}
