//! Configuration every service shares: where NATS and the database are, the subject namespace and
//! the data directory. Each service flattens this into its own clap `Config`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// Default ms between readiness checks of NATS and the database.
pub const DEFAULT_HEALTH_CHECK_MS: u64 = 1_000;

/// Replicas of the streams and consumers a service declares, unless configured.
pub const DEFAULT_JETSTREAM_REPLICAS: usize = 1;
/// JetStream's limit on the replicas of a stream or consumer.
pub const MAX_JETSTREAM_REPLICAS: usize = 5;

/// A configuration value that cannot be used, named by its setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("JETSTREAM_REPLICAS must be between 1 and {MAX_JETSTREAM_REPLICAS}, not {0:?}")]
    Replicas(String),
    #[error("NATS_URL {url:?}: server {index} {reason}")]
    NatsServer {
        url: String,
        index: usize,
        reason: String,
    },
}

/// Parse `JETSTREAM_REPLICAS`: a whole number from 1 to [`MAX_JETSTREAM_REPLICAS`].
pub fn parse_replicas(text: &str) -> Result<usize, ConfigError> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JETSTREAM_REPLICAS).contains(&n) => Ok(n),
        _ => Err(ConfigError::Replicas(text.to_string())),
    }
}

/// The servers of a `NATS_URL`: one URL, or several separated by commas (blanks around each
/// ignored). An empty entry or one that is no server address is an error naming its position.
pub fn parse_nats_servers(url: &str) -> Result<Vec<async_nats::ServerAddr>, ConfigError> {
    url.split(',')
        .enumerate()
        .map(|(i, part)| {
            let bad = |reason: String| ConfigError::NatsServer {
                url: url.to_string(),
                index: i + 1,
                reason,
            };
            let part = part.trim();
            if part.is_empty() {
                return Err(bad("is empty".to_string()));
            }
            part.parse::<async_nats::ServerAddr>()
                .map_err(|e| bad(format!("{part:?} is not a server address: {e}")))
        })
        .collect()
}

/// Infrastructure settings shared by all four services.
#[derive(clap::Args, Debug, Clone)]
pub struct InfraConfig {
    /// NATS server URL, or several comma-separated (the seeds of a cluster: the client connects
    /// to one and fails over to the others and to the servers the cluster advertises). JetStream
    /// must be enabled.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Try the `NATS_URL` servers in the order given (first one first, at start and on every
    /// reconnect) instead of in random order. Random spreads a deployment's connections over the
    /// cluster; ordered pins them to a preferred server (the nearest one, or a test's).
    #[arg(long, env = "NATS_RETAIN_SERVERS_ORDER", default_value_t = false)]
    pub nats_retain_servers_order: bool,
    /// Replicas of every stream and durable consumer this service declares (1 to 5; a cluster
    /// of three or more servers runs 3). Only the declaration uses it: a stream that already
    /// exists keeps its replicas (`deploy/jetstream/apply.sh` edits them).
    #[arg(long, env = "JETSTREAM_REPLICAS", default_value_t = DEFAULT_JETSTREAM_REPLICAS,
        value_parser = parse_replicas)]
    pub jetstream_replicas: usize,
    /// NATS user name, when the server requires authentication.
    #[arg(long, env = "NATS_USER")]
    pub nats_user: Option<String>,
    /// NATS password for `NATS_USER`.
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<Secret>,
    /// Subject and stream namespace, so several deployments can share one NATS server.
    #[arg(long, env = "OVERSIGHT_NAMESPACE", default_value = "oversight")]
    pub namespace: String,
    /// Database URL: `postgres://…` or `sqlite://…`. Default: a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Directory for the embedded SQLite database and other local state.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address for the Prometheus `/metrics` endpoint (unset: no metrics server).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// PEM certificate chain for serving gRPC over TLS (with `GRPC_TLS_KEY`). Unset: plaintext.
    #[arg(long, env = "GRPC_TLS_CERT")]
    pub grpc_tls_cert: Option<PathBuf>,
    /// PEM private key for `GRPC_TLS_CERT`.
    #[arg(long, env = "GRPC_TLS_KEY")]
    pub grpc_tls_key: Option<PathBuf>,
    /// PEM CA certificate(s): when set, every gRPC client must present a certificate signed by one
    /// of them (mutual TLS). Bearer tokens still name the caller and its role.
    #[arg(long, env = "GRPC_TLS_CLIENT_CA")]
    pub grpc_tls_client_ca: Option<PathBuf>,
    /// File of gRPC bearer tokens (`role caller token` per line). Required unless
    /// `--insecure-no-auth` is given: authentication fails closed.
    #[arg(long, env = "AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,
    /// Serve gRPC without authentication (development only; every caller may do everything).
    /// Without it, a service with no `AUTH_TOKENS_FILE` refuses to start.
    #[arg(
        long = "insecure-no-auth",
        env = "AUTH_INSECURE_NO_AUTH",
        default_value_t = false
    )]
    pub insecure_no_auth: bool,
    /// How often readiness checks NATS and the database, in ms.
    #[arg(long, env = "HEALTH_CHECK_INTERVAL_MS", default_value_t = DEFAULT_HEALTH_CHECK_MS)]
    pub health_check_interval_ms: u64,
    /// Most messages a consumer handles in one batch (one database transaction).
    #[arg(long, env = "CONSUMER_BATCH_MAX", default_value_t = crate::consumer::DEFAULT_BATCH_MAX)]
    pub consumer_batch_max: usize,
    /// How long a consumer waits for more messages to fill a batch once one has arrived, in ms
    /// (0: take only what is already there).
    #[arg(long, env = "CONSUMER_BATCH_WAIT_MS", default_value_t = crate::consumer::DEFAULT_BATCH_WAIT_MS)]
    pub consumer_batch_wait_ms: u64,
    /// Batches a consumer handles at once; a trust's messages always go to the same lane, in order.
    #[arg(long, env = "CONSUMER_LANES", default_value_t = crate::consumer::DEFAULT_LANES)]
    pub consumer_lanes: usize,
    /// MiB of message bodies a consumer holds at once (pulled, queued and in handling).
    #[arg(long, env = "CONSUMER_MAX_INFLIGHT_MIB", default_value_t = crate::consumer::DEFAULT_MAX_INFLIGHT_MIB)]
    pub consumer_max_inflight_mib: usize,
    /// Longest wait between retries of a batch whose dependency (database, NATS) is down, in ms.
    /// Transient failures are retried until the dependency returns; they are never dead-lettered.
    #[arg(long, env = "RETRY_MAX_BACKOFF_MS", default_value_t = crate::consumer::DEFAULT_RETRY_MAX_MS)]
    pub retry_max_backoff_ms: u64,
    /// SQLite durability: `normal` (an acked message survives a process crash) or `full` (it
    /// survives power loss too; one fsync per batch). Ignored for Postgres.
    #[arg(long, env = "SQLITE_SYNCHRONOUS", value_enum, default_value_t = crate::db::SqliteSync::Normal)]
    pub sqlite_synchronous: crate::db::SqliteSync,
    /// How long a SQLite statement waits for a lock held by another connection before it fails
    /// (and its batch is retried), in ms. Ignored for Postgres.
    #[arg(long, env = "SQLITE_BUSY_TIMEOUT_MS", default_value_t = crate::db::DEFAULT_SQLITE_BUSY_TIMEOUT_MS)]
    pub sqlite_busy_timeout_ms: u64,
    /// Seconds between sweeps that publish anything left unpublished in the outbox.
    #[arg(long, env = "OUTBOX_SWEEP_SECS", default_value_t = crate::outbox::DEFAULT_SWEEP_SECS)]
    pub outbox_sweep_secs: u64,
}

