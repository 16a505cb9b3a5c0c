//! nhsi-resources: NHSI's service. Consumes resource evidence (`<ns>.evidence.resources`) and CQC
//! overall ratings (`<ns>.quality.rated`), keeps finance, productivity, operational and ward
//! staffing observations, carries the use-of-resources rating from suggestion through NHSI's
//! proposal and CQC's approval (`workflow`), and publishes each trust's approved UoR rating on
//! `<ns>.uor.approved` for the combiner. Its gRPC API serves the finance score, peer positions,
//! CHPPD, the suggested rating, segmentation and the NOF league table.

pub mod api;
pub mod error;
pub mod metrics;
pub mod resources;
pub mod workflow;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use oversight_proto::resources::v1::resources_service_server::ResourcesServiceServer;
use oversight_runtime::consumer::one_by_one;
use oversight_runtime::nats::Bus;
use oversight_runtime::outbox::Outbox;
use oversight_runtime::shutdown::supervised;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, grpc};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use metrics::{Metrics, RuleSets};
pub use resources::Resources;
pub use workflow::Assessments;

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
    serve: grpc::ServeConfig,
    routes: Routes,
    bus: Bus,
    resources: Arc<Resources>,
    metrics: Arc<Metrics>,
    assessments: Arc<Assessments>,
    sweep_every: std::time::Duration,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let pool = config.infra.connect_database(SERVICE, &MIGRATIONS).await?;
        let moved = metrics::migrate_legacy_observations(&pool)
            .await
            .context("failed to move observations into the packed table")?;
        if moved > 0 {
            tracing::info!(
                observations = moved,
                "moved observations into the packed table"
            );
        }
        let bus = Bus::connect(&config.infra, SERVICE).await?;
        let subjects = bus.subjects().clone();
        for stream in [subjects.uor_stream(), subjects.deadletter_stream()] {
            bus.ensure_stream(&stream).await?;
        }
        let outbox = Outbox::new(pool.clone(), bus.clone(), "nhsi_uor_events");
        let resources = Arc::new(Resources::new(pool.clone(), outbox, subjects));
        let metrics = Arc::new(Metrics::new(
            pool.clone(),
            RuleSets::shipped().context("failed to load the shipped NHSI rule sets")?,
        ));
        let assessments = Arc::new(Assessments::new(pool, resources.clone(), metrics.clone()));
        let listener = grpc::bind(config.grpc_addr).await?;
        let (mut routes, health) = grpc::base_routes(&[
            oversight_proto::resources::v1::resources_service_server::SERVICE_NAME,
        ])
        .await?;
        let auth = config.infra.authenticator()?;
        routes.add_service(ResourcesServiceServer::with_interceptor(
            api::ResourcesApi {
                resources: resources.clone(),
                metrics: metrics.clone(),
                assessments: assessments.clone(),
            },
            auth.interceptor(),
        ));
        health
            .set_serving::<ResourcesServiceServer<api::ResourcesApi>>()
            .await;
        Ok(App {
            listener,
            serve: grpc::ServeConfig::from_infra(&config.infra)?,
            routes: routes.routes(),
            bus,
            resources,
            metrics,
            assessments,
            sweep_every: config.infra.outbox_sweep(),
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    pub fn resources(&self) -> Arc<Resources> {
        self.resources.clone()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn assessments(&self) -> Arc<Assessments> {
        self.assessments.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(e) = self.resources.outbox().publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox not drained at start");
        }
        if let Err(e) = self.assessments.publish_approved().await {
            tracing::warn!(error = %e, "approved use-of-resources ratings not published at start");
        }
        let resources = &self.resources;
        let evidence = supervised(
            consumers::NHSI_EVIDENCE,
            shutdown.clone(),
            self.bus.consume(
                consumers::NHSI_EVIDENCE,
                |batch| resources.handle_evidence_batch(batch),
                shutdown.clone(),
            ),
        );
        let on_quality = |msg| resources.handle_quality(msg);
        let quality = supervised(
            consumers::NHSI_QUALITY,
            shutdown.clone(),
            self.bus.consume(
                consumers::NHSI_QUALITY,
                |batch| one_by_one(batch, &on_quality),
                shutdown.clone(),
            ),
        );
        let server =
            grpc::serve_configured(self.listener, self.routes, self.serve, shutdown.clone());
        let sweep = resources.outbox().sweep(self.sweep_every, shutdown.clone());
        let (e, q, s, ()) = tokio::join!(evidence, quality, server, sweep);
        shutdown.cancel();
        e.and(q).and(s)
    }
}
