//! The combiner across services: quality and UoR changes driven through NATS (feeds → ingestion →
//! cqc-quality / nhsi-resources → combiner) become new combined versions with their flags, seen over
//! gRPC (GetTrustRating, GetTrustHistory, WatchRatings); and a combiner rebuilt from the streams
//! into an empty database serves the same ratings (replay).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, feed_for, latest_rating, rating_history};
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::common::v1::Rating;
use oversight_proto::convert;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::Shutdown;
use oversight_testkit::wait_until;
use tokio_stream::StreamExt;

const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date";
const DEADLINE: Duration = Duration::from_secs(60);

async fn submit(stack: &Stack, batch: &str, content: &str) {
    let receipt = stack
        .submit(
            batch,
            ing::FeedFormat::Csv,
            &format!("{batch}.csv"),
            content.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rejected, 0, "{batch}: {receipt:?}");
}

async fn client(addr: SocketAddr) -> TrustRatingsServiceClient<tonic::transport::Channel> {
    TrustRatingsServiceClient::new(Stack::channel(addr).await.unwrap())
}

/// Wait for the trust's latest version to satisfy `want`.
async fn wait_for(
    addr: SocketAddr,
    trust: &str,
    what: &str,
    want: impl Fn(&pb::CombinedRatingPublished) -> bool,
) -> pb::CombinedRatingPublished {
    wait_until(DEADLINE, what, || async {
        latest_rating(addr, trust).await.filter(|r| want(r))
    })
    .await
    .unwrap()
}

fn combined(r: &pb::CombinedRatingPublished) -> Rating {
    Rating::try_from(r.combined.as_ref().map_or(0, |c| c.rating)).unwrap()
}

fn overall(r: &pb::CombinedRatingPublished) -> Rating {
    Rating::try_from(r.overall_quality.as_ref().map_or(0, |c| c.rating)).unwrap()
}

fn flag_codes(r: &pb::CombinedRatingPublished) -> Vec<&str> {
    r.flags.iter().map(|f| f.code.as_str()).collect()
}

