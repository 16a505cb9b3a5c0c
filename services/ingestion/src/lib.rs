//! ingestion: the one door for feeds. Takes batch feeds from the queue (`<ns>.feeds.submit`), a gRPC
//! client stream or the `oversight ingest` CLI; validates, dedupes and stores them; publishes
//! canonical evidence on `<ns>.evidence.quality` and `<ns>.evidence.resources`.

pub mod api;
pub mod feed;
pub mod pipeline;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use oversight_proto::ingestion::v1::ingestion_service_server::IngestionServiceServer;
use oversight_runtime::consumer::one_by_one;
use oversight_runtime::nats::Bus;
use oversight_runtime::shutdown::supervised;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, grpc};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use pipeline::Ingestor;

pub const SERVICE: &str = "ingestion";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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
    listener: TcpListener,
    serve: grpc::ServeConfig,
    routes: Routes,
    bus: Bus,
    ingestor: Ingestor,
    sweep_every: std::time::Duration,
}

impl App {
    /// Connect, migrate, declare streams and bind the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let pool = config.infra.connect_database(SERVICE, &MIGRATIONS).await?;
        let bus = Bus::connect(&config.infra, SERVICE).await?;
        let subjects = bus.subjects().clone();
        for stream in [
            subjects.feeds_stream(),
            subjects.evidence_stream(),
            subjects.deadletter_stream(),
        ] {
            bus.ensure_stream(&stream).await?;
        }
        let ingestor = Ingestor::new(pool, bus.clone());
        let listener = grpc::bind(config.grpc_addr).await?;
        let (mut routes, health) = grpc::base_routes(&[
            oversight_proto::ingestion::v1::ingestion_service_server::SERVICE_NAME,
        ])
        .await?;
        let auth = config.infra.authenticator()?;
        routes.add_service(tonic::service::interceptor::InterceptedService::new(
            IngestionServiceServer::new(api::IngestionApi {
                ingestor: ingestor.clone(),
            })
            .max_decoding_message_size(grpc::MAX_MESSAGE_BYTES),
            auth.interceptor(),
        ));
        health
            .set_serving::<IngestionServiceServer<api::IngestionApi>>()
            .await;
        Ok(App {
            listener,
            serve: grpc::ServeConfig::from_infra(&config.infra)?,
            routes: routes.routes(),
            bus,
            ingestor,
            sweep_every: config.infra.outbox_sweep(),
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    pub fn ingestor(&self) -> &Ingestor {
        &self.ingestor
    }

    /// Serve gRPC and consume queued feeds until `shutdown`.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        // Publish anything stored but not yet published before a crash.
        if let Err(e) = self.ingestor.publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox not drained at start");
        }
        let ingestor = &self.ingestor;
        // Feed chunks are large (up to a few MB): one at a time, one lane.
        let settings = oversight_runtime::consumer::ConsumerSettings {
            batch_max: 1,
            lanes: 1,
            ..self.bus.consumer_settings()
        };
        let on_chunk = |msg| ingestor.handle_feed_message(msg);
        let consumer = supervised(
            consumers::INGESTION_FEEDS,
            shutdown.clone(),
            self.bus.consume_with(
                consumers::INGESTION_FEEDS,
                settings,
                |batch| one_by_one(batch, &on_chunk),
                shutdown.clone(),
            ),
        );
        let server =
            grpc::serve_configured(self.listener, self.routes, self.serve, shutdown.clone());
        let sweep = oversight_runtime::outbox::sweep(self.sweep_every, shutdown.clone(), || {
            ingestor.publish_pending()
        });
        let (c, s, ()) = tokio::join!(consumer, server, sweep);
        shutdown.cancel();
        c.and(s)
    }
}
