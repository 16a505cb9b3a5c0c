//! combiner: joins CQC's quality ratings (`<ns>.quality.rated`) and NHSI's approved use-of-resources
//! ratings (`<ns>.uor.approved`) into the combined trust rating (`combined-rules`), keeps every
//! version, publishes them on `<ns>.combined.published`, and serves them over gRPC
//! (`TrustRatingsService`), as an HTML ratings report for people (`report`) and as a JSON API
//! beside it (`rest`), both over HTTP.

pub mod api;
pub mod charts;
pub mod combining;
pub mod consumer;
pub mod error;
pub mod export;
pub mod listing;
pub mod overview;
pub mod report;
pub mod rest;
pub mod store;
pub mod view;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use combined_rules::CombinedRuleSet;
use oversight_proto::combined::v1::trust_ratings_service_server::SERVICE_NAME;
use oversight_runtime::host::{Host, ServiceSpec};
use oversight_runtime::outbox::Outbox;
use oversight_runtime::subjects::{ConsumerSpec, consumers};
use oversight_runtime::{InfraConfig, Shutdown, Subjects};
use tokio::net::TcpListener;

pub use combining::{Combiner, Part};

pub const SERVICE: &str = "combiner";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const SPEC: ServiceSpec = ServiceSpec::new(SERVICE, &[SERVICE_NAME], &MIGRATIONS, streams);

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
    /// Address for the HTML ratings report and the JSON API (HTTP); `off` disables both. Tests
    /// set it themselves (`None`: no report server).
    #[arg(long, env = "REPORT_ADDR", default_value = DEFAULT_REPORT_ADDR, value_parser = parse_report_addr)]
    pub report_addr: ::std::option::Option<SocketAddr>,
    /// Publish in shadow mode (UoR separately, no combined rating) whatever the date.
    #[arg(long, env = "COMBINED_FORCE_SHADOW", default_value_t = false)]
    pub force_shadow: bool,
    /// Flag a combined rating whose parts are dated more than this many months apart.
    #[arg(long, env = "COMBINED_MAX_MONTHS_APART", default_value_t = 12)]
    pub max_months_apart: u32,
    /// Suffix for the durable consumer names (`combiner-quality-<suffix>`). A combiner with a new
    /// suffix and an empty database reads the quality and UoR streams from the beginning, which
    /// rebuilds its state (replay). Letters, digits, `-` and `_` only.
    #[arg(long, env = "COMBINER_CONSUMER_SUFFIX", value_parser = parse_consumer_suffix)]
    pub consumer_suffix: Option<String>,
}

/// Where the binary serves the HTML report unless told otherwise.
pub const DEFAULT_REPORT_ADDR: &str = "0.0.0.0:8080";

fn parse_report_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    match s.trim() {
        "" | "off" | "none" => Ok(None),
        addr => addr
            .parse()
            .map(Some)
            .map_err(|e| format!("{addr:?} is not a socket address (or `off`): {e}")),
    }
}

fn parse_consumer_suffix(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?}: a consumer suffix is 1 to 64 letters, digits, `-` or `_`"
        ))
    }
}

/// The consumer spec for `durable`, renamed with the configured suffix.
fn consumer_spec(
    subjects: &oversight_runtime::Subjects,
    durable: &'static str,
    suffix: Option<&str>,
) -> anyhow::Result<ConsumerSpec> {
    let mut spec = subjects
        .consumer(durable)
        .with_context(|| format!("no consumer spec for {durable}"))?;
    if let Some(suffix) = suffix {
        let suffix = parse_consumer_suffix(suffix).map_err(|e| anyhow::anyhow!(e))?;
        spec.durable = format!("{durable}-{suffix}");
    }
    Ok(spec)
}

pub struct App {
    host: Host,
    report_listener: Option<TcpListener>,
    combiner: Arc<Combiner>,
    watch_stop: Shutdown,
    quality_consumer: ConsumerSpec,
    uor_consumer: ConsumerSpec,
}

/// The streams the combiner owns.
fn streams(subjects: &Subjects) -> Vec<oversight_runtime::subjects::StreamSpec> {
    vec![subjects.combined_stream(), subjects.deadletter_stream()]
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let mut host = Host::build(&SPEC, &config.infra, config.grpc_addr).await?;
        let subjects = host.subjects().clone();
        let outbox = Outbox::new(host.pool().clone(), host.bus().clone(), "combiner_events");
        let mut rules = CombinedRuleSet::cqc_combined_2018();
        rules.force_shadow = config.force_shadow;
        rules.max_months_apart = config.max_months_apart;
        let combiner = Arc::new(Combiner::new(
            host.pool().clone(),
            outbox.clone(),
            subjects.clone(),
            rules,
        ));
        // The read view starts from the record; the combined stream keeps it current.
        combiner
            .view()
            .load(&outbox.all_latest().await?)
            .context("failed to load the read view")?;
        let quality_consumer = consumer_spec(
            &subjects,
            consumers::COMBINER_QUALITY,
            config.consumer_suffix.as_deref(),
        )?;
        let uor_consumer = consumer_spec(
            &subjects,
            consumers::COMBINER_UOR,
            config.consumer_suffix.as_deref(),
        )?;
        let report_listener = match config.report_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("failed to bind the report listener on {addr}"))?,
            ),
            None => None,
        };
        let watch_stop = Shutdown::new();
        host.serve_grpc(api::service(api::TrustRatingsApi {
            combiner: combiner.clone(),
            watch_stop: watch_stop.clone(),
        }))?;
        Ok(App {
            host,
            report_listener,
            combiner,
            watch_stop,
            quality_consumer,
            uor_consumer,
        })
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.host.grpc_addr()
    }

    /// Where the HTML report is served, when it is.
    pub fn report_addr(&self) -> Option<SocketAddr> {
        self.report_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn combiner(&self) -> Arc<Combiner> {
        self.combiner.clone()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let combiner = &self.combiner;
        let bus = self.host.bus().clone();
        let auth = self.host.auth().clone();
        let watch_stop = self.watch_stop;
        let mut tasks = self
            .host
            .tasks(&shutdown)
            .outbox(|| combiner.outbox().publish_pending())
            .consume_spec(
                consumers::COMBINER_QUALITY,
                self.quality_consumer,
                |batch| consumer::handle_batch(combiner, Part::Quality, batch),
            )
            .consume_spec(consumers::COMBINER_UOR, self.uor_consumer, |batch| {
                consumer::handle_batch(combiner, Part::Uor, batch)
            })
            .supervise(
                "read-view",
                consumer::follow_combined(combiner.view(), &bus, shutdown.clone()),
            )
            // End the open WatchRatings streams when shutdown starts, or the server would wait
            // for them.
            .background(async {
                shutdown.cancelled().await;
                watch_stop.cancel();
            });
        if let Some(listener) = self.report_listener {
            tasks = tasks.supervise(
                "report",
                report::serve(listener, combiner.clone(), auth, shutdown.clone()),
            );
        }
        self.host.run(shutdown.clone(), tasks).await
    }
}