/// What two combiners must agree on: everything but the version numbering, ids and timestamps.
fn content(r: &pb::CombinedRatingPublished) -> pb::CombinedRatingPublished {
    pb::CombinedRatingPublished {
        event_id: String::new(),
        version: 0,
        published_at: None,
        ..r.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_and_uor_changes_make_new_flagged_versions_with_history_and_watch() {
    let stack = Stack::start().await.unwrap();
    let mut watch = client(stack.combiner)
        .await
        .watch_ratings(pb::WatchRatingsRequest {})
        .await
        .unwrap()
        .into_inner();

    // 1. The first feed: S=RI, the rest good, UoR RI → quality Good, combined Good, no flags.
    submit(&stack, "first", FIRST_FLOW_FEED).await;
    let first = wait_for(stack.combiner, "RXX", "RXX with both parts", |r| {
        r.use_of_resources_version > 0
    })
    .await;
    assert_eq!(
        (overall(&first), combined(&first)),
        (Rating::Good, Rating::Good)
    );
    assert!(first.flags.is_empty(), "{:?}", first.flags);

    // 2. A trust-level well-led assessment lowers a key question to inadequate, more than twelve
    //    months after the UoR rating: quality RI, combined RI (one inadequate limits it), and the
    //    parts are flagged as far apart.
    let well_led = format!(
        "{HEADER}\nwell_led,RXX,Example Hospitals NHS Trust,acute,,,,,Inadequate,2019-09-01\n"
    );
    submit(&stack, "well-led-inadequate", &well_led).await;
    let second = wait_for(
        stack.combiner,
        "RXX",
        "RXX after well-led inadequate",
        |r| r.version > first.version && overall(r) == Rating::RequiresImprovement,
    )
    .await;
    assert_eq!(combined(&second), Rating::RequiresImprovement);
    assert_eq!(flag_codes(&second), ["parts_far_apart"]);
    let explanation = second
        .combined
        .as_ref()
        .unwrap()
        .explanation
        .as_ref()
        .unwrap();
    assert!(
        explanation
            .inputs
            .iter()
            .any(|i| i.starts_with("well-led: Inadequate (2019-09-01")),
        "{explanation:?}"
    );
    assert!(
        second.flags[0].description.contains("14 months apart"),
        "{:?}",
        second.flags
    );

    // 3. UoR approved as inadequate: two inadequate of six → combined inadequate, below quality RI.
    let uor = format!(
        "{HEADER}\nuse_of_resources,RXX,Example Hospitals NHS Trust,acute,,,,,Inadequate,2019-10-01\n"
    );
    submit(&stack, "uor-inadequate", &uor).await;
    let third = wait_for(stack.combiner, "RXX", "RXX after UoR inadequate", |r| {
        r.use_of_resources_version > second.use_of_resources_version
    })
    .await;
    assert_eq!(overall(&third), Rating::RequiresImprovement);
    assert_eq!(combined(&third), Rating::Inadequate);
    assert_eq!(flag_codes(&third), ["uor_lowered_result"]);

    // The history keeps every version, numbered 1..n, ending with these three.
    let all = rating_history(stack.combiner, "RXX").await;
    let numbers: Vec<u64> = all.iter().map(|v| v.version).collect();
    assert_eq!(numbers, (1..=third.version).collect::<Vec<_>>());
    let tail: Vec<_> = all[all.len() - 3..].iter().map(content).collect();
    assert_eq!(tail, [content(&first), content(&second), content(&third)]);
    // Each part version is recorded on the version it made.
    assert!(third.quality_version > first.quality_version);
    assert!(third.use_of_resources_version > first.use_of_resources_version);
    // As of a date before anything was published there is no rating; as of today, the latest.
    let mut c = client(stack.combiner).await;
    let today = Some(convert::date(oversight_runtime::time::today()));
    let as_of = c
        .get_trust_rating(pb::GetTrustRatingRequest {
            trust_code: "RXX".into(),
            as_of: today,
        })
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(as_of.version, third.version);

    // WatchRatings pushed every new version as it was published, in order.
    let mut watched = Vec::new();
    while watched
        .last()
        .is_none_or(|v: &pb::CombinedRatingPublished| v.version < third.version)
    {
        let next = tokio::time::timeout(DEADLINE, watch.next())
            .await
            .expect("a watched version in time")
            .expect("stream open")
            .unwrap();
        let r = next.rating.unwrap();
        if r.trust_code == "RXX" {
            watched.push(r);
        }
    }
    assert_eq!(
        watched.iter().map(|v| v.version).collect::<Vec<_>>(),
        numbers
    );
    assert_eq!(watched.last().map(content), Some(content(&third)));
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_combiner_rebuilt_from_the_streams_serves_the_same_ratings() {
    let stack = Stack::start().await.unwrap();
    submit(&stack, "rxx", FIRST_FLOW_FEED).await;
    submit(
        &stack,
        "ryy",
        &feed_for(
            "RYY",
            &format!("{} Hospitals", "RYY"),
            "acute",
            "Inadequate",
        ),
    )
    .await;
    submit(
        &stack,
        "rzz",
        &feed_for(
            "RZZ",
            &format!("{} Hospitals", "RZZ"),
            "specialist_acute",
            "Good",
        ),
    )
    .await;
    let well_led = format!(
        "{HEADER}\nwell_led,RXX,Example Hospitals NHS Trust,acute,,,,,Outstanding,2018-08-01\n"
    );
    submit(&stack, "rxx-well-led", &well_led).await;
    for (trust, what) in [("RYY", "RYY rated"), ("RZZ", "RZZ rated")] {
        wait_for(stack.combiner, trust, what, |r| {
            r.use_of_resources_version > 0
        })
        .await;
    }
    wait_for(stack.combiner, "RXX", "RXX after well-led", |r| {
        r.use_of_resources_version > 0
            && r.key_questions.iter().any(|k| {
                k.rating
                    .as_ref()
                    .is_some_and(|d| d.report_date == Some(oversight_e2e::date("2018-08-01")))
            })
    })
    .await;
    let original = list(stack.combiner).await;
    assert_eq!(original.len(), 3);

    // A second combiner: same NATS and namespace, an empty database, and durable consumers of its
    // own, which read the quality and UoR streams from the beginning.
    let rebuilt = combiner::App::build(combiner::Config {
        infra: stack.env.infra("combiner-rebuilt").await.unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        report_addr: None,
        force_shadow: false,
        max_months_apart: 12,
        consumer_suffix: Some("rebuild".into()),
    })
    .await
    .unwrap();
    let rebuilt_addr = rebuilt.grpc_addr().unwrap();
    let shutdown = Shutdown::new();
    let task = tokio::spawn(rebuilt.run_until_stopped(shutdown.clone()));

    let want: Vec<_> = original.iter().map(content).collect();
    let replayed = wait_until(DEADLINE, "the rebuilt combiner to catch up", || async {
        let got = list(rebuilt_addr).await;
        (got.iter().map(content).collect::<Vec<_>>() == want).then_some(got)
    })
    .await
    .unwrap();
    // Same ratings, flags and explanations; the UoR-lowered trust is still flagged.
    let ryy = replayed.iter().find(|r| r.trust_code == "RYY").unwrap();
    assert_eq!(flag_codes(ryy), ["uor_lowered_result"]);
    let rzz = replayed.iter().find(|r| r.trust_code == "RZZ").unwrap();
    assert!(rzz.no_combined_reason.starts_with("specialist acute trust"));
    shutdown.cancel();
    task.await.unwrap().unwrap();
    stack.stop().await.unwrap();
}

async fn list(addr: SocketAddr) -> Vec<pb::CombinedRatingPublished> {
    client(addr)
        .await
        .list_trust_ratings(pb::ListTrustRatingsRequest::default())
        .await
        .map(|r| r.into_inner().ratings)
        .unwrap_or_default()
}
