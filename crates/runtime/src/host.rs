//! The runtime host: the one shape every service has. A service describes itself (its name, its
//! migrations, the streams it owns, its gRPC services, its consumers, outboxes and other tasks)
//! and the host does the rest the same way for all four:
//!
//! ```text
//! Host::build ── database (+ migrations) ── bus ── owned streams ── gRPC listener
//!             └─ routes: health + reflection + the service's APIs behind the auth interceptor
//! Host::run   ── at start: drain the outboxes (and other start-up work)
//!             └─ together until shutdown: gRPC (+ /metrics), supervised consumers and tasks,
//!                outbox sweeps, readiness watch
//! ```
//!
//! **Health** (`grpc.health.v1`): readiness is the status of `""` and of each gRPC service name;
//! it follows the dependencies (NOT_SERVING while NATS is disconnected or a cheap database ping
//! fails, SERVING again when they are back). Liveness is the status of [`LIVENESS`]: it turns
//! NOT_SERVING only when the process is about to exit because a supervised part (a consumer, the
//! read view, the report server) stopped, so a short outage never restarts the pod.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::service::interceptor::InterceptedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::auth::{AuthInterceptor, Authenticator};
use crate::consumer::{BatchOutcome, ConsumerSettings};
use crate::nats::{Bus, Incoming};
use crate::subjects::{ConsumerSpec, StreamSpec};
use crate::{InfraConfig, Shutdown, Subjects, grpc};

/// The health-service name that answers liveness (Kubernetes `livenessProbe.grpc.service`).
pub const LIVENESS: &str = "liveness";
/// The health-service name that answers readiness (as does `""`, the whole server).
pub const READINESS: &str = "readiness";
/// How long the readiness database ping may take before the database counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// What a service is made of, for [`Host::build`]: a constant of each service.
pub struct ServiceSpec {
    /// The service's name (database file, NATS connection name, metrics label).
    service: &'static str,
    /// Fully-qualified names of the gRPC services it serves (reflection and health list them).
    grpc_services: &'static [&'static str],
    migrations: &'static Migrator,
    /// The streams it owns, declared at start.
    streams: fn(&Subjects) -> Vec<StreamSpec>,
}

impl ServiceSpec {
    pub const fn new(
        service: &'static str,
        grpc_services: &'static [&'static str],
        migrations: &'static Migrator,
        streams: fn(&Subjects) -> Vec<StreamSpec>,
    ) -> ServiceSpec {
        ServiceSpec {
            service,
            grpc_services,
            migrations,
            streams,
        }
    }
}

/// The gRPC health statuses of one service: readiness and liveness.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    readiness: Vec<String>,
}

impl Health {
    fn new(reporter: HealthReporter, services: &[&str]) -> Health {
        let mut readiness = vec![String::new(), READINESS.to_string()];
        readiness.extend(services.iter().map(|s| s.to_string()));
        Health {
            reporter,
            readiness,
        }
    }

    /// Ready (SERVING) or not (NOT_SERVING): `""`, [`READINESS`] and every service name.
    pub async fn set_ready(&self, ready: bool) {
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in &self.readiness {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// The process is about to exit: everything NOT_SERVING, liveness included.
    pub async fn set_dying(&self) {
        self.set_ready(false).await;
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::NotServing)
            .await;
    }

    async fn set_alive(&self) {
        self.reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
    }
}

/// A built, not yet running, service host: connected, migrated, listening.
pub struct Host {
    service: &'static str,
    pool: AnyPool,
    bus: Bus,
    listener: TcpListener,
    serve: grpc::ServeConfig,
    routes: RoutesBuilder,
    grpc_services: Vec<&'static str>,
    health: Health,
    auth: Authenticator,
    sweep_every: Duration,
    check_every: Duration,
}

impl Host {
    /// Check the configuration (authentication first: it fails closed), connect to the database
    /// and apply the migrations, connect to NATS, declare the owned streams, bind the gRPC
    /// listener and add health and reflection.
    pub async fn build(
        spec: &ServiceSpec,
        infra: &InfraConfig,
        grpc_addr: SocketAddr,
    ) -> anyhow::Result<Host> {
        let auth = infra.authenticator()?;
        let serve = grpc::ServeConfig::from_infra(infra)?;
        let pool = infra
            .connect_database(spec.service, spec.migrations)
            .await?;
        let bus = Bus::connect(infra, spec.service).await?;
        for stream in (spec.streams)(bus.subjects()) {
            bus.ensure_stream(&stream).await?;
        }
        let listener = grpc::bind(grpc_addr).await?;
        let (routes, reporter) = grpc::base_routes(spec.grpc_services).await?;
        let health = Health::new(reporter, spec.grpc_services);
        health.set_alive().await;
        health.set_ready(true).await;
        Ok(Host {
            service: spec.service,
            pool,
            bus,
            listener,
            serve,
            routes,
            grpc_services: spec.grpc_services.to_vec(),
            health,
            auth,
            sweep_every: infra.outbox_sweep(),
            check_every: infra.health_check_interval(),
        })
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    pub fn subjects(&self) -> &Subjects {
        self.bus.subjects()
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The authenticator the gRPC APIs use, for a service's other doors (the combiner's JSON API).
    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub fn grpc_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("no local address")
    }

