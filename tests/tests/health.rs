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

/// One ingestion service alone (it owns the stream its consumer reads), running in the background.
struct Ingestion {
    addr: SocketAddr,
    shutdown: oversight_runtime::Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_ingestion(env: &oversight_testkit::TestEnv) -> Ingestion {
    start_ingestion_with(env.infra(ingestion::SERVICE).await.unwrap()).await
}

async fn start_ingestion_with(infra: oversight_runtime::InfraConfig) -> Ingestion {
    let app = ingestion::App::build(ingestion::Config {
        infra,
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    })
    .await
    .unwrap();
    let addr = app.grpc_addr().unwrap();
    let shutdown = oversight_runtime::Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    Ingestion {
        addr,
        shutdown,
        task,
    }
}

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// The first status a `Watch` of `service` reports that is `wanted`.
async fn watch_until(
    updates: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
    wanted: ServingStatus,
) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let update = updates
                .next()
                .await
                .expect("the watch stream stays open")
                .expect("a health update");
            if ServingStatus::try_from(update.status).unwrap() == wanted {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {DEADLINE:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_stops_turns_health_not_serving_and_the_service_exits_with_an_error() {
    let env = oversight_testkit::TestEnv::start().await.unwrap();
    let svc = start_ingestion(&env).await;
    let bus = env.nats_client().await.unwrap();
    let spec = bus
        .subjects()
        .consumer(oversight_runtime::subjects::consumers::INGESTION_FEEDS)
        .unwrap();
    let stream = bus.jetstream().get_stream(&spec.stream).await.unwrap();
    oversight_testkit::wait_until(DEADLINE, "the feeds consumer", || {
        let stream = stream.clone();
        let durable = spec.durable.clone();
        async move { stream.consumer_info(durable).await.ok() }
    })
    .await
    .unwrap();
    let mut health = HealthClient::new(Stack::channel(svc.addr).await.unwrap());
    let mut liveness = health
        .watch(HealthCheckRequest {
            service: oversight_runtime::host::LIVENESS.into(),
        })
        .await
        .unwrap()
        .into_inner();
    watch_until(&mut liveness, ServingStatus::Serving).await;

    // Deleting the durable consumer ends its message stream: the service cannot go on.
    stream.delete_consumer(&spec.durable).await.unwrap();
    watch_until(&mut liveness, ServingStatus::NotServing).await;
    drop(liveness);
    let result = tokio::time::timeout(DEADLINE, svc.task)
        .await
        .expect("the service stops by itself")
        .unwrap();
    let error = format!("{:#}", result.expect_err("the service exits with an error"));
    assert!(error.contains(&spec.durable), "{error}");
    assert!(svc.shutdown.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_nats_while_liveness_holds() {
    let mut env = oversight_testkit::TestEnv::start().await.unwrap();
    if env.nats.is_none() {
        // TEST_NATS_URL: a shared server this test must not stop.
        eprintln!("skipped: needs its own nats-server (unset TEST_NATS_URL)");
        return;
    }
    let svc = start_ingestion(&env).await;
    let name = "oversight.ingestion.v1.IngestionService";
    let readiness = [
        "",
        oversight_runtime::host::READINESS,
        "oversight.ingestion.v1.IngestionService",
    ];
    for service in readiness {
        assert_eq!(serving(svc.addr, service).await, ServingStatus::Serving);
    }
    let liveness = oversight_runtime::host::LIVENESS;
    assert_eq!(serving(svc.addr, liveness).await, ServingStatus::Serving);

    let nats = env.nats.as_mut().unwrap();
    nats.kill().await.unwrap();
    oversight_testkit::wait_until(DEADLINE, "not ready without NATS", || async {
        assert_eq!(
            serving(svc.addr, liveness).await,
            ServingStatus::Serving,
            "liveness does not follow an outage"
        );
        (serving(svc.addr, "").await == ServingStatus::NotServing).then_some(())
    })
    .await
    .unwrap();
    for service in readiness {
        assert_eq!(
            serving(svc.addr, service).await,
            ServingStatus::NotServing,
            "{service:?}"
        );
    }

    nats.restart().await.unwrap();
    oversight_testkit::wait_until(DEADLINE, "ready again with NATS back", || async {
        assert_eq!(serving(svc.addr, liveness).await, ServingStatus::Serving);
        (serving(svc.addr, name).await == ServingStatus::Serving).then_some(())
    })
    .await
    .unwrap();
    for service in readiness {
        assert_eq!(serving(svc.addr, service).await, ServingStatus::Serving);
    }
    svc.shutdown.cancel();
    svc.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_while_liveness_holds() {
    use sqlx::Connection;
    let env = oversight_testkit::TestEnv::start().await.unwrap();
    // SQLite is a file the service holds open: only a database server can go away.
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|_| env.uses_postgres())
    else {
        eprintln!("skipped: needs Postgres (set TEST_DATABASE_URL)");
        return;
    };
    let infra = env.infra(ingestion::SERVICE).await.unwrap();
    // The service's own database: the last path segment of its URL.
    let url = infra.database_url_for(ingestion::SERVICE);
    let database = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap()
        .to_string();
    let Ingestion {
        addr,
        shutdown,
        task,
    } = start_ingestion_with(infra).await;
    let liveness = oversight_runtime::host::LIVENESS;
    assert_eq!(serving(addr, "").await, ServingStatus::Serving);

    let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
    // Asserted SQL safe: the name is one the test harness made (`TestEnv::database_url`).
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}';"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    oversight_testkit::wait_until(DEADLINE, "not ready without the database", || async {
        assert_eq!(serving(addr, liveness).await, ServingStatus::Serving);
        (serving(addr, oversight_runtime::host::READINESS).await == ServingStatus::NotServing)
            .then_some(())
    })
    .await
    .unwrap();

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    oversight_testkit::wait_until(DEADLINE, "ready again with the database back", || async {
        assert_eq!(serving(addr, liveness).await, ServingStatus::Serving);
        (serving(addr, "").await == ServingStatus::Serving).then_some(())
    })
    .await
    .unwrap();
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
