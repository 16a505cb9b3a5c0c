//! The decisions a caller of the service makes, as one error type. `api` maps it to a gRPC status
//! in one place; the evidence consumer maps it to ack / nak / dead-letter.

use cqc_rules::RulesError;

/// Input that cannot be recorded, naming the field (and record, e.g. `ratings[2].key_question`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct InvalidEvidence {
    pub field: String,
    pub reason: String,
}

pub fn invalid(field: &str, reason: impl Into<String>) -> InvalidEvidence {
    InvalidEvidence {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl From<RulesError> for InvalidEvidence {
    fn from(e: RulesError) -> Self {
        let field = e.field().to_string();
        let text = e.to_string();
        let reason = text
            .strip_prefix(&format!("{field}: "))
            .unwrap_or(&text)
            .to_string();
        InvalidEvidence { field, reason }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Wrong or missing input (`INVALID_ARGUMENT`; poison on the queue).
    #[error("{0}")]
    Invalid(#[from] InvalidEvidence),
    /// An unknown trust, location or service (`NOT_FOUND`).
    #[error("{0}")]
    NotFound(String),
    /// Valid input that does not apply to what is stored (`FAILED_PRECONDITION`), e.g. an
    /// enforcement action on a rating that does not exist.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<RulesError> for RecordError {
    fn from(e: RulesError) -> Self {
        RecordError::Invalid(e.into())
    }
}
