//! The one pipeline behind all three doors (queue: `consumer`, gRPC: `api`, and the CLI through
//! gRPC): parse → validate → store (with the outbox flag) → publish canonical evidence.
//!
//! Streaming, in constant memory: the content arrives as a stream of chunks, a blocking task parses
//! records from them as they come (`feed::records` over a reader fed by a small channel), and the
//! records are committed in groups of [`GROUP_RECORDS`]: one transaction stores a group's evidence,
//! its rejections and the batch's running counts, then the group is published. Group boundaries
//! depend only on record numbers, so the same content always yields the same evidence ids.
//!
//! Storing and publishing are split by an outbox so a crash between them loses nothing:
//! unpublished rows are published after the next commit or on the next start.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::sync::Arc;

use anyhow::Context;
use futures::{Stream, StreamExt};
use oversight_proto::evidence::v1 as ev;
use oversight_runtime::crash::{self, crash_point};
use oversight_runtime::nats::{Bus, Outgoing};
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use tokio::sync::{Mutex, mpsc};

use crate::error::IngestError;
use crate::feed::{self, Format, Parsed, ReadError, Rejection};
use crate::store::{self, BatchCounts, BatchRow, BatchState, OutboxRow, ReplayCursor};

/// Records per commit group: the unit of storing and publishing, and the bound on memory.
pub const GROUP_RECORDS: usize = 1000;
/// Rejections carried in a receipt; all of them are stored.
pub const RECEIPT_REJECTIONS: usize = 100;
/// Rejections returned by a status query.
pub const STATUS_REJECTIONS: i64 = 1000;
/// Rows published (or replayed) per page, with their acks awaited together. A row is one evidence
/// message: a trust's records of a commit group, up to ~200 KB for NHSI staffing, so a page stays
/// within a few tens of MB.
const PUBLISH_PAGE: i64 = 64;
/// Chunks in flight between the door and the parser.
const CHUNKS_IN_FLIGHT: usize = 4;

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
    /// The first [`RECEIPT_REJECTIONS`] rejections.
    pub rejections: Vec<Rejection>,
}

/// Ingestion's core: parse, store and publish.
#[derive(Clone)]
pub struct Ingestor {
    pool: AnyPool,
    bus: Bus,
    publishing: Arc<Mutex<()>>,
}

