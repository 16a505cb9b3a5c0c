//! The vocabulary both regulators share: the rating scale (with its explicit non-ratings), the key
//! questions, the identifiers of trusts and sites, rule-set versions, explanations, and the counting
//! rule that CQC's aggregation (DOMAIN.md §2.1) and the combined rating (§3) both follow.
//!
//! Everything here is pure: no IO, no async, no clock.

mod aggregate;
mod explain;
mod ids;
pub mod kq_map;
mod role;
mod scale;

pub use aggregate::{
    Aggregate, AggregateCounts, CountThreshold, CountingRow, CountingRule, SizeBand, Thresholds,
    aggregate,
};
pub use explain::{Explanation, ExplanationText, Items};
pub use ids::{
    IdError, LocationId, MAX_SERVICE_ID_CHARS, RuleSetVersion, ServiceId, SiteCode, TrustCode,
};
pub use kq_map::KeyQuestionMap;
pub use role::{Role, UnknownRole};
pub use scale::{KeyQuestion, NonRating, Rating, RatingValue, ScaleError, TrustType};
