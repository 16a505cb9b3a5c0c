//! CQC's quality rating rules, pure: no IO, no async, no clock.
//!
//! - [`RuleSet`]: the versioned rule sets `cqc-2018` (DOMAIN.md §2) and `saf-2023` (§5), every
//!   threshold and every \[A\] reading a parameter; [`RuleSet::select`] picks one by date or
//!   configuration.
//! - [`rate_trust`]: a trust's [`TrustEvidence`] → [`TrustQuality`] at every level (key question ×
//!   service → service → location → trust), each rating with its explanation as data
//!   ([`explain`]: the rule, the inputs and the notes, rendered to sentences only at the edges).
//! - [`judgement`]: published decisions beside computed ones; departures need a rationale.
//! - [`records`]: what a service records about a trust (ratings, enforcement actions, merged
//!   services, well-led assessments) and the rules that make them [`TrustEvidence`]: which
//!   limiter applies to which rating, which exclusion to which service.
//! - [`publish`]: from computed ratings to what CQC publishes: limiters named above the rating
//!   they lowered, final decisions laid over the computed ratings, the previous trust overall
//!   carried forward.
//! - [`audit`]: the rules of the ratings auditor behind `oversight rate FILE...` (CQC's public
//!   API JSON is read by `oversight-feeds`).
//!
//! Readings of DOMAIN.md marked \[A\], each a parameter or documented where it lives:
//! - trust safe/effective/caring/responsive aggregate the location key questions (acute); services
//!   of mental health, community and ambulance trusts go straight to the trust ([`rate_trust`]);
//! - the trust overall is the aggregate of the trust key questions as they stood on the latest
//!   trust-level well-led assessment (kept as [`TrustQuality::overall_key_questions`], what the
//!   combined rating combines); without one, [`OverallBasis::PreviousStands`], and the overall
//!   published before stands with the key questions it was published with
//!   ([`publish::carry_forward`]);
//! - final decisions (§2.4) are laid over the ratings level by level, so the levels above
//!   aggregate the published rating ([`rate_trust_published`]); a decision lapses once a rating
//!   beneath it is reported after it; the key questions as they stood on the well-led assessment
//!   take only the decisions made before the first rating reported after it;
//! - same-date conflicts: the lower rating stands; superseded areas merge per key question, the
//!   later report wins, the newer area on the same date ([`RuleSet::superseded_areas`]);
//! - merged-organisation services: left out of the trust level (not of their location) until 24
//!   months after `merged_on` ([`RuleSet::merged_exclusion_max_months`]), or an earlier `until`;
//!   the merger date is required ([`RulesError::MergerDateMissing`]);
//! - "significantly small" services (§2.1): left out of their location's aggregation (and so the
//!   trust's), never down-weighted, while the latest decision started by the rating date has not
//!   ended ([`SignificantlySmall::standing`]);
//! - limiters lower real ratings only; a non-rating stays excluded;
//! - `saf-2023`: exact percentages ([`SafPercent`], never rounded before banding), every level the
//!   exact mean of the percentages beneath, banded (a band starts at its published minimum, so
//!   87.5 % is Good), then capped by the §2.1 lowering rows ([`SafBands`]); from 2023-11-01
//!   ([`Selection`]).

pub mod audit;
mod decided;
mod error;
mod evidence;
pub mod explain;
pub mod judgement;
pub mod publish;
mod rate;
pub mod records;
mod rule_set;
mod saf;
pub mod serde_cqc;

pub use error::RulesError;
pub use evidence::{
    EnforcementKind, KqServiceRating, Limiter, LocationEvidence, MergedExclusion, ServiceEvidence,
    SignificantlySmall, TrustEvidence, TrustType, WellLedAssessment,
};
pub use explain::CqcExplanation;
pub use judgement::{
    Departure, Entity, EntityKind, Judgement, JudgementHistory, Stage, check_departure, departures,
};
pub use rate::{
    LocationQuality, OverallBasis, RatedResult, ServiceQuality, TrustQuality, rate_service,
    rate_trust, rate_trust_published,
};
pub use records::{
    ActionKind, ActionRecord, MergedRecord, RatingRecord, SmallServiceRecord, TrustRecords,
};
pub use rule_set::{
    CQC_2018, QualityStatementScore, RuleSet, SAF_2023, SafBands, Scoring, Selection, newest_area,
    saf_percent,
};
pub use saf::{InvalidSafPercent, SafPercent};
