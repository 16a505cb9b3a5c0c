//! ingestion against a real NATS server and a real database (SQLite, or Postgres with
//! `TEST_DATABASE_URL`): every format through the gRPC door and the queue door, with mixed good and
//! bad records, duplicates, a chunked batch interrupted by a restart, poison messages, replay and
//! roles. The App runs on port 0; conditions are polled, never slept on.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use ingestion::{App, Config, Ingestor};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::google_type::Date;
use oversight_proto::ingestion::v1 as pb;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use oversight_runtime::nats::Bus;
use oversight_runtime::{InfraConfig, Shutdown};
use oversight_testkit::{TestEnv, wait_until};
use prost::Message;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(30);

struct Service {
    addr: SocketAddr,
    ingestor: Ingestor,
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    async fn start(infra: &InfraConfig) -> Service {
        let app = App::build(Config {
            infra: infra.clone(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        })
        .await
        .unwrap();
        let shutdown = Shutdown::new();
        let addr = app.grpc_addr().unwrap();
        let ingestor = app.ingestor().clone();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Service {
            addr,
            ingestor,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    async fn client(&self) -> IngestionServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        IngestionServiceClient::new(channel)
    }

    /// Submit over gRPC in chunks of `chunk` bytes (small chunks split records anywhere).
    async fn submit(
        &self,
        batch_id: &str,
        format: pb::FeedFormat,
        file_name: &str,
        content: &[u8],
        chunk: usize,
    ) -> Result<pb::SubmitResponse, tonic::Status> {
        let mut parts = vec![header(batch_id, format, file_name)];
        for c in content.chunks(chunk) {
            parts.push(pb::SubmitRequest {
                part: Some(pb::submit_request::Part::Chunk(c.to_vec())),
            });
        }
        self.client()
            .await
            .submit(tokio_stream::iter(parts))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn status(&self, batch_id: &str) -> Option<pb::GetBatchStatusResponse> {
        self.client()
            .await
            .get_batch_status(pb::GetBatchStatusRequest {
                batch_id: batch_id.into(),
            })
            .await
            .ok()
            .map(tonic::Response::into_inner)
    }

    async fn settled(&self, batch_id: &str) -> pb::GetBatchStatusResponse {
        wait_until(DEADLINE, &format!("batch {batch_id} settled"), || async {
            self.status(batch_id)
                .await
                .filter(|s| matches!(s.state(), pb::BatchState::Complete | pb::BatchState::Failed))
        })
        .await
        .unwrap()
    }
}

fn header(batch_id: &str, format: pb::FeedFormat, file_name: &str) -> pb::SubmitRequest {
    pb::SubmitRequest {
        part: Some(pb::submit_request::Part::Header(pb::BatchHeader {
            source: "test".into(),
            batch_id: batch_id.into(),
            format: format as i32,
            file_name: file_name.into(),
        })),
    }
}

/// (records, accepted, duplicates, rejected)
type Counts = (u64, u64, u64, u64);

fn counts(r: &pb::SubmitResponse) -> Counts {
    (r.records, r.accepted, r.duplicates, r.rejected)
}

fn status_counts(r: &pb::GetBatchStatusResponse) -> Counts {
    (r.records, r.accepted, r.duplicates, r.rejected)
}

/// Every message stored on a subject of a stream, in order.
async fn messages(bus: &Bus, stream: &str, subject: &str) -> Vec<Vec<u8>> {
    let stream = bus.jetstream().get_stream(stream).await.unwrap();
    let last = stream.get_info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        if let Ok(m) = stream.get_raw_message(seq).await
            && m.subject.as_str() == subject
        {
            out.push(m.payload.to_vec());
        }
    }
    out
}

/// Wait until the feed consumer has settled every queued message.
async fn queue_drained(bus: &Bus) {
    let stream = bus.subjects().feeds_stream().name;
    wait_until(DEADLINE, "feed queue drained", || async {
        let s = bus.jetstream().get_stream(&stream).await.ok()?;
        let c = s
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                oversight_runtime::subjects::consumers::INGESTION_FEEDS,
            )
            .await
            .ok()?;
        let info = c.cached_info();
        (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
    })
    .await
    .unwrap();
}

async fn quality(bus: &Bus) -> Vec<ev::QualityEvidence> {
    let s = bus.subjects();
    messages(bus, &s.evidence_stream().name, &s.evidence_quality())
        .await
        .iter()
        .map(|p| ev::QualityEvidence::decode(p.as_slice()).unwrap())
        .collect()
}

/// The resource evidence messages as published (metric observations grouped per trust and
/// commit group).
async fn resource_messages(bus: &Bus) -> Vec<ev::ResourceEvidence> {
    let s = bus.subjects();
    messages(bus, &s.evidence_stream().name, &s.evidence_resources())
        .await
        .iter()
        .map(|p| ev::ResourceEvidence::decode(p.as_slice()).unwrap())
        .collect()
}

/// The resource evidence published, one item per record: each grouped message's observations
/// as single-observation evidence with the group's trust and provenance, in feed order.
async fn resources(bus: &Bus) -> Vec<ev::ResourceEvidence> {
    let mut out = Vec::new();
    for e in resource_messages(bus).await {
        match &e.body {
            Some(ev::resource_evidence::Body::Metrics(group)) => {
                for m in &group.observations {
                    out.push(ev::ResourceEvidence {
                        body: Some(ev::resource_evidence::Body::Metric(m.clone())),
                        ..e.clone()
                    });
                }
            }
            _ => out.push(e),
        }
    }
    out
}

/// Which NHSI feed an observation is from.
fn feed_name(m: &ev::MetricObservation) -> &'static str {
    use ev::metric_observation::Feed;
    match &m.feed {
        Some(Feed::Finance(_)) => "finance",
        Some(Feed::WardStaffing(_)) => "ward_staffing",
        Some(Feed::Productivity(_)) => "productivity",
        Some(Feed::Operational(_)) => "operational",
        None => panic!("an observation without its feed: {m:?}"),
    }
}

const RATINGS_CSV: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date
service_rating,RXX,Example,acute,RXX01,General,urgent,safe,Requires improvement,2018-06-01
service_rating,RXX,Example,acute,RXX01,General,urgent,kindness,Good,2018-06-01
well_led,RXX,Example,acute,,,,,Good,2018-07-01
use_of_resources,RXX,Example,acute,,,,,Good,2018-13-01
use_of_resources,RXX,Example,acute,,,,,Requires improvement,2018-07-01
";

const RATINGS_NDJSON: &str = r#"{"record_type":"well_led","trust_code":"RYY","rating":"Outstanding","report_date":"2018-01-01"}
{"record_type":"well_led","trust_code":"RYY","rating":"Brilliant","report_date":"2018-01-01"}
{"trust_code":"RYY","period_end":"2018-03-31","standard":"cancer_62d","value_pct":"84.9"}
"#;

const FINANCE_CSV: &str = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct
RXX,2017-03-31,2.6,-3,0.5,-1.5,60
RXX,2017-03-31,abc,-3,0.5,-1.5,60
RYY,2017-03-31,1.2,-20,-2,-3,10
";

const WARD_NDJSON: &str = r#"{"trust_code":"RXX","ward_code":"W1","date":"2018-04-01","patients_at_midnight":20,"registered_nurse_hours":"150.5","registered_midwife_hours":0,"allied_health_professional_hours":0,"healthcare_support_worker_hours":60}
{"trust_code":"RXX","ward_code":"W1","date":"2018-04-02","patients_at_midnight":-1,"registered_nurse_hours":150,"registered_midwife_hours":0,"allied_health_professional_hours":0,"healthcare_support_worker_hours":60}
"#;

const PRODUCTIVITY_CSV: &str = "trust_code,period_end,metric,value
RXX,2017-03-31,sickness_absence_rate,4.2
RXX,2017-03-31,bed_days,4.2
";

const OPERATIONAL_CSV: &str = "trust_code,period_end,standard,value_pct
RXX,2017-03-31,ae_4h,91.5
RXX,2017-03-31,rtt_18w,100.5
";

const CQC_JSON: &str = r#"[
  {"locationId": "1-1000000001", "odsCode": "RXX01", "name": "General",
   "currentRatings": {"serviceRatings": [{"name": "Surgery", "reportDate": "2019-06-05",
     "keyQuestionRatings": [{"name": "Safe", "rating": "Good"}, {"name": "Caring", "rating": "Outstanding"}]}]}},
  {"providerId": "1-2", "odsCode": "RXX", "name": "Example Hospitals NHS Trust",
   "currentRatings": {"overall": {"rating": "Good", "reportDate": "2019-06-05",
     "keyQuestionRatings": [{"name": "Well-led", "rating": "Good"}],
     "useOfResources": {"useOfResourcesRating": "Requires improvement", "combinedQualityRating": "Good"}}}},
  {"locationId": "1-1000000002", "providerId": "RXX", "name": "No ODS code",
   "currentRatings": {"serviceRatings": [{"name": "Surgery", "reportDate": "2019-06-05",
     "keyQuestionRatings": [{"name": "Safe", "rating": "Good"}]}]}}
]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_through_grpc_with_mixed_records_counts_exactly() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let bus = env.nats_client().await.unwrap();

    let cases: [(&str, pb::FeedFormat, &str, Counts); 7] = [
        (
            RATINGS_CSV,
            pb::FeedFormat::Csv,
            "ratings.csv",
            (5, 3, 0, 2),
        ),
        (
            RATINGS_NDJSON,
            pb::FeedFormat::Ndjson,
            "ratings.ndjson",
            (3, 2, 0, 1),
        ),
        (
            FINANCE_CSV,
            pb::FeedFormat::Csv,
            "finance.csv",
            (3, 2, 0, 1),
        ),
        (
            WARD_NDJSON,
            pb::FeedFormat::Ndjson,
            "ward.ndjson",
            (2, 1, 0, 1),
        ),
        (
            PRODUCTIVITY_CSV,
            pb::FeedFormat::Csv,
            "productivity.csv",
            (2, 1, 0, 1),
        ),
        (
            OPERATIONAL_CSV,
            pb::FeedFormat::Csv,
            "operational.csv",
            (2, 1, 0, 1),
        ),
        (CQC_JSON, pb::FeedFormat::CqcJson, "cqc.json", (3, 2, 0, 1)),
    ];
    for (i, (content, format, file, want)) in cases.iter().enumerate() {
        // Tiny chunks: records are split across chunks anywhere.
        let r = svc
            .submit(&format!("b{i}"), *format, file, content.as_bytes(), 7)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(counts(&r), *want, "{file}: {r:?}");
        assert_eq!(r.rejections.len() as u64, want.3);
        assert!(r.rejections.iter().all(|x| x.file_name == *file));
        let status = svc.status(&format!("b{i}")).await.unwrap();
        assert_eq!(status_counts(&status), *want, "{file}");
        assert_eq!(
            (status.state(), status.format(), status.file_name.as_str()),
            (pb::BatchState::Complete, *format, *file)
        );
    }
    let st = svc.status("b0").await.unwrap();
    let rej: Vec<(u64, u64, &str)> = st
        .rejections
        .iter()
        .map(|r| (r.record_number, r.line, r.field.as_str()))
        .collect();
    assert_eq!(rej, vec![(2, 3, "key_question"), (4, 5, "report_date")]);
    let cqc = svc.status("b6").await.unwrap();
    assert_eq!(cqc.rejections[0].field, "odsCode");
    assert_eq!(cqc.rejections[0].record_number, 3);

    // Quality: RXX from the ratings CSV (one grouped message), RYY from the NDJSON, RXX from the
    // CQC location and provider (one grouped message). Resources: 1 UoR + 1 ops (NDJSON) + 2
    // finance + 1 ward + 1 productivity + 1 operational + 1 UoR from the CQC provider.
    let q = quality(&bus).await;
    assert_eq!(q.len(), 3, "{q:?}");
    let cqc_q = q.iter().find(|e| !e.published.is_empty()).unwrap();
    assert_eq!(cqc_q.service_ratings.len(), 2);
    assert_eq!(cqc_q.well_led.len(), 1);
    assert_eq!(cqc_q.published.len(), 4);
    let r = resources(&bus).await;
    assert_eq!(r.len(), 8);
    let feeds: Vec<&str> = r
        .iter()
        .filter_map(|e| match &e.body {
            Some(ev::resource_evidence::Body::Metric(m)) => Some(feed_name(m)),
            _ => None,
        })
        .collect();
    assert_eq!(
        feeds,
        [
            "operational",
            "finance",
            "finance",
            "ward_staffing",
            "productivity",
            "operational"
        ]
    );
    // Every message carries its provenance and its id was the Nats-Msg-Id.
    assert!(r.iter().all(|e| {
        e.provenance
            .as_ref()
            .is_some_and(|p| !p.evidence_id.is_empty() && p.source == "test")
    }));
    svc.stop().await;
}

