//! Prometheus metrics, served over HTTP at `/metrics` (`METRICS_ADDR`). One process-wide registry:
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `oversight_messages_handled_total` | service, consumer, outcome (`ack`, `nak`, `dead_letter`) | consumed messages by decision |
//! | `oversight_dead_letters_total` | service | messages dead-lettered |
//! | `oversight_handler_duration_seconds` | service, consumer | handler latency histogram |
//! | `oversight_grpc_requests_total` | method, code | gRPC requests by status code |
//! | `oversight_grpc_request_duration_seconds` | method | gRPC latency histogram |
//! | `oversight_events_published_total` | service, subject | events (evidence, ratings) published |
//! | `oversight_handler_retries_total` | service, consumer | batches retried after a transient failure (a dependency down) |
//! | `oversight_batch_size` | service, consumer | messages per handled batch |
//! | `oversight_publish_failures_total` | service | publishes JetStream did not acknowledge (each is retried, then left to the outbox sweep) |
//! | `oversight_outbox_pending` | service | events stored but not yet published, as of the last outbox drain |
//! | `oversight_ready` | service | 1 while the service reaches NATS and its database (its readiness), else 0 |

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::Shutdown;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    service: String,
    consumer: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    service: String,
    consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PublishedLabels {
    service: String,
    subject: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

struct Metrics {
    registry: Registry,
    handled: Family<HandledLabels, Counter>,
    dead_letters: Family<ServiceLabels, Counter>,
    handler_seconds: HistogramFamily<ConsumerLabels>,
    grpc_requests: Family<GrpcLabels, Counter>,
    grpc_seconds: HistogramFamily<MethodLabels>,
    published: Family<PublishedLabels, Counter>,
    retries: Family<ConsumerLabels, Counter>,
    batch_size: HistogramFamily<ConsumerLabels>,
    publish_failures: Family<ServiceLabels, Counter>,
    outbox_pending: Family<ServiceLabels, Gauge>,
    ready: Family<ServiceLabels, Gauge>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let handled = Family::<HandledLabels, Counter>::default();
        registry.register(
            "oversight_messages_handled",
            "Consumed messages by decision",
            handled.clone(),
        );
        let dead_letters = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "oversight_dead_letters",
            "Messages dead-lettered",
            dead_letters.clone(),
        );
        let handler_seconds: HistogramFamily<ConsumerLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "oversight_handler_duration_seconds",
            "Message handler latency",
            handler_seconds.clone(),
        );
        let grpc_requests = Family::<GrpcLabels, Counter>::default();
        registry.register(
            "oversight_grpc_requests",
            "gRPC requests by status code",
            grpc_requests.clone(),
        );
        let grpc_seconds: HistogramFamily<MethodLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "oversight_grpc_request_duration_seconds",
            "gRPC request latency",
            grpc_seconds.clone(),
        );
        let published = Family::<PublishedLabels, Counter>::default();
        registry.register(
            "oversight_events_published",
            "Events (evidence, ratings) published",
            published.clone(),
        );
        let retries = Family::<ConsumerLabels, Counter>::default();
        registry.register(
            "oversight_handler_retries",
            "Batches retried after a transient failure",
            retries.clone(),
        );
        let batch_size: HistogramFamily<ConsumerLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(1.0, 2.0, 12)));
        registry.register(
            "oversight_batch_size",
            "Messages per handled batch",
            batch_size.clone(),
        );
        let publish_failures = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "oversight_publish_failures",
            "Publishes JetStream did not acknowledge (retried, then left to the outbox sweep)",
            publish_failures.clone(),
        );
        let outbox_pending = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "oversight_outbox_pending",
            "Events stored but not yet published, as of the last outbox drain",
            outbox_pending.clone(),
        );
        let ready = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "oversight_ready",
            "1 while the service reaches NATS and its database, else 0",
            ready.clone(),
        );
        Metrics {
            publish_failures,
            outbox_pending,
            ready,
            retries,
            batch_size,
            registry,
            handled,
            dead_letters,
            handler_seconds,
            grpc_requests,
            grpc_seconds,
            published,
        }
    })
}

/// Record one consumed message's decision and its handler latency.
pub fn message_handled(service: &str, consumer: &str, outcome: &str, elapsed: Duration) {
    let m = metrics();
    m.handled
        .get_or_create(&HandledLabels {
            service: service.into(),
            consumer: consumer.into(),
            outcome: outcome.into(),
        })
        .inc();
    m.handler_seconds
        .get_or_create(&ConsumerLabels {
            service: service.into(),
            consumer: consumer.into(),
        })
        .observe(elapsed.as_secs_f64());
    if outcome == "dead_letter" {
        m.dead_letters
            .get_or_create(&ServiceLabels {
                service: service.into(),
            })
            .inc();
    }
}

