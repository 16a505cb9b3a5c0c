//! combiner: joins CQC's quality ratings (`<ns>.quality.rated`) and NHSI's approved use-of-resources
//! ratings (`<ns>.uor.approved`) into the combined trust rating (`combined-rules`), keeps every
//! version, publishes them on `<ns>.combined.published`, and serves them over gRPC
//! (`TrustRatingsService`).

pub mod api;
pub mod combining;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use combined_rules::CombinedRuleSet;
use oversight_proto::combined::v1::trust_ratings_service_server::TrustRatingsServiceServer;
use oversight_runtime::nats::{Bus, run_consumer};
use oversight_runtime::outbox::Outbox;
use oversight_runtime::subjects::consumers;
use oversight_runtime::{InfraConfig, Shutdown, db, grpc};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use combining::Combiner;

pub const SERVICE: &str = "combiner";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// combiner's configuration (flags or environment).
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "combiner",
    version,
    about = "oversight combined rating service"
)]
pub struct Config {
    #[command(flatten)]
    pub infra: InfraConfig,
    /// Address for the gRPC API.
    #[arg(long, env = "GRPC_ADDR", default_value = "0.0.0.0:50054")]
    pub grpc_addr: SocketAddr,
    /// Publish in shadow mode (UoR separately, no combined rating) whatever the date.
    #[arg(long, env = "COMBINED_FORCE_SHADOW", default_value_t = false)]
    pub force_shadow: bool,
    /// Flag a combined rating whose parts are dated more than this many months apart.
    #[arg(long, env = "COMBINED_MAX_MONTHS_APART", default_value_t = 12)]
    pub max_months_apart: u32,
}

pub struct App {
    listener: TcpListener,
    routes: Routes,
    bus: Bus,
    combiner: Arc<Combiner>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let pool = db::connect(&config.infra.database_url_for(SERVICE), &MIGRATIONS).await?;
        let bus = Bus::connect(&config.infra, SERVICE).await?;
        let subjects = bus.subjects().clone();
        for stream in [subjects.combined_stream(), subjects.deadletter_stream()] {
            bus.ensure_stream(&stream).await?;
        }
        let outbox = Outbox::new(pool.clone(), bus.clone(), "combiner_events");
        let mut rules = CombinedRuleSet::cqc_combined_2018();
        rules.force_shadow = config.force_shadow;
        rules.max_months_apart = config.max_months_apart;
        let combiner = Arc::new(Combiner::new(pool, outbox, subjects, rules));
        let listener = grpc::bind(config.grpc_addr).await?;
        let (mut routes, health) = grpc::base_routes().await?;
        let auth = config.infra.authenticator()?;
        routes.add_service(TrustRatingsServiceServer::with_interceptor(
            api::TrustRatingsApi {
                combiner: combiner.clone(),
            },
            auth.interceptor(),
        ));
        health
            .set_serving::<TrustRatingsServiceServer<api::TrustRatingsApi>>()
            .await;
        Ok(App {
            listener,
            routes: routes.routes(),
            bus,
            combiner,
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    pub fn combiner(&self) -> Arc<Combiner> {
        self.combiner.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        if let Err(e) = self.combiner.outbox().publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox not drained at start");
        }
        let subjects = self.bus.subjects().clone();
        let quality_spec = subjects
            .consumer(consumers::COMBINER_QUALITY)
            .context("consumer spec")?;
        let uor_spec = subjects
            .consumer(consumers::COMBINER_UOR)
            .context("consumer spec")?;
        let c1 = self.combiner.clone();
        let quality = run_consumer(
            self.bus.clone(),
            quality_spec,
            move |msg| {
                let c = c1.clone();
                async move { c.handle_quality(msg).await }
            },
            shutdown.clone(),
        );
        let c2 = self.combiner.clone();
        let uor = run_consumer(
            self.bus.clone(),
            uor_spec,
            move |msg| {
                let c = c2.clone();
                async move { c.handle_uor(msg).await }
            },
            shutdown.clone(),
        );
        let server = grpc::serve(self.listener, self.routes, shutdown.clone());
        let (a, b, s) = tokio::join!(quality, uor, server);
        shutdown.cancel();
        a.and(b).and(s)
    }
}
