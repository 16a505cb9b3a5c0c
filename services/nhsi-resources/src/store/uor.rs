//! `nhsi_uor_ratings`: approved use-of-resources ratings only (published ratings from feeds, and
//! CQC's approvals and revisions) — the only source of published UoR events.

use chrono::NaiveDate;
use nhsi_rules::segment::ApprovedUorRating;
use oversight_rating::{Rating, TrustCode, TrustType};
use sqlx::{AnyConnection, AnyPool, Row};

use super::decode;

/// One approved UoR rating as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedRow {
    pub rating: Rating,
    pub report_date: NaiveDate,
    pub approved_by: String,
    pub rationale: String,
}

/// An approved rating to store.
#[derive(Debug, Clone, Copy)]
pub struct NewApproved<'a> {
    pub trust: &'a TrustCode,
    /// Empty when stored without one (an assessment whose proposal set none).
    pub report_date: Option<NaiveDate>,
    pub rating: Rating,
    pub approved_by: &'a str,
    pub rationale: &'a str,
    pub evidence_id: &'a str,
}

/// What storing a rating does to one stored for the same trust and report date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaces {
    /// Its rating, approver and evidence; the rationale stays (a published rating from a feed).
    AllButRationale,
    /// Everything (CQC's approval or revision of an assessment).
    All,
}

/// Store an approved rating.
pub async fn upsert(
    conn: &mut AnyConnection,
    r: &NewApproved<'_>,
    replaces: Replaces,
) -> sqlx::Result<()> {
    let sql = match replaces {
        Replaces::AllButRationale => {
            "INSERT INTO nhsi_uor_ratings (trust_code, report_date, rating, approved_by, rationale, evidence_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (trust_code, report_date) DO UPDATE SET rating = excluded.rating,
                approved_by = excluded.approved_by, evidence_id = excluded.evidence_id"
        }
        Replaces::All => {
            "INSERT INTO nhsi_uor_ratings (trust_code, report_date, rating, approved_by, rationale, evidence_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (trust_code, report_date) DO UPDATE SET rating = excluded.rating,
                approved_by = excluded.approved_by, rationale = excluded.rationale,
                evidence_id = excluded.evidence_id"
        }
    };
    sqlx::query(sql)
        .bind(r.trust.as_str())
        .bind(r.report_date.map(|d| d.to_string()).unwrap_or_default())
        .bind(r.rating.cqc_str())
        .bind(r.approved_by)
        .bind(r.rationale)
        .bind(r.evidence_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The latest approved UoR rating of a trust (by report date), with the trust's type.
pub async fn latest_with_trust_type(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Option<(ApprovedRow, TrustType)>> {
    let row = sqlx::query(
        "SELECT r.rating, r.report_date, r.approved_by, r.rationale, t.trust_type
         FROM nhsi_uor_ratings r JOIN nhsi_trusts t ON t.trust_code = r.trust_code
         WHERE r.trust_code = $1 ORDER BY r.report_date DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let rating: String = r.try_get("rating")?;
    let report_date: String = r.try_get("report_date")?;
    let trust_type: String = r.try_get("trust_type")?;
    Ok(Some((
        ApprovedRow {
            rating: decode(rating.parse(), "rating")?,
            report_date: decode(
                oversight_runtime::time::parse_date(&report_date).ok_or(&report_date),
                "report date",
            )?,
            approved_by: r.try_get("approved_by")?,
            rationale: r.try_get("rationale")?,
        },
        decode(trust_type.parse(), "trust type")?,
    )))
}

/// The latest approved UoR rating of a trust (by report date), as segmentation reads it.
pub async fn latest(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<ApprovedUorRating>> {
    let row = sqlx::query(
        "SELECT rating, report_date FROM nhsi_uor_ratings
         WHERE trust_code = $1 ORDER BY report_date DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let rating: String = r.try_get("rating")?;
    let report_date: String = r.try_get("report_date")?;
    Ok(Some(ApprovedUorRating {
        rating: decode(rating.parse(), "use of resources rating")?,
        report_date: decode(report_date.parse(), "use of resources report date")?,
    }))
}
