//! gRPC serving: every service gets the standard health service (`grpc.health.v1.Health`, so
//! `grpc_health_probe` and Kubernetes gRPC probes work) and server reflection (so `grpcurl` works).

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::service::{Routes, RoutesBuilder};

use crate::Shutdown;

/// Largest gRPC message a service accepts or sends (bounded inputs).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Bind a gRPC listener (port 0 for an ephemeral port in tests).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to bind gRPC listener on {addr}"))
}

/// Routes with health and reflection already added, plus the health reporter to flip serving
/// status. Add the service's own gRPC services to the returned builder.
pub async fn base_routes() -> anyhow::Result<(RoutesBuilder, tonic_health::server::HealthReporter)>
{
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(oversight_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("failed to build gRPC reflection service")?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(health).add_service(reflection);
    Ok((routes, reporter))
}

/// Serve `routes` on `listener` until `shutdown` is cancelled; in-flight calls finish first.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    tonic::transport::Server::builder()
        .layer(crate::metrics::GrpcMetricsLayer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            // Without TCP_NODELAY small responses wait ~40 ms on the peer's delayed ack.
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled_owned(),
        )
        .await
        .context("gRPC server failed")
}

/// `serve`, plus the Prometheus `/metrics` endpoint when `metrics_addr` is set.
pub async fn serve_with_metrics(
    listener: TcpListener,
    routes: Routes,
    metrics_addr: Option<SocketAddr>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let metrics = crate::metrics::serve_if_configured(metrics_addr, shutdown.clone());
    let grpc = serve(listener, routes, shutdown.clone());
    let (m, g) = tokio::join!(metrics, grpc);
    if m.is_err() {
        // A metrics endpoint that cannot serve stops the service: operators rely on it.
        shutdown.cancel();
    }
    m.and(g)
}
