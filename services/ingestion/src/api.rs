//! The gRPC door: `Submit` (client streaming), `GetBatchStatus`, `Replay`.
//!
//! Roles: `Submit` is for systems that send feeds (cqc, nhsi) and operators; readers may not
//! submit. `GetBatchStatus` is open to every authenticated caller. `Replay` republishes evidence
//! to every downstream service, so it is for operators only.

use chrono::NaiveDate;
use futures::StreamExt;
use oversight_proto::convert;
use oversight_proto::google_type::Date;
use oversight_proto::ingestion::v1 as pb;
use oversight_proto::ingestion::v1::ingestion_service_server::IngestionService;
use oversight_runtime::auth::{self, Role};
use oversight_runtime::error::{self, internal};
use oversight_runtime::grpc;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::error::IngestError;
use crate::feed::{self, Format, Rejection};
use crate::pipeline::{BatchMeta, Ingestor, Receipt, file_name_or_batch};
use crate::store::BatchState;

pub struct IngestionApi {
    pub ingestor: Ingestor,
}

fn rejection_pb(r: &Rejection) -> pb::Rejection {
    pb::Rejection {
        file_name: r.file_name.clone(),
        record_number: r.record_number,
        field: r.field.clone(),
        reason: r.reason.clone(),
        line: r.line,
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

/// A stored batch state on the wire; a name this version does not write is an internal error.
fn batch_state_pb(stored: &str) -> Result<pb::BatchState, Status> {
    match BatchState::from_stored(stored) {
        Some(BatchState::Receiving) => Ok(pb::BatchState::Receiving),
        Some(BatchState::Complete) => Ok(pb::BatchState::Complete),
        Some(BatchState::Failed) => Ok(pb::BatchState::Failed),
        None => Err(internal(anyhow::anyhow!(
            "stored batch has unknown state {stored:?}"
        ))),
    }
}

/// A stored feed format on the wire; a name this version does not write is an internal error.
fn stored_format_pb(stored: &str) -> Result<pb::FeedFormat, Status> {
    Format::from_stored(stored)
        .map(feed::wire_format)
        .ok_or_else(|| {
            internal(anyhow::anyhow!(
                "stored batch has unknown format {stored:?}"
            ))
        })
}

/// An optional inclusive replay bound; a date that is not a calendar date names its field.
fn replay_bound(field: &str, date: Option<&Date>) -> Result<Option<NaiveDate>, Status> {
    convert::to_opt_date(date).map_err(|e| grpc::invalid_field(field, e))
}

/// The one mapping from ingestion errors to gRPC codes (the runtime's).
fn status_of(e: IngestError) -> Status {
    error::status(&e)
}

#[tonic::async_trait]
impl IngestionService for IngestionApi {
    async fn submit(
        &self,
        request: Request<Streaming<pb::SubmitRequest>>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let span = tracing::info_span!("Submit");
        oversight_runtime::telemetry::adopt_grpc_parent(&span, request.metadata());
        let caller = auth::require(&request, &[Role::Cqc, Role::Nhsi, Role::Operator])?;
        let mut stream = request.into_inner();
        let header = match stream.next().await {
            Some(Ok(pb::SubmitRequest {
                part: Some(pb::submit_request::Part::Header(h)),
            })) => h,
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(grpc::invalid_field(
                    "header",
                    "the first message of Submit must be a BatchHeader",
                ));
            }
        };
        let format = feed::format_from_wire(header.format)
            .map_err(|e| grpc::invalid_field("header.format", e))?;
        let meta = BatchMeta {
            source: if header.source.trim().is_empty() {
                caller.name.clone()
            } else {
                header.source
            },
            file_name: file_name_or_batch(&header.file_name, &header.batch_id),
            batch_id: header.batch_id,
            format,
        };
        let chunks = stream.filter_map(|part| async move {
            match part {
                Ok(pb::SubmitRequest {
                    part: Some(pb::submit_request::Part::Chunk(bytes)),
                }) => Some(Ok(bytes)),
                Ok(pb::SubmitRequest {
                    part: Some(pb::submit_request::Part::Header(_)),
                }) => Some(Err("only one BatchHeader per Submit stream".to_string())),
                Ok(pb::SubmitRequest { part: None }) => None,
                Err(status) => Some(Err(format!("the client stream failed: {status}"))),
            }
        });
        let outcome = self
            .ingestor
            .ingest_stream(&meta, chunks)
            .instrument(span)
            .await;
        outcome
            .map(|receipt| Response::new(receipt_pb(&receipt)))
            .map_err(status_of)
    }

    async fn get_batch_status(
        &self,
        request: Request<pb::GetBatchStatusRequest>,
    ) -> Result<Response<pb::GetBatchStatusResponse>, Status> {
        auth::caller(&request)?;
        let id = request.into_inner().batch_id;
        let Some((row, rejections)) = self.ingestor.status(&id).await.map_err(internal)? else {
            return Err(Status::not_found(format!("no batch {id:?}")));
        };
        Ok(Response::new(pb::GetBatchStatusResponse {
            batch_id: row.batch_id,
            source: row.source,
            state: batch_state_pb(&row.state)? as i32,
            records: row.counts.records,
            accepted: row.counts.accepted,
            duplicates: row.counts.duplicates,
            rejected: row.counts.rejected,
            rejections: rejections.iter().map(rejection_pb).collect(),
            format: stored_format_pb(&row.format)? as i32,
            file_name: row.file_name,
        }))
    }

    async fn replay(
        &self,
        request: Request<pb::ReplayRequest>,
    ) -> Result<Response<pb::ReplayResponse>, Status> {
        let caller = auth::require(&request, &[Role::Operator])?;
        let r = request.into_inner();
        let trust = match r.trust_code.trim() {
            "" => None,
            code => Some(
                code.parse::<oversight_rating::TrustCode>()
                    .map_err(|e| grpc::invalid_field("trust_code", e))?,
            ),
        };
        // Open bounds compare below and above every ISO date as stored.
        let from = replay_bound("from_date", r.from_date.as_ref())?;
        let to = replay_bound("to_date", r.to_date.as_ref())?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(grpc::invalid_field(
                "from_date",
                format!("{from} is after to_date {to}"),
            ));
        }
        let from = from.map_or_else(|| "0000-01-01".to_string(), |d| d.to_string());
        let to = to.map_or_else(|| "9999-12-31".to_string(), |d| d.to_string());
        tracing::info!(caller = %caller.name, trust = ?trust, from = %from, to = %to, "replay requested");
        let n = self
            .ingestor
            .replay(trust.as_ref().map(|t| t.as_str()), &from, &to)
            .await
            .map_err(internal)?;
        Ok(Response::new(pb::ReplayResponse { republished: n }))
    }
}
