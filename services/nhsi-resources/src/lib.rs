//! nhsi-resources: NHSI's service. Consumes resource evidence (`<ns>.evidence.resources`) and CQC
//! overall ratings (`<ns>.quality.rated`), keeps finance, productivity, operational and ward
//! staffing observations, carries the use-of-resources rating from suggestion through NHSI's
//! proposal and CQC's approval (`workflow`), and publishes each trust's approved UoR rating on
//! `<ns>.uor.approved` for the combiner. Its gRPC API serves the finance score, peer positions,
//! CHPPD, the suggested rating, segmentation and the NOF league table, and records oversight
//! statuses (special measures, deficit support) that those rules take as inputs (`statuses`).
//!
//! The one service layout: `api` (gRPC), `consumer` (the queue handlers), `store` (every SQL
//! statement and row decoding), `error` (the one error map), and the glue that reads through the
//! store and calls `nhsi_rules`: `resources` (evidence and the approved-UoR outbox),
//! `observations`, `statuses`, `workflow`. This file only composes them.

pub mod api;
pub mod consumer;
pub mod error;
pub mod observations;
pub mod resources;
pub mod statuses;
pub mod store;
pub mod workflow;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use oversight_proto::resources::v1::resources_service_server::{
    ResourcesServiceServer, SERVICE_NAME,
};
use oversight_runtime::consumer::one_by_one;
use oversight_runtime::host::{Host, ServiceSpec};
use oversight_runtime::outbox::Outbox;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, Subjects};

pub use observations::{Observations, RuleSets};
pub use resources::Resources;
pub use workflow::Assessments;

pub const SERVICE: &str = "nhsi-resources";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const SPEC: ServiceSpec = ServiceSpec::new(SERVICE, &[SERVICE_NAME], &MIGRATIONS, streams);

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
    host: Host,
    resources: Arc<Resources>,
    metrics: Arc<Observations>,
    assessments: Arc<Assessments>,
}

/// The streams nhsi-resources owns.
fn streams(subjects: &Subjects) -> Vec<oversight_runtime::subjects::StreamSpec> {
    vec![subjects.uor_stream(), subjects.deadletter_stream()]
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let mut host = Host::build(&SPEC, &config.infra, config.grpc_addr).await?;
        let pool = host.pool().clone();
        let moved = observations::migrate_legacy_observations(&pool)
            .await
            .context("failed to move observations into the packed table")?;
        if moved > 0 {
            tracing::info!(
                observations = moved,
                "moved observations into the packed table"
            );
        }
        let outbox = Outbox::new(pool.clone(), host.bus().clone(), "nhsi_uor_events");
        let resources = Arc::new(Resources::new(
            pool.clone(),
            outbox,
            host.subjects().clone(),
        ));
        let metrics = Arc::new(Observations::new(
            pool.clone(),
            RuleSets::shipped().context("failed to load the shipped NHSI rule sets")?,
        ));
        let assessments = Arc::new(Assessments::new(pool, resources.clone(), metrics.clone()));
        host.serve_grpc(ResourcesServiceServer::new(api::ResourcesApi {
            resources: resources.clone(),
            metrics: metrics.clone(),
            assessments: assessments.clone(),
        }))?;
        Ok(App {
            host,
            resources,
            metrics,
            assessments,
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.host.grpc_addr()
    }

    pub fn resources(&self) -> Arc<Resources> {
        self.resources.clone()
    }

    pub fn observations(&self) -> Arc<Observations> {
        self.metrics.clone()
    }

    pub fn assessments(&self) -> Arc<Assessments> {
        self.assessments.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let resources = &self.resources;
        let assessments = &self.assessments;
        let tasks = self
            .host
            .tasks(&shutdown)
            .outbox(|| resources.outbox().publish_pending())
            .at_start("publishing approved use-of-resources ratings", async {
                assessments.publish_approved().await?;
                Ok(())
            })
            .consume(consumers::NHSI_EVIDENCE, |batch| {
                consumer::evidence_batch(resources, batch)
            })
            .consume(consumers::NHSI_QUALITY, move |batch| async move {
                one_by_one(batch, &|msg| consumer::quality(resources, msg)).await
            });
        self.host.run(shutdown, tasks).await
    }
}
