//! The `TrustRatings` gRPC API for regulator systems. Every authenticated caller may read, whatever
//! their role (the ratings are public): no call here checks a role.

use oversight_runtime::error::internal;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_server::{
    TrustRatingsService, TrustRatingsServiceServer,
};
use oversight_proto::common::v1 as common;
use oversight_rating::TrustCode;
use oversight_runtime::Shutdown;
use oversight_runtime::outbox::StoredEvent;
use prost::Message;
use prost::bytes::Bytes;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

use crate::combining::Combiner;
use crate::listing::flag_codes;

/// Largest page a caller may ask for (bounded inputs).
pub const MAX_PAGE_SIZE: u32 = 500;
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Longest region a filter may name (regions are at most 64 characters where they come in).
pub const MAX_REGION_CHARS: usize = 64;

pub struct TrustRatingsApi {
    pub combiner: Arc<Combiner>,
    /// Ends every `WatchRatings` stream, so that a graceful shutdown does not wait for watchers
    /// forever (the gRPC server drains in-flight calls before it stops).
    pub watch_stop: Shutdown,
}

fn trust_code(s: &str) -> Result<TrustCode, Status> {
    s.parse()
        .map_err(|e| oversight_runtime::grpc::invalid_field("trust_code", format!("{e}")))
}

fn decode(e: &StoredEvent) -> Result<pb::CombinedRatingPublished, Status> {
    pb::CombinedRatingPublished::decode(e.payload.as_slice()).map_err(internal)
}

