//! The decisions a caller of the service's core makes, mapped once onto gRPC codes in `api`.

use nhsi_rules::workflow::WorkflowError;

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
            WorkflowError::FailedPrecondition { .. } => ServiceError::FailedPrecondition {
                record,
                reason: e.to_string(),
            },
            WorkflowError::InvalidArgument { field, reason } => ServiceError::InvalidArgument {
                record,
                field: field.to_string(),
                reason,
            },
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        match &e {
            ServiceError::InvalidArgument {
                record,
                field,
                reason,
            } => oversight_runtime::grpc::bad_request(
                e.to_string(),
                [(field.clone(), format!("{record}: {reason}"))],
            ),
            ServiceError::NotFound { .. } => tonic::Status::not_found(e.to_string()),
            ServiceError::FailedPrecondition { .. } => {
                tonic::Status::failed_precondition(e.to_string())
            }
            ServiceError::PermissionDenied { .. } => {
                tonic::Status::permission_denied(e.to_string())
            }
            ServiceError::Conflict { .. } => tonic::Status::aborted(e.to_string()),
            ServiceError::Internal(inner) => {
                tracing::error!(error = %format!("{inner:#}"), "request failed");
                tonic::Status::internal("internal error; see the service log")
            }
        }
    }
}
