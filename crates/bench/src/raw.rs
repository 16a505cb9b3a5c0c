//! The raw JetStream baseline: what the same nats-server does with messages of our evidence size
//! and nothing else: async publish with acks in flight into a file-backed stream, then a durable
//! pull consumer that acks each message.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;

/// Publish acks awaited at most this far behind the publishes.
const ACKS_IN_FLIGHT: usize = 256;

#[derive(Debug, Clone)]
pub struct RawResult {
    pub messages: usize,
    pub size: usize,
    pub publish: Duration,
    pub consume: Duration,
}

impl RawResult {
    /// Messages per second through JetStream: published, then consumed and acked.
    pub fn through_rate(&self) -> f64 {
        crate::stats::rate(self.messages, self.publish + self.consume)
    }
}

pub async fn run(
    client: &async_nats::Client,
    namespace: &str,
    messages: usize,
    size: usize,
) -> anyhow::Result<RawResult> {
    let js = jetstream::new(client.clone());
    let name = format!("{}_BENCH_RAW", namespace.to_ascii_uppercase());
    let subject = format!("{namespace}.bench.raw");
    let stream = js
        .get_or_create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: oversight_runtime::subjects::DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .context("failed to create the baseline stream")?;
    let payload = bytes_of(size);

    let started = Instant::now();
    let mut acks = VecDeque::with_capacity(ACKS_IN_FLIGHT);
    for i in 0..messages {
        // A message id, as our services send (the server checks it against the duplicate window).
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("raw-{i}").as_str(),
        );
        let ack = js
            .publish_with_headers(subject.clone(), headers, payload.clone())
            .await
            .context("baseline publish failed")?;
        acks.push_back(ack);
        if acks.len() >= ACKS_IN_FLIGHT
            && let Some(a) = acks.pop_front()
        {
            a.await.context("baseline publish not acknowledged")?;
        }
    }
    for a in acks {
        a.await.context("baseline publish not acknowledged")?;
    }
    let publish = started.elapsed();

    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench-raw".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: oversight_runtime::nats::ACK_WAIT,
            ..Default::default()
        })
        .await
        .context("failed to create the baseline consumer")?;
    let started = Instant::now();
    let mut stream_of = consumer
        .messages()
        .await
        .context("failed to consume the baseline")?;
    let mut received = 0;
    while received < messages {
        let next = tokio::time::timeout(Duration::from_secs(30), stream_of.next())
            .await
            .context("baseline consumer stalled")?;
        let msg = next
            .context("baseline consumer ended")?
            .map_err(|e| anyhow::anyhow!("baseline pull failed: {e}"))?;
        msg.ack()
            .await
            .map_err(|e| anyhow::anyhow!("baseline ack failed: {e}"))?;
        received += 1;
    }
    let consume = started.elapsed();
    drop(stream_of);
    js.delete_stream(&name).await.ok();
    Ok(RawResult {
        messages,
        size,
        publish,
        consume,
    })
}

fn bytes_of(size: usize) -> prost::bytes::Bytes {
    (0..size)
        .map(|i| (crate::national::mix(i as u64) & 0xff) as u8)
        .collect::<Vec<u8>>()
        .into()
}
