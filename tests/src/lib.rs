//! A whole oversight stack in one process for cross-service tests: the four services' `App`s on
//! ephemeral ports, one private nats-server, a fresh database per service.

#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod expected;
pub mod national;
pub mod processes;

use std::net::SocketAddr;

use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::ingestion::v1 as ing;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use oversight_runtime::{InfraConfig, Shutdown};
use oversight_testkit::TestEnv;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub struct Stack {
    pub env: TestEnv,
    pub ingestion: SocketAddr,
    pub cqc: SocketAddr,
    pub nhsi: SocketAddr,
    pub combiner: SocketAddr,
    /// Every replica's addresses (one entry unless started with [`Stack::start_replicated`]).
    pub replicas: Vec<Replica>,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// The gRPC addresses of one replica of each service.
#[derive(Debug, Clone, Copy)]
pub struct Replica {
    pub ingestion: SocketAddr,
    pub cqc: SocketAddr,
    pub nhsi: SocketAddr,
    pub combiner: SocketAddr,
}

fn ephemeral() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Stack {
    /// Start all four services on a fresh test environment.
    pub async fn start() -> anyhow::Result<Stack> {
        let env = TestEnv::start().await?;
        Stack::start_in(env).await
    }

    /// Start all four services on the given environment.
    pub async fn start_in(env: TestEnv) -> anyhow::Result<Stack> {
        Stack::start_customised(env, |_, _| {}).await
    }

    /// Start all four services, letting `customise` adjust each service's infrastructure config
    /// (NATS credentials, auth tokens) before it is built.
    pub async fn start_customised<F>(env: TestEnv, customise: F) -> anyhow::Result<Stack>
    where
        F: Fn(&str, &mut InfraConfig),
    {
        Stack::start_replicated(env, 1, customise).await
    }

    /// Start `replicas` replicas of each of the four services, the replicas of a service sharing
    /// its database and consumers as in production. `ingestion`, `cqc`, `nhsi` and `combiner`
    /// are the first replica's addresses; [`Stack::replicas`] has them all.
    pub async fn start_replicated<F>(
        env: TestEnv,
        replicas: usize,
        customise: F,
    ) -> anyhow::Result<Stack>
    where
        F: Fn(&str, &mut InfraConfig),
    {
        let shutdown = Shutdown::new();
        let infra = async |service: &'static str| -> anyhow::Result<InfraConfig> {
            let mut cfg = env.infra(service).await?;
            customise(service, &mut cfg);
            Ok(cfg)
        };
        let configs = (
            infra("ingestion").await?,
            infra("cqc-quality").await?,
            infra("nhsi-resources").await?,
            infra("combiner").await?,
        );
        let mut tasks = Vec::new();
        let mut all = Vec::new();
        for _ in 0..replicas.max(1) {
            let ingestion = ingestion::App::build(ingestion::Config {
                infra: configs.0.clone(),
                grpc_addr: ephemeral(),
            })
            .await?;
            let cqc = cqc_quality::App::build(cqc_quality::Config {
                infra: configs.1.clone(),
                grpc_addr: ephemeral(),
                rule_set: None,
            })
            .await?;
            let nhsi = nhsi_resources::App::build(nhsi_resources::Config {
                infra: configs.2.clone(),
                grpc_addr: ephemeral(),
            })
            .await?;
            let combiner = combiner::App::build(combiner::Config {
                infra: configs.3.clone(),
                grpc_addr: ephemeral(),
                force_shadow: false,
                max_months_apart: 12,
                report_addr: None,
                consumer_suffix: None,
            })
            .await?;
            all.push(Replica {
                ingestion: ingestion.grpc_addr()?,
                cqc: cqc.grpc_addr()?,
                nhsi: nhsi.grpc_addr()?,
                combiner: combiner.grpc_addr()?,
            });
            tasks.push(tokio::spawn(ingestion.run_until_stopped(shutdown.clone())));
            tasks.push(tokio::spawn(cqc.run_until_stopped(shutdown.clone())));
            tasks.push(tokio::spawn(nhsi.run_until_stopped(shutdown.clone())));
            tasks.push(tokio::spawn(combiner.run_until_stopped(shutdown.clone())));
        }
        let first = all[0];
        Ok(Stack {
            env,
            ingestion: first.ingestion,
            cqc: first.cqc,
            nhsi: first.nhsi,
            combiner: first.combiner,
            replicas: all,
            shutdown,
            tasks,
        })
    }

    pub async fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?)
    }

    pub async fn ingestion_client(&self) -> anyhow::Result<IngestionServiceClient<Channel>> {
        Ok(IngestionServiceClient::new(
            Stack::channel(self.ingestion).await?,
        ))
    }

    pub async fn ratings_client(&self) -> anyhow::Result<TrustRatingsServiceClient<Channel>> {
        Ok(TrustRatingsServiceClient::new(
            Stack::channel(self.combiner).await?,
        ))
    }

    /// Submit a whole feed over gRPC in chunks of `chunk` bytes.
    pub async fn submit(
        &self,
        batch_id: &str,
        format: ing::FeedFormat,
        file_name: &str,
        content: &[u8],
    ) -> Result<ing::SubmitResponse, tonic::Status> {
        self.submit_to(self.ingestion, batch_id, format, file_name, content)
            .await
    }

    /// [`Stack::submit`] to the ingestion replica at `addr`.
    pub async fn submit_to(
        &self,
        addr: SocketAddr,
        batch_id: &str,
        format: ing::FeedFormat,
        file_name: &str,
        content: &[u8],
    ) -> Result<ing::SubmitResponse, tonic::Status> {
        let channel = Stack::channel(addr)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        Stack::submit_on(channel, batch_id, format, file_name, content).await
    }

    /// [`Stack::submit`] over an open `channel` (callers that submit many feeds keep one
    /// connection, as a regulator's system would).
    pub async fn submit_on(
        channel: Channel,
        batch_id: &str,
        format: ing::FeedFormat,
        file_name: &str,
        content: &[u8],
    ) -> Result<ing::SubmitResponse, tonic::Status> {
        let mut client = IngestionServiceClient::new(channel);
        let mut parts = vec![ing::SubmitRequest {
            part: Some(ing::submit_request::Part::Header(ing::BatchHeader {
                source: "test".into(),
                batch_id: batch_id.into(),
                format: format as i32,
                file_name: file_name.into(),
            })),
        }];
        for c in content.chunks(64 * 1024) {
            parts.push(ing::SubmitRequest {
                part: Some(ing::submit_request::Part::Chunk(c.to_vec())),
            });
        }
        client
            .submit(tokio_stream::iter(parts))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Stop every service and wait for them to finish.
    pub async fn stop(self) -> anyhow::Result<TestEnv> {
        self.shutdown.cancel();
        for t in self.tasks {
            t.await??;
        }
        Ok(self.env)
    }
}

