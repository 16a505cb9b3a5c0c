//! `nhsi_segment_decisions`: NHSI's decided segments, numbered 1, 2, … within each trust, each
//! with the suggestion and triggers it was decided beside.

use nhsi_rules::segment::{SegmentDecision, Trigger};
use oversight_rating::TrustCode;
use sqlx::{AnyConnection, AnyPool, Row};

use super::{decode, encode};

/// A recorded segment decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDecision {
    pub trust: TrustCode,
    pub decision: SegmentDecision,
    pub decided_by: String,
    pub decided_at: String,
}

/// The number the trust's next decision takes.
pub async fn next_seq(conn: &mut AnyConnection, trust: &TrustCode) -> sqlx::Result<i64> {
    sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM nhsi_segment_decisions WHERE trust_code = $1",
    )
    .bind(trust.as_str())
    .fetch_one(conn)
    .await?
    .try_get("next")
}

/// Insert a decision as number `seq` of its trust. `false` when that number was taken (nothing
/// was written).
pub async fn insert(
    conn: &mut AnyConnection,
    seq: i64,
    d: &RecordedDecision,
) -> sqlx::Result<bool> {
    let triggers_json = encode(
        serde_json::to_string(&d.decision.triggers),
        "segment triggers",
    )?;
    let inserted = sqlx::query(
        "INSERT INTO nhsi_segment_decisions
            (trust_code, seq, segment, suggested_segment, rationale, triggers_json, decided_by, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (trust_code, seq) DO NOTHING",
    )
    .bind(d.trust.as_str())
    .bind(seq)
    .bind(i64::from(d.decision.segment))
    .bind(i64::from(d.decision.suggested_segment))
    .bind(&d.decision.rationale)
    .bind(&triggers_json)
    .bind(&d.decided_by)
    .bind(&d.decided_at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// The latest recorded segment decision of a trust.
pub async fn latest(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<RecordedDecision>> {
    let row = sqlx::query(
        "SELECT segment, suggested_segment, rationale, triggers_json, decided_by, decided_at
         FROM nhsi_segment_decisions WHERE trust_code = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let segment: i64 = r.try_get("segment")?;
    let suggested: i64 = r.try_get("suggested_segment")?;
    let triggers_json: String = r.try_get("triggers_json")?;
    let triggers: Vec<Trigger> = decode(serde_json::from_str(&triggers_json), "segment triggers")?;
    Ok(Some(RecordedDecision {
        trust: trust.clone(),
        decision: SegmentDecision {
            segment: decode(u8::try_from(segment), "segment")?,
            rationale: r.try_get("rationale")?,
            suggested_segment: decode(u8::try_from(suggested), "segment")?,
            triggers,
        },
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    }))
}
