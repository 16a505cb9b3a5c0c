//! The walking skeleton's first real flow, end to end over NATS JetStream and gRPC: a feed goes in
//! through ingestion (gRPC and the queue), cqc-quality aggregates it, nhsi-resources records the
//! use-of-resources rating, and the combiner publishes and serves the combined rating.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{Stack, rating_with_uor};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1::{KeyQuestion, Rating};
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::wait_until;
use prost::Message;

const FEED: &[u8] = include_bytes!("../fixtures/first_flow.csv");
const DEADLINE: Duration = Duration::from_secs(60);

fn kq(r: &pb::CombinedRatingPublished, k: KeyQuestion) -> Rating {
    let found = r
        .key_questions
        .iter()
        .find(|x| x.key_question == k as i32)
        .expect("kq present");
    Rating::try_from(found.rating.as_ref().expect("rating").rating).expect("valid")
}

fn rating(d: &Option<oversight_proto::common::v1::DatedRating>) -> Rating {
    Rating::try_from(d.as_ref().expect("present").rating).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_feed_becomes_an_explained_combined_rating() {
    let stack = Stack::start().await.unwrap();
    let receipt = stack
        .submit("batch-1", ing::FeedFormat::Csv, "first_flow.csv", FEED)
        .await
        .unwrap();
    assert_eq!(
        (receipt.records, receipt.accepted, receipt.rejected),
        (17, 17, 0)
    );

    let r = wait_until(DEADLINE, "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    // DOMAIN.md §3 hand example: S=RI, E=G, C=G, R=G, W=G, UoR=RI → quality Good, combined Good.
    assert_eq!(kq(&r, KeyQuestion::Safe), Rating::RequiresImprovement);
    assert_eq!(kq(&r, KeyQuestion::Effective), Rating::Good);
    assert_eq!(kq(&r, KeyQuestion::Caring), Rating::Good);
    assert_eq!(kq(&r, KeyQuestion::Responsive), Rating::Good);
    assert_eq!(kq(&r, KeyQuestion::WellLed), Rating::Good);
    assert_eq!(rating(&r.overall_quality), Rating::Good);
    assert_eq!(rating(&r.use_of_resources), Rating::RequiresImprovement);
    assert_eq!(rating(&r.combined), Rating::Good);
    assert_eq!(r.mode, pb::Mode::Combined as i32);
    assert_eq!(r.trust_name, "Example Hospitals NHS Trust");

    // Every part carries its explanation.
    let safe = r
        .key_questions
        .iter()
        .find(|x| x.key_question == KeyQuestion::Safe as i32)
        .unwrap();
    let safe_expl = safe.rating.as_ref().unwrap().explanation.as_ref().unwrap();
    assert_eq!(safe_expl.rule_set, "cqc-2018");
    assert!(
        !safe_expl.rule.is_empty() && !safe_expl.inputs.is_empty(),
        "{safe_expl:?}"
    );
    let overall = r
        .overall_quality
        .as_ref()
        .unwrap()
        .explanation
        .as_ref()
        .unwrap();
    assert!(overall.rule.contains("Good"), "{overall:?}");
    let combined = r.combined.as_ref().unwrap().explanation.as_ref().unwrap();
    assert_eq!(combined.rule_set, "cqc-combined-2018");
    assert_eq!(combined.inputs.len(), 6, "six inputs: {combined:?}");
    assert!(combined.rule.contains("Good"), "{combined:?}");
    let uor = r
        .use_of_resources
        .as_ref()
        .unwrap()
        .explanation
        .as_ref()
        .unwrap();
    assert!(!uor.rule.is_empty());

    // Operators see the flow in the metrics (a handler's decision is counted just after the
    // rating it produced becomes visible, so wait for it).
    use oversight_runtime::subjects::consumers;
    for needle in [
        format!(
            "oversight_messages_handled_total{{service=\"cqc-quality\",consumer=\"{}\",outcome=\"ack\"}}",
            consumers::CQC_EVIDENCE
        ),
        format!(
            "oversight_messages_handled_total{{service=\"combiner\",consumer=\"{}\",outcome=\"ack\"}}",
            consumers::COMBINER_QUALITY
        ),
        "oversight_events_published_total{service=\"combiner\"".to_string(),
        "oversight_grpc_requests_total{method=\"/oversight.ingestion.v1.IngestionService/Submit\",code=\"OK\"}".to_string(),
    ] {
        wait_until(DEADLINE, &needle, || async {
            oversight_runtime::metrics::render()
                .contains(needle.as_str())
                .then_some(())
        })
        .await
        .unwrap();
    }

    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_published_on_the_queue_is_ingested_and_duplicates_are_dropped() {
    let stack = Stack::start().await.unwrap();
    let bus = stack.env.nats_client().await.unwrap();
    let feed = |batch: &str| ing::FeedBatch {
        source: "queue-test".into(),
        batch_id: batch.into(),
        format: ing::FeedFormat::Csv as i32,
        file_name: "first_flow.csv".into(),
        chunk_index: 0,
        last: true,
        content: FEED.to_vec(),
    };
    bus.publish(bus.subjects().feeds_submit(), "feed-q1", &feed("q1"))
        .await
        .unwrap();
    let first = wait_until(DEADLINE, "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(rating(&first.combined), Rating::Good);

    // The same batch again, through another door and then replayed downstream with new message
    // ids: no duplicate evidence, no second rating event.
    let again = stack
        .submit("q1", ing::FeedFormat::Csv, "first_flow.csv", FEED)
        .await
        .unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 17));
    let mut ingestion = stack.ingestion_client().await.unwrap();
    let replayed = ingestion
        .replay(ing::ReplayRequest {
            trust_code: "RXX".into(),
            from_date: None,
            to_date: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        replayed.republished, 2,
        "one quality and one UoR evidence message"
    );
    let history_before = versions(&stack, "RXX").await;

    // A sentinel trust after the replay: once its rating is through, everything before it in the
    // streams has been handled.
    let sentinel = String::from_utf8(FEED.to_vec())
        .unwrap()
        .replace("RXX", "RYY");
    stack
        .submit(
            "sentinel",
            ing::FeedFormat::Csv,
            "sentinel.csv",
            sentinel.as_bytes(),
        )
        .await
        .unwrap();
    wait_until(DEADLINE, "combined rating of RYY", || {
        rating_with_uor(stack.combiner, "RYY")
    })
    .await
    .unwrap();
    assert_eq!(
        versions(&stack, "RXX").await,
        history_before,
        "replayed evidence made no new version"
    );

    let combined_stream = stack.env.nats_client().await.unwrap();
    let js = combined_stream.jetstream();
    let mut stream = js
        .get_stream(combined_stream.subjects().quality_stream().name)
        .await
        .unwrap();
    let info = stream.info().await.unwrap();
    // RXX and RYY each have their quality rating event(s), none from the duplicate or the replay.
    let rxx_quality_versions = history_before.iter().map(|v| v.1).max().unwrap();
    assert!(info.state.messages >= 2 && info.state.messages <= 2 * rxx_quality_versions + 2);
    stack.stop().await.unwrap();
}

async fn versions(stack: &Stack, trust: &str) -> Vec<(u64, u64, u64)> {
    let mut client = stack.ratings_client().await.unwrap();
    client
        .get_trust_history(pb::GetTrustHistoryRequest {
            trust_code: trust.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .versions
        .iter()
        .map(|v| (v.version, v.quality_version, v.use_of_resources_version))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_message_is_dead_lettered_and_the_consumer_goes_on() {
    let stack = Stack::start().await.unwrap();
    let bus = stack.env.nats_client().await.unwrap();
    let js = bus.jetstream().clone();
    // Watch the dead-letter stream with an ephemeral consumer.
    let dl_stream = js
        .get_stream(bus.subjects().deadletter_stream().name)
        .await
        .unwrap();
    let consumer = dl_stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();

    bus.publish_bytes(
        bus.subjects().evidence_quality(),
        "garbage-1",
        b"\xff\xff not protobuf".to_vec().into(),
    )
    .await
    .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let dead = tokio::time::timeout(DEADLINE, futures::StreamExt::next(&mut messages))
        .await
        .expect("a dead letter in time")
        .unwrap()
        .unwrap();
    let record = oversight_proto::common::v1::DeadLetter::decode(dead.payload.as_ref()).unwrap();
    assert_eq!(record.service, "cqc-quality");
    assert!(record.reason.contains("undecodable"), "{}", record.reason);
    assert_eq!(record.payload, b"\xff\xff not protobuf");
    assert_eq!(record.subject, bus.subjects().evidence_quality());
    dead.ack().await.unwrap();
    assert!(
        oversight_runtime::metrics::render()
            .contains("oversight_dead_letters_total{service=\"cqc-quality\"} 1"),
        "dead letter counted"
    );

    // The consumer keeps going: a good feed still becomes a rating.
    stack
        .submit("after-poison", ing::FeedFormat::Csv, "first_flow.csv", FEED)
        .await
        .unwrap();
    let r = wait_until(DEADLINE, "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(rating(&r.combined), Rating::Good);
    stack.stop().await.unwrap();
}