/// The `TrustRatingsService` to route (the host puts it behind authentication): the generated
/// server, its hot reads served from bytes ([`crate::wire::FastReads`]).
pub fn service(
    api: TrustRatingsApi,
) -> crate::wire::FastReads<TrustRatingsServiceServer<TrustRatingsApi>> {
    let api = Arc::new(api);
    crate::wire::FastReads::new(TrustRatingsServiceServer::from_arc(api.clone()), api)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchRatingsResponse, Status>> + Send>>;

impl TrustRatingsApi {
    /// `GetTrustRating`: the version as protobuf field 1 (a `GetTrustRatingResponse` as it is).
    pub async fn get_field_1(&self, r: pb::GetTrustRatingRequest) -> Result<Bytes, Status> {
        let trust = trust_code(&r.trust_code)?;
        if r.as_of.is_empty() {
            // The latest version comes from the read view, never the database.
            return self
                .combiner
                .view()
                .get_field_1(trust.as_str())
                .ok_or_else(|| Status::not_found(format!("no rating for trust {trust}")));
        }
        let event = {
            let as_of = oversight_runtime::time::parse_date(&r.as_of).ok_or_else(|| {
                oversight_runtime::grpc::invalid_field(
                    "as_of",
                    format!("{:?} is not an ISO date (YYYY-MM-DD)", r.as_of),
                )
            })?;
            let history = self
                .combiner
                .outbox()
                .history(trust.as_str())
                .await
                .map_err(internal)?;
            // The version published on or before that day (RFC 3339 timestamps start YYYY-MM-DD).
            let as_of = as_of.to_string();
            history
                .into_iter()
                .rfind(|e| e.created_at.get(..10).is_some_and(|d| d <= as_of.as_str()))
        };
        match event {
            Some(e) => {
                decode(&e)?;
                Ok(crate::view::as_field_1(&e.payload))
            }
            None => Err(Status::not_found(format!("no rating for trust {trust}"))),
        }
    }

    /// `ListTrustRatings`: the page's versions as protobuf field 1 each, and the next page token.
    pub fn list_field_1(
        &self,
        r: pb::ListTrustRatingsRequest,
    ) -> Result<(Vec<Bytes>, String), Status> {
        if r.page_size > MAX_PAGE_SIZE {
            return Err(oversight_runtime::grpc::invalid_field(
                "page_size",
                format!("at most {MAX_PAGE_SIZE}"),
            ));
        }
        let page_size = if r.page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            r.page_size
        } as usize;
        let rating_filter = common::Rating::try_from(r.combined_rating).map_err(|_| {
            oversight_runtime::grpc::invalid_field(
                "combined_rating",
                format!("unknown value {}", r.combined_rating),
            )
        })?;
        let type_filter = common::TrustType::try_from(r.trust_type).map_err(|_| {
            oversight_runtime::grpc::invalid_field(
                "trust_type",
                format!("unknown value {}", r.trust_type),
            )
        })?;
        if !r.flag.is_empty() && !flag_codes().contains(&r.flag.as_str()) {
            return Err(oversight_runtime::grpc::invalid_field(
                "flag",
                format!(
                    "unknown flag {:?} (expected one of {})",
                    r.flag,
                    flag_codes().join(", ")
                ),
            ));
        }
        // Case-insensitive exact match; empty matches every trust.
        let region_filter = r.region.trim().to_lowercase();
        if region_filter.chars().count() > MAX_REGION_CHARS {
            return Err(oversight_runtime::grpc::invalid_field(
                "region",
                format!("at most {MAX_REGION_CHARS} characters"),
            ));
        }
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(trust_code(&r.page_token).map_err(|_| {
                oversight_runtime::grpc::invalid_field("page_token", "not a token from this API")
            })?)
        };
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let (page, more) = self
            .combiner
            .view()
            .page_field_1(&after, page_size, |rating| {
                let combined = rating.combined.as_ref().map_or(0, |c| c.rating);
                (rating_filter == common::Rating::Unspecified || combined == rating_filter as i32)
                    && (type_filter == common::TrustType::Unspecified
                        || rating.trust_type == type_filter as i32)
                    && (r.flag.is_empty() || rating.flags.iter().any(|f| f.code == r.flag))
                    && (region_filter.is_empty()
                        || rating.region.trim().to_lowercase() == region_filter)
            });
        let next = if more {
            page.last().map(|(t, _)| t.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((page.into_iter().map(|(_, b)| b).collect(), next))
    }
}

#[tonic::async_trait]
impl TrustRatingsService for TrustRatingsApi {
    async fn get_trust_rating(
        &self,
        request: Request<pb::GetTrustRatingRequest>,
    ) -> Result<Response<pb::GetTrustRatingResponse>, Status> {
        // Served by `wire::FastReads` from bytes; this is the same answer decoded.
        let field_1 = self.get_field_1(request.into_inner()).await?;
        pb::GetTrustRatingResponse::decode(field_1)
            .map(Response::new)
            .map_err(internal)
    }

    async fn list_trust_ratings(
        &self,
        request: Request<pb::ListTrustRatingsRequest>,
    ) -> Result<Response<pb::ListTrustRatingsResponse>, Status> {
        // Served by `wire::FastReads` from bytes; this is the same answer decoded.
        let (ratings, next) = self.list_field_1(request.into_inner())?;
        pb::ListTrustRatingsResponse::decode(crate::wire::list_response(&ratings, &next))
            .map(Response::new)
            .map_err(internal)
    }

    async fn get_trust_history(
        &self,
        request: Request<pb::GetTrustHistoryRequest>,
    ) -> Result<Response<pb::GetTrustHistoryResponse>, Status> {
        let trust = trust_code(&request.into_inner().trust_code)?;
        let history = self
            .combiner
            .outbox()
            .history(trust.as_str())
            .await
            .map_err(internal)?;
        if history.is_empty() {
            return Err(Status::not_found(format!("no rating for trust {trust}")));
        }
        let versions = history.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(pb::GetTrustHistoryResponse { versions }))
    }

    type WatchRatingsStream = WatchStream;

    async fn watch_ratings(
        &self,
        _request: Request<pb::WatchRatingsRequest>,
    ) -> Result<Response<Self::WatchRatingsStream>, Status> {
        let stream =
            BroadcastStream::new(self.combiner.subscribe()).filter_map(|item| match item {
                Ok(rating) => Some(Ok(pb::WatchRatingsResponse {
                    rating: Some(rating.as_ref().clone()),
                })),
                // A slow watcher misses some versions; it can read them with GetTrustHistory.
                Err(_lagged) => None,
            });
        let stream =
            futures::StreamExt::take_until(stream, self.watch_stop.clone().cancelled_owned());
        Ok(Response::new(Box::pin(stream)))
    }
}
