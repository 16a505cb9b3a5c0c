//! gRPC for NHSI and CQC systems.

use std::sync::Arc;

use oversight_proto::resources::v1 as pb;
use oversight_proto::resources::v1::resources_service_server::ResourcesService;
use oversight_rating::TrustCode;
use tonic::{Request, Response, Status};

use crate::resources::Resources;

pub struct ResourcesApi {
    pub resources: Arc<Resources>,
}

#[tonic::async_trait]
impl ResourcesService for ResourcesApi {
    async fn get_use_of_resources(
        &self,
        request: Request<pb::GetUseOfResourcesRequest>,
    ) -> Result<Response<pb::GetUseOfResourcesResponse>, Status> {
        let trust: TrustCode = request
            .into_inner()
            .trust_code
            .parse()
            .map_err(|e| Status::invalid_argument(format!("trust_code: {e}")))?;
        let latest = self.resources.latest_event(&trust).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "request failed");
            Status::internal("internal error; see the service log")
        })?;
        match latest {
            Some(rating) => Ok(Response::new(pb::GetUseOfResourcesResponse {
                rating: Some(rating),
            })),
            None => Err(Status::not_found(format!(
                "no approved use-of-resources rating for trust {trust}"
            ))),
        }
    }
}
