//! gRPC serving: every service gets the standard health service (`grpc.health.v1.Health`, so
//! `grpc_health_probe` and Kubernetes gRPC probes work) and server reflection, v1 and v1alpha (so
//! `grpcurl` and grpcio-reflection clients work).

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::service::{Routes, RoutesBuilder};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::{InfraConfig, Shutdown};

/// Largest gRPC message a service accepts or sends (bounded inputs).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Bind a gRPC listener (port 0 for an ephemeral port in tests).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to bind gRPC listener on {addr}"))
}

/// Routes with health and reflection already added, plus the health reporter to flip serving
/// status. Reflection is served in both protocol versions, `grpc.reflection.v1` and
/// `grpc.reflection.v1alpha` (many clients, e.g. Python's grpcio-reflection and older grpcurl,
/// speak only v1alpha), and advertises exactly `services` (the fully-qualified names of the
/// service's own gRPC services) and the health service. Add the service's own gRPC services to
/// the builder.
pub async fn base_routes(
    services: &[&str],
) -> anyhow::Result<(RoutesBuilder, tonic_health::server::HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection_v1 = reflection(services)
        .build_v1()
        .context("failed to build gRPC reflection service (v1)")?;
    let reflection_v1alpha = reflection(services)
        .build_v1alpha()
        .context("failed to build gRPC reflection service (v1alpha)")?;
    let mut routes = RoutesBuilder::default();
    routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((routes, reporter))
}

/// The reflection registrations both protocol versions share.
fn reflection(services: &[&str]) -> tonic_reflection::server::Builder<'static> {
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(oversight_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health");
    for name in services {
        reflection = reflection.with_service_name(*name);
    }
    reflection
}

/// How a service serves gRPC: TLS (optionally mutual) and the Prometheus endpoint beside it.
#[derive(Clone, Default)]
pub struct ServeConfig {
    pub metrics_addr: Option<SocketAddr>,
    tls: Option<ServerTlsConfig>,
}

fn read_pem(path: &std::path::Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read {what} {}", path.display()))
}

impl ServeConfig {
    /// From the shared configuration; TLS files are read now, so a bad path fails at start.
    pub fn from_infra(cfg: &InfraConfig) -> anyhow::Result<ServeConfig> {
        let tls = match (&cfg.grpc_tls_cert, &cfg.grpc_tls_key) {
            (Some(cert), Some(key)) => {
                let identity = Identity::from_pem(
                    read_pem(cert, "GRPC_TLS_CERT")?,
                    read_pem(key, "GRPC_TLS_KEY")?,
                );
                let mut tls = ServerTlsConfig::new().identity(identity);
                if let Some(ca) = &cfg.grpc_tls_client_ca {
                    tls = tls
                        .client_ca_root(Certificate::from_pem(read_pem(ca, "GRPC_TLS_CLIENT_CA")?));
                }
                Some(tls)
            }
            (None, None) if cfg.grpc_tls_client_ca.is_some() => {
                anyhow::bail!("GRPC_TLS_CLIENT_CA needs GRPC_TLS_CERT and GRPC_TLS_KEY")
            }
            (None, None) => None,
            _ => anyhow::bail!("GRPC_TLS_CERT and GRPC_TLS_KEY must be set together"),
        };
        Ok(ServeConfig {
            metrics_addr: cfg.metrics_addr,
            tls,
        })
    }

    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Serve `routes` as `config` says (TLS, metrics) until `shutdown`; in-flight calls finish first.
pub async fn serve_configured(
    listener: TcpListener,
    routes: Routes,
    config: ServeConfig,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let metrics = crate::metrics::serve_if_configured(config.metrics_addr, shutdown.clone());
    let grpc = serve_inner(listener, routes, config.tls, shutdown.clone());
    let (m, g) = tokio::join!(metrics, grpc);
    if m.is_err() {
        // A metrics endpoint that cannot serve stops the service: operators rely on it.
        shutdown.cancel();
    }
    m.and(g)
}

/// Serve `routes` on `listener` (plaintext) until `shutdown` is cancelled; in-flight calls finish first.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    serve_inner(listener, routes, None, shutdown).await
}

async fn serve_inner(
    listener: TcpListener,
    routes: Routes,
    tls: Option<ServerTlsConfig>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .context("invalid gRPC TLS configuration")?;
    }
    builder
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

/// Most field violations attached to one status (bounded output).
pub const MAX_VIOLATIONS: usize = 100;

/// `INVALID_ARGUMENT` with `google.rpc.BadRequest` details: one field violation per offending field
/// (e.g. `records[12].rating`), so callers can point at the record and field programmatically as
/// well as in the message.
pub fn bad_request<F, D>(
    message: impl Into<String>,
    violations: impl IntoIterator<Item = (F, D)>,
) -> tonic::Status
where
    F: Into<String>,
    D: Into<String>,
{
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = ErrorDetails::new();
    for (field, description) in violations.into_iter().take(MAX_VIOLATIONS) {
        details.add_bad_request_violation(field, description);
    }
    tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// `INVALID_ARGUMENT` naming one field, in the message and as a `BadRequest` field violation.
pub fn invalid_field(field: &str, reason: impl std::fmt::Display) -> tonic::Status {
    let reason = reason.to_string();
    bad_request(format!("{field}: {reason}"), [(field, reason)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn bad_requests_carry_field_violations() {
        let s = invalid_field(
            "ratings[2].key_question",
            "unknown key question \"kindness\"",
        );
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "ratings[2].key_question: unknown key question \"kindness\""
        );
        let br = s.get_details_bad_request().expect("BadRequest details");
        assert_eq!(br.field_violations.len(), 1);
        assert_eq!(br.field_violations[0].field, "ratings[2].key_question");

        let many = bad_request(
            "all bad",
            (0..500).map(|i| (format!("records[{i}].rating"), "bad")),
        );
        let br = many.get_details_bad_request().expect("details");
        assert_eq!(br.field_violations.len(), MAX_VIOLATIONS);
    }
}
