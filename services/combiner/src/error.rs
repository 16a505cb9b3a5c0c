//! The combiner's one error type, with its kind for the runtime's one map
//! (`oversight_runtime::error`): a gRPC status in `api` (and `wire`'s fast reads), ack / retry /
//! dead-letter in `consumer`.

use oversight_rating::TrustCode;
use oversight_runtime::error::{ErrorKind, Failure};

use crate::api::WhatIfError;

/// Why a request or a consumed part version was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CombinerError {
    /// A field of a request or of a part version is missing or unusable: INVALID_ARGUMENT with a
    /// `BadRequest` naming the field; poison on the queue.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// No combined version of the trust (on that day): NOT_FOUND.
    #[error("no rating for trust {0}")]
    NoRating(TrustCode),
    /// The what-ifs of the version cannot be worked: FAILED_PRECONDITION.
    #[error(transparent)]
    WhatIf(#[from] WhatIfError),
    /// A stored combined version that does not decode.
    #[error("stored combined version is corrupt: {0}")]
    Corrupt(#[from] prost::DecodeError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// Storage, publishing or an unexpected failure in the glue.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CombinerError {
    /// One field at fault.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        CombinerError::InvalidArgument {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The runtime's one map (gRPC status, queue decision) sees these kinds.
impl Failure for CombinerError {
    fn kind(&self) -> ErrorKind {
        match self {
            CombinerError::InvalidArgument { field, reason } => ErrorKind::invalid(field, reason),
            CombinerError::NoRating(_) => ErrorKind::NotFound,
            CombinerError::WhatIf(_) => ErrorKind::FailedPrecondition,
            CombinerError::Corrupt(_) | CombinerError::Store(_) | CombinerError::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
}

impl From<CombinerError> for tonic::Status {
    fn from(e: CombinerError) -> Self {
        oversight_runtime::error::status(&e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oversight_runtime::error::{Decision, INTERNAL_MESSAGE};
    use tonic_types::StatusExt;

    #[test]
    fn bad_input_names_its_field() {
        let s = tonic::Status::from(CombinerError::invalid("page_size", "at most 500"));
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(s.message(), "page_size: at most 500");
        let br = s.get_details_bad_request().expect("BadRequest details");
        assert_eq!(br.field_violations.len(), 1);
        assert_eq!(br.field_violations[0].field, "page_size");
        assert_eq!(br.field_violations[0].description, "at most 500");
        assert_eq!(
            CombinerError::invalid("version", "no version")
                .kind()
                .decision(),
            Decision::DeadLetter
        );
    }

    #[test]
    fn internal_failures_never_reach_callers_and_are_retried() {
        let store = CombinerError::Store(sqlx::Error::Protocol(
            "SELECT payload_hex FROM combiner_uor_part_versions".into(),
        ));
        let glue = CombinerError::Internal(anyhow::anyhow!("no such table: combiner_events"));
        let corrupt = CombinerError::from(
            <oversight_proto::combined::v1::CombinedRatingPublished as prost::Message>::decode(
                &[0xff_u8][..],
            )
            .unwrap_err(),
        );
        for e in [store, glue, corrupt] {
            assert_eq!(e.kind().decision(), Decision::Retry, "{e}");
            let s = tonic::Status::from(e);
            assert_eq!(s.code(), tonic::Code::Internal);
            assert_eq!(s.message(), INTERNAL_MESSAGE);
        }
    }

    #[test]
    fn unknown_trusts_and_unworkable_what_ifs_keep_their_codes() {
        let trust: TrustCode = "RXX".parse().unwrap();
        let s = tonic::Status::from(CombinerError::NoRating(trust));
        assert_eq!(s.code(), tonic::Code::NotFound);
        assert_eq!(s.message(), "no rating for trust RXX");
        let s = tonic::Status::from(CombinerError::from(WhatIfError::UnknownRuleSet {
            trust: "RXX".into(),
            version: 3,
            rule_set: "cqc-combined-2030".into(),
        }));
        assert_eq!(s.code(), tonic::Code::FailedPrecondition);
        assert!(s.message().contains("cqc-combined-2030"), "{}", s.message());
    }
}
