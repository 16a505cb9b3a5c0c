//! Every service answers the standard gRPC health service (what `grpc_health_probe` and Kubernetes
//! gRPC probes call) for itself and overall, and lists its API through server reflection (what
//! `grpcurl list` uses).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use futures::StreamExt;
use oversight_e2e::Stack;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

async fn serving(addr: SocketAddr, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(Stack::channel(addr).await.unwrap());
    let resp = client
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("health of {service:?} at {addr}: {e}"));
    ServingStatus::try_from(resp.into_inner().status).unwrap()
}

async fn listed_services(addr: SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(Stack::channel(addr).await.unwrap());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let first = responses
        .next()
        .await
        .expect("a reflection response")
        .unwrap();
    match first.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection response {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_reports_health_and_lists_its_api() {
    let stack = Stack::start().await.unwrap();
    let services = [
        (stack.ingestion, "oversight.ingestion.v1.IngestionService"),
        (stack.cqc, "oversight.quality.v1.QualityService"),
        (stack.nhsi, "oversight.resources.v1.ResourcesService"),
        (stack.combiner, "oversight.combined.v1.TrustRatingsService"),
    ];
    for (addr, name) in services {
        assert_eq!(
            serving(addr, "").await,
            ServingStatus::Serving,
            "{name} overall"
        );
        assert_eq!(serving(addr, name).await, ServingStatus::Serving, "{name}");
        let listed = listed_services(addr).await;
        assert!(
            listed.iter().any(|s| s == name),
            "{name} not listed by reflection: {listed:?}"
        );
        assert!(
            listed.iter().any(|s| s == "grpc.health.v1.Health"),
            "{listed:?}"
        );
        let others = listed
            .iter()
            .filter(|s| s.starts_with("oversight.") && *s != name)
            .count();
        assert_eq!(
            others, 0,
            "{name} advertises services it does not serve: {listed:?}"
        );
    }
    stack.stop().await.unwrap();
}