/// A productivity feed of `n` records, every `bad_every`th one with an unknown metric.
fn productivity(n: usize, bad_every: usize) -> String {
    let mut s = String::from("trust_code,period_end,metric,value\n");
    for i in 1..=n {
        let metric = if i % bad_every == 0 {
            "no_such_metric"
        } else {
            "vacancy_rate"
        };
        // Every record differs (the decimals carry `i`): equal records would be duplicates.
        s.push_str(&format!(
            "R{:02},2017-{:02}-28,{metric},{}.{i:04}\n",
            i % 100,
            i % 12 + 1,
            i % 100,
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_batch_twice_through_any_door_creates_no_duplicate_evidence() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let bus = env.nats_client().await.unwrap();
    // Larger than one commit group (1,000 records): stored and published group by group.
    let feed = productivity(2_500, 100);
    let first = svc
        .submit(
            "big",
            pb::FeedFormat::Csv,
            "prod.csv",
            feed.as_bytes(),
            64 * 1024,
        )
        .await
        .unwrap();
    assert_eq!(counts(&first), (2_500, 2_475, 0, 25));
    assert_eq!(first.rejections.len(), 25);
    assert_eq!(resources(&bus).await.len(), 2_475);
    // NHSI evidence travels grouped: one message per trust and commit group of 1,000 records.
    // The feed cycles through R00–R99 and every R00 record is the bad one, so each of the three
    // commit groups holds 99 trusts.
    let grouped = resource_messages(&bus).await;
    assert_eq!(grouped.len(), 3 * 99);

    // Again over gRPC with different chunking: all duplicates, nothing new published.
    let again = svc
        .submit(
            "big",
            pb::FeedFormat::Csv,
            "prod.csv",
            feed.as_bytes(),
            1_000,
        )
        .await
        .unwrap();
    assert_eq!(counts(&again), (2_500, 0, 2_475, 25));
    // And over the queue, in chunks.
    let chunks: Vec<&[u8]> = feed.as_bytes().chunks(10_000).collect();
    for (i, c) in chunks.iter().enumerate() {
        let msg = pb::FeedBatch {
            source: "queue".into(),
            batch_id: "big".into(),
            format: pb::FeedFormat::Csv as i32,
            file_name: "prod.csv".into(),
            chunk_index: i as u32,
            last: i + 1 == chunks.len(),
            content: c.to_vec(),
        };
        bus.publish(bus.subjects().feeds_submit(), &format!("big/{i}"), &msg)
            .await
            .unwrap();
    }
    queue_drained(&bus).await;
    let st = svc.status("big").await.unwrap();
    assert_eq!(status_counts(&st), (2_500, 0, 2_475, 25));
    assert_eq!(resources(&bus).await.len(), 2_475);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_bad_batch_fails_clearly_naming_the_file() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let bus = env.nats_client().await.unwrap();
    let bad = "trust_code,period_end,metric,value\nRXX,2017-03-31,bed_days,1\nR,2017-03-31,vacancy_rate,1\n";
    let err = svc
        .submit("bad", pb::FeedFormat::Csv, "bad.csv", bad.as_bytes(), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message()
            .contains("every record of bad.csv was rejected (2 records)")
            && err.message().contains("line 2 (record 1): metric"),
        "{}",
        err.message()
    );
    // Programs get every rejected record and field as google.rpc.BadRequest violations.
    let details =
        tonic_types::StatusExt::get_details_bad_request(&err).expect("BadRequest details");
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["bad.csv record 1: metric", "bad.csv record 2: trust_code"],
        "{details:?}"
    );
    let st = svc.status("bad").await.unwrap();
    assert_eq!(
        (st.state(), st.rejected, st.rejections.len()),
        (pb::BatchState::Failed, 2, 2)
    );

    // A file of the wrong shape is one header rejection.
    let err = svc
        .submit("odd", pb::FeedFormat::Csv, "odd.csv", b"a,b\n1,2\n", 1024)
        .await
        .unwrap_err();
    assert!(err.message().contains("odd.csv"), "{}", err.message());
    // An empty file fails too.
    let err = svc
        .submit(
            "empty",
            pb::FeedFormat::Ndjson,
            "empty.ndjson",
            b"\n\n",
            1024,
        )
        .await
        .unwrap_err();
    assert!(
        err.message().contains("empty.ndjson has no records"),
        "{}",
        err.message()
    );
    // A batch without an id or a format is refused before reading.
    let err = svc
        .submit("", pb::FeedFormat::Csv, "x.csv", bad.as_bytes(), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = svc
        .submit(
            "f",
            pb::FeedFormat::Unspecified,
            "x.csv",
            bad.as_bytes(),
            1024,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // Through the queue, an all-bad batch is stored as failed and acknowledged (not poison).
    let msg = pb::FeedBatch {
        source: "queue".into(),
        batch_id: "qbad".into(),
        format: pb::FeedFormat::Csv as i32,
        file_name: "qbad.csv".into(),
        chunk_index: 0,
        last: true,
        content: bad.as_bytes().to_vec(),
    };
    bus.publish(bus.subjects().feeds_submit(), "qbad/0", &msg)
        .await
        .unwrap();
    let st = svc.settled("qbad").await;
    assert_eq!((st.state(), st.rejected), (pb::BatchState::Failed, 2));
    assert_eq!(quality(&bus).await.len() + resources(&bus).await.len(), 0);
    svc.stop().await;
}

fn chunk(batch: &str, index: u32, last: bool, content: &[u8]) -> pb::FeedBatch {
    pb::FeedBatch {
        source: "queue".into(),
        batch_id: batch.into(),
        format: pb::FeedFormat::Csv as i32,
        file_name: "ratings.csv".into(),
        chunk_index: index,
        last,
        content: content.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_queue_batch_interrupted_by_a_restart_and_resent_is_ingested_once() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let bus = env.nats_client().await.unwrap();
    let feed = RATINGS_CSV.as_bytes();
    let parts: Vec<&[u8]> = vec![&feed[..100], &feed[100..250], &feed[250..]];
    let subject = bus.subjects().feeds_submit();

    let svc = Service::start(&infra).await;
    for i in 0..2u32 {
        bus.publish(
            subject.clone(),
            &format!("c1/{i}"),
            &chunk("c1", i, false, parts[i as usize]),
        )
        .await
        .unwrap();
    }
    let ingestor = svc.ingestor.clone();
    wait_until(DEADLINE, "two chunks stored", || async {
        let stored = ingestion::store::chunk_indexes(ingestor.pool(), "c1")
            .await
            .ok()?;
        (stored.len() == 2).then_some(())
    })
    .await
    .unwrap();
    assert!(
        svc.status("c1").await.is_none(),
        "nothing ingested before the end marker"
    );
    svc.stop().await;

    // Restarted on the same database; the sender starts over with new message ids.
    let svc = Service::start(&infra).await;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        bus.publish(
            subject.clone(),
            &format!("c1-resend/{i}"),
            &chunk("c1", i as u32, last, part),
        )
        .await
        .unwrap();
    }
    let st = svc.settled("c1").await;
    assert_eq!(
        (st.state(), status_counts(&st)),
        (pb::BatchState::Complete, (5, 3, 0, 2))
    );
    let q = quality(&bus).await;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].service_ratings.len(), 1);
    assert_eq!(q[0].well_led.len(), 1);
    assert_eq!(resources(&bus).await.len(), 1);
    // Chunks are removed once the batch is ingested (just after its status is written).
    let pool = svc.ingestor.pool().clone();
    wait_until(DEADLINE, "chunks removed", || async {
        let left = ingestion::store::chunk_indexes(&pool, "c1").await.ok()?;
        left.is_empty().then_some(())
    })
    .await
    .unwrap();

    // The end marker alone again (a redelivery) stores nothing new.
    bus.publish(subject.clone(), "c1-again/0", &chunk("c1", 0, true, feed))
        .await
        .unwrap();
    wait_until(DEADLINE, "redelivered batch settled", || async {
        svc.status("c1").await.filter(|s| s.duplicates == 3)
    })
    .await
    .unwrap();
    assert_eq!(quality(&bus).await.len(), 1);
    assert_eq!(resources(&bus).await.len(), 1);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_feed_messages_are_dead_lettered_and_the_consumer_goes_on() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let bus = env.nats_client().await.unwrap();
    let subject = bus.subjects().feeds_submit();
    bus.publish_bytes(subject.clone(), "p1", vec![0xff, 0x01, 0x02].into())
        .await
        .unwrap();
    let mut no_format = chunk("p2", 0, true, RATINGS_CSV.as_bytes());
    no_format.format = 0;
    bus.publish(subject.clone(), "p2", &no_format)
        .await
        .unwrap();
    bus.publish(subject.clone(), "p3", &chunk(" ", 0, true, b"x"))
        .await
        .unwrap();
    bus.publish(
        subject.clone(),
        "good",
        &chunk("good", 0, true, RATINGS_CSV.as_bytes()),
    )
    .await
    .unwrap();
    let st = svc.settled("good").await;
    assert_eq!(status_counts(&st), (5, 3, 0, 2));

    let dl_subject = bus.subjects().deadletter("ingestion");
    let letters = wait_until(DEADLINE, "three dead letters", || async {
        let m = messages(&bus, &bus.subjects().deadletter_stream().name, &dl_subject).await;
        (m.len() == 3).then_some(m)
    })
    .await
    .unwrap();
    let reasons: Vec<String> = letters
        .iter()
        .map(|p| common::DeadLetter::decode(p.as_slice()).unwrap().reason)
        .collect();
    assert!(reasons[0].contains("undecodable"), "{reasons:?}");
    assert!(
        reasons[1].contains("unknown or unspecified feed format"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("without batch_id"), "{reasons:?}");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_republishes_a_trust_within_a_date_range() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let bus = env.nats_client().await.unwrap();
    svc.submit(
        "r1",
        pb::FeedFormat::Csv,
        "finance.csv",
        FINANCE_CSV.as_bytes(),
        1024,
    )
    .await
    .unwrap();
    svc.submit(
        "r2",
        pb::FeedFormat::Csv,
        "ratings.csv",
        RATINGS_CSV.as_bytes(),
        1024,
    )
    .await
    .unwrap();
    // RXX: 1 finance + 1 quality + 1 UoR; RYY: 1 finance.
    assert_eq!(quality(&bus).await.len() + resources(&bus).await.len(), 4);
    let today = oversight_runtime::time::today();
    let replay = |trust: &str, from: Option<Date>, to: Option<Date>| {
        let svc = &svc;
        let trust = trust.to_string();
        async move {
            svc.client()
                .await
                .replay(pb::ReplayRequest {
                    trust_code: trust,
                    from_date: from,
                    to_date: to,
                })
                .await
                .map(|r| r.into_inner().republished)
        }
    };
    let day = |d: chrono::NaiveDate| Some(convert::date(d));
    assert_eq!(replay("RXX", day(today), day(today)).await.unwrap(), 3);
    assert_eq!(quality(&bus).await.len() + resources(&bus).await.len(), 7);
    assert_eq!(
        replay("rxx", day(today + chrono::Days::new(1)), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        replay("", None, day(today - chrono::Days::new(1)))
            .await
            .unwrap(),
        0
    );
    assert_eq!(replay("", None, None).await.unwrap(), 4);
    assert_eq!(quality(&bus).await.len() + resources(&bus).await.len(), 11);
    let date = |year, month, day| Some(Date { year, month, day });
    // Each bad request names its field; a date that is not a calendar date says so.
    for (trust, from, to, field, reason) in [
        (
            "RXX",
            date(2018, 13, 1),
            None,
            "from_date",
            "2018-13-01 is not a calendar date",
        ),
        (
            "RXX",
            None,
            date(2023, 2, 29),
            "to_date",
            "2023-02-29 is not a calendar date",
        ),
        (
            "",
            date(2019, 5, 0),
            None,
            "from_date",
            "2019-05-00 is not a full date (month and day are required)",
        ),
        ("R", None, None, "trust_code", "invalid trust code"),
        (
            "",
            date(2019, 1, 2),
            date(2019, 1, 1),
            "from_date",
            "2019-01-02 is after to_date 2019-01-01",
        ),
    ] {
        let err = replay(trust, from, to).await.unwrap_err();
        assert_eq!(violated_fields(&err), [field], "{trust} {from:?} {to:?}");
        assert!(
            err.message().starts_with(&format!("{field}: ")) && err.message().contains(reason),
            "{}",
            err.message()
        );
    }
    // Nothing was republished by the refused requests.
    assert_eq!(quality(&bus).await.len() + resources(&bus).await.len(), 11);
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_may_submit_and_replay() {
    let env = TestEnv::start().await.unwrap();
    let mut infra = env.infra("ingestion").await.unwrap();
    let tokens = env.dir().join("tokens");
    std::fs::write(
        &tokens,
        "nhsi nhsi-feeds nnnnnnnnnnnnnnnnnnnn\nreader board rrrrrrrrrrrrrrrrrrrr\noperator ops oooooooooooooooooooo\n",
    )
    .unwrap();
    infra.auth_tokens_file = Some(tokens);
    let svc = Service::start(&infra).await;
    let channel = Channel::from_shared(format!("http://{}", svc.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let as_token = |token: &'static str| {
        IngestionServiceClient::with_interceptor(
            channel.clone(),
            move |mut req: tonic::Request<()>| {
                req.metadata_mut()
                    .insert("authorization", format!("Bearer {token}").parse().unwrap());
                Ok(req)
            },
        )
    };
    let submit = |token: &'static str| {
        let mut client = as_token(token);
        async move {
            let parts = vec![
                header("auth", pb::FeedFormat::Csv, "prod.csv"),
                pb::SubmitRequest {
                    part: Some(pb::submit_request::Part::Chunk(
                        PRODUCTIVITY_CSV.as_bytes().to_vec(),
                    )),
                },
            ];
            client.submit(tokio_stream::iter(parts)).await
        }
    };
    let replay = |token: &'static str| {
        let mut client = as_token(token);
        async move { client.replay(pb::ReplayRequest::default()).await }
    };
    assert_eq!(
        submit("rrrrrrrrrrrrrrrrrrrr").await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        submit("wrong-token-wrong-token").await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    let receipt = submit("nnnnnnnnnnnnnnnnnnnn").await.unwrap().into_inner();
    assert_eq!(receipt.accepted, 1);
    let status = as_token("rrrrrrrrrrrrrrrrrrrr")
        .get_batch_status(pb::GetBatchStatusRequest {
            batch_id: "auth".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.source, "test");
    assert_eq!(
        replay("nnnnnnnnnnnnnnnnnnnn").await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        replay("oooooooooooooooooooo")
            .await
            .unwrap()
            .into_inner()
            .republished,
        1
    );
    svc.stop().await;
}

/// The fields of an `INVALID_ARGUMENT`'s `google.rpc.BadRequest` details.
fn violated_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    tonic_types::StatusExt::get_details_bad_request(status)
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_are_named_in_details_and_database_errors_hide_their_sql() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("ingestion").await.unwrap();
    let svc = Service::start(&infra).await;
    let csv = b"trust_code,period_end,metric,value\nRXX,2017-03-31,bed_days,1\n";

    let err = svc
        .submit("", pb::FeedFormat::Csv, "a.csv", csv, 1024)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["batch_id"], "{}", err.message());
    let err = svc
        .submit("b1", pb::FeedFormat::Unspecified, "a.csv", csv, 1024)
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["header.format"],
        "{}",
        err.message()
    );
    let err = svc
        .client()
        .await
        .submit(tokio_stream::iter([pb::SubmitRequest {
            part: Some(pb::submit_request::Part::Chunk(csv.to_vec())),
        }]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["header"], "{}", err.message());

    // GetBatchStatus maps the stored state and format to their enums; a stored name this
    // version does not write is the service's failure, not a panic.
    let good = b"trust_code,period_end,metric,value\nRXX,2017-03-31,sickness_absence_rate,4.2\n";
    svc.submit("stored", pb::FeedFormat::Csv, "good.csv", good, 1024)
        .await
        .unwrap();
    let st = svc.status("stored").await.unwrap();
    assert_eq!(
        (st.state(), st.format()),
        (pb::BatchState::Complete, pb::FeedFormat::Csv)
    );
    sqlx::any::install_default_drivers();
    let url = infra.database_url_for("ingestion");
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    for set in ["state = 'archived'", "state = 'complete', format = 'xml'"] {
        // Asserted SQL safe: `set` is one of this test's constants.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE ingestion_batches SET {set} WHERE batch_id = 'stored'"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let err = svc
            .client()
            .await
            .get_batch_status(pb::GetBatchStatusRequest {
                batch_id: "stored".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal, "{set}: {err:?}");
    }

    // Take the batches table away behind the service's back: the caller learns that the
    // service failed, not the SQL that did.
    sqlx::query("DROP TABLE ingestion_rejections")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE ingestion_batches")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = svc
        .submit("b2", pb::FeedFormat::Csv, "a.csv", csv, 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), tonic::Code::Unavailable | tonic::Code::Internal),
        "{err:?}"
    );
    let shown = err.message().to_ascii_lowercase();
    for sql in [
        "ingestion_batches",
        "no such table",
        "relation",
        "select",
        "insert",
        "sqlite",
    ] {
        assert!(!shown.contains(sql), "{sql:?} leaked: {}", err.message());
    }
    let err = svc
        .client()
        .await
        .get_batch_status(pb::GetBatchStatusRequest {
            batch_id: "b2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    assert!(
        !err.message().contains("ingestion_batches"),
        "{}",
        err.message()
    );
    svc.stop().await;
}