    /// Serve one of the service's gRPC APIs, behind the authentication interceptor (every API
    /// is; there is no way to add one without it). It must be one of `HostSpec::grpc_services`.
    pub fn serve_grpc<S>(&mut self, api: S) -> anyhow::Result<()>
    where
        S: NamedService,
        InterceptedService<S, AuthInterceptor>: tower::Service<http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        <InterceptedService<S, AuthInterceptor> as tower::Service<
            http::Request<tonic::body::Body>,
        >>::Response: axum::response::IntoResponse,
        <InterceptedService<S, AuthInterceptor> as tower::Service<
            http::Request<tonic::body::Body>,
        >>::Future: Send + 'static,
    {
        anyhow::ensure!(
            self.grpc_services.contains(&S::NAME),
            "{} serves {} but does not list it in its grpc_services",
            self.service,
            S::NAME
        );
        self.routes
            .add_service(InterceptedService::new(api, self.auth.interceptor()));
        Ok(())
    }

    /// The tasks of this service, to fill in and hand to [`Host::run`].
    pub fn tasks<'a>(&self, shutdown: &Shutdown) -> Tasks<'a> {
        Tasks {
            bus: self.bus.clone(),
            shutdown: shutdown.clone(),
            sweep_every: self.sweep_every,
            at_start: Vec::new(),
            supervised: Vec::new(),
            background: Vec::new(),
        }
    }

    /// Run until `shutdown`: the start-up work first (failures there are logged, not fatal: the
    /// sweeps retry), then gRPC, the supervised parts, the background tasks and the readiness
    /// watch together. When a supervised part fails, health turns NOT_SERVING (liveness too),
    /// everything stops and the error is returned, so `main` exits non-zero.
    pub async fn run(self, shutdown: Shutdown, tasks: Tasks<'_>) -> anyhow::Result<()> {
        let Tasks {
            at_start,
            supervised,
            background,
            ..
        } = tasks;
        for (what, work) in at_start {
            if let Err(e) = work.await {
                tracing::warn!(error = %format!("{e:#}"), "{what} not done at start");
            }
        }
        let health = self.health.clone();
        let supervised = futures::future::join_all(
            supervised
                .into_iter()
                .map(|(part, fut)| supervise(part, fut, &health, &shutdown)),
        );
        let background = futures::future::join_all(background);
        let readiness = watch_readiness(
            &self.bus,
            &self.pool,
            &health,
            self.check_every,
            shutdown.clone(),
        );
        let server = supervise(
            "grpc",
            Box::pin(grpc::serve_configured(
                self.listener,
                self.routes.routes(),
                self.serve,
                shutdown.clone(),
            )),
            &health,
            &shutdown,
        );
        let (parts, _, (), served) = tokio::join!(supervised, background, readiness, server);
        shutdown.cancel();
        parts
            .into_iter()
            .collect::<anyhow::Result<()>>()
            .and(served)
    }
}

/// A supervised part: when it fails, health turns NOT_SERVING before the service stops.
async fn supervise(
    part: &str,
    fut: BoxFuture<'_, anyhow::Result<()>>,
    health: &Health,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let result = fut.await;
    if let Err(e) = &result {
        tracing::error!(part, error = %format!("{e:#}"), "service part failed; shutting down");
        health.set_dying().await;
        shutdown.cancel();
    }
    result
}

/// Keep readiness in step with NATS and the database until shutdown; NOT_SERVING from then on.
async fn watch_readiness(
    bus: &Bus,
    pool: &AnyPool,
    health: &Health,
    every: Duration,
    shutdown: Shutdown,
) {
    let mut ready = true;
    crate::metrics::ready(bus.service(), true);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        let nats_up = bus.client().connection_state() == async_nats::connection::State::Connected;
        let db_up = matches!(
            tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(pool)).await,
            Ok(Ok(_))
        );
        let now_ready = nats_up && db_up;
        crate::metrics::ready(bus.service(), now_ready && !shutdown.is_cancelled());
        if now_ready != ready && !shutdown.is_cancelled() {
            if now_ready {
                tracing::info!("dependencies are back; ready");
            } else {
                tracing::warn!(nats_up, db_up, "a dependency is down; not ready");
            }
            health.set_ready(now_ready).await;
            ready = now_ready;
        }
    }
    health.set_ready(false).await;
    crate::metrics::ready(bus.service(), false);
}

