//! Ingestion's tables (see `migrations/`). One statement per function; the caller owns transactions.

use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

use crate::feed::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchCounts {
    pub records: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// Where a batch stands; stored by name in `ingestion_batches.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Chunks or commit groups are still arriving.
    Receiving,
    /// Parsed and stored.
    Complete,
    /// No record of the batch could be accepted.
    Failed,
}

impl BatchState {
    const ALL: [BatchState; 3] = [
        BatchState::Receiving,
        BatchState::Complete,
        BatchState::Failed,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Receiving => "receiving",
            BatchState::Complete => "complete",
            BatchState::Failed => "failed",
        }
    }

    /// Read a stored name back; `None` for a name this version does not write.
    pub fn from_stored(s: &str) -> Option<BatchState> {
        BatchState::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub batch_id: String,
    pub source: String,
    /// [`oversight_feeds::Format::as_str`].
    pub format: String,
    pub file_name: String,
    /// [`BatchState::as_str`].
    pub state: String,
    pub counts: BatchCounts,
}

/// Stored evidence waiting to be (re)published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub evidence_id: String,
    pub trust_code: String,
    pub kind: String,
    pub payload: Vec<u8>,
    pub ingested_on: String,
}

fn n(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub async fn upsert_batch(
    conn: &mut AnyConnection,
    b: &BatchRow,
    received_at: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ingestion_batches (batch_id, source, format, file_name, state, records, accepted, duplicates, rejected, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (batch_id) DO UPDATE SET state = excluded.state, records = excluded.records,
            accepted = excluded.accepted, duplicates = excluded.duplicates, rejected = excluded.rejected",
    )
    .bind(&b.batch_id)
    .bind(&b.source)
    .bind(&b.format)
    .bind(&b.file_name)
    .bind(&b.state)
    .bind(n(b.counts.records))
    .bind(n(b.counts.accepted))
    .bind(n(b.counts.duplicates))
    .bind(n(b.counts.rejected))
    .bind(received_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_rejection(
    conn: &mut AnyConnection,
    batch_id: &str,
    r: &Rejection,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ingestion_rejections (batch_id, file_name, record_number, field, reason, line)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(batch_id)
    .bind(&r.file_name)
    .bind(n(r.record_number))
    .bind(&r.field)
    .bind(&r.reason)
    .bind(n(r.line))
    .execute(conn)
    .await?;
    Ok(())
}

/// One evidence row to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    pub evidence_id: String,
    pub batch_id: String,
    pub trust_code: String,
    pub kind: String,
    pub payload: Vec<u8>,
    pub ingested_on: String,
}

/// Rows per multi-row insert (7 parameters each). Small on purpose: SQLite finds a `$n`
/// parameter's name by a linear scan, so binding costs grow with the square of the parameters in
/// a statement.
pub const INSERT_ROWS: usize = 25;

/// Insert evidence rows (at most [`INSERT_ROWS`]) in one statement; returns the ids that were
/// new. Ids already stored are duplicates and are left alone.
pub async fn insert_evidence(
    conn: &mut AnyConnection,
    rows: &[NewEvidence],
) -> sqlx::Result<std::collections::HashSet<String>> {
    if rows.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let values = oversight_runtime::db::values_placeholders(rows.len(), 7, ", 0");
    // Asserted SQL safe: constant SQL and numbered placeholders; values are only ever bound.
    let sql = AssertSqlSafe(format!(
        "INSERT INTO ingestion_evidence (evidence_id, batch_id, trust_code, kind, payload_hex, ingested_on, stored_seq, published)
         VALUES {} ON CONFLICT (evidence_id) DO NOTHING RETURNING evidence_id",
        values
    ));
    let mut q = sqlx::query(sql);
    for r in rows {
        q = q
            .bind(&r.evidence_id)
            .bind(&r.batch_id)
            .bind(&r.trust_code)
            .bind(&r.kind)
            .bind(hex::encode(&r.payload))
            .bind(&r.ingested_on)
            .bind(next_stored_seq());
    }
    let inserted = q.fetch_all(conn).await?;
    inserted
        .iter()
        .map(|r| r.try_get::<String, _>("evidence_id"))
        .collect()
}

/// A storing order: microseconds since the epoch × 1,000, strictly increasing in this process,
/// so evidence is published in the order it was stored.
fn next_stored_seq() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp_micros().saturating_mul(1000);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

fn outbox_row(r: &sqlx::any::AnyRow) -> sqlx::Result<OutboxRow> {
    let payload_hex: String = r.try_get("payload_hex")?;
    Ok(OutboxRow {
        evidence_id: r.try_get("evidence_id")?,
        trust_code: r.try_get("trust_code")?,
        kind: r.try_get("kind")?,
        payload: hex::decode(payload_hex).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        ingested_on: r.try_get("ingested_on")?,
    })
}

/// The oldest unpublished evidence, at most `limit` rows.
pub async fn unpublished(pool: &AnyPool, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
    let rows = sqlx::query(
        "SELECT evidence_id, trust_code, kind, payload_hex, ingested_on FROM ingestion_evidence WHERE published = 0 ORDER BY stored_seq, evidence_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(outbox_row).collect()
}

/// How many evidence records are stored but not yet published.
pub async fn count_unpublished(pool: &AnyPool) -> sqlx::Result<u64> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ingestion_evidence WHERE published = 0")
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Mark evidence as published (one statement for a page of ids).
pub async fn mark_published(pool: &AnyPool, evidence_ids: &[String]) -> sqlx::Result<()> {
    if evidence_ids.is_empty() {
        return Ok(());
    }
    // `($1, $2, …)`: one row of as many columns as ids.
    let placeholders = oversight_runtime::db::values_placeholders(1, evidence_ids.len(), "");
    // Asserted SQL safe: constant SQL and numbered placeholders; values are only ever bound.
    let sql = AssertSqlSafe(format!(
        "UPDATE ingestion_evidence SET published = 1 WHERE evidence_id IN {placeholders}"
    ));
    let mut q = sqlx::query(sql);
    for id in evidence_ids {
        q = q.bind(id);
    }
    q.execute(pool).await?;
    Ok(())
}

/// Where a replay page starts: after this (ingested_on, evidence_id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayCursor {
    pub ingested_on: String,
    pub evidence_id: String,
}

/// One page of stored evidence for a trust (or all trusts, `""`) ingested within the inclusive
/// date bounds, after `cursor`, in (ingested_on, evidence_id) order.
pub async fn evidence_for_replay(
    pool: &AnyPool,
    trust_code: &str,
    from: &str,
    to: &str,
    cursor: &ReplayCursor,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    let rows = sqlx::query(
        "SELECT evidence_id, trust_code, kind, payload_hex, ingested_on FROM ingestion_evidence
         WHERE ($1 = '' OR trust_code = $1) AND ingested_on >= $2 AND ingested_on <= $3
           AND (ingested_on > $4 OR (ingested_on = $4 AND evidence_id > $5))
         ORDER BY ingested_on, evidence_id LIMIT $6",
    )
    .bind(trust_code)
    .bind(from)
    .bind(to)
    .bind(&cursor.ingested_on)
    .bind(&cursor.evidence_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(outbox_row).collect()
}

pub async fn batch(pool: &AnyPool, batch_id: &str) -> sqlx::Result<Option<BatchRow>> {
    let row = sqlx::query(
        "SELECT batch_id, source, format, file_name, state, records, accepted, duplicates, rejected
         FROM ingestion_batches WHERE batch_id = $1",
    )
    .bind(batch_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(BatchRow {
            batch_id: r.try_get("batch_id")?,
            source: r.try_get("source")?,
            format: r.try_get("format")?,
            file_name: r.try_get("file_name")?,
            state: r.try_get("state")?,
            counts: BatchCounts {
                records: u(r.try_get("records")?),
                accepted: u(r.try_get("accepted")?),
                duplicates: u(r.try_get("duplicates")?),
                rejected: u(r.try_get("rejected")?),
            },
        })
    })
    .transpose()
}

/// The first `limit` rejections of a batch.
pub async fn rejections(
    pool: &AnyPool,
    batch_id: &str,
    limit: i64,
) -> sqlx::Result<Vec<Rejection>> {
    let rows = sqlx::query(
        "SELECT file_name, record_number, line, field, reason FROM ingestion_rejections
         WHERE batch_id = $1 ORDER BY file_name, record_number, field LIMIT $2",
    )
    .bind(batch_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Rejection {
                file_name: r.try_get("file_name")?,
                record_number: u(r.try_get("record_number")?),
                line: u(r.try_get("line")?),
                field: r.try_get("field")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

/// A chunk of a queued batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub batch_id: String,
    pub index: u32,
    pub last: bool,
    pub source: String,
    pub format: String,
    pub file_name: String,
    pub content: Vec<u8>,
}

pub async fn store_chunk(pool: &AnyPool, c: &Chunk) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO ingestion_feed_chunks (batch_id, chunk_index, is_last, source, format, file_name, content_hex)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (batch_id, chunk_index) DO NOTHING",
    )
    .bind(&c.batch_id)
    .bind(i64::from(c.index))
    .bind(i64::from(c.last))
    .bind(&c.source)
    .bind(&c.format)
    .bind(&c.file_name)
    .bind(hex::encode(&c.content))
    .execute(pool)
    .await?;
    Ok(())
}

/// The chunks of a batch received so far, in order: (index, is last). Contents stay in the table.
pub async fn chunk_indexes(pool: &AnyPool, batch_id: &str) -> sqlx::Result<Vec<(u32, bool)>> {
    let rows = sqlx::query(
        "SELECT chunk_index, is_last FROM ingestion_feed_chunks WHERE batch_id = $1 ORDER BY chunk_index",
    )
    .bind(batch_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let index: i64 = r.try_get("chunk_index")?;
            let last: i64 = r.try_get("is_last")?;
            Ok((u32::try_from(index).unwrap_or(u32::MAX), last != 0))
        })
        .collect()
}

/// The content of one stored chunk.
pub async fn chunk_content(
    pool: &AnyPool,
    batch_id: &str,
    index: u32,
) -> sqlx::Result<Option<Vec<u8>>> {
    let row = sqlx::query(
        "SELECT content_hex FROM ingestion_feed_chunks WHERE batch_id = $1 AND chunk_index = $2",
    )
    .bind(batch_id)
    .bind(i64::from(index))
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let hexed: String = r.try_get("content_hex")?;
        hex::decode(hexed).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    })
    .transpose()
}

pub async fn delete_chunks(pool: &AnyPool, batch_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM ingestion_feed_chunks WHERE batch_id = $1")
        .bind(batch_id)
        .execute(pool)
        .await?;
    Ok(())
}
