//! gRPC for CQC systems.

use std::sync::Arc;

use oversight_proto::convert;
use oversight_proto::quality::v1 as pb;
use oversight_proto::quality::v1::quality_service_server::QualityService;
use oversight_rating::TrustCode;
use tonic::{Request, Response, Status};

use crate::rating::{Rater, RecordError};

pub struct QualityApi {
    pub rater: Arc<Rater>,
}

fn trust_code(s: &str) -> Result<TrustCode, Status> {
    s.parse()
        .map_err(|e| Status::invalid_argument(format!("trust_code: {e}")))
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "request failed");
    Status::internal("internal error; see the service log")
}

#[tonic::async_trait]
impl QualityService for QualityApi {
    async fn get_trust_quality(
        &self,
        request: Request<pb::GetTrustQualityRequest>,
    ) -> Result<Response<pb::GetTrustQualityResponse>, Status> {
        let trust = trust_code(&request.into_inner().trust_code)?;
        match self.rater.latest(&trust).await.map_err(internal)? {
            Some(rating) => Ok(Response::new(pb::GetTrustQualityResponse {
                rating: Some(rating),
            })),
            None => Err(Status::not_found(format!(
                "no quality rating for trust {trust}"
            ))),
        }
    }

    async fn record_well_led_assessment(
        &self,
        request: Request<pb::RecordWellLedAssessmentRequest>,
    ) -> Result<Response<pb::RecordWellLedAssessmentResponse>, Status> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let rating = convert::rating_value(r.rating)
            .ok_or_else(|| Status::invalid_argument("rating: a rating is required"))?;
        let date = oversight_runtime::time::parse_date(&r.report_date).ok_or_else(|| {
            Status::invalid_argument(format!(
                "report_date: {:?} is not an ISO date",
                r.report_date
            ))
        })?;
        match self.rater.record_well_led(&trust, rating, date).await {
            Ok(()) => {}
            Err(RecordError::Invalid(e)) if e.field == "trust_code" => {
                return Err(Status::not_found(e.to_string()));
            }
            Err(RecordError::Invalid(e)) => return Err(Status::invalid_argument(e.to_string())),
            Err(e) => return Err(internal(e)),
        }
        let rating = self.rater.latest(&trust).await.map_err(internal)?;
        Ok(Response::new(pb::RecordWellLedAssessmentResponse {
            rating,
        }))
    }
}
