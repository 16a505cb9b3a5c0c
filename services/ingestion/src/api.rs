//! The gRPC door: `Submit` (client streaming), `GetBatchStatus`, `Replay`.

use futures::StreamExt;
use oversight_proto::ingestion::v1 as pb;
use oversight_proto::ingestion::v1::ingestion_service_server::IngestionService;
use tonic::{Request, Response, Status, Streaming};

use crate::feed::{Format, Rejection};
use crate::pipeline::{BatchMeta, IngestError, Ingestor, MAX_BATCH_BYTES, Receipt};

pub struct IngestionApi {
    pub ingestor: Ingestor,
}

fn rejection_pb(r: &Rejection) -> pb::Rejection {
    pb::Rejection {
        file_name: r.file_name.clone(),
        record_number: r.record_number,
        field: r.field.clone(),
        reason: r.reason.clone(),
    }
}

fn receipt_pb(r: &Receipt) -> pb::SubmitResponse {
    pb::SubmitResponse {
        batch_id: r.batch_id.clone(),
        records: r.counts.records,
        accepted: r.counts.accepted,
        duplicates: r.counts.duplicates,
        rejected: r.counts.rejected,
        rejections: r.rejections.iter().map(rejection_pb).collect(),
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "request failed");
    Status::internal("internal error; see the service log")
}

#[tonic::async_trait]
impl IngestionService for IngestionApi {
    async fn submit(
        &self,
        request: Request<Streaming<pb::SubmitRequest>>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let span = tracing::info_span!("Submit");
        oversight_runtime::telemetry::adopt_grpc_parent(&span, request.metadata());
        let _e = span.enter();
        let mut stream = request.into_inner();
        let header = match stream.next().await {
            Some(Ok(pb::SubmitRequest {
                part: Some(pb::submit_request::Part::Header(h)),
            })) => h,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "the first message of Submit must be a BatchHeader",
                ));
            }
        };
        let format = Format::from_wire(header.format).map_err(Status::invalid_argument)?;
        let meta = BatchMeta {
            source: header.source,
            batch_id: header.batch_id,
            format,
            file_name: header.file_name,
        };
        let mut content = Vec::new();
        while let Some(part) = stream.next().await {
            match part?.part {
                Some(pb::submit_request::Part::Chunk(bytes)) => {
                    if content.len() + bytes.len() > MAX_BATCH_BYTES {
                        return Err(Status::invalid_argument(format!(
                            "batch {} exceeds {MAX_BATCH_BYTES} bytes; split it into several batches",
                            meta.batch_id
                        )));
                    }
                    content.extend_from_slice(&bytes);
                }
                Some(pb::submit_request::Part::Header(_)) => {
                    return Err(Status::invalid_argument(
                        "only one BatchHeader per Submit stream",
                    ));
                }
                None => {}
            }
        }
        match self.ingestor.ingest(&meta, &content).await {
            Ok(receipt) => Ok(Response::new(receipt_pb(&receipt))),
            Err(e @ IngestError::AllRejected { .. }) => {
                Err(Status::invalid_argument(e.to_string()))
            }
            Err(IngestError::InvalidBatch(m)) => Err(Status::invalid_argument(m)),
            Err(e @ IngestError::Store(_)) => Err(Status::unavailable(e.to_string())),
        }
    }

    async fn get_batch_status(
        &self,
        request: Request<pb::GetBatchStatusRequest>,
    ) -> Result<Response<pb::GetBatchStatusResponse>, Status> {
        let id = request.into_inner().batch_id;
        let Some((row, rejections)) = self.ingestor.status(&id).await.map_err(internal)? else {
            return Err(Status::not_found(format!("no batch {id:?}")));
        };
        Ok(Response::new(pb::GetBatchStatusResponse {
            batch_id: row.batch_id,
            source: row.source,
            state: row.state,
            records: row.counts.records,
            accepted: row.counts.accepted,
            duplicates: row.counts.duplicates,
            rejected: row.counts.rejected,
            rejections: rejections.iter().map(rejection_pb).collect(),
        }))
    }

    async fn replay(
        &self,
        request: Request<pb::ReplayRequest>,
    ) -> Result<Response<pb::ReplayResponse>, Status> {
        let r = request.into_inner();
        let trust = (!r.trust_code.is_empty()).then_some(r.trust_code.as_str());
        for (field, v) in [("from_date", &r.from_date), ("to_date", &r.to_date)] {
            if !v.is_empty() && oversight_runtime::time::parse_date(v).is_none() {
                return Err(Status::invalid_argument(format!(
                    "{field}: {v:?} is not an ISO date"
                )));
            }
        }
        let from = if r.from_date.is_empty() {
            "0000-01-01"
        } else {
            &r.from_date
        };
        let to = if r.to_date.is_empty() {
            "9999-12-31"
        } else {
            &r.to_date
        };
        let n = self
            .ingestor
            .replay(trust, from, to)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ReplayResponse { republished: n }))
    }
}
