//! JetStream wiring. Owners declare their streams idempotently at start; consumers are durable pull
//! consumers with explicit ack. Every published message carries a deterministic `Nats-Msg-Id` and
//! its publish ack is awaited. Every consumed message ends in exactly one decision: ack (handled),
//! nak with backoff (transient failure), or term after a dead-letter record (poison, or retries
//! exhausted).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer::PullConsumer, stream};
use bytes::Bytes;

use crate::consumer::{self, BatchOutcome, ConsumerSettings, PIN_TIMEOUT, PRIORITY_GROUP};
use crate::subjects::{ConsumerSpec, DUPLICATE_WINDOW, StreamSpec};
use crate::{InfraConfig, Shutdown, Subjects, telemetry};

/// How long the server waits for an ack before redelivering.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries before a failing message is dead-lettered.
pub const MAX_DELIVER: i64 = 10;

/// The header that carries a message's partition key (the trust code): consumers apply the
/// messages of one key in order, in one lane (see [`crate::consumer`]).
pub const KEY_HEADER: &str = "Oversight-Key";

/// How long [`Bus::publish_many`] keeps retrying messages whose publish was not acknowledged
/// (the server they went through died, their stream is electing a leader: a few seconds) before
/// it gives up and the caller's outbox keeps them for the sweep. Well inside the streams'
/// duplicate window, so a retried message that had landed after all is dropped by its
/// `Nats-Msg-Id`; and short enough that, with a last round's ack timeout, a consumer batch that
/// publishes its outbox before acking stays inside the ack wait ([`ACK_WAIT`]).
pub const PUBLISH_RETRY_FOR: Duration = Duration::from_secs(15);
/// Longest pause between two rounds of publish retries.
const PUBLISH_RETRY_MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A service's connection to NATS and JetStream.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    subjects: Subjects,
    service: &'static str,
    settings: ConsumerSettings,
    replicas: usize,
}

/// One message to publish: subject, deterministic message id, partition key and body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub subject: String,
    pub msg_id: String,
    pub key: String,
    pub payload: Bytes,
}

/// How a handler's failure is settled (acked is `Ok`). Services turn their errors into it through
/// the one error map, [`crate::error::settle`], from the error's kind.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Worth retrying (database down, downstream unavailable): nak with backoff.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Will never succeed (undecodable, invalid): dead-letter with the reason, then term.
    #[error("poison: {0}")]
    Poison(String),
}

impl HandleError {
    pub fn poison(reason: impl Into<String>) -> Self {
        HandleError::Poison(reason.into())
    }
}

/// One delivered message, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub subject: String,
    pub payload: Bytes,
    pub headers: Option<HeaderMap>,
    /// 1 on first delivery.
    pub deliveries: i64,
    pub stream_sequence: u64,
}

impl Incoming {
    /// Decode the protobuf body; failure is poison.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, HandleError> {
        M::decode(self.payload.as_ref()).map_err(|e| {
            HandleError::poison(format!(
                "undecodable {} on {}: {e}",
                std::any::type_name::<M>(),
                self.subject
            ))
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    }
}

/// The result of a publish: the stream sequence and whether JetStream recognised it as a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub sequence: u64,
    pub duplicate: bool,
}

impl Bus {
    /// Connect to NATS as `service` with the configured credentials: to one of the `NATS_URL`
    /// servers (in random order unless `NATS_RETAIN_SERVERS_ORDER`), reconnecting to any of them
    /// or to the servers the cluster advertises when the one in use goes away.
    pub async fn connect(cfg: &InfraConfig, service: &'static str) -> anyhow::Result<Bus> {
        let servers = cfg.nats_servers()?;
        let replicas = cfg.replicas()?;
        let mut opts = async_nats::ConnectOptions::new()
            .name(service)
            .connection_timeout(Duration::from_secs(10));
        if cfg.nats_retain_servers_order {
            opts = opts.retain_servers_order();
        }
        if let (Some(user), Some(password)) = (&cfg.nats_user, &cfg.nats_password) {
            opts = opts.user_and_password(user.clone(), password.expose().to_string());
        }
        let client = opts
            .connect(servers)
            .await
            .with_context(|| format!("failed to connect to NATS at {}", cfg.nats_url))?;
        let js = jetstream::new(client.clone());
        Ok(Bus {
            client,
            js,
            subjects: cfg.subjects(),
            service,
            settings: cfg.consumer_settings(),
            replicas,
        })
    }

    /// Replicas of the streams and durable consumers this service declares.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// How this service's consumers batch, run lanes and retry.
    pub fn consumer_settings(&self) -> ConsumerSettings {
        self.settings
    }

