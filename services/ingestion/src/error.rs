//! Ingestion's errors and their one map (the runtime's `Failure`): a gRPC status for the `Submit`
//! door and a queue decision for the queue door.

use oversight_runtime::error::{ErrorKind, Failure, Violation};

use crate::feed::ReadError;
use crate::pipeline::Receipt;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A field of the batch's header is missing or unusable.
    #[error("invalid batch: {field}: {reason}")]
    InvalidBatch { field: &'static str, reason: String },
    #[error("{}", all_rejected_message(.file_name, .receipt))]
    AllRejected { file_name: String, receipt: Receipt },
    /// The sender's stream failed part-way; what was committed stays, and sending the batch again
    /// completes it without duplicates.
    #[error("the content of {file_name} stopped arriving: {reason}")]
    Source { file_name: String, reason: String },
    #[error("storage failed: {0}")]
    Store(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

fn all_rejected_message(file_name: &str, receipt: &Receipt) -> String {
    match receipt.rejections.first() {
        None => format!("{file_name} has no records"),
        Some(first) => format!(
            "every record of {file_name} was rejected ({} records); first: {first}",
            receipt.counts.records
        ),
    }
}

impl From<ReadError> for IngestError {
    fn from(e: ReadError) -> Self {
        IngestError::Source {
            file_name: e.file_name,
            reason: format!("line {}: {}", e.line, e.reason),
        }
    }
}

impl Failure for IngestError {
    fn kind(&self) -> ErrorKind {
        match self {
            IngestError::InvalidBatch { field, reason } => ErrorKind::invalid(*field, reason),
            // Name every rejected record and field (bounded) for programs as well as people.
            IngestError::AllRejected { receipt, .. } => ErrorKind::Rejected(
                receipt
                    .rejections
                    .iter()
                    .map(|r| {
                        Violation::new(
                            format!("{} record {}: {}", r.file_name, r.record_number, r.field),
                            r.reason.clone(),
                        )
                    })
                    .collect(),
            ),
            IngestError::Source { .. } => ErrorKind::Aborted,
            IngestError::Store(_) => ErrorKind::Unavailable,
            IngestError::Internal(_) => ErrorKind::Internal,
        }
    }
}
