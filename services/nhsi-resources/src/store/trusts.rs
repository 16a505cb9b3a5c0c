//! `nhsi_trusts`: the trusts known from resource evidence or CQC ratings, with their types.

use oversight_rating::{TrustCode, TrustType};
use sqlx::{AnyConnection, AnyPool, Row};

use super::decode;

/// Record a trust from resource evidence. An unknown type (`None`: a feed that does not say)
/// never overwrites a known one; a new trust without a type is taken as acute.
pub async fn upsert_from_evidence(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    trust_type: Option<TrustType>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nhsi_trusts (trust_code, trust_type) VALUES ($1, COALESCE(NULLIF($2, ''), 'acute'))
         ON CONFLICT (trust_code) DO UPDATE SET
            trust_type = CASE WHEN $2 = '' THEN nhsi_trusts.trust_type ELSE excluded.trust_type END",
    )
    .bind(trust.as_str())
    .bind(trust_type.map_or("", TrustType::as_str))
    .execute(conn)
    .await?;
    Ok(())
}

/// Record a trust with its type unless it is known already.
pub async fn insert_if_new(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    trust_type: TrustType,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nhsi_trusts (trust_code, trust_type) VALUES ($1, $2)
         ON CONFLICT (trust_code) DO NOTHING",
    )
    .bind(trust.as_str())
    .bind(trust_type.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the trust is known.
pub async fn exists(conn: &mut AnyConnection, trust: &TrustCode) -> sqlx::Result<bool> {
    let known = sqlx::query("SELECT trust_code FROM nhsi_trusts WHERE trust_code = $1")
        .bind(trust.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(known.is_some())
}

/// The type of a known trust.
pub async fn trust_type(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<TrustType>> {
    let row = sqlx::query("SELECT trust_type FROM nhsi_trusts WHERE trust_code = $1")
        .bind(trust.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let t: String = r.try_get("trust_type")?;
        decode(t.parse(), "trust type")
    })
    .transpose()
}

/// Every known trust with its type, by trust code.
pub async fn all(pool: &AnyPool) -> sqlx::Result<Vec<(TrustCode, TrustType)>> {
    let rows = sqlx::query("SELECT trust_code, trust_type FROM nhsi_trusts ORDER BY trust_code")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let code: String = r.try_get("trust_code")?;
            let t: String = r.try_get("trust_type")?;
            Ok((
                decode(code.parse(), "trust code")?,
                decode(t.parse(), "trust type")?,
            ))
        })
        .collect()
}