    /// Declare a stream with the configured replicas if it does not exist (idempotent; an
    /// existing stream is left as it is, with a warning when its replicas differ).
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> anyhow::Result<stream::Stream> {
        let stream = self
            .js
            .get_or_create_stream(stream::Config {
                name: spec.name.clone(),
                subjects: spec.subjects.clone(),
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: DUPLICATE_WINDOW,
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .with_context(|| format!("failed to declare stream {}", spec.name))?;
        let found = stream.cached_info().config.num_replicas.max(1);
        if found != self.replicas {
            tracing::warn!(stream = %spec.name, replicas = found, configured = self.replicas,
                "stream exists with other replicas than configured; left as it is (deploy/jetstream/apply.sh edits it)");
        }
        Ok(stream)
    }

    /// Declare a durable pull consumer if it does not exist (idempotent).
    pub async fn ensure_consumer(&self, spec: &ConsumerSpec) -> anyhow::Result<PullConsumer> {
        let stream = self.js.get_stream(&spec.stream).await.with_context(|| {
            format!(
                "stream {} does not exist (is its owner running?)",
                spec.stream
            )
        })?;
        stream
            .get_or_create_consumer(
                &spec.durable,
                jetstream::consumer::pull::Config {
                    durable_name: Some(spec.durable.clone()),
                    filter_subject: spec.filter_subject.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_deliver: MAX_DELIVER,
                    // One replica at a time receives (the pinned client); the others stand by and
                    // take over when it stops pulling. Keeps a trust's messages in order across
                    // replicas.
                    priority_policy: jetstream::consumer::PriorityPolicy::PinnedClient,
                    priority_groups: vec![PRIORITY_GROUP.to_string()],
                    priority_timeout: PIN_TIMEOUT,
                    num_replicas: self.replicas,
                    ..Default::default()
                },
            )
            .await
            .with_context(|| {
                format!(
                    "failed to declare consumer {} on {}",
                    spec.durable, spec.stream
                )
            })
    }

    /// Publish a protobuf message with a deterministic message id and wait for JetStream's ack.
    pub async fn publish<M: prost::Message>(
        &self,
        subject: String,
        msg_id: &str,
        msg: &M,
    ) -> anyhow::Result<Published> {
        self.publish_bytes(subject, msg_id, Bytes::from(msg.encode_to_vec()))
            .await
    }

    /// Publish raw bytes with a message id and wait for the ack.
    pub async fn publish_bytes(
        &self,
        subject: String,
        msg_id: &str,
        payload: Bytes,
    ) -> anyhow::Result<Published> {
        let mut published = self
            .publish_many(vec![Outgoing {
                subject,
                msg_id: msg_id.to_string(),
                key: String::new(),
                payload,
            }])
            .await?;
        published
            .pop()
            .context("JetStream returned no acknowledgement")
    }

    /// The one publish path: send every message (each with its `Nats-Msg-Id`, partition key and
    /// trace context), then await all their acks together. Messages whose ack does not come (the
    /// server they went through died, their stream is electing a new leader) are sent again, with
    /// the same message ids, until they are acknowledged or [`PUBLISH_RETRY_FOR`] has passed; a
    /// retried message that had been stored after all is acknowledged as a duplicate. Fails if
    /// some message is still not acknowledged then: callers keep the messages (an outbox) and
    /// publish them again later.
    pub async fn publish_many(&self, messages: Vec<Outgoing>) -> anyhow::Result<Vec<Published>> {
        let started = tokio::time::Instant::now();
        let mut acked: Vec<Option<Published>> = vec![None; messages.len()];
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let failed = self.publish_round(&messages, &pending, &mut acked).await;
            let Some((_, error)) = failed.first() else {
                break;
            };
            crate::metrics::publish_failed(self.service, failed.len() as u64);
            attempt += 1;
            if started.elapsed() >= PUBLISH_RETRY_FOR {
                return Err(anyhow::anyhow!("{error:#}").context(format!(
                    "{} of {} publishes not acknowledged after {attempt} attempts",
                    failed.len(),
                    messages.len()
                )));
            }
            let delay = consumer::retry_backoff(attempt, PUBLISH_RETRY_MAX_BACKOFF);
            tracing::warn!(service = self.service, unacknowledged = failed.len(), attempt,
                retry_in_ms = delay.as_millis() as u64, error = %format!("{error:#}"),
                "publish not acknowledged; retrying with the same message ids");
            tokio::time::sleep(delay).await;
            pending = failed.into_iter().map(|(i, _)| i).collect();
        }
        Ok(acked.into_iter().flatten().collect())
    }

    /// Send the messages at `indices` and await their acks together, recording each ack in
    /// `acked`; returns the ones not acknowledged, in order, with why.
    async fn publish_round(
        &self,
        messages: &[Outgoing],
        indices: &[usize],
        acked: &mut [Option<Published>],
    ) -> Vec<(usize, anyhow::Error)> {
        let mut failed = Vec::new();
        let mut sent = Vec::with_capacity(indices.len());
        for &i in indices {
            let m = &messages[i];
            let mut headers = HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, m.msg_id.as_str());
            if !m.key.is_empty() {
                headers.insert(KEY_HEADER, m.key.as_str());
            }
            telemetry::inject_nats(&mut headers);
            match self
                .js
                .publish_with_headers(m.subject.clone(), headers, m.payload.clone())
                .await
            {
                Ok(ack) => sent.push((i, ack)),
                Err(e) => failed.push((
                    i,
                    anyhow::Error::new(e).context(format!("failed to publish to {}", m.subject)),
                )),
            }
        }
        let results = futures::future::join_all(
            sent.into_iter()
                .map(|(i, ack)| async move { (i, ack.await) }),
        )
        .await;
        for (i, result) in results {
            let subject = &messages[i].subject;
            match result {
                Ok(ack) => {
                    if !ack.duplicate {
                        crate::metrics::events_published(self.service, subject, 1);
                    }
                    acked[i] = Some(Published {
                        sequence: ack.sequence,
                        duplicate: ack.duplicate,
                    });
                }
                Err(e) => failed.push((
                    i,
                    anyhow::Error::new(e).context(format!(
                        "JetStream did not acknowledge the publish to {subject}"
                    )),
                )),
            }
        }
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    /// Record a message this service gave up on, with the reason, on its dead-letter subject.
    pub async fn dead_letter(
        &self,
        stream: &str,
        incoming: &Incoming,
        reason: &str,
    ) -> anyhow::Result<()> {
        let headers: BTreeMap<String, String> = incoming
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .map(|(k, v)| {
                let joined = v.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(",");
                (k.to_string(), joined)
            })
            .collect();
        let record = oversight_proto::common::v1::DeadLetter {
            service: self.service.to_string(),
            subject: incoming.subject.clone(),
            stream: stream.to_string(),
            stream_sequence: incoming.stream_sequence,
            deliveries: u64::try_from(incoming.deliveries).unwrap_or(0),
            reason: reason.to_string(),
            payload: incoming.payload.to_vec(),
            headers,
            failed_at: Some(oversight_proto::convert::timestamp(chrono::Utc::now())),
        };
        let id = format!("dl-{}-{stream}-{}", self.service, incoming.stream_sequence);
        self.publish(self.subjects.deadletter(self.service), &id, &record)
            .await?;
        Ok(())
    }
}

pub(crate) fn backoff(deliveries: i64) -> Duration {
    let exp = u32::try_from(deliveries.clamp(1, 6)).unwrap_or(6);
    Duration::from_millis(500 * 2u64.pow(exp - 1)).min(Duration::from_secs(30))
}

impl Bus {
    /// Consume the durable consumer `durable` of the subject map with the batch `handler` until
    /// `shutdown` (see [`crate::consumer`]).
    pub async fn consume<H, Fut>(
        &self,
        durable: &'static str,
        handler: H,
        shutdown: Shutdown,
    ) -> anyhow::Result<()>
    where
        H: Fn(Vec<Incoming>) -> Fut,
        Fut: Future<Output = BatchOutcome>,
    {
        self.consume_with(durable, self.settings, handler, shutdown)
            .await
    }

