//! The one pipeline behind all three doors (queue, gRPC, CLI): parse → validate → store (with the
//! outbox flag) → publish canonical evidence. Storing and publishing are split by an outbox so a
//! crash between them loses nothing: unpublished rows are published on the next start.

use std::sync::Arc;

use anyhow::Context;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::ingestion::v1::FeedBatch;
use oversight_runtime::nats::{Bus, HandleError, Incoming};
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::feed::{self, Format, Rejection};
use crate::store::{self, BatchCounts, BatchRow, Chunk};

/// Largest batch accepted in one piece (bounded inputs); larger feeds are sent as several batches.
pub const MAX_BATCH_BYTES: usize = 256 * 1024 * 1024;

/// Who sent what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMeta {
    pub source: String,
    pub batch_id: String,
    pub format: Format,
    pub file_name: String,
}

/// What happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub batch_id: String,
    pub counts: BatchCounts,
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    #[error("every record of {file_name} was rejected ({} records); first: {}", .receipt.counts.records, .receipt.rejections.first().map(ToString::to_string).unwrap_or_default())]
    AllRejected { file_name: String, receipt: Receipt },
    #[error("storage failed: {0}")]
    Store(#[from] sqlx::Error),
}

/// Ingestion's core: parse, store and publish.
#[derive(Clone)]
pub struct Ingestor {
    pool: AnyPool,
    bus: Bus,
    publishing: Arc<Mutex<()>>,
}

/// Quality records of one trust in one batch travel as one `QualityEvidence` message, so a trust
/// is re-rated once per batch rather than once per record; resource records travel one by one.
/// Returns the record numbers behind each message.
pub fn group_by_trust(accepted: Vec<feed::Accepted>) -> Vec<(Vec<u64>, feed::Evidence)> {
    let mut out: Vec<(Vec<u64>, feed::Evidence)> = Vec::new();
    let mut quality_at: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for a in accepted {
        match a.evidence {
            feed::Evidence::Quality(q) => match quality_at.get(&q.trust_code) {
                Some(&i) => {
                    let (records, evidence) = &mut out[i];
                    records.push(a.record_number);
                    if let feed::Evidence::Quality(group) = evidence {
                        if group.trust_name.is_empty() {
                            group.trust_name = q.trust_name;
                        }
                        group.service_ratings.extend(q.service_ratings);
                        group.well_led.extend(q.well_led);
                        group.published.extend(q.published);
                    }
                }
                None => {
                    quality_at.insert(q.trust_code.clone(), out.len());
                    out.push((vec![a.record_number], feed::Evidence::Quality(q)));
                }
            },
            other => out.push((vec![a.record_number], other)),
        }
    }
    out
}

/// The evidence id: a hash of the batch id and the message's canonical content.
pub fn evidence_id(batch_id: &str, evidence: &feed::Evidence) -> String {
    let mut h = Sha256::new();
    h.update(batch_id.as_bytes());
    h.update([0]);
    h.update(evidence.kind().as_bytes());
    h.update([0]);
    h.update(evidence.encode());
    hex::encode(&h.finalize()[..16])
}