/// Quality records of one trust in one commit group travel as one `QualityEvidence` message, so a
/// trust is re-rated once per group rather than once per record (keeping the first non-empty trust
/// name and region); NHSI metric observations of one trust (and trust type) in one commit group
/// travel as one `ResourceEvidence` with a group of observations, in feed order; use-of-resources
/// ratings travel one by one. Returns the record numbers behind each message.
pub fn group_by_trust(accepted: Vec<feed::Accepted>) -> Vec<(Vec<u64>, feed::Evidence)> {
    let mut out: Vec<(Vec<u64>, feed::Evidence)> = Vec::new();
    let mut quality_at: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    let mut metrics_at: std::collections::BTreeMap<(String, i32), usize> =
        std::collections::BTreeMap::new();
    for a in accepted {
        for evidence in a.evidence {
            match evidence {
                feed::Evidence::Quality(q) => match quality_at.get(&q.trust_code) {
                    Some(&i) => {
                        let (records, evidence) = &mut out[i];
                        if records.last() != Some(&a.record_number) {
                            records.push(a.record_number);
                        }
                        if let feed::Evidence::Quality(group) = evidence {
                            if group.trust_name.is_empty() {
                                group.trust_name = q.trust_name;
                            }
                            if group.region.is_empty() {
                                group.region = q.region;
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
                feed::Evidence::Resource(ev::ResourceEvidence {
                    provenance,
                    trust_code,
                    trust_type,
                    body: Some(ev::resource_evidence::Body::Metric(m)),
                }) => {
                    let key = (trust_code.clone(), trust_type);
                    match metrics_at.get(&key) {
                        Some(&i) => {
                            let (records, evidence) = &mut out[i];
                            if records.last() != Some(&a.record_number) {
                                records.push(a.record_number);
                            }
                            if let feed::Evidence::Resource(ev::ResourceEvidence {
                                body: Some(ev::resource_evidence::Body::Metrics(group)),
                                ..
                            }) = evidence
                            {
                                group.observations.push(m);
                            }
                        }
                        None => {
                            metrics_at.insert(key, out.len());
                            out.push((
                                vec![a.record_number],
                                feed::Evidence::Resource(ev::ResourceEvidence {
                                    provenance,
                                    trust_code,
                                    trust_type,
                                    body: Some(ev::resource_evidence::Body::Metrics(
                                        ev::MetricObservations {
                                            observations: vec![m],
                                        },
                                    )),
                                }),
                            ));
                        }
                    }
                }
                other => out.push((vec![a.record_number], other)),
            }
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

/// A blocking reader over chunks sent from the async side (used on a blocking thread only).
struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(next)) => {
                    self.chunk = next;
                    self.pos = 0;
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A commit group being collected.
#[derive(Default)]
struct Group {
    accepted: Vec<feed::Accepted>,
    rejected: Vec<Rejection>,
}

impl Group {
    fn len(&self) -> usize {
        self.accepted.len() + self.rejected.len()
    }
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

    /// Ingest one batch held in memory (tests, small queue messages).
    pub async fn ingest(&self, meta: &BatchMeta, content: &[u8]) -> Result<Receipt, IngestError> {
        let chunks = futures::stream::iter([Ok::<_, std::convert::Infallible>(content.to_vec())]);
        self.ingest_stream(meta, chunks).await
    }

    /// Ingest one batch arriving as a stream of byte chunks (split anywhere). Good records are
    /// stored and published even when others are rejected; memory stays bounded whatever the size.
    pub async fn ingest_stream<S, E>(
        &self,
        meta: &BatchMeta,
        chunks: S,
    ) -> Result<Receipt, IngestError>
    where
        S: Stream<Item = Result<Vec<u8>, E>> + Send,
        E: std::fmt::Display,
    {
        if meta.batch_id.trim().is_empty() {
            return Err(IngestError::InvalidBatch {
                field: "batch_id",
                reason: "is required".into(),
            });
        }
        let (chunk_tx, chunk_rx) = mpsc::channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
        let (record_tx, record_rx) = mpsc::channel::<Result<Parsed, ReadError>>(GROUP_RECORDS);
        let (format, file_name) = (meta.format, meta.file_name.clone());
        let parser = tokio::task::spawn_blocking(move || {
            let reader = ChunkReader {
                rx: chunk_rx,
                chunk: Vec::new(),
                pos: 0,
            };
            for item in feed::records(format, &file_name, reader) {
                if record_tx.blocking_send(item).is_err() {
                    // The consumer stopped (it failed); stop parsing.
                    break;
                }
            }
        });
        let feeder = async move {
            let mut chunks = std::pin::pin!(chunks);
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(bytes) if bytes.is_empty() => {}
                    Ok(bytes) => {
                        if chunk_tx.send(Ok(bytes)).await.is_err() {
                            // The parser stopped early; the consumer reports why.
                            return None;
                        }
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        let _ = chunk_tx.send(Err(io::Error::other(reason.clone()))).await;
                        return Some(reason);
                    }
                }
            }
            None
        };
        // The consumer owns the receiver: if it fails, dropping it stops the parser, which stops
        // the feeder, so the join always ends.
        let consumer = self.consume(meta, record_rx);
        let (source_failure, consumed) = tokio::join!(feeder, consumer);
        parser
            .await
            .map_err(|e| IngestError::Internal(format!("parser task failed: {e}")))?;
        if let Some(reason) = source_failure {
            return Err(IngestError::Source {
                file_name: meta.file_name.clone(),
                reason,
            });
        }
        let receipt = consumed?;
        if receipt.counts.accepted + receipt.counts.duplicates == 0 {
            return Err(IngestError::AllRejected {
                file_name: meta.file_name.clone(),
                receipt,
            });
        }
        Ok(receipt)
    }

    /// Take parsed records, committing and publishing them group by group.
    async fn consume(
        &self,
        meta: &BatchMeta,
        mut records: mpsc::Receiver<Result<Parsed, ReadError>>,
    ) -> Result<Receipt, IngestError> {
        let mut counts = BatchCounts::default();
        let mut first_rejections = Vec::new();
        let mut group = Group::default();
        while let Some(item) = records.recv().await {
            match item? {
                Parsed::Accepted(a) => group.accepted.push(a),
                Parsed::Rejected(r) => {
                    if first_rejections.len() < RECEIPT_REJECTIONS {
                        first_rejections.push(r.clone());
                    }
                    group.rejected.push(r);
                }
            }
            if group.len() >= GROUP_RECORDS {
                self.commit(meta, &mut counts, std::mem::take(&mut group), false)
                    .await?;
                crash_point(crash::BETWEEN_COMMIT_GROUPS);
            }
        }
        self.commit(meta, &mut counts, group, true).await?;
        tracing::info!(
            batch = %meta.batch_id,
            file = %meta.file_name,
            records = counts.records,
            accepted = counts.accepted,
            duplicates = counts.duplicates,
            rejected = counts.rejected,
            "batch stored"
        );
        Ok(Receipt {
            batch_id: meta.batch_id.clone(),
            counts,
            rejections: first_rejections,
        })
    }

    /// Store one group with the batch's running counts in one transaction, then publish.
    async fn commit(
        &self,
        meta: &BatchMeta,
        counts: &mut BatchCounts,
        group: Group,
        last: bool,
    ) -> Result<(), IngestError> {
        let today = oversight_runtime::time::today().to_string();
        counts.records += group.len() as u64;
        counts.rejected += group.rejected.len() as u64;
        let mut all_records = BTreeSet::new();
        let mut new_records = BTreeSet::new();
        let mut rows = Vec::new();
        let mut records_of = Vec::new();
        for (records, mut evidence) in group_by_trust(group.accepted) {
            let id = evidence_id(&meta.batch_id, &evidence);
            *evidence.provenance_mut() = Some(ev::Provenance {
                evidence_id: id.clone(),
                source: meta.source.clone(),
                batch_id: meta.batch_id.clone(),
                file_name: meta.file_name.clone(),
                record_number: records.first().copied().unwrap_or(0),
            });
            rows.push(store::NewEvidence {
                evidence_id: id,
                batch_id: meta.batch_id.clone(),
                trust_code: evidence.trust_code().to_string(),
                kind: evidence.kind().to_string(),
                payload: evidence.encode(),
                ingested_on: today.clone(),
            });
            records_of.push(records);
        }
        let mut tx = self.pool.begin().await?;
        let mut stored = std::collections::HashSet::new();
        for page in rows.chunks(store::INSERT_ROWS) {
            stored.extend(store::insert_evidence(&mut tx, page).await?);
        }
        for (row, records) in rows.iter().zip(records_of) {
            if stored.contains(&row.evidence_id) {
                new_records.extend(records.iter().copied());
            }
            all_records.extend(records);
        }
        // A record counts as accepted when any of its evidence was new.
        counts.accepted += new_records.len() as u64;
        counts.duplicates += (all_records.len() - new_records.len()) as u64;
        for r in &group.rejected {
            store::insert_rejection(&mut tx, &meta.batch_id, r).await?;
        }
        let state = match (last, counts.accepted + counts.duplicates) {
            (false, _) => BatchState::Receiving,
            (true, 0) => BatchState::Failed,
            (true, _) => BatchState::Complete,
        };
        let batch = BatchRow {
            batch_id: meta.batch_id.clone(),
            source: meta.source.clone(),
            format: meta.format.as_str().to_string(),
            file_name: meta.file_name.clone(),
            state: state.as_str().to_string(),
            counts: counts.clone(),
        };
        store::upsert_batch(&mut tx, &batch, &oversight_runtime::time::now_rfc3339()).await?;
        tx.commit().await?;
        if !new_records.is_empty()
            && let Err(e) = self.publish_pending().await
        {
            // Stored evidence is safe in the outbox; it is published on the next attempt or start.
            tracing::warn!(error = %format!("{e:#}"), "publishing deferred");
        }
        Ok(())
    }

    /// Publish every stored but unpublished evidence record (the outbox). The outbox's depth after
    /// the drain is exported as `oversight_outbox_pending`.
    pub async fn publish_pending(&self) -> anyhow::Result<u64> {
        let _one_at_a_time = self.publishing.lock().await;
        let result = self.drain_outbox().await;
        let left = match &result {
            Ok(_) => Some(0),
            Err(_) => store::count_unpublished(&self.pool).await.ok(),
        };
        if let Some(left) = left {
            oversight_runtime::metrics::outbox_pending(self.bus.service(), left);
        }
        result
    }

    /// [`Ingestor::publish_pending`] with the publishing lock held.
    async fn drain_outbox(&self) -> anyhow::Result<u64> {
        let mut published = 0;
        loop {
            let rows = store::unpublished(&self.pool, PUBLISH_PAGE).await?;
            if rows.is_empty() {
                return Ok(published);
            }
            crash_point(crash::AFTER_COMMIT_BEFORE_PUBLISH);
            self.publish_rows(&rows, |row| row.evidence_id.clone())
                .await?;
            let ids: Vec<String> = rows.into_iter().map(|r| r.evidence_id).collect();
            store::mark_published(&self.pool, &ids).await?;
            published += ids.len() as u64;
        }
    }

    /// Publish a page of rows with their message ids and trusts (the partition key), sending them
    /// all before awaiting the acks (the runtime's one publish path).
    async fn publish_rows(
        &self,
        rows: &[OutboxRow],
        msg_id: impl Fn(&OutboxRow) -> String,
    ) -> anyhow::Result<()> {
        let messages = rows
            .iter()
            .map(|row| {
                Ok(Outgoing {
                    subject: self.subject_for(&row.kind)?,
                    msg_id: msg_id(row),
                    key: row.trust_code.clone(),
                    payload: row.payload.clone().into(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.bus.publish_many(messages).await?;
        Ok(())
    }

    fn subject_for(&self, kind: &str) -> anyhow::Result<String> {
        match kind {
            "quality" => Ok(self.bus.subjects().evidence_quality()),
            "resources" => Ok(self.bus.subjects().evidence_resources()),
            other => anyhow::bail!("stored evidence has unknown kind {other:?}"),
        }
    }

    /// Re-publish stored evidence for a trust (or all) ingested between two dates (inclusive), so
    /// downstream services can rebuild; page by page. Downstream handlers are idempotent; the
    /// message ids are fresh so JetStream's duplicate window does not drop the replay.
    pub async fn replay(
        &self,
        trust_code: Option<&str>,
        from: &str,
        to: &str,
    ) -> anyhow::Result<u64> {
        let stamp = oversight_runtime::time::now_rfc3339();
        let mut cursor = ReplayCursor::default();
        let mut n = 0;
        loop {
            let rows = store::evidence_for_replay(
                &self.pool,
                trust_code.unwrap_or(""),
                from,
                to,
                &cursor,
                PUBLISH_PAGE,
            )
            .await?;
            let Some(last) = rows.last() else { break };
            cursor = ReplayCursor {
                ingested_on: last.ingested_on.clone(),
                evidence_id: last.evidence_id.clone(),
            };
            self.publish_rows(&rows, |row| format!("replay-{stamp}-{}", row.evidence_id))
                .await?;
            n += rows.len() as u64;
        }
        tracing::info!(republished = n, trust = ?trust_code, from, to, "replay finished");
        Ok(n)
    }

    /// Status of a batch with its first stored rejections.
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
        let rejections = store::rejections(&self.pool, batch_id, STATUS_REJECTIONS).await?;
        Ok(Some((row, rejections)))
    }
}

/// A batch's file name, or its batch id when the sender gave none.
pub fn file_name_or_batch(file_name: &str, batch_id: &str) -> String {
    if file_name.trim().is_empty() {
        batch_id.to_string()
    } else {
        file_name.to_string()
    }
}
