//! The four services as OS processes (the workspace's own debug binaries, next to the test
//! executable) on one nats-server of the test's own, for tests that kill, abort or starve them:
//! start, restart with other settings, wait for an exit, read logs and `/metrics`, and take a
//! service's database away ([`DbOutage`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use oversight_runtime::InfraConfig;
use oversight_runtime::nats::Bus;
use oversight_testkit::{NatsServer, TestEnv};
use tokio::process::{Child, Command};

/// The service binaries, in pipeline order.
pub const BINARIES: [&str; 4] = ["ingestion", "cqc-quality", "nhsi-resources", "combiner"];
/// How long a service may take to start.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// The directory of the service binaries: the test executable is `target/<profile>/deps/…`.
pub fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps")
        .to_path_buf();
    for name in BINARIES {
        assert!(
            dir.join(name).is_file(),
            "service binary {} not found: run `cargo build -p {name}` (cargo test --workspace builds them)",
            dir.join(name).display()
        );
    }
    dir
}

/// A port nothing listens on now (bound and released), for `METRICS_ADDR`, which does not report
/// the port it bound.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One service process, restartable.
pub struct Service {
    pub name: &'static str,
    bin: PathBuf,
    env: Vec<(String, String)>,
    pub log: PathBuf,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    /// `METRICS_ADDR`, when the service serves `/metrics` ([`Processes::serve_metrics`]).
    pub metrics: Option<SocketAddr>,
    /// Where the current (or last) process's output starts in the log.
    log_start: u64,
    pub starts: u32,
}

impl Service {
    /// Start the process with `extra` environment on top of the service's own, without waiting.
    pub fn spawn(&mut self, extra: &[(&str, &str)]) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("service log");
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .env("GRPC_ADDR", "127.0.0.1:0")
            .env("REPORT_ADDR", "127.0.0.1:0")
            .envs(self.metrics.map(|a| ("METRICS_ADDR", a.to_string())))
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .kill_on_drop(true);
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", self.name)),
        );
        self.addr = None;
        self.starts += 1;
    }

    /// Start the process and wait for its `"<name> listening" addr=…` line.
    pub async fn start(&mut self, extra: &[(&str, &str)]) {
        self.spawn(extra);
        let marker = format!("{} listening", self.name);
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        let addr = loop {
            tick.tick().await;
            if let Some(addr) = self
                .current_log()
                .lines()
                .filter(|l| l.contains(&marker))
                .find_map(|l| l.split("addr=").nth(1))
                .and_then(|a| a.split_whitespace().next())
                .and_then(|a| a.parse::<SocketAddr>().ok())
            {
                break addr;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{} exited during start ({status}):\n{}",
                    self.name,
                    self.current_log()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not report its address in time:\n{}",
                self.name,
                self.current_log()
            );
        };
        self.addr = Some(addr);
    }

    /// Wait for the running process to exit on its own (within `within`) and return how.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("a process to wait for");
        let status = tokio::time::timeout(within, child.wait()).await;
        self.addr = None;
        match status {
            Ok(status) => status.expect("wait for the process"),
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                panic!(
                    "{} did not exit within {within:?}:\n{}",
                    self.name,
                    self.current_log()
                )
            }
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.addr = None;
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("service running")
    }

    /// The whole log, every start.
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The current (or last) process's output.
    pub fn current_log(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&text[(self.log_start as usize).min(text.len())..]).into_owned()
    }

    /// `/metrics` of the running process.
    pub async fn metrics_text(&self) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.metrics.context("the service serves no /metrics")?;
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await?;
        Ok(body)
    }

    /// The value of one sample of `/metrics`: the line starting with `series` (name and labels
    /// as rendered), summed over lines that extend it with more labels.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = self.metrics_text().await.ok()?;
        let mut found = None;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else {
                continue;
            };
            let Some((series_labels, value)) = rest.rsplit_once(' ') else {
                continue;
            };
            if !series_labels.is_empty() && !series_labels.starts_with('{') {
                continue;
            }
            if labels
                .iter()
                .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
            {
                let v: f64 = value.trim().parse().ok()?;
                *found.get_or_insert(0.0) += v;
            }
        }
        found
    }
}

/// A nats-server of the test's own and the four service processes.
pub struct Processes {
    pub nats: NatsServer,
    pub namespace: String,
    // Owns the databases (SQLite files in its dir, or Postgres databases dropped with it).
    pub env: TestEnv,
    pub services: Vec<Service>,
}

