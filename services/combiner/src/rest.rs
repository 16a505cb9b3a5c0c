//! The JSON read API beside the report, on the same HTTP server, for people without gRPC:
//!
//! - `GET /api/v1/trusts` — the latest version of each trust, with the list's search, filters,
//!   sorting and paging (`listing`): `{ "items": [...], "page", "pageSize", "total" }`.
//! - `GET /api/v1/trusts/{odsCode}` — one trust's latest version.
//! - `GET /api/v1/trusts/{odsCode}/history` — every version, oldest first.
//! - `GET /api/v1/trusts/{odsCode}/rating-changes` — what would change the latest version's overall
//!   quality and combined rating (`combined_rules::whatif`, as gRPC `GetRatingChanges`).
//! - `GET /api/v1/openapi.json` — the OpenAPI 3.1 document (hand-written, `openapi.json`; a test
//!   checks it against real responses). Served without a token, like the report.
//!
//! Shapes are `export`'s. Every response carries a strong `ETag` (a digest of its body) and
//! `Cache-Control: private, no-cache` (revalidate every time; shared caches keep nothing); a
//! matching `If-None-Match` gets `304 Not Modified`. Authentication is gRPC's: the same tokens
//! file and `Authenticator`; every role may read (the ratings are public), a missing or unknown
//! bearer token is `401` with `WWW-Authenticate: Bearer`. Errors are
//! `{ "error": { "status", "message", "field"? } }`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oversight_proto::combined::v1 as pb;
use oversight_rating::TrustCode;
use oversight_runtime::auth::Authenticator;
use serde::Serialize;
use sha2::{Digest, Sha256};

use combined_rules::whatif::{Changeable, Moves, Step, Target, Unavailable, sentence};
use oversight_rating::Rating;

use crate::combining::Combiner;
use crate::export::{TrustHistory, TrustPage, TrustRating};
use crate::listing::{ListQuery, ListQueryError};

/// The OpenAPI document, as served.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The API's paths, as the OpenAPI document names them.
pub const PATHS: [&str; 5] = [
    "/api/v1/trusts",
    "/api/v1/trusts/{odsCode}",
    "/api/v1/trusts/{odsCode}/history",
    "/api/v1/trusts/{odsCode}/rating-changes",
    "/api/v1/openapi.json",
];

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadQuery(#[from] ListQueryError),
    #[error("path parameter odsCode: {0}")]
    BadTrustCode(String),
    #[error("no rating for trust {0}")]
    UnknownTrust(TrustCode),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    status: u16,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, field) = match &self {
            ApiError::BadQuery(e) => (StatusCode::BAD_REQUEST, Some(e.field)),
            ApiError::BadTrustCode(_) => (StatusCode::BAD_REQUEST, Some("odsCode")),
            ApiError::UnknownTrust(_) => (StatusCode::NOT_FOUND, None),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, None),
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "JSON API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        let message = match &self {
            ApiError::Internal(_) => "internal error; see the service log".to_string(),
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                status: status.as_u16(),
                message,
                field,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"oversight\""),
            );
        }
        response
    }
}

#[derive(Clone)]
struct ApiState {
    combiner: Arc<Combiner>,
}

/// The JSON API's routes (under `/api/v1`), authenticated by `auth`.
pub fn router(combiner: Arc<Combiner>, auth: Authenticator) -> Router {
    let authenticated = Router::new()
        .route("/api/v1/trusts", get(list))
        .route("/api/v1/trusts/{odsCode}", get(trust))
        .route("/api/v1/trusts/{odsCode}/history", get(history))
        .route(
            "/api/v1/trusts/{odsCode}/rating-changes",
            get(rating_changes),
        )
        .route_layer(middleware::from_fn_with_state(auth, authenticate))
        .with_state(ApiState { combiner });
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(|headers: HeaderMap| async move {
                cached_json(&headers, OPENAPI.as_bytes().to_vec())
            }),
        )
        .merge(authenticated)
}

/// gRPC's bearer tokens, checked by the runtime's `Authenticator` on the HTTP headers.
async fn authenticate(
    State(auth): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    let metadata = tonic::metadata::MetadataMap::from_headers(request.headers().clone());
    match auth.authenticate(&metadata) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(status) => ApiError::Unauthenticated(status.message().to_string()).into_response(),
    }
}

/// Query parameters in order, as given.
pub type RawQuery = Query<Vec<(String, String)>>;

