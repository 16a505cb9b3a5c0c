//! CQC's quality rating rules, pure: no IO, no async, no clock.
//!
//! - [`RuleSet`]: the versioned rule sets `cqc-2018` (DOMAIN.md §2) and `saf-2023` (§5), every
//!   threshold and every [A] reading a parameter; [`RuleSet::select`] picks one by date or
//!   configuration.
//! - [`rate_trust`]: a trust's [`TrustEvidence`] → [`TrustQuality`] at every level (key question ×
//!   service → service → location → trust), each rating with its [`Explanation`](oversight_rating::Explanation).
//! - [`judgement`]: published decisions beside computed ones; departures need a rationale.
//! - [`cqc_api`]: CQC's public API JSON (locations, providers) and its mapping to evidence.
//! - [`audit`]: the ratings auditor behind `oversight rate FILE...`.

pub mod audit;
pub mod cqc_api;
mod error;
mod evidence;
pub mod judgement;
mod rate;
mod rule_set;
pub mod serde_cqc;

pub use error::RulesError;
pub use evidence::{
    EnforcementKind, KqServiceRating, Limiter, LocationEvidence, MergedExclusion,
    ServiceEvidence, TrustEvidence, TrustType, WellLedAssessment,
};
pub use judgement::{Departure, Entity, Judgement, JudgementHistory, Stage, check_departure, departures};
pub use rate::{
    LocationQuality, OverallBasis, RatedResult, ServiceQuality, TrustQuality, rate_service,
    rate_trust,
};
pub use rule_set::{
    CQC_2018, QualityStatementScore, RuleSet, SAF_2023, SafBands, Scoring, Selection, saf_percent,
};
