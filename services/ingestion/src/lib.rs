//! ingestion: the one door for feeds. Takes batch feeds from the queue (`<ns>.feeds.submit`), a gRPC
//! client stream or the `oversight ingest` CLI; validates, dedupes and stores them; publishes
//! canonical evidence on `<ns>.evidence.quality` and `<ns>.evidence.resources`.

pub mod api;
pub mod consumer;
pub mod error;
pub mod feed;
pub mod pipeline;
pub mod store;

use std::net::SocketAddr;

use oversight_proto::ingestion::v1::ingestion_service_server::{
    IngestionServiceServer, SERVICE_NAME,
};
use oversight_runtime::consumer::{ConsumerSettings, one_by_one};
use oversight_runtime::host::{Host, ServiceSpec};
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, Subjects, grpc};

pub use error::IngestError;
pub use pipeline::Ingestor;

pub const SERVICE: &str = "ingestion";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const SPEC: ServiceSpec = ServiceSpec::new(SERVICE, &[SERVICE_NAME], &MIGRATIONS, streams);

/// ingestion's configuration (flags or environment).
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "ingestion", version, about = "oversight ingestion service")]
pub struct Config {
    #[command(flatten)]
    pub infra: InfraConfig,
    /// Address for the gRPC API.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50051")]
    pub grpc_addr: SocketAddr,
}

/// A built, not yet running, ingestion service.
pub struct App {
    host: Host,
    ingestor: Ingestor,
}

/// The streams ingestion owns.
fn streams(subjects: &Subjects) -> Vec<oversight_runtime::subjects::StreamSpec> {
    vec![
        subjects.feeds_stream(),
        subjects.evidence_stream(),
        subjects.deadletter_stream(),
    ]
}

impl App {
    /// Connect, migrate, declare streams and bind the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let mut host = Host::build(&SPEC, &config.infra, config.grpc_addr).await?;
        let ingestor = Ingestor::new(host.pool().clone(), host.bus().clone());
        host.serve_grpc(
            IngestionServiceServer::new(api::IngestionApi {
                ingestor: ingestor.clone(),
            })
            .max_decoding_message_size(grpc::MAX_MESSAGE_BYTES),
        )?;
        Ok(App { host, ingestor })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.host.grpc_addr()
    }

    pub fn ingestor(&self) -> &Ingestor {
        &self.ingestor
    }

    /// Serve gRPC and consume queued feeds until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let ingestor = &self.ingestor;
        // Feed chunks are large (up to a few MB): one at a time, one lane.
        let settings = ConsumerSettings {
            batch_max: 1,
            lanes: 1,
            ..self.host.bus().consumer_settings()
        };
        let tasks = self
            .host
            .tasks(&shutdown)
            .outbox(|| ingestor.publish_pending())
            .consume_with(
                consumers::INGESTION_FEEDS,
                settings,
                move |batch| async move {
                    one_by_one(batch, &|msg| ingestor.handle_feed_message(msg)).await
                },
            );
        self.host.run(shutdown, tasks).await
    }
}