/// Parse the list query from raw parameters.
pub fn list_query(Query(params): &RawQuery) -> Result<ListQuery, ListQueryError> {
    ListQuery::parse(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A strong entity tag for a body.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare by their opaque part.
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

/// `body` as JSON with its ETag, or `304` when the caller has it already.
pub fn cached_json(headers: &HeaderMap, body: Vec<u8>) -> Response {
    cached(headers, body, "application/json")
}

/// `body` with its content type and ETag, or `304` when the caller has it already.
pub fn cached(headers: &HeaderMap, body: Vec<u8>, content_type: &'static str) -> Response {
    let tag = etag(&body);
    let mut response = if none_match(headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(anyhow::anyhow!("JSON: {e}")))
}

fn parse_code(code: &str) -> Result<TrustCode, ApiError> {
    code.parse()
        .map_err(|e| ApiError::BadTrustCode(format!("{code:?}: {e}")))
}

async fn list(
    State(s): State<ApiState>,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let q = list_query(&query)?;
    let page = q.apply(&s.combiner.view().all());
    let body = TrustPage {
        items: page
            .items
            .iter()
            .map(|r| TrustRating::from(r.as_ref()))
            .collect(),
        page: page.page,
        page_size: page.page_size,
        total: page.total,
    };
    Ok(cached_json(&headers, to_json(&body)?))
}

async fn trust(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let trust = parse_code(&code)?;
    let latest = s
        .combiner
        .view()
        .get(trust.as_str())
        .ok_or(ApiError::UnknownTrust(trust))?;
    Ok(cached_json(
        &headers,
        to_json(&TrustRating::from(latest.as_ref()))?,
    ))
}

/// Every stored version of a trust, oldest first (from the database, the record).
pub async fn stored_history(
    combiner: &Combiner,
    trust: &TrustCode,
) -> anyhow::Result<Vec<pb::CombinedRatingPublished>> {
    use prost::Message as _;
    combiner
        .outbox()
        .history(trust.as_str())
        .await?
        .iter()
        .map(|e| {
            pb::CombinedRatingPublished::decode(e.payload.as_slice())
                .map_err(|err| anyhow::anyhow!("stored version of {trust} is corrupt: {err}"))
        })
        .collect()
}

async fn history(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let trust = parse_code(&code)?;
    let versions = stored_history(&s.combiner, &trust).await?;
    if versions.is_empty() {
        return Err(ApiError::UnknownTrust(trust));
    }
    let body = TrustHistory {
        ods_code: trust.to_string(),
        versions: versions.iter().map(TrustRating::from).collect(),
    };
    Ok(cached_json(&headers, to_json(&body)?))
}

/// A change in the JSON API: key questions by their lowerCamelCase names, ratings in CQC's words.
#[derive(Serialize)]
struct ChangeBody {
    rating: &'static str,
    from: &'static str,
    to: &'static str,
}

#[derive(Serialize)]
struct ChangeSetBody {
    changes: Vec<ChangeBody>,
    description: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepBody {
    /// `changes`, `alreadyOutstanding`, `alreadyInadequate` or `noExactStep`.
    outcome: &'static str,
    to: Option<&'static str>,
    change_sets: Vec<ChangeSetBody>,
}

#[derive(Serialize)]
struct UnavailableBody {
    /// `noKeyQuestionRatings`, `qualityNotCounted` or `noCombinedRating`.
    reason: &'static str,
    message: String,
}

#[derive(Serialize)]
struct WhatIfBody {
    current: Option<&'static str>,
    up: Option<StepBody>,
    down: Option<StepBody>,
    unavailable: Option<UnavailableBody>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RatingChangesBody {
    ods_code: String,
    version: u64,
    overall_quality: WhatIfBody,
    combined: WhatIfBody,
}

fn step_body(target: Target, step: &Step) -> StepBody {
    let (outcome, to, sets) = match step {
        Step::Changes { to, sets } => ("changes", Some(*to), sets.as_slice()),
        Step::AlreadyOutstanding => ("alreadyOutstanding", None, &[][..]),
        Step::AlreadyInadequate => ("alreadyInadequate", None, &[][..]),
        Step::NoExactStep { to } => ("noExactStep", Some(*to), &[][..]),
    };
    StepBody {
        outcome,
        to: to.map(Rating::cqc_str),
        change_sets: sets
            .iter()
            .map(|set| ChangeSetBody {
                changes: set
                    .changes
                    .iter()
                    .map(|c| ChangeBody {
                        rating: match c.rating {
                            Changeable::KeyQuestion(kq) => kq.camel(),
                            Changeable::UseOfResources => "useOfResources",
                        },
                        from: c.from.cqc_str(),
                        to: c.to.cqc_str(),
                    })
                    .collect(),
                description: to.map(|to| sentence(set, target, to)).unwrap_or_default(),
            })
            .collect(),
    }
}

fn what_if_body(target: Target, what: &Result<Moves, Unavailable>) -> WhatIfBody {
    match what {
        Ok(m) => WhatIfBody {
            current: Some(m.current.cqc_str()),
            up: Some(step_body(target, &m.up)),
            down: Some(step_body(target, &m.down)),
            unavailable: None,
        },
        Err(why) => WhatIfBody {
            current: None,
            up: None,
            down: None,
            unavailable: Some(UnavailableBody {
                reason: match why {
                    Unavailable::NoKeyQuestionRatings => "noKeyQuestionRatings",
                    Unavailable::QualityNotCounted { .. } => "qualityNotCounted",
                    Unavailable::NoCombined { .. } => "noCombinedRating",
                },
                message: why.to_string(),
            }),
        },
    }
}

async fn rating_changes(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let trust = parse_code(&code)?;
    let latest = s
        .combiner
        .view()
        .get(trust.as_str())
        .ok_or(ApiError::UnknownTrust(trust))?;
    let changes = crate::api::rating_changes(&latest).map_err(anyhow::Error::from)?;
    let body = RatingChangesBody {
        ods_code: latest.trust_code.clone(),
        version: latest.version,
        overall_quality: what_if_body(Target::OverallQuality, &changes.overall_quality),
        combined: what_if_body(Target::Combined, &changes.combined),
    };
    Ok(cached_json(&headers, to_json(&body)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_is_json_and_names_every_path() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in PATHS {
            assert!(paths.contains_key(p), "{p} missing from openapi.json");
        }
        assert_eq!(paths.len(), PATHS.len());
    }

    #[test]
    fn if_none_match_compares_tags() {
        let tag = etag(b"body");
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{tag}")).unwrap(),
        );
        assert!(none_match(&h, &tag));
        assert_eq!(
            cached_json(&h, b"body".to_vec()).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            cached_json(&h, b"changed".to_vec()).status(),
            StatusCode::OK
        );
    }
}
