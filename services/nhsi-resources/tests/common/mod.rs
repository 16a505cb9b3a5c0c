//! Shared helpers for nhsi-resources' tests: the App on port 0 over a private NATS server and a
//! fresh database (SQLite, or Postgres when TEST_DATABASE_URL is set), evidence builders and
//! authenticated requests.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use nhsi_resources::{App, Config, SERVICE};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::evidence::v1::metric_observation::Feed;
use oversight_proto::google_type::Date;
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

/// A date from its ISO 8601 spelling (`2018-03-31`).
pub fn d(s: &str) -> Date {
    convert::date(s.parse().unwrap())
}

/// A month (day 0) from its spelling `2018-04`.
pub fn m(s: &str) -> Date {
    let (year, month) = s.split_once('-').unwrap();
    convert::month(year.parse().unwrap(), month.parse().unwrap())
}

/// One MetricObservation as ingestion publishes it; `id` makes its evidence id unique.
pub fn observation(trust: &str, id: &str, feed: Feed) -> ev::ResourceEvidence {
    let name = match &feed {
        Feed::Finance(_) => "finance",
        Feed::WardStaffing(_) => "ward_staffing",
        Feed::Productivity(_) => "productivity",
        Feed::Operational(_) => "operational",
    };
    ev::ResourceEvidence {
        provenance: Some(ev::Provenance {
            evidence_id: format!("{trust}-{name}-{id}"),
            source: format!("nhsi-{name}"),
            batch_id: "test".into(),
            file_name: format!("{name}.csv"),
            record_number: 1,
        }),
        trust_code: trust.into(),
        trust_type: common::TrustType::Acute as i32,
        body: Some(ev::resource_evidence::Body::Metric(ev::MetricObservation {
            feed: Some(feed),
        })),
    }
}

/// A finance row: capital service capacity, liquidity, I&E margin, distance from plan, agency.
pub fn finance(trust: &str, period: &str, v: [&str; 5]) -> ev::ResourceEvidence {
    observation(
        trust,
        &format!("{period}-{}", v.join("/")),
        Feed::Finance(ev::FinanceObservation {
            period_end: Some(d(period)),
            capital_service_capacity: v[0].into(),
            liquidity_days: v[1].into(),
            income_expenditure_margin_pct: v[2].into(),
            distance_from_plan_pct: v[3].into(),
            agency_spend_vs_ceiling_pct: v[4].into(),
        }),
    )
}

/// A ward staffing row: patients at midnight, then RN, RM, AHP and HCSW hours.
pub fn ward_day(trust: &str, ward: &str, date: &str, v: [&str; 5]) -> ev::ResourceEvidence {
    observation(
        trust,
        &format!("{ward}-{date}-{}", v.join("/")),
        Feed::WardStaffing(ev::WardStaffingObservation {
            ward_code: ward.into(),
            date: Some(d(date)),
            patients_at_midnight: v[0].parse().unwrap(),
            registered_nurse_hours: v[1].into(),
            registered_midwife_hours: v[2].into(),
            allied_health_professional_hours: v[3].into(),
            healthcare_support_worker_hours: v[4].into(),
        }),
    )
}

/// A productivity row: one metric of a trust for a period.
pub fn productivity(trust: &str, period: &str, metric: &str, value: &str) -> ev::ResourceEvidence {
    observation(
        trust,
        &format!("{period}-{metric}-{value}"),
        Feed::Productivity(ev::ProductivityObservation {
            period_end: Some(d(period)),
            metric: metric.into(),
            value: value.into(),
        }),
    )
}

/// An operational performance row: one standard of a trust for a period.
pub fn operational(
    trust: &str,
    period: &str,
    standard: &str,
    value_pct: &str,
) -> ev::ResourceEvidence {
    observation(
        trust,
        &format!("{period}-{standard}-{value_pct}"),
        Feed::Operational(ev::OperationalObservation {
            period_end: Some(d(period)),
            standard: standard.into(),
            value_pct: value_pct.into(),
        }),
    )
}

/// A date as sent, whether or not it is a calendar date (`{2023, 2, 29}`).
pub fn raw_date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// The field an INVALID_ARGUMENT names in its google.rpc.BadRequest details.
pub fn bad_field(e: &tonic::Status) -> String {
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let details = tonic_types::StatusExt::get_details_bad_request(e).expect("BadRequest details");
    details.field_violations[0].field.clone()
}
