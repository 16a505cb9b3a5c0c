//! The queue door: `FeedBatch` messages on `<ns>.feeds.submit`, a whole batch or one chunk of it,
//! each settled through the runtime's one map (`oversight_runtime::error::settle`).

use futures::StreamExt;
use oversight_proto::ingestion::v1::FeedBatch;
use oversight_runtime::nats::{HandleError, Incoming};

use crate::error::IngestError;
use crate::feed;
use crate::pipeline::{BatchMeta, Ingestor, Receipt, file_name_or_batch};
use crate::store::{self, Chunk};

impl Ingestor {
    /// The queue door: one `FeedBatch` message (a whole batch or one chunk of it). Chunks are kept
    /// in the database until every index up to the end marker is there, then streamed from it into
    /// the pipeline one at a time.
    pub async fn handle_feed_message(&self, msg: Incoming) -> Result<(), HandleError> {
        let batch: FeedBatch = msg.decode()?;
        let format = feed::format_from_wire(batch.format)
            .map_err(|e| HandleError::poison(format!("batch {:?}: {e}", batch.batch_id)))?;
        if batch.batch_id.trim().is_empty() {
            return Err(HandleError::poison("feed batch without batch_id"));
        }
        let meta = BatchMeta {
            source: batch.source.clone(),
            batch_id: batch.batch_id.clone(),
            file_name: file_name_or_batch(&batch.file_name, &batch.batch_id),
            format,
        };
        if batch.chunk_index == 0 && batch.last {
            return settle(self.ingest(&meta, &batch.content).await);
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
        let transient = |e: sqlx::Error| HandleError::Transient(e.into());
        store::store_chunk(self.pool(), &chunk)
            .await
            .map_err(transient)?;
        let indexes = store::chunk_indexes(self.pool(), &meta.batch_id)
            .await
            .map_err(transient)?;
        let complete = indexes
            .iter()
            .enumerate()
            .all(|(i, (index, _))| *index as usize == i)
            && indexes.last().is_some_and(|(_, last)| *last);
        if !complete {
            return Ok(());
        }
        let pool = self.pool().clone();
        let batch_id = meta.batch_id.clone();
        let contents = futures::stream::iter(indexes).then(move |(index, _)| {
            let pool = pool.clone();
            let batch_id = batch_id.clone();
            async move {
                match store::chunk_content(&pool, &batch_id, index).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(format!("chunk {index} of {batch_id} disappeared")),
                    Err(e) => Err(format!("failed to read chunk {index} of {batch_id}: {e}")),
                }
            }
        });
        settle(self.ingest_stream(&meta, contents).await)?;
        store::delete_chunks(self.pool(), &meta.batch_id)
            .await
            .map_err(transient)
    }
}

/// How a queued batch's outcome settles its message (the runtime's one map: a batch whose every
/// record was rejected is recorded, so acked; an invalid batch is dead-lettered; the rest retried).
fn settle(outcome: Result<Receipt, IngestError>) -> Result<(), HandleError> {
    oversight_runtime::error::settle("feed batch", outcome.map(|_| ()))
}
