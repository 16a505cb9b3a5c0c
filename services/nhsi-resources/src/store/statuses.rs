//! `nhsi_oversight_statuses`: oversight statuses (financial special measures, quality special
//! measures, deficit support), append-only, numbered 1, 2, … within each trust.

use nhsi_rules::status::OversightStatus;
use oversight_rating::TrustCode;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

use super::decode;

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

const COLUMNS: &str = "trust_code, seq, kind, from_date, to_date, source, recorded_by, recorded_at";

/// The statement `template` with `{COLUMNS}` in it replaced by [`COLUMNS`]. Asserted SQL safe: the
/// templates and the columns are constants here; values are only ever bound.
fn with_columns(template: &'static str) -> AssertSqlSafe<String> {
    AssertSqlSafe(template.replace("{COLUMNS}", COLUMNS))
}

fn decode_row(r: &sqlx::any::AnyRow) -> sqlx::Result<RecordedStatus> {
    let trust: String = r.try_get("trust_code")?;
    let seq: i64 = r.try_get("seq")?;
    let kind: String = r.try_get("kind")?;
    let from: String = r.try_get("from_date")?;
    let to: String = r.try_get("to_date")?;
    let date = |s: &str| {
        decode(
            oversight_runtime::time::parse_date(s).ok_or(s),
            "oversight status date",
        )
    };
    Ok(RecordedStatus {
        trust: decode(trust.parse(), "oversight status trust code")?,
        seq: decode(u64::try_from(seq), "oversight status sequence")?,
        status: OversightStatus {
            kind: decode(kind.parse(), "oversight status kind")?,
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

/// Whether a record of the trust came from the feed evidence `evidence_id` already.
pub async fn evidence_recorded(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    evidence_id: &str,
) -> sqlx::Result<bool> {
    let seen = sqlx::query(
        "SELECT seq FROM nhsi_oversight_statuses WHERE evidence_id = $1 AND trust_code = $2",
    )
    .bind(evidence_id)
    .bind(trust.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(seen.is_some())
}

/// The end date (ISO 8601, empty when open) and source of the latest record of the same status
/// (kind and from date) of a trust.
pub async fn latest_end_and_source(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    status: &OversightStatus,
) -> sqlx::Result<Option<(String, String)>> {
    let latest = sqlx::query(
        "SELECT to_date, source FROM nhsi_oversight_statuses
         WHERE trust_code = $1 AND kind = $2 AND from_date = $3 ORDER BY seq DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .fetch_optional(conn)
    .await?;
    latest
        .map(|r| Ok((r.try_get("to_date")?, r.try_get("source")?)))
        .transpose()
}

/// Insert a record of `status` as the trust's next number. `false` when a concurrent writer took
/// that number first (nothing was written; retrying is safe).
pub async fn insert_next(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    status: &OversightStatus,
    recorded_by: &str,
    recorded_at: &str,
    evidence_id: &str,
) -> sqlx::Result<bool> {
    let to = status.to.map(|t| t.to_string()).unwrap_or_default();
    let inserted = sqlx::query(with_columns(
        "INSERT INTO nhsi_oversight_statuses ({COLUMNS}, evidence_id)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8
         FROM nhsi_oversight_statuses WHERE trust_code = $1
         ON CONFLICT (trust_code, seq) DO NOTHING",
    ))
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .bind(to)
    .bind(&status.source)
    .bind(recorded_by)
    .bind(recorded_at)
    .bind(evidence_id)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// The latest record of the same status (kind and from date) of a trust, which must exist.
pub async fn latest_of(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    status: &OversightStatus,
) -> sqlx::Result<RecordedStatus> {
    let latest = sqlx::query(with_columns(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses
         WHERE trust_code = $1 AND kind = $2 AND from_date = $3 ORDER BY seq DESC LIMIT 1",
    ))
    .bind(trust.as_str())
    .bind(status.kind.name())
    .bind(status.from.to_string())
    .fetch_one(conn)
    .await?;
    decode_row(&latest)
}

/// Every record of a trust, oldest first.
pub async fn history(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Vec<RecordedStatus>> {
    let rows = sqlx::query(with_columns(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses WHERE trust_code = $1 ORDER BY seq",
    ))
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(decode_row).collect()
}

/// Every record of every trust, by trust, oldest first.
pub async fn all(pool: &AnyPool) -> sqlx::Result<Vec<RecordedStatus>> {
    let rows = sqlx::query(with_columns(
        "SELECT {COLUMNS} FROM nhsi_oversight_statuses ORDER BY trust_code, seq",
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(decode_row).collect()
}
