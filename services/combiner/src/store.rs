//! The combiner's SQL and row decoding, nothing more: every version of each part as received
//! (`combiner_quality_part_versions`, `combiner_uor_part_versions`). The combined versions
//! (`combiner_events`) are the runtime's outbox and history (`oversight_runtime::outbox`).

use oversight_rating::TrustCode;
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::combining::Part;

/// The table keeping every version of a part.
fn table(part: Part) -> &'static str {
    match part {
        Part::Quality => "combiner_quality_part_versions",
        Part::Uor => "combiner_uor_part_versions",
    }
}

/// The statement `template` on the table of `part` (`{table}` in it replaced). Asserted SQL safe:
/// the table names and the templates are constants here; values are only ever bound.
fn part_sql(part: Part, template: &'static str) -> AssertSqlSafe<String> {
    AssertSqlSafe(template.replace("{table}", table(part)))
}

/// Keep a version of a part (append-only); a repeated version changes nothing.
pub async fn insert_part_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    part: Part,
    trust: &TrustCode,
    version: u64,
    payload: &[u8],
) -> sqlx::Result<()> {
    let sql = part_sql(
        part,
        "INSERT INTO {table} (trust_code, version, payload_hex) VALUES ($1, $2, $3)
         ON CONFLICT (trust_code, version) DO NOTHING",
    );
    sqlx::query(sql)
        .bind(trust.as_str())
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(hex::encode(payload))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The newest stored version of a part (the encoded event), whatever order versions arrived in.
pub async fn newest_part(
    pool: &AnyPool,
    part: Part,
    trust: &TrustCode,
) -> sqlx::Result<Option<Vec<u8>>> {
    let sql = part_sql(
        part,
        "SELECT payload_hex FROM {table} WHERE trust_code = $1 ORDER BY version DESC LIMIT 1",
    );
    let row = sqlx::query(sql)
        .bind(trust.as_str())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => {
            let h: String = r.try_get("payload_hex")?;
            hex::decode(h)
                .map(Some)
                .map_err(|e| sqlx::Error::Decode(e.into()))
        }
        None => Ok(None),
    }
}

/// The versions of a part stored for a trust, oldest first.
pub async fn part_versions(
    pool: &AnyPool,
    part: Part,
    trust: &TrustCode,
) -> sqlx::Result<Vec<u64>> {
    let sql = part_sql(
        part,
        "SELECT version FROM {table} WHERE trust_code = $1 ORDER BY version",
    );
    let rows = sqlx::query(sql)
        .bind(trust.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let v: i64 = r.try_get("version")?;
            Ok(u64::try_from(v).unwrap_or(0))
        })
        .collect()
}
