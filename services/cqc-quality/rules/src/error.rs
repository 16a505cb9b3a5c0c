//! The errors a caller of the rules can act on. Each names the offending field so a service can
//! answer `INVALID_ARGUMENT` with the field (and record) in its details.

use oversight_rating::Rating;

/// Invalid input to the CQC rules. Plain data, comparable in tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// A SAF quality-statement score outside 1–4.
    #[error("{field}: quality statement score {value} is outside 1–4")]
    SafScoreOutOfRange {
        /// Where the score was found, e.g. `statement_scores[3]`.
        field: String,
        /// The score given.
        value: i64,
    },
    /// A published rating that departs from the computed one without a (non-blank) rationale.
    #[error(
        "{field}: published rating {published} departs from the computed {} without a rationale",
        computed.map_or("no rating", Rating::cqc_str)
    )]
    MissingRationale {
        /// The field that must carry the rationale (`rationale`).
        field: String,
        /// What the rules computed.
        computed: Option<Rating>,
        /// What was published.
        published: Rating,
    },
    /// A configured rule set name that this crate does not know.
    #[error("{field}: unknown rule set {value:?} (expected cqc-2018 or saf-2023)")]
    UnknownRuleSet {
        /// The configuration field, `rule_set`.
        field: String,
        /// The name given.
        value: String,
    },
    /// A rating string that is neither a CQC rating nor a CQC non-rating.
    #[error("{field}: unknown rating {value:?}")]
    UnknownRating {
        /// Where the string was found, e.g. `currentRatings.serviceRatings[2].rating`.
        field: String,
        /// The string given.
        value: String,
    },
    /// An identifier, date or key question that does not parse.
    #[error("{field}: invalid value {value:?}: {reason}")]
    InvalidValue {
        /// Where the value was found.
        field: String,
        /// The value given.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A merged-organisation service without its merger date: the two-year limit on leaving it
    /// out of trust aggregation (DOMAIN.md §2.3) runs from that date, so it is required.
    #[error(
        "{field}: missing: a merged-organisation service needs the date of the merger or acquisition, from which its exclusion from trust aggregation (at most two years) runs"
    )]
    MergerDateMissing {
        /// The field that must carry the date (`merged_on`).
        field: String,
    },
    /// A required field is absent.
    #[error("{field}: missing")]
    MissingField {
        /// The absent field.
        field: String,
    },
    /// A judgement history received an entry after its final decision.
    #[error(
        "{field}: the decision is already final; a change after publication is a new judgement"
    )]
    JudgementAlreadyFinal {
        /// The field describing the stage (`stage`).
        field: String,
    },
    /// A judgement history received an entry for a different entity or key question.
    #[error("{field}: judgement is for {got}, the history is for {expected}")]
    JudgementMismatch {
        /// `entity` or `key_question`.
        field: String,
        /// What the history is about.
        expected: String,
        /// What the new entry is about.
        got: String,
    },
}

impl RulesError {
    /// The field the error names, for `INVALID_ARGUMENT` details.
    pub fn field(&self) -> &str {
        match self {
            RulesError::SafScoreOutOfRange { field, .. }
            | RulesError::MissingRationale { field, .. }
            | RulesError::UnknownRuleSet { field, .. }
            | RulesError::UnknownRating { field, .. }
            | RulesError::InvalidValue { field, .. }
            | RulesError::MergerDateMissing { field }
            | RulesError::MissingField { field }
            | RulesError::JudgementAlreadyFinal { field }
            | RulesError::JudgementMismatch { field, .. } => field,
        }
    }
}
