//! One error map for every boundary. A service's error type says what *kind* of failure it is
//! ([`Failure::kind`]); this module alone turns a kind into a gRPC status ([`status`]) and into a
//! queue decision ([`settle`]: ack, retry in place, or dead-letter):
//!
//! | kind                | gRPC                                   | queue        |
//! |---------------------|----------------------------------------|--------------|
//! | `InvalidArgument`   | INVALID_ARGUMENT + `BadRequest` fields | dead-letter  |
//! | `Rejected`          | INVALID_ARGUMENT + `BadRequest` fields | ack (the rejections are stored) |
//! | `NotFound`          | NOT_FOUND                              | dead-letter  |
//! | `FailedPrecondition`| FAILED_PRECONDITION                    | dead-letter  |
//! | `PermissionDenied`  | PERMISSION_DENIED                      | dead-letter  |
//! | `Aborted`           | ABORTED (retrying is safe)             | retry        |
//! | `Unavailable`       | UNAVAILABLE, generic message           | retry        |
//! | `Internal`          | INTERNAL, generic message              | retry        |
//!
//! Unavailable and internal failures are logged in full where they are mapped and reach callers
//! as a generic message: a caller never sees SQL, connection strings or stack context. A
//! transient failure (a dependency down) is waited out, never dead-lettered.

use crate::nats::HandleError;

/// One offending field: which record and field (e.g. `records[12].rating`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// What kind of failure an error is, for the caller's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wrong or missing input; the fields at fault (at least one).
    InvalidArgument(Vec<Violation>),
    /// Input examined and refused as a whole, with the refusals recorded where callers look
    /// (e.g. a feed batch whose every record was rejected).
    Rejected(Vec<Violation>),
    NotFound,
    FailedPrecondition,
    PermissionDenied,
    /// Stopped part-way (a concurrent change, a sender's stream that broke); retrying is safe.
    Aborted,
    /// A dependency (database, NATS, a downstream service) is down.
    Unavailable,
    /// A bug or an unexpected failure.
    Internal,
}

/// How a consumed message is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Ack,
    Retry,
    DeadLetter,
}

impl ErrorKind {
    pub fn code(&self) -> tonic::Code {
        match self {
            ErrorKind::InvalidArgument(_) | ErrorKind::Rejected(_) => tonic::Code::InvalidArgument,
            ErrorKind::NotFound => tonic::Code::NotFound,
            ErrorKind::FailedPrecondition => tonic::Code::FailedPrecondition,
            ErrorKind::PermissionDenied => tonic::Code::PermissionDenied,
            ErrorKind::Aborted => tonic::Code::Aborted,
            ErrorKind::Unavailable => tonic::Code::Unavailable,
            ErrorKind::Internal => tonic::Code::Internal,
        }
    }

    pub fn decision(&self) -> Decision {
        match self {
            ErrorKind::Rejected(_) => Decision::Ack,
            ErrorKind::InvalidArgument(_)
            | ErrorKind::NotFound
            | ErrorKind::FailedPrecondition
            | ErrorKind::PermissionDenied => Decision::DeadLetter,
            ErrorKind::Aborted | ErrorKind::Unavailable | ErrorKind::Internal => Decision::Retry,
        }
    }

    /// One field at fault.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ErrorKind::InvalidArgument(vec![Violation::new(field, description)])
    }
}

/// An error a service hands to a boundary (gRPC or the queue). `Display` is what callers read
/// (for unavailable and internal failures only the log sees it).
pub trait Failure: std::error::Error {
    fn kind(&self) -> ErrorKind;
}

/// An unexpected failure with no kind of its own (glue code): internal.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Internal(pub anyhow::Error);

impl Failure for Internal {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// The gRPC status of an unexpected failure: logged in full, generic to the caller.
pub fn internal(e: impl Into<anyhow::Error>) -> tonic::Status {
    status(&Internal(e.into()))
}

/// What a caller reads for an unavailable dependency.
pub const UNAVAILABLE_MESSAGE: &str = "a dependency of the service is unavailable; retry later";
/// What a caller reads for an internal failure.
pub const INTERNAL_MESSAGE: &str = "internal error; see the service log";

/// The error and its sources, for the log.
fn chain(e: &(dyn std::error::Error + '_)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The gRPC status for `e`: the one mapping.
pub fn status<E: Failure>(e: &E) -> tonic::Status {
    let kind = e.kind();
    match kind {
        ErrorKind::InvalidArgument(violations) | ErrorKind::Rejected(violations) => {
            let message = e.to_string();
            let violations = if violations.is_empty() {
                vec![Violation::new("request", message.clone())]
            } else {
                violations
            };
            crate::grpc::bad_request(
                message,
                violations.into_iter().map(|v| (v.field, v.description)),
            )
        }
        ErrorKind::Unavailable => {
            tracing::warn!(error = %chain(e), "request failed: a dependency is unavailable");
            tonic::Status::unavailable(UNAVAILABLE_MESSAGE)
        }
        ErrorKind::Internal => {
            tracing::error!(error = %chain(e), "request failed");
            tonic::Status::internal(INTERNAL_MESSAGE)
        }
        other => tonic::Status::new(other.code(), e.to_string()),
    }
}

/// The queue decision for a handler's outcome: the one mapping. `what` names the message (e.g.
/// `evidence E1 for trust "RXX"`) in the dead-letter reason.
pub fn settle<E: Failure>(
    what: impl std::fmt::Display,
    outcome: Result<(), E>,
) -> Result<(), HandleError> {
    let Err(e) = outcome else {
        return Ok(());
    };
    match e.kind().decision() {
        Decision::Ack => Ok(()),
        Decision::Retry => Err(HandleError::Transient(anyhow::anyhow!(
            "{what}: {}",
            chain(&e)
        ))),
        Decision::DeadLetter => Err(HandleError::poison(format!("{what}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[derive(Debug, thiserror::Error)]
    enum Example {
        #[error("records[2].rating: not a rating")]
        Bad,
        #[error("all rejected")]
        AllRejected,
        #[error("storage failed: no such table: secret_table")]
        Store,
    }

    impl Failure for Example {
        fn kind(&self) -> ErrorKind {
            match self {
                Example::Bad => ErrorKind::invalid("records[2].rating", "not a rating"),
                Example::AllRejected => ErrorKind::Rejected(vec![]),
                Example::Store => ErrorKind::Unavailable,
            }
        }
    }

    #[test]
    fn one_kind_maps_to_a_status_and_a_decision() {
        let s = status(&Example::Bad);
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        let br = s.get_details_bad_request().expect("BadRequest details");
        assert_eq!(br.field_violations[0].field, "records[2].rating");
        assert!(matches!(
            settle("m", Err(Example::Bad)),
            Err(HandleError::Poison(r)) if r.contains("records[2].rating")
        ));

        // Every INVALID_ARGUMENT carries violations, even when the kind names none.
        let s = status(&Example::AllRejected);
        assert_eq!(
            s.get_details_bad_request()
                .expect("details")
                .field_violations
                .len(),
            1
        );
        assert!(
            settle("m", Err(Example::AllRejected)).is_ok(),
            "recorded: ack"
        );

        let s = status(&Example::Store);
        assert_eq!(s.code(), tonic::Code::Unavailable);
        assert!(!s.message().contains("secret_table"), "{}", s.message());
        assert!(matches!(
            settle("m", Err(Example::Store)),
            Err(HandleError::Transient(_))
        ));
        assert!(settle::<Example>("m", Ok(())).is_ok());
    }
}
