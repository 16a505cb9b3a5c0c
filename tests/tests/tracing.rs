//! One trace spans ingestion → rating → combined rating: the trace context of a feed published on
//! the queue travels in NATS headers through every service, and the combined rating event carries
//! the same trace id.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use oversight_e2e::Stack;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::telemetry;
use tracing::Instrument;

const FEED: &[u8] = include_bytes!("../fixtures/first_flow.csv");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_and_its_combined_rating_share_one_trace() {
    let _telemetry = telemetry::init("oversight-e2e").unwrap();
    let stack = Stack::start().await.unwrap();
    let bus = stack.env.nats_client().await.unwrap();

    // Watch the combined stream before anything is published.
    let combined = bus
        .jetstream()
        .get_stream(bus.subjects().combined_stream().name)
        .await
        .unwrap()
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut messages = combined.messages().await.unwrap();

    let span = tracing::info_span!("regulator-feed-upload");
    let trace_id = async {
        let id = telemetry::current_trace_id().expect("a trace id inside the span");
        let batch = ing::FeedBatch {
            source: "trace-test".into(),
            batch_id: "trace-1".into(),
            format: ing::FeedFormat::Csv as i32,
            file_name: "first_flow.csv".into(),
            chunk_index: 0,
            last: true,
            content: FEED.to_vec(),
        };
        bus.publish(bus.subjects().feeds_submit(), "trace-1", &batch)
            .await
            .unwrap();
        id
    }
    .instrument(span)
    .await;

    // Every combined version for this feed carries the feed's trace id in `traceparent`.
    let mut seen = 0;
    while seen < 1 {
        let msg = tokio::time::timeout(Duration::from_secs(60), messages.next())
            .await
            .expect("a combined rating in time")
            .unwrap()
            .unwrap();
        let traceparent = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("traceparent"))
            .map(|v| v.as_str().to_string())
            .expect("combined rating carries trace context");
        assert!(
            traceparent.contains(&trace_id),
            "combined rating traceparent {traceparent} is not in trace {trace_id}"
        );
        msg.ack().await.unwrap();
        seen += 1;
    }
    stack.stop().await.unwrap();
}
