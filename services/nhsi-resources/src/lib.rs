//! nhsi-resources: NHSI's service. Consumes resource evidence (`<ns>.evidence.resources`), keeps
//! finance and productivity observations and approved use-of-resources ratings, and publishes each
//! trust's approved UoR rating on `<ns>.uor.approved` for the combiner.

pub mod api;
pub mod resources;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use oversight_proto::resources::v1::resources_service_server::ResourcesServiceServer;
use oversight_runtime::nats::{Bus, run_consumer};
use oversight_runtime::outbox::Outbox;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, db, grpc};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use resources::Resources;

pub const SERVICE: &str = "nhsi-resources";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// nhsi-resources' configuration (flags or environment).
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "nhsi-resources",
    version,
    about = "oversight NHSI use-of-resources service"
)]
pub struct Config {
    #[command(flatten)]
    pub infra: InfraConfig,
    /// Address for the gRPC API.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50053")]
    pub grpc_addr: SocketAddr,
}

pub struct App {
    listener: TcpListener,
    routes: Routes,
    bus: Bus,
    resources: Arc<Resources>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let pool = db::connect(&config.infra.database_url_for(SERVICE), &MIGRATIONS).await?;
        let bus = Bus::connect(&config.infra, SERVICE).await?;
        let subjects = bus.subjects().clone();
        for stream in [subjects.uor_stream(), subjects.deadletter_stream()] {
            bus.ensure_stream(&stream).await?;
        }
        let outbox = Outbox::new(pool.clone(), bus.clone(), "nhsi_uor_events");
        let resources = Arc::new(Resources::new(pool, outbox, subjects));
        let listener = grpc::bind(config.grpc_addr).await?;
        let (mut routes, health) = grpc::base_routes().await?;
        let auth = config.infra.authenticator()?;
        routes.add_service(ResourcesServiceServer::with_interceptor(
            api::ResourcesApi {
                resources: resources.clone(),
            },
            auth.interceptor(),
        ));
        health
            .set_serving::<ResourcesServiceServer<api::ResourcesApi>>()
            .await;
        Ok(App {
            listener,
            routes: routes.routes(),
            bus,
            resources,
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    pub fn resources(&self) -> Arc<Resources> {
        self.resources.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(e) = self.resources.outbox().publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox not drained at start");
        }
        let spec = self
            .bus
            .subjects()
            .consumer(consumers::NHSI_EVIDENCE)
            .context("consumer spec")?;
        let resources = self.resources.clone();
        let consumer = run_consumer(
            self.bus.clone(),
            spec,
            move |msg| {
                let resources = resources.clone();
                async move { resources.handle_evidence(msg).await }
            },
            shutdown.clone(),
        );
        let server = grpc::serve(self.listener, self.routes, shutdown.clone());
        let (c, s) = tokio::join!(consumer, server);
        shutdown.cancel();
        c.and(s)
    }
}
