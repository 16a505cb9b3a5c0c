//! The decisions a caller of the service's core makes, with their kinds for the runtime's one map
//! onto gRPC codes (`oversight_runtime::error`).

use nhsi_rules::workflow::WorkflowError;
use oversight_runtime::error::{ErrorKind, Failure};

/// Why a request was refused or failed. Every variant names the record it is about.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is missing or unusable.
    #[error("{record}: {field}: {reason}")]
    InvalidArgument {
        record: String,
        field: String,
        reason: String,
    },
    /// The record does not exist.
    #[error("{record}: {reason}")]
    NotFound { record: String, reason: String },
    /// The record's state does not allow the request.
    #[error("{record}: {reason}")]
    FailedPrecondition { record: String, reason: String },
    /// The caller's role may not do this.
    #[error("{record}: {reason}")]
    PermissionDenied { record: String, reason: String },
    /// Another writer changed the record at the same time; retrying is safe.
    #[error("{record}: changed concurrently; retry")]
    Conflict { record: String },
    /// Storage or an unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Internal(e.into())
    }
}

impl ServiceError {
    pub fn invalid(record: impl Into<String>, field: &str, reason: impl Into<String>) -> Self {
        ServiceError::InvalidArgument {
            record: record.into(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub fn not_found(record: impl Into<String>, reason: impl Into<String>) -> Self {
        ServiceError::NotFound {
            record: record.into(),
            reason: reason.into(),
        }
    }

    pub fn precondition(record: impl Into<String>, reason: impl Into<String>) -> Self {
        ServiceError::FailedPrecondition {
            record: record.into(),
            reason: reason.into(),
        }
    }

    /// A refused workflow transition on `record`.
    pub fn workflow(record: impl Into<String>, e: WorkflowError) -> Self {
        let record = record.into();
        match e {
            WorkflowError::PermissionDenied { .. } => ServiceError::PermissionDenied {
                record,
                reason: e.to_string(),
            },
            WorkflowError::FailedPrecondition { .. } | WorkflowError::OutOfOrder { .. } => {
                ServiceError::FailedPrecondition {
                    record,
                    reason: e.to_string(),
                }
            }
            WorkflowError::InvalidArgument { field, reason } => ServiceError::InvalidArgument {
                record,
                field: field.to_string(),
                reason,
            },
        }
    }
}

/// The runtime's one map turns these kinds into gRPC statuses (and queue decisions).
impl Failure for ServiceError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::InvalidArgument {
                record,
                field,
                reason,
            } => ErrorKind::invalid(field, format!("{record}: {reason}")),
            ServiceError::NotFound { .. } => ErrorKind::NotFound,
            ServiceError::FailedPrecondition { .. } => ErrorKind::FailedPrecondition,
            ServiceError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            ServiceError::Conflict { .. } => ErrorKind::Aborted,
            ServiceError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        oversight_runtime::error::status(&e)
    }
}