/// What a service runs besides gRPC (see [`Host::run`]). Borrows the service's state for `'a`.
pub struct Tasks<'a> {
    bus: Bus,
    shutdown: Shutdown,
    sweep_every: Duration,
    at_start: Vec<(&'static str, BoxFuture<'a, anyhow::Result<()>>)>,
    supervised: Vec<(&'static str, BoxFuture<'a, anyhow::Result<()>>)>,
    background: Vec<BoxFuture<'a, ()>>,
}

impl<'a> Tasks<'a> {
    /// Consume the durable consumer `durable` with the bus's settings (supervised).
    pub fn consume<H, Fut>(self, durable: &'static str, handler: H) -> Self
    where
        H: Fn(Vec<Incoming>) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = BatchOutcome> + Send + 'a,
    {
        let settings = self.bus.consumer_settings();
        self.consume_with(durable, settings, handler)
    }

    /// [`Tasks::consume`] with settings of its own (e.g. one large message at a time).
    pub fn consume_with<H, Fut>(
        self,
        durable: &'static str,
        settings: ConsumerSettings,
        handler: H,
    ) -> Self
    where
        H: Fn(Vec<Incoming>) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = BatchOutcome> + Send + 'a,
    {
        let bus = self.bus.clone();
        let shutdown = self.shutdown.clone();
        self.supervise(durable, async move {
            bus.consume_with(durable, settings, handler, shutdown).await
        })
    }

    /// Consume `spec` (a consumer renamed at run time) with the bus's settings (supervised).
    pub fn consume_spec<H, Fut>(self, part: &'static str, spec: ConsumerSpec, handler: H) -> Self
    where
        H: Fn(Vec<Incoming>) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = BatchOutcome> + Send + 'a,
    {
        let bus = self.bus.clone();
        let shutdown = self.shutdown.clone();
        self.supervise(part, async move {
            crate::nats::run_consumer(bus, spec, handler, shutdown).await
        })
    }

    /// An outbox: `publish` drains it once at start, then the sweep calls it every
    /// `OUTBOX_SWEEP_SECS` until shutdown.
    pub fn outbox<F, Fut>(mut self, publish: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = anyhow::Result<u64>> + Send + 'a,
    {
        let first = publish();
        self.at_start.push((
            "outbox drain",
            Box::pin(async move { first.await.map(|_| ()) }),
        ));
        let every = self.sweep_every;
        let shutdown = self.shutdown.clone();
        self.background
            .push(Box::pin(crate::outbox::sweep(every, shutdown, publish)));
        self
    }

    /// Work done once at start, before anything else runs (logged when it fails).
    pub fn at_start(
        mut self,
        what: &'static str,
        work: impl Future<Output = anyhow::Result<()>> + Send + 'a,
    ) -> Self {
        self.at_start.push((what, Box::pin(work)));
        self
    }

    /// A part the service cannot run without: when it fails, the service stops (see
    /// [`Host::run`]). It should return only at shutdown.
    pub fn supervise(
        mut self,
        part: &'static str,
        fut: impl Future<Output = anyhow::Result<()>> + Send + 'a,
    ) -> Self {
        self.supervised.push((part, Box::pin(fut)));
        self
    }

    /// A task that runs until shutdown and cannot fail.
    pub fn background(mut self, fut: impl Future<Output = ()> + Send + 'a) -> Self {
        self.background.push(Box::pin(fut));
        self
    }

    /// The shutdown token the tasks watch.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }
}
