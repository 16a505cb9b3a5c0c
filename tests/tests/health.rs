//! Every service answers the standard gRPC health service (what `grpc_health_probe` and Kubernetes
//! gRPC probes call) for itself and overall, and lists its API through server reflection in both
//! protocol versions: v1 (what current `grpcurl list` uses) and v1alpha (what Python's
//! grpcio-reflection and older grpcurl speak).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use futures::StreamExt;
use oversight_e2e::Stack;
use prost::Message as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::{v1, v1alpha};

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
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(
        Stack::channel(addr).await.unwrap(),
    );
    let request = v1::ServerReflectionRequest {
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

/// The same questions through reflection v1alpha: the services listed, and the proto files that
/// declare `symbol` (what grpcio-reflection's descriptor database asks for).
async fn v1alpha_reflection(
    addr: SocketAddr,
    symbol: &str,
) -> (Vec<String>, Vec<prost_types::FileDescriptorProto>) {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(
        Stack::channel(addr).await.unwrap(),
    );
    let ask = |message| v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(symbol.to_string())),
    ];
    let responses: Vec<_> = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap_or_else(|e| panic!("v1alpha reflection at {addr}: {e}"))
        .into_inner()
        .map(|r| r.unwrap().message_response)
        .collect()
        .await;
    let [
        Some(MessageResponse::ListServicesResponse(list)),
        Some(files),
    ] = &responses[..]
    else {
        panic!("unexpected v1alpha reflection responses {responses:?}");
    };
    let MessageResponse::FileDescriptorResponse(files) = files else {
        panic!("no file descriptors for {symbol}: {files:?}");
    };
    let files = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap())
        .collect();
    (list.service.iter().map(|s| s.name.clone()).collect(), files)
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
        let (listed_v1alpha, files) = v1alpha_reflection(addr, name).await;
        let mut v1_sorted = listed.clone();
        v1_sorted.sort();
        let mut v1alpha_sorted = listed_v1alpha;
        v1alpha_sorted.sort();
        assert_eq!(
            v1alpha_sorted, v1_sorted,
            "{name}: v1alpha lists what v1 lists"
        );
        // The proto package and service name, as the .proto files in proto/ spell them.
        let (package, service) = name.rsplit_once('.').unwrap();
        assert!(
            files
                .iter()
                .any(|f| f.package() == package && f.service.iter().any(|s| s.name() == service)),
            "{name}: v1alpha FileContainingSymbol did not return the file declaring it"
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
