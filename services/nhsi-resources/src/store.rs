//! nhsi-resources' tables (see `migrations/`): SQL and row decoding only, one module per table
//! group. What the rows mean — which status stands, which stage comes next, what a score is — is
//! the glue's and `nhsi_rules`' to decide. Functions take the pool, or the caller's connection
//! (a transaction) where writes must go together, and return decoded rows; a stored value that
//! cannot be read back is a `sqlx::Error::Decode` naming it.

pub mod observations;
pub mod quality;
pub mod segments;
pub mod statuses;
pub mod trusts;
pub mod uor;
pub mod workflow;

/// A stored value read back, or the error naming what is corrupt.
fn decode<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> sqlx::Result<T> {
    r.map_err(|e| corrupt(what, e))
}

/// A stored value that cannot be read back.
fn corrupt(what: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is corrupt: {e}").into())
}

/// A value to be written (a workflow or segment triggers as JSON), or the error naming it.
fn encode<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> sqlx::Result<T> {
    r.map_err(|e| sqlx::Error::Encode(format!("failed to encode {what}: {e}").into()))
}
