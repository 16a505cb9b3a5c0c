//! Oversight statuses (financial special measures, quality special measures, deficit support):
//! recorded append-only in `nhsi_oversight_statuses` and read back for the rules, which decide
//! what stands on a date (`nhsi_rules::status`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use nhsi_rules::status::{OversightStatus, StandingStatuses, StatusError, StatusKind, standing_on};
use oversight_proto::common::v1 as common;
use oversight_rating::TrustCode;
use sqlx::{AnyPool, Row};

use crate::error::ServiceError;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStatus {
    pub trust: TrustCode,
    /// 1, 2, … within the trust.
    pub seq: u64,
    pub status: OversightStatus,
    pub recorded_by: String,
    pub recorded_at: String,
}

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

fn corrupt(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!(
        "stored oversight status {what} is corrupt: {e}"
    ))
}

fn decode(r: &sqlx::any::AnyRow) -> Result<RecordedStatus, ServiceError> {
    let trust: String = r.try_get("trust_code")?;
    let seq: i64 = r.try_get("seq")?;
    let kind: String = r.try_get("kind")?;
    let from: String = r.try_get("from_date")?;
    let to: String = r.try_get("to_date")?;
    let date = |s: &str| oversight_runtime::time::parse_date(s).ok_or_else(|| corrupt("date", s));
    Ok(RecordedStatus {
        trust: trust.parse().map_err(|e| corrupt("trust code", e))?,
        seq: u64::try_from(seq).map_err(|e| corrupt("sequence", e))?,
        status: OversightStatus {
            kind: kind.parse().map_err(|e| corrupt("kind", e))?,
            from: date(&from)?,
            to: if to.is_empty() {
                None
            } else {
                Some(date(&to)?)
            },
            source: r.try_get("source")?,
        },
        recorded_by: r.try_get("recorded_by")?,
        recorded_at: r.try_get("recorded_at")?,
    })
}

const COLUMNS: &str = "trust_code, seq, kind, from_date, to_date, source, recorded_by, recorded_at";

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
    let known = sqlx::query("SELECT trust_code FROM nhsi_trusts WHERE trust_code = $1")
        .bind(trust.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
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
    let latest = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses
         WHERE trust_code = $1 AND kind = $2 AND from_date = $3 ORDER BY seq DESC LIMIT 1"
    ))
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let latest = decode(&latest)?;
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
    if !evidence_id.is_empty() {
        let seen = sqlx::query(
            "SELECT seq FROM nhsi_oversight_statuses WHERE evidence_id = $1 AND trust_code = $2",
        )
        .bind(evidence_id)
        .bind(trust.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        if seen.is_some() {
            return Ok(Appended::AlreadyRecorded);
        }
    }
    let to = status.to.map(|t| t.to_string()).unwrap_or_default();
    let latest = sqlx::query(
        "SELECT to_date, source FROM nhsi_oversight_statuses
         WHERE trust_code = $1 AND kind = $2 AND from_date = $3 ORDER BY seq DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = latest {
        let (latest_to, latest_source): (String, String) =
            (r.try_get("to_date")?, r.try_get("source")?);
        if latest_to == to && latest_source == status.source {
            return Ok(Appended::AlreadyRecorded);
        }
    }
    // The next number of the trust's records; a concurrent writer that took it first leaves
    // this insert with nothing to do (a conflict the caller retries).
    let inserted = sqlx::query(&format!(
        "INSERT INTO nhsi_oversight_statuses ({COLUMNS}, evidence_id)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8
         FROM nhsi_oversight_statuses WHERE trust_code = $1
         ON CONFLICT (trust_code, seq) DO NOTHING"
    ))
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .bind(to)
    .bind(&status.source)
    .bind(recorded_by)
    .bind(recorded_at)
    .bind(evidence_id)
    .execute(&mut *conn)
    .await?;
    Ok(if inserted.rows_affected() == 0 {
        Appended::Conflict
    } else {
        Appended::Yes
    })
}

/// Every record of a trust, oldest first.
pub async fn history(
    pool: &AnyPool,
    trust: &TrustCode,
) -> Result<Vec<RecordedStatus>, ServiceError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses WHERE trust_code = $1 ORDER BY seq"
    ))
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(decode).collect()
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
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses ORDER BY trust_code, seq"
    ))
    .fetch_all(pool)
    .await?;
    let mut by_trust: BTreeMap<TrustCode, Vec<OversightStatus>> = BTreeMap::new();
    for r in &rows {
        let r = decode(r)?;
        by_trust.entry(r.trust).or_default().push(r.status);
    }
    Ok(by_trust
        .into_iter()
        .map(|(trust, records)| (trust, standing_on(&records, date)))
        .collect())
}