    /// [`Bus::consume`] with settings of its own (e.g. one large message at a time).
    pub async fn consume_with<H, Fut>(
        &self,
        durable: &'static str,
        settings: ConsumerSettings,
        handler: H,
        shutdown: Shutdown,
    ) -> anyhow::Result<()>
    where
        H: Fn(Vec<Incoming>) -> Fut,
        Fut: Future<Output = BatchOutcome>,
    {
        let spec = self
            .subjects
            .consumer(durable)
            .with_context(|| format!("no consumer {durable} in the subject map"))?;
        consumer::run(self.clone(), spec, settings, handler, shutdown).await
    }
}

/// Consume `spec` until `shutdown` with the bus's consumer settings, handing batches to
/// `handler` and settling each message (see [`crate::consumer`]).
pub async fn run_consumer<H, Fut>(
    bus: Bus,
    spec: ConsumerSpec,
    handler: H,
    shutdown: Shutdown,
) -> anyhow::Result<()>
where
    H: Fn(Vec<Incoming>) -> Fut,
    Fut: Future<Output = BatchOutcome>,
{
    let settings = bus.settings;
    consumer::run(bus, spec, settings, handler, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_millis(1000));
        assert!(backoff(6) <= Duration::from_secs(30));
        assert!(backoff(100) <= Duration::from_secs(30));
    }
}
