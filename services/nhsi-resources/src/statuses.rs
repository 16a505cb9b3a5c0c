//! Oversight statuses (financial special measures, quality special measures, deficit support):
//! recorded append-only in `nhsi_oversight_statuses` (through `crate::store::statuses`) and read
//! back for the rules, which decide what stands on a date (`nhsi_rules::status`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use nhsi_rules::status::{OversightStatus, StandingStatuses, StatusError, StatusKind, standing_on};
use oversight_proto::common::v1 as common;
use oversight_rating::TrustCode;
use sqlx::AnyPool;

use crate::error::ServiceError;
use crate::store;
pub use crate::store::statuses::RecordedStatus;

/// The outcome of recording a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The new record, or the latest record of the same status when it said the same.
    pub record: RecordedStatus,
    /// Whether a record was added.
    pub appended: bool,
}

/// The rules' kind of a wire oversight status kind; `None` for unspecified or an unknown number.
pub fn kind(raw: i32) -> Option<StatusKind> {
    match common::OversightStatusKind::try_from(raw).ok()? {
        common::OversightStatusKind::Unspecified => None,
        common::OversightStatusKind::FinancialSpecialMeasures => {
            Some(StatusKind::FinancialSpecialMeasures)
        }
        common::OversightStatusKind::QualitySpecialMeasures => {
            Some(StatusKind::QualitySpecialMeasures)
        }
        common::OversightStatusKind::DeficitSupport => Some(StatusKind::DeficitSupport),
    }
}

/// Why a wire kind is refused.
pub fn unknown_kind(raw: i32) -> String {
    format!(
        "unknown oversight status kind {raw} (expected financial special measures, quality special measures or deficit support)"
    )
}

/// A kind on the wire.
pub fn kind_view(k: StatusKind) -> common::OversightStatusKind {
    match k {
        StatusKind::FinancialSpecialMeasures => {
            common::OversightStatusKind::FinancialSpecialMeasures
        }
        StatusKind::QualitySpecialMeasures => common::OversightStatusKind::QualitySpecialMeasures,
        StatusKind::DeficitSupport => common::OversightStatusKind::DeficitSupport,
    }
}

/// A status as the rules check it, its refusal naming the field of `record`.
pub fn checked(
    record: &str,
    kind: StatusKind,
    from: NaiveDate,
    to: Option<NaiveDate>,
    source: &str,
) -> Result<OversightStatus, ServiceError> {
    OversightStatus::new(kind, from, to, source).map_err(|e| match e {
        StatusError::InvalidArgument { field, reason } => {
            ServiceError::invalid(record, field_name(field), reason)
        }
    })
}

/// The request's name for a field of the rules' status.
fn field_name(field: &str) -> &str {
    match field {
        "to" => "to_date",
        "from" => "from_date",
        other => other,
    }
}

/// Records `status` for a known trust (INVALID_ARGUMENT naming `trust_code` otherwise), unless
/// the latest record of the same status (kind and from date) already says the same: records are
/// never overwritten, and recording the same thing twice (a retried call) adds nothing.
pub async fn record(
    pool: &AnyPool,
    trust: &TrustCode,
    status: &OversightStatus,
    recorded_by: &str,
) -> Result<Recorded, ServiceError> {
    let record = format!("oversight status of trust {trust}");
    let mut tx = pool.begin().await?;
    if !store::trusts::exists(&mut tx, trust).await? {
        return Err(ServiceError::invalid(
            &record,
            "trust_code",
            format!("unknown trust {trust}: no resource evidence or quality rating recorded"),
        ));
    }
    let recorded_at = oversight_runtime::time::now_rfc3339();
    let appended = match append(&mut tx, trust, status, recorded_by, &recorded_at, "").await? {
        Appended::Yes => true,
        Appended::AlreadyRecorded => false,
        Appended::Conflict => return Err(ServiceError::Conflict { record }),
    };
    let latest = store::statuses::latest_of(&mut tx, trust, status).await?;
    tx.commit().await?;
    if appended {
        tracing::info!(trust = %trust, kind = %status.kind, from = %status.from,
            to = ?status.to, source = %status.source, "oversight status recorded");
    }
    Ok(Recorded {
        record: latest,
        appended,
    })
}

/// Whether [`append`] added a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    Yes,
    /// Nothing to add: the evidence, or the same status, was recorded already.
    AlreadyRecorded,
    /// A concurrent writer took the record's number; retrying is safe.
    Conflict,
}

/// Appends a record of `status` in the caller's transaction, unless it would add nothing: the
/// feed evidence it comes from (`evidence_id`, empty through gRPC) was recorded already, or the
/// latest record of the same status (kind and from date) says the same.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    trust: &TrustCode,
    status: &OversightStatus,
    recorded_by: &str,
    recorded_at: &str,
    evidence_id: &str,
) -> Result<Appended, sqlx::Error> {
    if !evidence_id.is_empty()
        && store::statuses::evidence_recorded(&mut *conn, trust, evidence_id).await?
    {
        return Ok(Appended::AlreadyRecorded);
    }
    let to = status.to.map(|t| t.to_string()).unwrap_or_default();
    if let Some((latest_to, latest_source)) =
        store::statuses::latest_end_and_source(&mut *conn, trust, status).await?
        && latest_to == to
        && latest_source == status.source
    {
        return Ok(Appended::AlreadyRecorded);
    }
    // The next number of the trust's records; a concurrent writer that took it first leaves
    // this insert with nothing to do (a conflict the caller retries).
    let inserted =
        store::statuses::insert_next(conn, trust, status, recorded_by, recorded_at, evidence_id)
            .await?;
    Ok(if inserted {
        Appended::Yes
    } else {
        Appended::Conflict
    })
}

/// Every record of a trust, oldest first.
pub async fn history(
    pool: &AnyPool,
    trust: &TrustCode,
) -> Result<Vec<RecordedStatus>, ServiceError> {
    Ok(store::statuses::history(pool, trust).await?)
}

/// The statuses of a trust standing on `date`.
pub async fn standing(
    pool: &AnyPool,
    trust: &TrustCode,
    date: NaiveDate,
) -> Result<StandingStatuses, ServiceError> {
    let records = history(pool, trust).await?;
    Ok(standing_on(records.iter().map(|r| &r.status), date))
}

/// The statuses of every trust standing on `date` (trusts without any left out).
pub async fn standing_for_all(
    pool: &AnyPool,
    date: NaiveDate,
) -> Result<BTreeMap<TrustCode, StandingStatuses>, ServiceError> {
    let mut by_trust: BTreeMap<TrustCode, Vec<OversightStatus>> = BTreeMap::new();
    for r in store::statuses::all(pool).await? {
        by_trust.entry(r.trust).or_default().push(r.status);
    }
    Ok(by_trust
        .into_iter()
        .map(|(trust, records)| (trust, standing_on(&records, date)))
        .collect())
}
