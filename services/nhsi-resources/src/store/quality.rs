//! `nhsi_quality_overall`: each trust's latest CQC overall rating seen on `<ns>.quality.rated`
//! (a segmentation trigger).

use oversight_rating::{RatingValue, TrustCode};
use sqlx::{AnyConnection, AnyPool, Row};

use super::decode;

/// Store a trust's CQC overall rating (its CQC spelling) and report date (ISO 8601, empty when
/// there is none) if `version` is newer than the one held.
pub async fn upsert_overall(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    version: i64,
    rating: &str,
    report_date: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nhsi_quality_overall (trust_code, version, rating, report_date)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (trust_code) DO UPDATE SET version = excluded.version,
            rating = excluded.rating, report_date = excluded.report_date
         WHERE excluded.version > nhsi_quality_overall.version",
    )
    .bind(trust.as_str())
    .bind(version)
    .bind(rating)
    .bind(report_date)
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest CQC overall rating of a trust.
pub async fn overall(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<RatingValue>> {
    let row = sqlx::query("SELECT rating FROM nhsi_quality_overall WHERE trust_code = $1")
        .bind(trust.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let s: String = r.try_get("rating")?;
        decode(s.parse(), "CQC rating")
    })
    .transpose()
}