impl Ingestor {
    pub fn new(pool: AnyPool, bus: Bus) -> Self {
        Ingestor {
            pool,
            bus,
            publishing: Arc::new(Mutex::new(())),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Ingest one whole batch. Good records are stored and published even when others are rejected.
    pub async fn ingest(&self, meta: &BatchMeta, content: &[u8]) -> Result<Receipt, IngestError> {
        if meta.batch_id.trim().is_empty() {
            return Err(IngestError::InvalidBatch("batch_id is required".into()));
        }
        if content.len() > MAX_BATCH_BYTES {
            return Err(IngestError::InvalidBatch(format!(
                "batch {} is {} bytes; the limit is {MAX_BATCH_BYTES}",
                meta.batch_id,
                content.len()
            )));
        }
        let parsed = feed::parse(meta.format, &meta.file_name, content);
        let today = oversight_runtime::time::today().to_string();
        let mut counts = BatchCounts {
            records: parsed.records(),
            rejected: parsed.rejected.len() as u64,
            ..BatchCounts::default()
        };
        let mut tx = self.pool.begin().await?;
        for (records, mut evidence) in group_by_trust(parsed.accepted) {
            let id = evidence_id(&meta.batch_id, &evidence);
            *evidence.provenance_mut() = Some(ev::Provenance {
                evidence_id: id.clone(),
                source: meta.source.clone(),
                batch_id: meta.batch_id.clone(),
                file_name: meta.file_name.clone(),
                record_number: records.first().copied().unwrap_or(0),
            });
            let stored = store::insert_evidence(
                &mut tx,
                &id,
                &meta.batch_id,
                evidence.trust_code(),
                evidence.kind(),
                &evidence.encode(),
                &today,
            )
            .await?;
            if stored {
                counts.accepted += records.len() as u64;
            } else {
                counts.duplicates += records.len() as u64;
            }
        }
        for r in &parsed.rejected {
            store::insert_rejection(&mut tx, &meta.batch_id, r).await?;
        }
        let all_bad = counts.accepted + counts.duplicates == 0;
        let batch = BatchRow {
            batch_id: meta.batch_id.clone(),
            source: meta.source.clone(),
            format: meta.format.as_str().to_string(),
            file_name: meta.file_name.clone(),
            state: if all_bad { "failed" } else { "complete" }.to_string(),
            counts: counts.clone(),
        };
        store::upsert_batch(&mut tx, &batch, &oversight_runtime::time::now_rfc3339()).await?;
        tx.commit().await?;
        tracing::info!(
            batch = %meta.batch_id,
            file = %meta.file_name,
            records = counts.records,
            accepted = counts.accepted,
            duplicates = counts.duplicates,
            rejected = counts.rejected,
            "batch stored"
        );
        if let Err(e) = self.publish_pending().await {
            // Stored evidence is safe in the outbox; it is published on the next attempt or start.
            tracing::warn!(error = %format!("{e:#}"), "publishing deferred");
        }
        let receipt = Receipt {
            batch_id: meta.batch_id.clone(),
            counts,
            rejections: parsed.rejected,
        };
        if all_bad {
            return Err(IngestError::AllRejected {
                file_name: meta.file_name.clone(),
                receipt,
            });
        }
        Ok(receipt)
    }

    /// Publish every stored but unpublished evidence record (the outbox), oldest first.
    pub async fn publish_pending(&self) -> anyhow::Result<u64> {
        let _one_at_a_time = self.publishing.lock().await;
        let mut published = 0;
        loop {
            let rows = store::unpublished(&self.pool, 500).await?;
            if rows.is_empty() {
                return Ok(published);
            }
            for row in rows {
                let subject = self.subject_for(&row.kind)?;
                self.bus
                    .publish_bytes(subject, &row.evidence_id, row.payload.into())
                    .await?;
                store::mark_published(&self.pool, &row.evidence_id).await?;
                published += 1;
            }
        }
    }

    fn subject_for(&self, kind: &str) -> anyhow::Result<String> {
        match kind {
            "quality" => Ok(self.bus.subjects().evidence_quality()),
            "resources" => Ok(self.bus.subjects().evidence_resources()),
            other => anyhow::bail!("stored evidence has unknown kind {other:?}"),
        }
    }

    /// Re-publish stored evidence for a trust (or all) ingested between two dates (inclusive), so
    /// downstream services can rebuild. Downstream handlers are idempotent.
    pub async fn replay(
        &self,
        trust_code: Option<&str>,
        from: &str,
        to: &str,
    ) -> anyhow::Result<u64> {
        let rows = store::evidence_for_replay(&self.pool, trust_code, from, to).await?;
        let stamp = oversight_runtime::time::now_rfc3339();
        let mut n = 0;
        for row in rows {
            let subject = self.subject_for(&row.kind)?;
            let id = format!("replay-{stamp}-{}", row.evidence_id);
            self.bus
                .publish_bytes(subject, &id, row.payload.into())
                .await?;
            n += 1;
        }
        tracing::info!(republished = n, "replay finished");
        Ok(n)
    }

    /// The queue door: one `FeedBatch` message (a whole batch or one chunk of it).
    pub async fn handle_feed_message(&self, msg: Incoming) -> Result<(), HandleError> {
        let batch: FeedBatch = msg.decode()?;
        let format = Format::from_wire(batch.format)
            .map_err(|e| HandleError::poison(format!("batch {:?}: {e}", batch.batch_id)))?;
        if batch.batch_id.trim().is_empty() {
            return Err(HandleError::poison("feed batch without batch_id"));
        }
        let meta = BatchMeta {
            source: batch.source.clone(),
            batch_id: batch.batch_id.clone(),
            format,
            file_name: batch.file_name.clone(),
        };
        if batch.chunk_index == 0 && batch.last {
            return self.ingest_settled(&meta, &batch.content).await;
        }
        let chunk = Chunk {
            batch_id: batch.batch_id.clone(),
            index: batch.chunk_index,
            last: batch.last,
            source: batch.source,
            format: format.as_str().into(),
            file_name: batch.file_name,
            content: batch.content,
        };
        store::store_chunk(&self.pool, &chunk)
            .await
            .map_err(|e| HandleError::Transient(e.into()))?;
        let chunks = store::chunks(&self.pool, &meta.batch_id)
            .await
            .map_err(|e| HandleError::Transient(e.into()))?;
        let complete = chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.index as usize == i)
            && chunks.last().is_some_and(|c| c.last);
        if !complete {
            return Ok(());
        }
        let content: Vec<u8> = chunks.into_iter().flat_map(|c| c.content).collect();
        self.ingest_settled(&meta, &content).await?;
        store::delete_chunks(&self.pool, &meta.batch_id)
            .await
            .map_err(|e| HandleError::Transient(e.into()))
    }

    async fn ingest_settled(&self, meta: &BatchMeta, content: &[u8]) -> Result<(), HandleError> {
        match self.ingest(meta, content).await {
            Ok(_) => Ok(()),
            // The batch and its rejections are stored and queryable: nothing to retry.
            Err(IngestError::AllRejected { .. }) => Ok(()),
            Err(IngestError::InvalidBatch(reason)) => Err(HandleError::poison(reason)),
            Err(IngestError::Store(e)) => Err(HandleError::Transient(
                anyhow::Error::new(e).context("failed to store batch"),
            )),
        }
    }

    /// Status of a batch with its stored rejections.
    pub async fn status(
        &self,
        batch_id: &str,
    ) -> anyhow::Result<Option<(BatchRow, Vec<Rejection>)>> {
        let Some(row) = store::batch(&self.pool, batch_id)
            .await
            .context("failed to read batch")?
        else {
            return Ok(None);
        };
        let rejections = store::rejections(&self.pool, batch_id).await?;
        Ok(Some((row, rejections)))
    }
}
