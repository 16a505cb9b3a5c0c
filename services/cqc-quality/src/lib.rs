//! cqc-quality: CQC's service. Consumes quality evidence (`<ns>.evidence.quality`), stores it,
//! rates the trusts it touches with the CQC rules (`cqc-rules`), and publishes each trust's quality
//! ratings (5 KQs + overall, with explanations) on `<ns>.quality.rated` for the combiner.
//!
//! - [`api`]: gRPC for CQC systems (record inspections, well-led assessments, enforcement
//!   actions, merged services and published decisions; get ratings as of a date; list departures).
//! - [`commands`]: requests parsed and validated at the edge, naming the field on error.
//! - [`rating`]: the core: record, re-rate the trust, publish a new version only when it changed.
//! - [`judging`]: published decisions beside the computed ratings (no IO).
//! - [`store`]: the tables of `migrations/`.

pub mod api;
pub mod commands;
pub mod error;
pub mod judging;
pub mod rating;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use oversight_proto::quality::v1::quality_service_server::QualityServiceServer;
use oversight_runtime::nats::Bus;
use oversight_runtime::outbox::Outbox;
use oversight_runtime::shutdown::supervised;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, grpc};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use rating::Rater;

pub const SERVICE: &str = "cqc-quality";

/// cqc-quality's migrations (applied by `App::build`; store tests apply them too).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// cqc-quality's configuration (flags or environment).
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "cqc-quality",
    version,
    about = "oversight CQC quality rating service"
)]
pub struct Config {
    #[command(flatten)]
    pub infra: InfraConfig,
    /// Address for the gRPC API.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50052")]
    pub grpc_addr: SocketAddr,
    /// Force a rule set (`cqc-2018` or `saf-2023`); by default it is chosen by the inspection date.
    #[arg(long, env = "CQC_RULE_SET")]
    pub rule_set: Option<String>,
}

pub struct App {
    listener: TcpListener,
    serve: grpc::ServeConfig,
    routes: Routes,
    bus: Bus,
    rater: Arc<Rater>,
    sweep_every: std::time::Duration,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        if let Some(name) = &config.rule_set {
            cqc_rules::RuleSet::select(oversight_runtime::time::today(), Some(name))
                .map_err(|e| anyhow::anyhow!("CQC_RULE_SET: {e}"))?;
        }
        let pool = config.infra.connect_database(SERVICE, &MIGRATIONS).await?;
        let bus = Bus::connect(&config.infra, SERVICE).await?;
        let subjects = bus.subjects().clone();
        for stream in [subjects.quality_stream(), subjects.deadletter_stream()] {
            bus.ensure_stream(&stream).await?;
        }
        let outbox = Outbox::new(pool.clone(), bus.clone(), "cqc_quality_events");
        let rater = Arc::new(Rater::new(pool, outbox, subjects, config.rule_set.clone()));
        let listener = grpc::bind(config.grpc_addr).await?;
        let (mut routes, health) = grpc::base_routes(&[
            oversight_proto::quality::v1::quality_service_server::SERVICE_NAME,
        ])
        .await?;
        let auth = config.infra.authenticator()?;
        routes.add_service(QualityServiceServer::with_interceptor(
            api::QualityApi {
                rater: rater.clone(),
            },
            auth.interceptor(),
        ));
        health
            .set_serving::<QualityServiceServer<api::QualityApi>>()
            .await;
        Ok(App {
            listener,
            serve: grpc::ServeConfig::from_infra(&config.infra)?,
            routes: routes.routes(),
            bus,
            rater,
            sweep_every: config.infra.outbox_sweep(),
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    pub fn rater(&self) -> Arc<Rater> {
        self.rater.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(e) = self.rater.outbox().publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox not drained at start");
        }
        let rater = &self.rater;
        let consumer = supervised(
            consumers::CQC_EVIDENCE,
            shutdown.clone(),
            self.bus.consume(
                consumers::CQC_EVIDENCE,
                |batch| rater.handle_evidence_batch(batch),
                shutdown.clone(),
            ),
        );
        let server =
            grpc::serve_configured(self.listener, self.routes, self.serve, shutdown.clone());
        let sweep = rater.outbox().sweep(self.sweep_every, shutdown.clone());
        let (c, s, ()) = tokio::join!(consumer, server, sweep);
        shutdown.cancel();
        c.and(s)
    }
}
