//! The decisions a caller of the service makes, as one error type with its kind for the runtime's
//! one map (`oversight_runtime::error`): a gRPC status in `api`, ack / retry / dead-letter in the
//! evidence consumer.

use cqc_rules::RulesError;
use oversight_runtime::error::{ErrorKind, Failure};

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

/// The runtime's one map (gRPC status, queue decision) sees these kinds.
impl Failure for RecordError {
    fn kind(&self) -> ErrorKind {
        match self {
            RecordError::Invalid(e) => ErrorKind::invalid(&e.field, &e.reason),
            RecordError::NotFound(_) => ErrorKind::NotFound,
            RecordError::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            RecordError::Store(_) | RecordError::Other(_) => ErrorKind::Internal,
        }
    }
}

impl From<RulesError> for RecordError {
    fn from(e: RulesError) -> Self {
        RecordError::Invalid(e.into())
    }
}
