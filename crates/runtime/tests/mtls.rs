//! gRPC over mutual TLS: with `GRPC_TLS_CERT`/`GRPC_TLS_KEY` a service serves TLS only, and with
//! `GRPC_TLS_CLIENT_CA` only clients holding a certificate from that CA get through.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;

use oversight_runtime::{InfraConfig, Shutdown, grpc};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
    stranger: (String, String),
}

fn pki() -> Pki {
    let ca_params = {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str, issuer: &CertifiedIssuer<'_, KeyPair>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let other_ca = {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    };
    Pki {
        ca: ca.pem(),
        server: leaf("localhost", &ca),
        client: leaf("cqc-inspections", &ca),
        stranger: leaf("someone-else", &other_ca),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn serve(cfg: &InfraConfig) -> (SocketAddr, Shutdown) {
    let serve = grpc::ServeConfig::from_infra(cfg).unwrap();
    assert!(serve.tls());
    let listener = grpc::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (routes, health) = grpc::base_routes(&[]).await.unwrap();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let shutdown = Shutdown::new();
    tokio::spawn(grpc::serve_configured(
        listener,
        routes.routes(),
        serve,
        shutdown.clone(),
    ));
    (addr, shutdown)
}

async fn check(addr: SocketAddr, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint =
        Channel::from_shared(format!("{scheme}://localhost:{}", addr.port())).unwrap();
    if let Some(t) = tls {
        endpoint = endpoint.tls_config(t).map_err(|e| e.to_string())?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e:?}"))
}

#[tokio::test]
async fn only_clients_with_a_certificate_from_the_ca_get_through() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let mut cfg = InfraConfig::new("nats://unused", "t", "sqlite://unused");
    cfg.grpc_tls_cert = Some(write(dir.path(), "server.pem", &pki.server.0));
    cfg.grpc_tls_key = Some(write(dir.path(), "server.key", &pki.server.1));
    cfg.grpc_tls_client_ca = Some(write(dir.path(), "ca.pem", &pki.ca));
    let (addr, shutdown) = serve(&cfg).await;

    let trust_ca = || {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&pki.ca))
            .domain_name("localhost")
    };
    let with_client_cert = trust_ca().identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    check(addr, Some(with_client_cert))
        .await
        .expect("a client with a CA-signed certificate is served");

    assert!(
        check(addr, Some(trust_ca())).await.is_err(),
        "a client without a certificate is refused"
    );
    let stranger = trust_ca().identity(Identity::from_pem(&pki.stranger.0, &pki.stranger.1));
    assert!(
        check(addr, Some(stranger)).await.is_err(),
        "a certificate from another CA is refused"
    );
    assert!(check(addr, None).await.is_err(), "plaintext is refused");
    shutdown.cancel();
}

#[test]
fn incomplete_tls_settings_fail_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = InfraConfig::new("nats://unused", "t", "sqlite://unused");
    cfg.grpc_tls_cert = Some(dir.path().join("server.pem"));
    let err = grpc::ServeConfig::from_infra(&cfg)
        .err()
        .expect("cert without key");
    assert!(err.to_string().contains("set together"), "{err}");

    let mut cfg = InfraConfig::new("nats://unused", "t", "sqlite://unused");
    cfg.grpc_tls_client_ca = Some(dir.path().join("ca.pem"));
    assert!(
        grpc::ServeConfig::from_infra(&cfg).is_err(),
        "client CA without a server identity"
    );

    let mut cfg = InfraConfig::new("nats://unused", "t", "sqlite://unused");
    cfg.grpc_tls_cert = Some(dir.path().join("missing.pem"));
    cfg.grpc_tls_key = Some(dir.path().join("missing.key"));
    let err = grpc::ServeConfig::from_infra(&cfg)
        .err()
        .expect("missing files");
    assert!(format!("{err:#}").contains("GRPC_TLS_CERT"), "{err:#}");

    assert!(
        !grpc::ServeConfig::from_infra(&InfraConfig::new("n", "t", "d"))
            .unwrap()
            .tls()
    );
}