impl InfraConfig {
    /// A config for tests and embedding: explicit values, no environment.
    pub fn new(
        nats_url: impl Into<String>,
        namespace: impl Into<String>,
        database_url: impl Into<String>,
    ) -> Self {
        InfraConfig {
            nats_url: nats_url.into(),
            nats_retain_servers_order: false,
            jetstream_replicas: DEFAULT_JETSTREAM_REPLICAS,
            nats_user: None,
            nats_password: None,
            namespace: namespace.into(),
            database_url: Some(Secret::new(database_url)),
            data_dir: PathBuf::from("."),
            auth_tokens_file: None,
            insecure_no_auth: false,
            health_check_interval_ms: DEFAULT_HEALTH_CHECK_MS,
            metrics_addr: None,
            grpc_tls_cert: None,
            grpc_tls_key: None,
            grpc_tls_client_ca: None,
            consumer_batch_max: crate::consumer::DEFAULT_BATCH_MAX,
            consumer_batch_wait_ms: crate::consumer::DEFAULT_BATCH_WAIT_MS,
            consumer_lanes: crate::consumer::DEFAULT_LANES,
            consumer_max_inflight_mib: crate::consumer::DEFAULT_MAX_INFLIGHT_MIB,
            retry_max_backoff_ms: crate::consumer::DEFAULT_RETRY_MAX_MS,
            outbox_sweep_secs: crate::outbox::DEFAULT_SWEEP_SECS,
            sqlite_synchronous: crate::db::SqliteSync::Normal,
            sqlite_busy_timeout_ms: crate::db::DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
        }
    }

    /// Connect to this service's database and apply its migrations.
    pub async fn connect_database(
        &self,
        service: &str,
        migrations: &sqlx::migrate::Migrator,
    ) -> anyhow::Result<sqlx::AnyPool> {
        crate::db::connect_with(
            &self.database_url_for(service),
            migrations,
            self.sqlite_synchronous,
            std::time::Duration::from_millis(self.sqlite_busy_timeout_ms),
        )
        .await
    }

