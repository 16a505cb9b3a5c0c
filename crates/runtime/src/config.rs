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

/// Infrastructure settings shared by all four services.
#[derive(clap::Args, Debug, Clone)]
pub struct InfraConfig {
    /// NATS server URL (JetStream must be enabled).
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
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
