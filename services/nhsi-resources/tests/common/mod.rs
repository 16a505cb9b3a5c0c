//! Shared helpers for nhsi-resources' tests: the App on port 0 over a private NATS server and a
//! fresh database (SQLite, or Postgres when TEST_DATABASE_URL is set), evidence builders and
//! authenticated requests.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use nhsi_resources::{App, Config, SERVICE};
use oversight_proto::common::v1 as common;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use oversight_runtime::Shutdown;
use oversight_runtime::nats::Bus;
use oversight_testkit::TestEnv;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub const NHSI_TOKEN: &str = "nhsi-token-0123456789";
pub const CQC_TOKEN: &str = "cqc-token-0123456789abc";
pub const READER_TOKEN: &str = "reader-token-0123456789";
/// An operator whose caller name is `anonymous`: the name must not bypass role checks.
pub const ANONYMOUS_OPERATOR_TOKEN: &str = "anonymous-operator-token-0123";

pub struct Service {
    pub env: TestEnv,
    pub addr: SocketAddr,
    pub bus: Bus,
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// The App with authentication on (tokens for an NHSI, a CQC and a reader caller) or off.
    pub async fn start(auth: bool) -> Service {
        let env = TestEnv::start().await.unwrap();
        let mut infra = env.infra(SERVICE).await.unwrap();
        if auth {
            let path = env.dir().join("tokens");
            std::fs::write(
                &path,
                format!(
                    "# role caller token\nnhsi nhsi-uor-team {NHSI_TOKEN}\ncqc cqc-inspections {CQC_TOKEN}\nreader dashboard {READER_TOKEN}\noperator anonymous {ANONYMOUS_OPERATOR_TOKEN}\n"
                ),
            )
            .unwrap();
            infra.auth_tokens_file = Some(path);
        }
        let bus = env.nats_client().await.unwrap();
        // Ingestion and cqc-quality own these streams; declare them as they would.
        for stream in [
            bus.subjects().evidence_stream(),
            bus.subjects().quality_stream(),
        ] {
            bus.ensure_stream(&stream).await.unwrap();
        }
        let app = App::build(Config {
            infra,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        })
        .await
        .unwrap();
        let addr = app.grpc_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Service {
            env,
            addr,
            bus,
            shutdown,
            task,
        }
    }

    pub async fn client(&self) -> ResourcesServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        ResourcesServiceClient::new(channel)
    }

    /// Publish resource evidence as ingestion would.
    pub async fn publish(&self, evidence: &ev::ResourceEvidence) {
        let id = evidence.provenance.as_ref().unwrap().evidence_id.clone();
        self.bus
            .publish(self.bus.subjects().evidence_resources(), &id, evidence)
            .await
            .unwrap();
    }

    /// Publish the same evidence again under a new message id (a redelivery past the duplicate
    /// window, or a replay): the service must not record it twice.
    pub async fn publish_again(&self, evidence: &ev::ResourceEvidence) {
        let id = evidence.provenance.as_ref().unwrap().evidence_id.clone();
        self.bus
            .publish(
                self.bus.subjects().evidence_resources(),
                &format!("{id}-again"),
                evidence,
            )
            .await
            .unwrap();
    }

    pub async fn stop(self) -> TestEnv {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.env
    }
}

/// A request carrying `authorization: Bearer <token>` (none for `""`).
pub fn req<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if !token.is_empty() {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    r
}

/// One MetricObservation as ingestion publishes it.
pub fn observation(
    trust: &str,
    feed: &str,
    period: &str,
    ward: &str,
    values: &[(&str, &str)],
) -> ev::ResourceEvidence {
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ev::ResourceEvidence {
        provenance: Some(ev::Provenance {
            evidence_id: format!("{trust}-{feed}-{period}-{ward}-{}", values.len()),
            source: format!("nhsi-{feed}"),
            batch_id: "test".into(),
            file_name: format!("{feed}.csv"),
            record_number: 1,
        }),
        trust_code: trust.into(),
        trust_type: common::TrustType::Acute as i32,
        body: Some(ev::resource_evidence::Body::Metric(ev::MetricObservation {
            feed: feed.into(),
            period: period.into(),
            ward_code: ward.into(),
            values,
        })),
    }
}

/// A finance row: capital service capacity, liquidity, I&E margin, distance from plan, agency.
pub fn finance(trust: &str, period: &str, v: [&str; 5]) -> ev::ResourceEvidence {
    observation(
        trust,
        "finance",
        period,
        "",
        &[
            ("capital_service_capacity", v[0]),
            ("liquidity_days", v[1]),
            ("income_expenditure_margin_pct", v[2]),
            ("distance_from_plan_pct", v[3]),
            ("agency_spend_vs_ceiling_pct", v[4]),
        ],
    )
}

/// A ward staffing row: patients at midnight, then RN, RM, AHP and HCSW hours.
pub fn ward_day(trust: &str, ward: &str, date: &str, v: [&str; 5]) -> ev::ResourceEvidence {
    observation(
        trust,
        "ward_staffing",
        date,
        ward,
        &[
            ("patients_at_midnight", v[0]),
            ("registered_nurse_hours", v[1]),
            ("registered_midwife_hours", v[2]),
            ("allied_health_professional_hours", v[3]),
            ("healthcare_support_worker_hours", v[4]),
        ],
    )
}