impl Processes {
    /// Set up the four services (each with `common` environment on top of its own) without
    /// starting them.
    pub async fn new(common: &[(&str, &str)]) -> anyhow::Result<Processes> {
        let bin_dir = binary_dir();
        let env = TestEnv::start().await?;
        let store = env.dir().join("processes-jetstream");
        std::fs::create_dir_all(&store)?;
        let nats = NatsServer::start(&store, 0).await?;
        let namespace = format!("{}p", env.namespace);
        let mut services = Vec::new();
        for name in BINARIES {
            let data_dir = env.dir().join(format!("{name}-data"));
            std::fs::create_dir_all(&data_dir)?;
            let mut vars = vec![
                ("NATS_URL".to_string(), nats.url.clone()),
                ("OVERSIGHT_NAMESPACE".to_string(), namespace.clone()),
                ("DATABASE_URL".to_string(), env.database_url(name).await?),
                ("DATA_DIR".to_string(), data_dir.display().to_string()),
                // These tests exercise the pipeline, not authentication.
                ("AUTH_INSECURE_NO_AUTH".to_string(), "true".to_string()),
            ];
            vars.extend(common.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            services.push(Service {
                name,
                bin: bin_dir.join(name),
                env: vars,
                log: env.dir().join(format!("{name}.log")),
                child: None,
                addr: None,
                metrics: None,
                log_start: 0,
                starts: 0,
            });
        }
        Ok(Processes {
            nats,
            namespace,
            env,
            services,
        })
    }

    /// Have every service serve `/metrics` (from its next start) on a port free now.
    pub fn serve_metrics(&mut self) {
        for s in &mut self.services {
            s.metrics = Some(SocketAddr::from(([127, 0, 0, 1], free_port())));
        }
    }

    /// Start every service that is not running.
    pub async fn start_all(&mut self) {
        for s in &mut self.services {
            if s.child.is_none() {
                s.start(&[]).await;
            }
        }
    }

    pub fn service(&mut self, name: &str) -> &mut Service {
        self.services
            .iter_mut()
            .find(|s| s.name == name)
            .expect("known service")
    }

    pub fn database_url(&self, name: &str) -> String {
        self.services
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.env.iter().find(|(k, _)| k == "DATABASE_URL"))
            .map(|(_, v)| v.clone())
            .expect("database url")
    }

    pub async fn bus(&self) -> anyhow::Result<Bus> {
        let cfg = InfraConfig::new(self.nats.url.clone(), self.namespace.clone(), "unused");
        Bus::connect(&cfg, "processes-test").await
    }

    pub fn ingestion(&self) -> SocketAddr {
        self.services[0].addr()
    }

    pub fn combiner(&self) -> SocketAddr {
        self.services[3].addr()
    }

    /// The last lines of every service's log, for a failing assertion's message.
    pub fn logs_tail(&self) -> String {
        self.services
            .iter()
            .map(|s| {
                let text = s.log_text();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                format!("--- {} ({})\n{tail}\n", s.name, s.log.display())
            })
            .collect()
    }

    pub async fn stop(mut self) {
        for s in &mut self.services {
            s.kill9().await;
        }
        self.nats.kill().await.ok();
        drop(self.env);
    }
}

/// A service's database refusing work until [`DbOutage::end`].
pub enum DbOutage {
    /// A write transaction held on the SQLite file: the service's writes wait out their busy
    /// timeout (`SQLITE_BUSY_TIMEOUT_MS`), then fail. Reads still work (WAL): SQLite is a file
    /// the service holds open, it cannot go away as a server can.
    Sqlite(sqlx::SqliteConnection),
    /// Connections to the service's Postgres database refused and the open ones terminated.
    Postgres { admin: String, name: String },
}

impl DbOutage {
    pub async fn begin(url: &str) -> anyhow::Result<DbOutage> {
        use sqlx::Connection;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await?;
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await?;
            Ok(DbOutage::Sqlite(conn))
        } else {
            let admin = std::env::var("TEST_DATABASE_URL").context("postgres admin url")?;
            let name = url
                .rsplit('/')
                .next()
                .and_then(|n| n.split('?').next())
                .context("database name")?
                .to_string();
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            // Asserted SQL safe: the name is one the test harness made (`TestEnv::database_url`).
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )))
            .execute(&mut conn)
            .await?;
            Ok(DbOutage::Postgres { admin, name })
        }
    }

    /// Whether the outage is one a readiness probe can see (a database server gone; a SQLite
    /// file's lock is not).
    pub fn server_gone(&self) -> bool {
        matches!(self, DbOutage::Postgres { .. })
    }

    pub async fn end(self) -> anyhow::Result<()> {
        use sqlx::Connection;
        match self {
            DbOutage::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await?;
                conn.close().await?;
            }
            DbOutage::Postgres { admin, name } => {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                // Asserted SQL safe: the name is one the test harness made.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true"
                )))
                .execute(&mut conn)
                .await?;
            }
        }
        Ok(())
    }
}