/// The first-flow fixture: one acute trust (RXX), one location, three services, a well-led
/// assessment and a use-of-resources rating (DOMAIN.md §3 hand example).
/// The eight core services the generated feeds rate at every location (inspection area ids).
pub const SERVICES: [&str; 8] = [
    "urgent",
    "care",
    "surgery",
    "critical",
    "maternity",
    "childrens",
    "life",
    "outpatients",
];

/// The five key questions as the ratings feed spells them.
pub const KQS: [&str; 5] = ["safe", "effective", "caring", "responsive", "well-led"];

pub const FIRST_FLOW_FEED: &str = include_str!("../fixtures/first_flow.csv");

/// The first-flow feed for another trust `code` called `name`, of `trust_type`, with `uor` as its
/// use-of-resources rating.
/// An ISO date (`2018-07-01`) as a calendar date; panics on a bad literal (tests only).
pub fn date_naive(iso: &str) -> chrono::NaiveDate {
    iso.parse()
        .unwrap_or_else(|e| panic!("{iso:?} is not a date: {e}"))
}

/// An ISO date (`2018-07-01`) on the wire.
pub fn date(iso: &str) -> oversight_proto::google_type::Date {
    oversight_proto::convert::date(date_naive(iso))
}

pub fn feed_for(code: &str, name: &str, trust_type: &str, uor: &str) -> String {
    let mut out = String::new();
    for (i, line) in FIRST_FLOW_FEED.lines().enumerate() {
        let line = if i == 0 {
            line.to_string()
        } else {
            let l = line
                .replace("RXX", code)
                .replace("Example Hospitals NHS Trust", name)
                .replace(",acute,", &format!(",{trust_type},"));
            if l.starts_with("use_of_resources,") {
                l.replace(",Requires improvement,", &format!(",{uor},"))
            } else {
                l
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The latest combined rating of `trust` from the combiner at `addr`, if it has one.
pub async fn latest_rating(addr: SocketAddr, trust: &str) -> Option<pb::CombinedRatingPublished> {
    let mut client = TrustRatingsServiceClient::new(Stack::channel(addr).await.ok()?);
    client
        .get_trust_rating(pb::GetTrustRatingRequest {
            trust_code: trust.into(),
            as_of: None,
        })
        .await
        .ok()?
        .into_inner()
        .rating
}

/// Every combined version of `trust`, oldest first (empty when it has none).
pub async fn rating_history(addr: SocketAddr, trust: &str) -> Vec<pb::CombinedRatingPublished> {
    let Ok(channel) = Stack::channel(addr).await else {
        return Vec::new();
    };
    TrustRatingsServiceClient::new(channel)
        .get_trust_history(pb::GetTrustHistoryRequest {
            trust_code: trust.into(),
        })
        .await
        .map(|r| r.into_inner().versions)
        .unwrap_or_default()
}

/// The latest combined rating of `trust` once it includes a use-of-resources part.
pub async fn rating_with_uor(addr: SocketAddr, trust: &str) -> Option<pb::CombinedRatingPublished> {
    latest_rating(addr, trust)
        .await
        .filter(|r| r.use_of_resources_version > 0)
}

/// A combined rating with its bookkeeping cleared: ids, timestamps, its own and its parts'
/// version numbers (also where the explanation names its sources). How many versions a trust goes
/// through depends on how the consumers happened to batch its evidence (a trust split over two
/// commit groups is re-rated once or twice); what it is rated, and why, does not.
pub fn normal_combined(r: &pb::CombinedRatingPublished) -> pb::CombinedRatingPublished {
    let mut r = r.clone();
    r.event_id.clear();
    r.version = 0;
    r.published_at = None;
    r.quality_version = 0;
    r.use_of_resources_version = 0;
    if let Some(e) = r.combined.as_mut().and_then(|c| c.explanation.as_mut()) {
        for line in e.inputs.iter_mut().chain(e.notes.iter_mut()) {
            *line = without_version_numbers(line);
        }
    }
    r
}

/// `text` with every ", version <n>" removed.
fn without_version_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(", version ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + ", version ".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            out.push_str(", version ");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_numbers_are_removed_and_nothing_else() {
        assert_eq!(
            super::without_version_numbers(
                "safe: Good (2018-12-01) — source: CQC quality rating cqc-2018, version 12"
            ),
            "safe: Good (2018-12-01) — source: CQC quality rating cqc-2018"
        );
        assert_eq!(
            super::without_version_numbers("a, version b, version 3; c"),
            "a, version b; c"
        );
    }
}
