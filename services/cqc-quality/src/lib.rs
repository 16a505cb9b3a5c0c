//! cqc-quality: CQC's service. Consumes quality evidence (`<ns>.evidence.quality`), stores it,
//! rates the trusts it touches with the CQC rules (`cqc-rules`), and publishes each trust's quality
//! ratings (5 KQs + overall, with explanations) on `<ns>.quality.rated` for the combiner.
//!
//! - [`api`]: gRPC for CQC systems (record inspections, well-led assessments, enforcement
//!   actions, merged services, "significantly small" services and published decisions; get
//!   ratings as of a date; list departures).
//! - [`consumer`]: the queue handler for quality evidence: decode, call the core, settle.
//! - [`commands`]: requests and queued evidence parsed and validated at the edge, naming the
//!   field on error.
//! - [`rating`]: the core: record, re-rate the trust, publish a new version only when it changed.
//! - [`judging`]: stored decisions as the rules' judgements (no IO; `cqc_rules::publish` applies them).
//! - [`store`]: the tables of `migrations/`: SQL and decoding only (judgement rows decode to the
//!   rules' `Entity`).
//! - [`error`]: the service's one error type and its kinds for the runtime's error map.

pub mod api;
pub mod commands;
pub mod consumer;
pub mod error;
pub mod judging;
pub mod rating;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use oversight_proto::quality::v1::quality_service_server::{QualityServiceServer, SERVICE_NAME};
use oversight_runtime::host::{Host, ServiceSpec};
use oversight_runtime::outbox::Outbox;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, Subjects};

pub use rating::Rater;

pub const SERVICE: &str = "cqc-quality";

/// cqc-quality's migrations (applied by `App::build`; store tests apply them too).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const SPEC: ServiceSpec = ServiceSpec::new(SERVICE, &[SERVICE_NAME], &MIGRATIONS, streams);

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
    host: Host,
    rater: Arc<Rater>,
}

/// The streams cqc-quality owns.
fn streams(subjects: &Subjects) -> Vec<oversight_runtime::subjects::StreamSpec> {
    vec![subjects.quality_stream(), subjects.deadletter_stream()]
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        if let Some(name) = &config.rule_set {
            cqc_rules::RuleSet::select(oversight_runtime::time::today(), Some(name))
                .map_err(|e| anyhow::anyhow!("CQC_RULE_SET: {e}"))?;
        }
        let mut host = Host::build(&SPEC, &config.infra, config.grpc_addr).await?;
        let outbox = Outbox::new(
            host.pool().clone(),
            host.bus().clone(),
            "cqc_quality_events",
        );
        let rater = Arc::new(Rater::new(
            host.pool().clone(),
            outbox,
            host.subjects().clone(),
            config.rule_set.clone(),
        ));
        host.serve_grpc(QualityServiceServer::new(api::QualityApi {
            rater: rater.clone(),
        }))?;
        Ok(App { host, rater })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.host.grpc_addr()
    }

    pub fn rater(&self) -> Arc<Rater> {
        self.rater.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let rater = &self.rater;
        let tasks = self
            .host
            .tasks(&shutdown)
            .outbox(|| rater.outbox().publish_pending())
            .consume(consumers::CQC_EVIDENCE, |batch| {
                consumer::handle_evidence_batch(rater, batch)
            });
        self.host.run(shutdown, tasks).await
    }
}