/// Record a batch retried after a transient failure.
pub fn handler_retried(service: &str, consumer: &str) {
    metrics()
        .retries
        .get_or_create(&ConsumerLabels {
            service: service.into(),
            consumer: consumer.into(),
        })
        .inc();
}

/// Record the size of a handled batch.
pub fn batch_handled(service: &str, consumer: &str, size: usize) {
    metrics()
        .batch_size
        .get_or_create(&ConsumerLabels {
            service: service.into(),
            consumer: consumer.into(),
        })
        .observe(size as f64);
}

/// Record published events.
pub fn events_published(service: &str, subject: &str, n: u64) {
    metrics()
        .published
        .get_or_create(&PublishedLabels {
            service: service.into(),
            subject: subject.into(),
        })
        .inc_by(n);
}

/// Record `n` publishes JetStream did not acknowledge.
pub fn publish_failed(service: &str, n: u64) {
    metrics()
        .publish_failures
        .get_or_create(&ServiceLabels {
            service: service.into(),
        })
        .inc_by(n);
}

/// Record how many events wait in the service's outbox after a drain.
pub fn outbox_pending(service: &str, n: u64) {
    metrics()
        .outbox_pending
        .get_or_create(&ServiceLabels {
            service: service.into(),
        })
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}

/// Record whether the service is ready (reaches NATS and its database).
pub fn ready(service: &str, ready: bool) {
    metrics()
        .ready
        .get_or_create(&ServiceLabels {
            service: service.into(),
        })
        .set(i64::from(ready));
}

fn grpc_request(method: &str, code: &str, elapsed: Duration) {
    let m = metrics();
    m.grpc_requests
        .get_or_create(&GrpcLabels {
            method: method.into(),
            code: code.into(),
        })
        .inc();
    m.grpc_seconds
        .get_or_create(&MethodLabels {
            method: method.into(),
        })
        .observe(elapsed.as_secs_f64());
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &metrics().registry).is_err() {
        out.clear();
    }
    out
}

/// Serve `/metrics` (and `/healthz`) on `addr` until shutdown.
pub async fn serve(addr: SocketAddr, shutdown: Shutdown) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to bind metrics listener on {addr}"))?;
    serve_on(listener, shutdown).await
}

/// Serve `/metrics` on an already-bound listener.
pub async fn serve_on(listener: tokio::net::TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    render(),
                )
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("metrics server failed")
}

/// Run the metrics server if an address is configured.
pub async fn serve_if_configured(
    addr: Option<SocketAddr>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    match addr {
        Some(a) => serve(a, shutdown).await,
        None => Ok(()),
    }
}

fn code_name(raw: &str) -> &'static str {
    match raw.trim() {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// A tower layer counting gRPC requests by method and status code. A status returned as an error
/// travels in the response headers (trailers-only); a response without one counts as `OK`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req.uri().path().to_string();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map_or("OK", code_name),
                Err(_) => "TRANSPORT_ERROR",
            };
            grpc_request(&method, code, start.elapsed());
            res
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_are_rendered() {
        message_handled("svc-test", "c1", "ack", Duration::from_millis(3));
        message_handled("svc-test", "c1", "dead_letter", Duration::from_millis(1));
        let subject = crate::subjects::Subjects::new("x").quality_rated();
        events_published("svc-test", &subject, 2);
        let text = render();
        assert!(text.contains("oversight_messages_handled_total{service=\"svc-test\",consumer=\"c1\",outcome=\"ack\"} 1"), "{text}");
        assert!(
            text.contains("oversight_dead_letters_total{service=\"svc-test\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "oversight_events_published_total{{service=\"svc-test\",subject=\"{subject}\"}} 2"
            )),
            "{text}"
        );
        assert!(
            text.contains("oversight_handler_duration_seconds_bucket"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn metrics_are_served_over_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        events_published(
            "svc-http",
            &crate::subjects::Subjects::new("x").combined_published(),
            1,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_on(listener, shutdown.clone()));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        conn.read_to_string(&mut body).await.unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(
            body.contains("oversight_events_published_total{service=\"svc-http\""),
            "{body}"
        );
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn grpc_codes_are_named() {
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("16"), "UNAUTHENTICATED");
        assert_eq!(code_name("x"), "UNKNOWN");
    }
}