    /// How this service's consumers batch, run lanes and retry.
    pub fn consumer_settings(&self) -> crate::consumer::ConsumerSettings {
        crate::consumer::ConsumerSettings {
            batch_max: self.consumer_batch_max.max(1),
            batch_wait: std::time::Duration::from_millis(self.consumer_batch_wait_ms),
            lanes: self.consumer_lanes.max(1),
            retry_max: std::time::Duration::from_millis(self.retry_max_backoff_ms.max(1)),
            max_inflight_bytes: self.consumer_max_inflight_mib.max(1) << 20,
        }
    }

    /// The NATS servers to connect to, from `nats_url`.
    pub fn nats_servers(&self) -> Result<Vec<async_nats::ServerAddr>, ConfigError> {
        parse_nats_servers(&self.nats_url)
    }

    /// Replicas for every stream and durable consumer the service declares, checked (a config
    /// built in code bypasses the flag's parser).
    pub fn replicas(&self) -> Result<usize, ConfigError> {
        parse_replicas(&self.jetstream_replicas.to_string())
    }

    /// How often the outbox sweep runs.
    pub fn outbox_sweep(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.outbox_sweep_secs.max(1))
    }

    /// The database URL to use for `service`: the configured one or `sqlite://<data_dir>/<service>.db`.
    pub fn database_url_for(&self, service: &str) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}/{service}.db?mode=rwc", self.data_dir.display()),
        }
    }

    /// The gRPC authenticator from `auth_tokens_file`; an error when there is none and
    /// `insecure_no_auth` was not given (authentication fails closed).
    pub fn authenticator(&self) -> anyhow::Result<crate::auth::Authenticator> {
        crate::auth::Authenticator::load(self.auth_tokens_file.as_deref(), self.insecure_no_auth)
    }

    /// How often readiness checks the dependencies.
    pub fn health_check_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.health_check_interval_ms.max(10))
    }

    pub fn subjects(&self) -> crate::Subjects {
        crate::Subjects::new(self.namespace.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let mut c = InfraConfig::new("nats://x", "ns", "postgres://u:hunter2@h/db");
        c.nats_password = Some(Secret::new("s3cret"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn nats_url_takes_one_server_or_a_comma_separated_list() {
        let one = parse_nats_servers("nats://127.0.0.1:4222").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].host(), "127.0.0.1");
        assert_eq!(one[0].port(), 4222);
        let three = parse_nats_servers("nats://a:4222, nats://b:4223 ,nats://c:4224").unwrap();
        let hosts: Vec<(&str, u16)> = three.iter().map(|s| (s.host(), s.port())).collect();
        assert_eq!(hosts, [("a", 4222), ("b", 4223), ("c", 4224)]);
        // The default still parses.
        let c = InfraConfig::new("nats://127.0.0.1:4222", "ns", "unused");
        assert_eq!(c.nats_servers().unwrap().len(), 1);
    }

    #[test]
    fn a_bad_server_in_nats_url_is_named_by_position() {
        let err = parse_nats_servers("nats://a:4222,,nats://c:4222").unwrap_err();
        assert!(
            matches!(&err, ConfigError::NatsServer { index: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("server 2 is empty"), "{err}");
        let err = parse_nats_servers("nats://a:4222,nats://b:notaport").unwrap_err();
        assert!(
            matches!(&err, ConfigError::NatsServer { index: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn replicas_are_one_to_five() {
        assert_eq!(parse_replicas("1"), Ok(1));
        assert_eq!(parse_replicas("3"), Ok(3));
        assert_eq!(parse_replicas("5"), Ok(5));
        for bad in ["0", "6", "-1", "three", ""] {
            let err = parse_replicas(bad).unwrap_err();
            assert_eq!(err, ConfigError::Replicas(bad.to_string()));
            assert!(err.to_string().contains("between 1 and 5"), "{err}");
        }
        let mut c = InfraConfig::new("nats://x", "ns", "unused");
        assert_eq!(c.replicas(), Ok(DEFAULT_JETSTREAM_REPLICAS));
        c.jetstream_replicas = 7;
        assert_eq!(c.replicas(), Err(ConfigError::Replicas("7".into())));
    }

    #[test]
    fn the_replicas_flag_defaults_to_one_and_refuses_out_of_range() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            infra: InfraConfig,
        }
        let cli = Cli::try_parse_from(["x", "--jetstream-replicas", "3"]).unwrap();
        assert_eq!(cli.infra.jetstream_replicas, 3);
        assert_eq!(
            Cli::try_parse_from(["x"]).unwrap().infra.jetstream_replicas,
            1
        );
        let err = Cli::try_parse_from(["x", "--jetstream-replicas", "9"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("between 1 and 5"), "{err}");
    }

    #[test]
    fn default_database_is_sqlite_in_data_dir() {
        let mut c = InfraConfig::new("nats://x", "ns", "unused");
        c.database_url = None;
        c.data_dir = PathBuf::from("/var/lib/oversight");
        assert_eq!(
            c.database_url_for("combiner"),
            "sqlite:///var/lib/oversight/combiner.db?mode=rwc"
        );
    }
}
