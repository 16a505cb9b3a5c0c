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
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer, stream};
use bytes::Bytes;
use futures::StreamExt;
use tracing::Instrument;

use crate::subjects::{ConsumerSpec, DUPLICATE_WINDOW, StreamSpec};
use crate::{InfraConfig, Shutdown, Subjects, telemetry};

/// How long the server waits for an ack before redelivering.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries before a failing message is dead-lettered.
pub const MAX_DELIVER: i64 = 10;

/// A service's connection to NATS and JetStream.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    subjects: Subjects,
    service: &'static str,
}

/// How a handler's failure is settled.
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
    /// Connect to NATS as `service` with the configured credentials.
    pub async fn connect(cfg: &InfraConfig, service: &'static str) -> anyhow::Result<Bus> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(service)
            .connection_timeout(Duration::from_secs(10));
        if let (Some(user), Some(password)) = (&cfg.nats_user, &cfg.nats_password) {
            opts = opts.user_and_password(user.clone(), password.expose().to_string());
        }
        let client = opts
            .connect(cfg.nats_url.as_str())
            .await
            .with_context(|| format!("failed to connect to NATS at {}", cfg.nats_url))?;
        let js = jetstream::new(client.clone());
        Ok(Bus {
            client,
            js,
            subjects: cfg.subjects(),
            service,
        })
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

    /// Declare a stream if it does not exist (idempotent; an existing stream is left as it is).
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> anyhow::Result<stream::Stream> {
        self.js
            .get_or_create_stream(stream::Config {
                name: spec.name.clone(),
                subjects: spec.subjects.clone(),
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .with_context(|| format!("failed to declare stream {}", spec.name))
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
                spec.durable,
                jetstream::consumer::pull::Config {
                    durable_name: Some(spec.durable.to_string()),
                    filter_subject: spec.filter_subject.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_deliver: MAX_DELIVER,
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
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
        telemetry::inject_nats(&mut headers);
        let ack = self
            .js
            .publish_with_headers(subject.clone(), headers, payload)
            .await
            .with_context(|| format!("failed to publish to {subject}"))?
            .await
            .with_context(|| format!("JetStream did not acknowledge the publish to {subject}"))?;
        if !ack.duplicate {
            crate::metrics::events_published(self.service, &subject, 1);
        }
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
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
            failed_at: crate::time::now_rfc3339(),
        };
        let id = format!("dl-{}-{stream}-{}", self.service, incoming.stream_sequence);
        self.publish(self.subjects.deadletter(self.service), &id, &record)
            .await?;
        Ok(())
    }
}

fn backoff(deliveries: i64) -> Duration {
    let exp = u32::try_from(deliveries.clamp(1, 6)).unwrap_or(6);
    Duration::from_millis(500 * 2u64.pow(exp - 1)).min(Duration::from_secs(30))
}

impl Bus {
    /// Consume the durable consumer `durable` of the subject map with `handler` until `shutdown`
    /// (see [`run_consumer`]).
    pub async fn consume<H, Fut>(
        &self,
        durable: &'static str,
        handler: H,
        shutdown: Shutdown,
    ) -> anyhow::Result<()>
    where
        H: Fn(Incoming) -> Fut,
        Fut: Future<Output = Result<(), HandleError>>,
    {
        let spec = self
            .subjects
            .consumer(durable)
            .with_context(|| format!("no consumer {durable} in the subject map"))?;
        run_consumer(self.clone(), spec, handler, shutdown).await
    }
}

/// Consume `spec` until `shutdown`, handing each message to `handler` and settling it. The message
/// in hand is finished before the loop stops.
pub async fn run_consumer<H, Fut>(
    bus: Bus,
    spec: ConsumerSpec,
    handler: H,
    shutdown: Shutdown,
) -> anyhow::Result<()>
where
    H: Fn(Incoming) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    // The stream belongs to another service, which may start later: wait for it.
    let mut attempt = 0u32;
    let consumer = loop {
        match bus.ensure_consumer(&spec).await {
            Ok(c) => break c,
            Err(e) => {
                attempt += 1;
                if attempt == 1 || attempt.is_multiple_of(10) {
                    tracing::warn!(consumer = spec.durable, error = %format!("{e:#}"), "waiting for stream");
                }
                let delay = backoff(i64::from(attempt.min(5)));
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    };
    let mut messages = consumer
        .messages()
        .await
        .with_context(|| format!("failed to start consuming {}", spec.durable))?;
    tracing::info!(consumer = spec.durable, stream = %spec.stream, "consuming");
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            next = messages.next() => next,
        };
        let Some(next) = next else { break };
        let msg = match next {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(consumer = spec.durable, error = %e, "pull failed; continuing");
                continue;
            }
        };
        let (deliveries, seq) = msg
            .info()
            .map(|i| (i.delivered, i.stream_sequence))
            .unwrap_or((1, 0));
        let incoming = Incoming {
            subject: msg.subject.to_string(),
            payload: msg.payload.clone(),
            headers: msg.headers.clone(),
            deliveries,
            stream_sequence: seq,
        };
        let span = tracing::info_span!("handle", consumer = spec.durable, subject = %incoming.subject, seq, deliveries);
        telemetry::adopt_nats_parent(&span, incoming.headers.as_ref());
        let started = std::time::Instant::now();
        let outcome = handler(incoming.clone()).instrument(span.clone()).await;
        let decision = match &outcome {
            Ok(()) => "ack",
            Err(HandleError::Transient(_)) if deliveries < MAX_DELIVER => "nak",
            Err(_) => "dead_letter",
        };
        crate::metrics::message_handled(bus.service, spec.durable, decision, started.elapsed());
        let settled = async {
            match outcome {
                Ok(()) => msg.double_ack().await.map_err(|e| anyhow::anyhow!("{e}")),
                Err(HandleError::Poison(reason)) => {
                    give_up(&bus, &spec, &msg, &incoming, &reason).await
                }
                Err(HandleError::Transient(e)) if deliveries >= MAX_DELIVER => {
                    let reason = format!("gave up after {deliveries} deliveries: {e:#}");
                    give_up(&bus, &spec, &msg, &incoming, &reason).await
                }
                Err(HandleError::Transient(e)) => {
                    let delay = backoff(deliveries);
                    tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "transient failure; will retry");
                    msg.ack_with(AckKind::Nak(Some(delay)))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))
                }
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = settled {
            // The server will redeliver after ack_wait; handlers are idempotent.
            tracing::warn!(error = %e, "failed to settle message; it will be redelivered");
        }
    }
    tracing::info!(consumer = spec.durable, "consumer stopped");
    Ok(())
}

async fn give_up(
    bus: &Bus,
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    incoming: &Incoming,
    reason: &str,
) -> anyhow::Result<()> {
    tracing::error!(reason, "dead-lettering message");
    match bus.dead_letter(&spec.stream, incoming, reason).await {
        Ok(()) => msg
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| anyhow::anyhow!("{e}")),
        Err(e) => {
            // Never drop a message we could not record: leave it for redelivery.
            msg.ack_with(AckKind::Nak(Some(backoff(incoming.deliveries))))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Err(e.context("failed to publish dead letter"))
        }
    }
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
