//! CQC public API JSON through the queue door, end to end: a location (service key question
//! ratings) and a provider (trust well-led, published use-of-resources) published as a chunked
//! `FeedBatch` on `<ns>.feeds.submit` become the trust's combined rating. DOMAIN.md §3 hand example:
//! S=RI, E=G, C=G, R=G, W=G, UoR=RI → quality Good, combined Good.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{Stack, rating_with_uor};
use oversight_proto::common::v1::Rating;
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);

const FEED: &str = r#"[
  {"locationId": "1-1000000001", "odsCode": "RXX01", "name": "Example General Hospital",
   "currentRatings": {"reportDate": "2018-06-01", "serviceRatings": [
     {"name": "Urgent and emergency services", "keyQuestionRatings": [
       {"name": "Safe", "rating": "Requires improvement"},
       {"name": "Effective", "rating": "Good"},
       {"name": "Caring", "rating": "Good"},
       {"name": "Responsive", "rating": "Good"},
       {"name": "Well-led", "rating": "Good"}]}]}},
  {"providerId": "1-000000001", "odsCode": "RXX", "name": "Example Hospitals NHS Trust",
   "currentRatings": {"overall": {"rating": "Good", "reportDate": "2018-07-01",
     "keyQuestionRatings": [{"name": "Well-led", "rating": "Good"}],
     "useOfResources": {"useOfResourcesRating": "Requires improvement", "combinedQualityRating": "Good"}}}},
  {"providerId": "1-000000002", "name": "No ODS code", "currentRatings": {"overall": {"rating": "Good", "reportDate": "2018-07-01"}}}
]"#;

fn rating(d: &Option<oversight_proto::common::v1::DatedRating>) -> Rating {
    Rating::try_from(d.as_ref().expect("present").rating).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cqc_api_json_on_the_queue_becomes_a_combined_rating() {
    let stack = Stack::start().await.unwrap();
    let bus = stack.env.nats_client().await.unwrap();
    let parts: Vec<&[u8]> = FEED.as_bytes().chunks(200).collect();
    for (i, part) in parts.iter().enumerate() {
        let msg = ing::FeedBatch {
            source: "cqc-api".into(),
            batch_id: "cqc-1".into(),
            format: ing::FeedFormat::CqcJson as i32,
            file_name: "cqc.json".into(),
            chunk_index: i as u32,
            last: i + 1 == parts.len(),
            content: part.to_vec(),
        };
        bus.publish(bus.subjects().feeds_submit(), &format!("cqc-1/{i}"), &msg)
            .await
            .unwrap();
    }
    let r = wait_until(DEADLINE, "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(rating(&r.overall_quality), Rating::Good);
    assert_eq!(rating(&r.use_of_resources), Rating::RequiresImprovement);
    assert_eq!(rating(&r.combined), Rating::Good);

    let mut ingestion = stack.ingestion_client().await.unwrap();
    let status = ingestion
        .get_batch_status(ing::GetBatchStatusRequest {
            batch_id: "cqc-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            status.state,
            status.records,
            status.accepted,
            status.rejected
        ),
        (ing::BatchState::Complete as i32, 3, 2, 1)
    );
    assert_eq!(
        (
            status.rejections[0].record_number,
            status.rejections[0].field.as_str()
        ),
        (3, "odsCode")
    );
    stack.stop().await.unwrap();
}
