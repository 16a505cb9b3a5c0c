//! The hot reads served from bytes. `GetTrustRating` and `ListTrustRatings` answer from the read
//! view, which holds every latest version already encoded as the `rating = 1` field their
//! responses share ([`crate::view`]); this module puts those bytes on the wire as they are,
//! instead of cloning a decoded version (a few hundred strings with its explanations) and encoding
//! it again for every call. Everything else, and every error, is the generated server's: the
//! wrapper only takes those two method paths, and the encodings are what prost would have
//! written (the tests decode them with the generated types).

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_server::SERVICE_NAME;
use prost::Message;
use prost::bytes::{BufMut, Bytes, BytesMut};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::api::TrustRatingsApi;

/// A message body already in protobuf wire form.
pub struct Encoded(pub Bytes);

/// `ListTrustRatingsResponse` from its versions' field-1 encodings and the next page token.
pub fn list_response(ratings: &[Bytes], next_page_token: &str) -> Bytes {
    let len: usize = ratings.iter().map(Bytes::len).sum();
    let mut out = BytesMut::with_capacity(len + next_page_token.len() + 8);
    for r in ratings {
        out.put_slice(r);
    }
    if !next_page_token.is_empty() {
        prost::encoding::string::encode(2, &next_page_token.to_string(), &mut out);
    }
    out.freeze()
}

/// Requests decoded by prost, responses written as they are.
struct EncodedCodec<Req>(PhantomData<fn() -> Req>);

struct PassThrough;

impl Encoder for PassThrough {
    type Item = Encoded;
    type Error = Status;

    fn encode(&mut self, item: Encoded, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item.0);
        Ok(())
    }
}

struct Prost<Req>(PhantomData<fn() -> Req>);

impl<Req: Message + Default> Decoder for Prost<Req> {
    type Item = Req;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Req>, Status> {
        Req::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl<Req: Message + Default + Send + 'static> Codec for EncodedCodec<Req> {
    type Encode = Encoded;
    type Decode = Req;
    type Encoder = PassThrough;
    type Decoder = Prost<Req>;

    fn encoder(&mut self) -> PassThrough {
        PassThrough
    }

    fn decoder(&mut self) -> Prost<Req> {
        Prost(PhantomData)
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

struct GetEncoded(Arc<TrustRatingsApi>);

impl UnaryService<pb::GetTrustRatingRequest> for GetEncoded {
    type Response = Encoded;
    type Future = BoxFuture<Result<Response<Encoded>, Status>>;

    fn call(&mut self, request: Request<pb::GetTrustRatingRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move {
            let field_1 = api.get_field_1(request.into_inner()).await?;
            Ok(Response::new(Encoded(field_1)))
        })
    }
}

struct ListEncoded(Arc<TrustRatingsApi>);

impl UnaryService<pb::ListTrustRatingsRequest> for ListEncoded {
    type Response = Encoded;
    type Future = BoxFuture<Result<Response<Encoded>, Status>>;

    fn call(&mut self, request: Request<pb::ListTrustRatingsRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move {
            let (ratings, next) = api.list_field_1(request.into_inner())?;
            Ok(Response::new(Encoded(list_response(&ratings, &next))))
        })
    }
}

/// The generated `TrustRatingsService` server with `GetTrustRating` and `ListTrustRatings` served
/// from bytes. Wrap it in the auth interceptor like any service.
#[derive(Clone)]
pub struct FastReads<S> {
    inner: S,
    api: Arc<TrustRatingsApi>,
}

impl<S> FastReads<S> {
    pub fn new(inner: S, api: Arc<TrustRatingsApi>) -> Self {
        FastReads { inner, api }
    }
}

impl<S> NamedService for FastReads<S> {
    const NAME: &'static str = SERVICE_NAME;
}

impl<S> tower::Service<http::Request<Body>> for FastReads<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(SERVICE_NAME))
            .and_then(|p| p.strip_prefix('/'));
        match method {
            Some("GetTrustRating") => {
                let svc = GetEncoded(self.api.clone());
                Box::pin(async move {
                    let mut grpc =
                        Grpc::new(EncodedCodec::<pb::GetTrustRatingRequest>(PhantomData));
                    Ok(grpc.unary(svc, req).await)
                })
            }
            Some("ListTrustRatings") => {
                let svc = ListEncoded(self.api.clone());
                Box::pin(async move {
                    let mut grpc =
                        Grpc::new(EncodedCodec::<pb::ListTrustRatingsRequest>(PhantomData));
                    Ok(grpc.unary(svc, req).await)
                })
            }
            _ => {
                // The clone was made ready by `poll_ready` on `self.inner`: swap so the ready one
                // takes the call (tower's contract).
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { ready.call(req).await })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::as_field_1;

    fn rating(trust: &str, version: u64) -> pb::CombinedRatingPublished {
        pb::CombinedRatingPublished {
            trust_code: trust.into(),
            version,
            trust_name: format!("{trust} NHS Trust"),
            region: "London".into(),
            ..Default::default()
        }
    }

    #[test]
    fn field_1_is_a_get_response_as_prost_writes_it() {
        let r = rating("RXX", 3);
        let bytes = as_field_1(&r.encode_to_vec());
        let expected = pb::GetTrustRatingResponse {
            rating: Some(r.clone()),
        };
        assert_eq!(bytes.as_ref(), expected.encode_to_vec().as_slice());
        let decoded = pb::GetTrustRatingResponse::decode(bytes).unwrap();
        assert_eq!(decoded.rating, Some(r));
    }

    #[test]
    fn list_response_decodes_to_the_ratings_and_token() {
        let ratings = [rating("RA1", 1), rating("RB1", 2)];
        let fields: Vec<Bytes> = ratings
            .iter()
            .map(|r| as_field_1(&r.encode_to_vec()))
            .collect();
        for token in ["", "RB1"] {
            let bytes = list_response(&fields, token);
            let expected = pb::ListTrustRatingsResponse {
                ratings: ratings.to_vec(),
                next_page_token: token.into(),
            };
            assert_eq!(bytes.as_ref(), expected.encode_to_vec().as_slice());
        }
    }
}
