//! Batched, partitioned consumption of a durable JetStream consumer.
//!
//! ```text
//!  JetStream consumer (pinned: one replica at a time)
//!        │ pull stream (up to 2 × batch_max in flight)
//!        ▼
//!   dispatcher ── key (Oversight-Key header: the trust) ─▶ lane = hash(key) % lanes
//!        │                                                   │
//!        ▼                                                   ▼
//!   lane 0: batch → handler → settle     …     lane n: batch → handler → settle
//! ```
//!
//! * **Order per trust.** Every message carries its partition key (the trust code) in the
//!   `Oversight-Key` header; all messages of a key go to the same lane, and a lane handles its
//!   batches one after another, so one trust's messages are applied in stream order. Lanes run
//!   concurrently.
//! * **Replicas.** The consumer uses JetStream priority groups with a pinned client: the server
//!   delivers to one pull client (one replica) at a time and moves the pin to a standby replica
//!   when the pinned one stops pulling for [`PIN_TIMEOUT`]. Two replicas therefore never apply
//!   messages of one trust concurrently.
//! * **Batches.** A lane takes what is queued (up to `batch_max`; with a non-zero `batch_wait` it
//!   lingers that long for more, by default it does not: batches form from what queued while the
//!   previous batch committed) and hands the batch to the handler, which stores it in one transaction and reports one
//!   outcome per message. Settling comes after: poison messages are dead-lettered one by one (the
//!   rest of the batch commits); when every other message is done, all are acked together. A
//!   message is never acked before the handler has stored it.
//! * **Dead pulls.** A pull request lives on the server that leads the consumer. When that server
//!   dies (or the client's own server does, or the consumer has no leader for a moment) the pull
//!   says so by missing its idle heartbeats ([`PULL_HEARTBEAT`]), by "no responders" or by a failed
//!   request: after two missed heartbeats, or at once on the others, the pull is dropped and a new
//!   one opened on whichever server leads the consumer now (`pull`, waiting through the
//!   election). What the dead pull had received and not handed to a lane comes back after the ack
//!   wait; the handlers are idempotent.
//! * **Transient failures** (a dependency down) are never dead-lettered: the lane keeps the batch,
//!   tells JetStream it is still working on it, and retries the whole batch with capped backoff
//!   until it succeeds, so nothing behind it overtakes it. The handlers are idempotent, so the
//!   retried messages that had already been applied change nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::Shutdown;
use crate::nats::{Bus, HandleError, Incoming};
use crate::subjects::ConsumerSpec;
use crate::telemetry;

pub const DEFAULT_BATCH_MAX: usize = 256;
/// No lingering by default: a lane takes what is queued when it is free, so batches form on their
/// own under load (while one batch commits, the next queues) and an idle pipeline adds no wait to
/// a message (bench: each linger of 2 ms added 2 ms to each of the three consumer hops).
pub const DEFAULT_BATCH_WAIT_MS: u64 = 0;
pub const DEFAULT_LANES: usize = 4;
pub const DEFAULT_RETRY_MAX_MS: u64 = 5_000;
pub const DEFAULT_MAX_INFLIGHT_MIB: usize = 8;

/// The priority group every replica pulls in.
pub const PRIORITY_GROUP: &str = "replicas";
/// How long a pinned replica keeps the pin without pulling before a standby takes over.
pub const PIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Pull requests expire well inside the pin timeout, so a live replica never loses its pin.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// The server sends an idle heartbeat this often while a pull waits; two missed mean the pull is
/// dead (see the module's *Dead pulls*).
pub const PULL_HEARTBEAT: Duration = Duration::from_secs(2);

/// How a consumer batches, runs lanes and retries (from [`crate::InfraConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerSettings {
    pub batch_max: usize,
    pub batch_wait: Duration,
    pub lanes: usize,
    pub retry_max: Duration,
    /// Bytes of message bodies a consumer holds at once (pulled, queued in lanes, in handling):
    /// what bounds its memory whatever the message size.
    pub max_inflight_bytes: usize,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            batch_max: DEFAULT_BATCH_MAX,
            batch_wait: Duration::from_millis(DEFAULT_BATCH_WAIT_MS),
            lanes: DEFAULT_LANES,
            retry_max: Duration::from_millis(DEFAULT_RETRY_MAX_MS),
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_MIB << 20,
        }
    }
}

/// A message and its share of the consumer's byte budget (given back when it is settled).
type Held = (jetstream::Message, tokio::sync::OwnedSemaphorePermit);

/// The stable lane of a key (FNV-1a, so every process and version agrees).
pub fn lane_of(key: &str, lanes: usize) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h as usize) % lanes.max(1)
}

/// Backoff before retry `attempt` (1-based): 100 ms doubling, capped at `max`.
pub fn retry_backoff(attempt: u32, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    Duration::from_millis(100u64.saturating_mul(1u64 << exp)).min(max)
}

/// Per-message outcomes of a batch, in the batch's order.
pub type BatchOutcome = Vec<Result<(), HandleError>>;

/// The first step of a batch handler: decode every message and check it at the edge. A message
/// that does not decode is dead-lettered by the decode; one that `check` refuses is settled alone
/// through [`crate::error::settle`] (named by `describe`); the rest come back with their positions
/// in the batch, their outcomes `Ok` until a later step says otherwise.
pub fn check_each<M, V, E>(
    batch: &[Incoming],
    check: impl Fn(&M) -> Result<V, E>,
    describe: impl Fn(&M) -> String,
) -> (BatchOutcome, Vec<(usize, V)>)
where
    M: prost::Message + Default,
    E: crate::error::Failure,
{
    let mut outcomes: BatchOutcome = Vec::with_capacity(batch.len());
    let mut checked = Vec::with_capacity(batch.len());
    for (i, msg) in batch.iter().enumerate() {
        let message: M = match msg.decode() {
            Ok(m) => m,
            Err(e) => {
                outcomes.push(Err(e));
                continue;
            }
        };
        match check(&message) {
            Ok(v) => {
                checked.push((i, v));
                outcomes.push(Ok(()));
            }
            Err(e) => outcomes.push(crate::error::settle(describe(&message), Err(e))),
        }
    }
    (outcomes, checked)
}

/// An evidence message as dead-letter reasons and logs name it: `evidence <id> for trust "<code>"`.
pub fn evidence_name(
    provenance: Option<&oversight_proto::evidence::v1::Provenance>,
    trust_code: &str,
) -> String {
    let id = provenance.map_or("?", |p| p.evidence_id.as_str());
    format!("evidence {id} for trust {trust_code:?}")
}

/// Retry in place the messages at `positions` of a batch (their outcomes become transient, with
/// `reason`): a batch step that failed — storing the batch, re-rating one trust — must not ack the
/// messages it concerns, and must leave the others as they are.
pub fn retry_in_place(
    outcomes: &mut BatchOutcome,
    positions: impl IntoIterator<Item = usize>,
    reason: impl std::fmt::Display,
) {
    let reason = reason.to_string();
    for i in positions {
        if let Some(outcome) = outcomes.get_mut(i) {
            *outcome = Err(HandleError::Transient(anyhow::anyhow!("{reason}")));
        }
    }
}

/// Handle one message at a time as a batch handler (for consumers whose messages are few and
/// heavy, such as queued feed chunks).
pub async fn one_by_one<H, Fut>(batch: Vec<Incoming>, handler: &H) -> BatchOutcome
where
    H: Fn(Incoming) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        out.push(handler(m).await);
    }
    out
}

fn incoming(msg: &jetstream::Message) -> Incoming {
    let (deliveries, seq) = msg
        .info()
        .map(|i| (i.delivered, i.stream_sequence))
        .unwrap_or((1, 0));
    Incoming {
        subject: msg.subject.to_string(),
        payload: msg.payload.clone(),
        headers: msg.headers.clone(),
        deliveries,
        stream_sequence: seq,
    }
}

/// Consume `spec` until `shutdown` (or until the message stream fails for good, an error the
/// service must exit on), handing batches to `handler`.
pub async fn run<H, Fut>(
    bus: Bus,
    spec: ConsumerSpec,
    settings: ConsumerSettings,
    handler: H,
    shutdown: Shutdown,
) -> anyhow::Result<()>
where
    H: Fn(Vec<Incoming>) -> Fut,
    Fut: Future<Output = BatchOutcome>,
{
    // The budget in KiB; the pull asks for at most half of it at a time.
    let budget_kib = (settings.max_inflight_bytes >> 10).max(64);
    let budget = std::sync::Arc::new(tokio::sync::Semaphore::new(budget_kib));
    let Some(mut messages) = pull(&bus, &spec, &settings, budget_kib, &shutdown).await else {
        return Ok(());
    };
    tracing::info!(consumer = %spec.durable, stream = %spec.stream, lanes = settings.lanes,
        batch_max = settings.batch_max, "consuming");

    let lanes = settings.lanes.max(1);
    let mut senders = Vec::with_capacity(lanes);
    let mut receivers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, rx) = mpsc::channel::<Held>(settings.batch_max.max(1) * 2);
        senders.push(tx);
        receivers.push(rx);
    }
    let lane_runs = futures::future::join_all(receivers.into_iter().enumerate().map(|(i, rx)| {
        Lane {
            bus: &bus,
            spec: &spec,
            settings,
            index: i,
        }
        .run(rx, &handler, shutdown.clone())
    }));
    let dispatch = async {
        let mut failure = None;
        // Whether the last thing the pull stream said was a missed heartbeat.
        let mut missed_heartbeat = false;
        // Pulls re-opened since the last message: spaces out re-opens that fail at once again
        // (a server refusing the request) rather than spinning.
        let mut reopened = 0u32;
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                next = messages.next() => next,
            };
            let msg = match next {
                None => {
                    failure = Some(anyhow::anyhow!(
                        "the message stream of {} ended",
                        spec.durable
                    ));
                    break;
                }
                Some(Ok(m)) => {
                    missed_heartbeat = false;
                    reopened = 0;
                    m
                }
                Some(Err(e)) => {
                    use async_nats::jetstream::consumer::pull::MessagesErrorKind as K;
                    match e.kind() {
                        // The consumer was deleted or refuses our pulls: exit so that a restart
                        // re-declares it (a NATS outage, by contrast, is waited out).
                        K::ConsumerDeleted | K::RequestLimitExceeded => {
                            failure = Some(anyhow::anyhow!(
                                "consumer {} cannot be pulled: {e}",
                                spec.durable
                            ));
                            break;
                        }
                        // One missed heartbeat can be a slow server; the next is a dead pull.
                        K::MissingHeartbeat if !missed_heartbeat => {
                            missed_heartbeat = true;
                            tracing::debug!(consumer = %spec.durable, "missed a pull heartbeat");
                            continue;
                        }
                        // The pull is dead (its server or the consumer's leader is gone, no
                        // leader answers, the request could not be sent): pull afresh from
                        // whichever server leads the consumer now. What the old pull had
                        // received and not handed over is redelivered after the ack wait.
                        _ => {
                            tracing::warn!(consumer = %spec.durable, error = %e,
                                "pull stream failed; pulling again from the consumer's current leader");
                            drop(messages);
                            if reopened > 0 {
                                let delay = retry_backoff(reopened, Duration::from_secs(5));
                                tokio::select! {
                                    _ = shutdown.cancelled() => break,
                                    _ = tokio::time::sleep(delay) => {}
                                }
                            }
                            reopened += 1;
                            match pull(&bus, &spec, &settings, budget_kib, &shutdown).await {
                                Some(m) => messages = m,
                                None => break,
                            }
                            missed_heartbeat = false;
                            continue;
                        }
                    }
                }
            };
            let key = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(crate::nats::KEY_HEADER))
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            let lane = lane_of(&key, lanes);
            // Wait for room in the budget (lanes give it back as they settle).
            let kib = u32::try_from((msg.payload.len() >> 10).clamp(1, budget_kib)).unwrap_or(1);
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                p = budget.clone().acquire_many_owned(kib) => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            if senders[lane].send((msg, permit)).await.is_err() {
                break;
            }
        }
        // Closing the lanes' queues lets them finish what they hold and stop.
        drop(senders);
        failure
    };
    let (failure, lane_results) = tokio::join!(dispatch, lane_runs);
    tracing::info!(consumer = %spec.durable, "consumer stopped");
    if let Some(e) = failure {
        return Err(e);
    }
    lane_results.into_iter().collect()
}

/// Look the consumer up (declaring it if need be) and open a pull stream on it, waiting out
/// whatever stops that (the owner has not declared the stream yet, NATS is unreachable, the
/// consumer has no leader during an election) until it works or `shutdown` (then `None`).
async fn pull(
    bus: &Bus,
    spec: &ConsumerSpec,
    settings: &ConsumerSettings,
    budget_kib: usize,
    shutdown: &Shutdown,
) -> Option<jetstream::consumer::pull::Stream> {
    let mut attempt = 0u32;
    loop {
        let opened = async {
            let consumer = bus.ensure_consumer(spec).await?;
            consumer
                .stream()
                .max_messages_per_batch(settings.batch_max.saturating_mul(2).max(2))
                .max_bytes_per_batch((budget_kib << 10) / 2)
                .expires(PULL_EXPIRES)
                .heartbeat(PULL_HEARTBEAT)
                .group(PRIORITY_GROUP)
                .messages()
                .await
                .with_context(|| format!("failed to start consuming {}", spec.durable))
        };
        match opened.await {
            Ok(messages) => {
                if attempt > 0 {
                    tracing::info!(consumer = %spec.durable, attempts = attempt + 1, "pulling");
                }
                return Some(messages);
            }
            Err(e) => {
                attempt += 1;
                if attempt == 1 || attempt.is_multiple_of(10) {
                    tracing::warn!(consumer = %spec.durable, error = %format!("{e:#}"),
                        attempt, "cannot pull yet (waiting for the stream, NATS or a consumer leader)");
                }
                let delay = retry_backoff(attempt, Duration::from_secs(5));
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

struct Lane<'a> {
    bus: &'a Bus,
    spec: &'a ConsumerSpec,
    settings: ConsumerSettings,
    index: usize,
}

impl Lane<'_> {
    async fn run<H, Fut>(
        self,
        mut rx: mpsc::Receiver<Held>,
        handler: &H,
        shutdown: Shutdown,
    ) -> anyhow::Result<()>
    where
        H: Fn(Vec<Incoming>) -> Fut,
        Fut: Future<Output = BatchOutcome>,
    {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.settings.batch_wait;
            while batch.len() < self.settings.batch_max {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) if self.settings.batch_wait.is_zero() => break,
                    Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(m)) => batch.push(m),
                        _ => break,
                    },
                }
            }
            let (batch, permits): (Vec<jetstream::Message>, Vec<_>) = batch.into_iter().unzip();
            if shutdown.is_cancelled() {
                // Hand what is queued back to JetStream at once (another replica takes it).
                nak_all(&batch).await;
                while let Ok((m, _)) = rx.try_recv() {
                    let _ = m.ack_with(AckKind::Nak(None)).await;
                }
                continue;
            }
            self.handle(batch, handler, &shutdown).await;
            drop(permits);
        }
        Ok(())
    }

    async fn handle<H, Fut>(&self, batch: Vec<jetstream::Message>, handler: &H, shutdown: &Shutdown)
    where
        H: Fn(Vec<Incoming>) -> Fut,
        Fut: Future<Output = BatchOutcome>,
    {
        let service = self.bus.service();
        let durable = self.spec.durable.as_str();
        let started = Instant::now();
        // A redelivered message is applied again even when newer messages of its key were applied
        // meanwhile: it may never have been applied (its replica died holding it), and the
        // handlers are idempotent.
        let mut pending: Vec<(jetstream::Message, Incoming)> = batch
            .into_iter()
            .map(|m| {
                let inc = incoming(&m);
                (m, inc)
            })
            .collect();
        let span = tracing::info_span!("batch", consumer = %durable, lane = self.index, size = pending.len());
        if let Some((_, first)) = pending.first() {
            telemetry::adopt_nats_parent(&span, first.headers.as_ref());
        }
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let outcomes = handler(pending.iter().map(|(_, i)| i.clone()).collect())
                .instrument(span.clone())
                .await;
            let mut transient: Option<anyhow::Error> = None;
            let mut keep = Vec::with_capacity(pending.len());
            let mut poisoned = Vec::new();
            let mut outcomes = outcomes.into_iter();
            for (m, inc) in pending {
                match outcomes.next() {
                    Some(Ok(())) => keep.push((m, inc, true)),
                    Some(Err(HandleError::Poison(reason))) => poisoned.push((m, inc, reason)),
                    Some(Err(HandleError::Transient(e))) => {
                        transient.get_or_insert(e);
                        keep.push((m, inc, false));
                    }
                    None => {
                        transient.get_or_insert(anyhow::anyhow!(
                            "the handler returned fewer outcomes than messages"
                        ));
                        keep.push((m, inc, false));
                    }
                }
            }
            for (m, inc, reason) in poisoned {
                crate::metrics::message_handled(service, durable, "dead_letter", started.elapsed());
                give_up(self.bus, self.spec, &m, &inc, &reason)
                    .instrument(span.clone())
                    .await;
            }
            match transient {
                None => {
                    let msgs: Vec<jetstream::Message> = keep.into_iter().map(|(m, ..)| m).collect();
                    crate::metrics::batch_handled(service, durable, msgs.len());
                    crate::crash::crash_point(crate::crash::AFTER_PUBLISH_BEFORE_ACK);
                    ack_all(&msgs, service, durable, started).await;
                    pending = Vec::new();
                }
                Some(e) => {
                    attempt += 1;
                    let delay = retry_backoff(attempt, self.settings.retry_max);
                    crate::metrics::handler_retried(service, durable);
                    let _entered = span.enter();
                    tracing::warn!(error = %format!("{e:#}"), attempt, retry_in_ms = delay.as_millis() as u64,
                        messages = keep.len(), "transient failure; will retry");
                    drop(_entered);
                    pending = keep.into_iter().map(|(m, inc, _)| (m, inc)).collect();
                    // Still working on them: JetStream must not hand them to anyone else.
                    for (m, _) in &pending {
                        let _ = m.ack_with(AckKind::Progress).await;
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            let msgs: Vec<_> = pending.into_iter().map(|(m, _)| m).collect();
                            nak_all(&msgs).await;
                            return;
                        }
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

async fn ack_all(msgs: &[jetstream::Message], service: &str, durable: &str, started: Instant) {
    let acks = msgs.iter().map(|m| async move {
        if let Err(e) = m.double_ack().await {
            // The server redelivers after ack_wait; the handlers are idempotent.
            tracing::warn!(error = %e, "failed to ack; the message will be redelivered");
        }
    });
    futures::future::join_all(acks).await;
    for _ in msgs {
        crate::metrics::message_handled(service, durable, "ack", started.elapsed());
    }
}

async fn nak_all(msgs: &[jetstream::Message]) {
    futures::future::join_all(msgs.iter().map(|m| m.ack_with(AckKind::Nak(None)))).await;
}

async fn give_up(
    bus: &Bus,
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    incoming: &Incoming,
    reason: &str,
) {
    tracing::error!(
        reason,
        seq = incoming.stream_sequence,
        "dead-lettering message"
    );
    let settled = match bus.dead_letter(&spec.stream, incoming, reason).await {
        Ok(()) => msg
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| anyhow::anyhow!("{e}")),
        Err(e) => {
            // Never drop a message we could not record: leave it for redelivery.
            let _ = msg
                .ack_with(AckKind::Nak(Some(crate::nats::backoff(
                    incoming.deliveries,
                ))))
                .await;
            Err(e.context("failed to publish dead letter"))
        }
    };
    if let Err(e) = settled {
        tracing::warn!(error = %format!("{e:#}"), "failed to settle a poison message; it will be redelivered");
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("trust_code: not a trust code")]
    struct Invalid;

    impl crate::error::Failure for Invalid {
        fn kind(&self) -> crate::error::ErrorKind {
            crate::error::ErrorKind::invalid("trust_code", "not a trust code")
        }
    }

    #[test]
    fn check_each_settles_bad_messages_alone_and_keeps_the_positions_of_the_rest() {
        use oversight_proto::evidence::v1 as ev;
        use prost::Message as _;
        let msg = |payload: Vec<u8>| super::Incoming {
            subject: "evidence".into(),
            payload: payload.into(),
            headers: None,
            deliveries: 1,
            stream_sequence: 1,
        };
        let evidence = |trust: &str| ev::QualityEvidence {
            provenance: Some(ev::Provenance {
                evidence_id: format!("E-{trust}"),
                ..Default::default()
            }),
            trust_code: trust.into(),
            ..Default::default()
        };
        let batch = vec![
            msg(evidence("RAA").encode_to_vec()),
            msg(vec![0xff, 0xff, 0xff]),
            msg(evidence("bad").encode_to_vec()),
            msg(evidence("RBB").encode_to_vec()),
        ];
        let (outcomes, checked) = super::check_each(
            &batch,
            |e: &ev::QualityEvidence| {
                if e.trust_code == "bad" {
                    Err(Invalid)
                } else {
                    Ok(e.trust_code.clone())
                }
            },
            |e| super::evidence_name(e.provenance.as_ref(), &e.trust_code),
        );
        assert_eq!(
            checked,
            vec![(0, "RAA".to_string()), (3, "RBB".to_string())]
        );
        assert!(outcomes[0].is_ok() && outcomes[3].is_ok());
        assert!(
            matches!(&outcomes[1], Err(super::HandleError::Poison(_))),
            "undecodable"
        );
        assert!(
            matches!(&outcomes[2], Err(super::HandleError::Poison(r))
                if r == "evidence E-bad for trust \"bad\": trust_code: not a trust code"),
            "{:?}",
            outcomes[2]
        );
    }

    #[test]
    fn retry_in_place_marks_only_the_positions_given() {
        let mut outcomes: super::BatchOutcome = vec![
            Ok(()),
            Ok(()),
            Ok(()),
            Err(super::HandleError::poison("bad")),
        ];
        super::retry_in_place(&mut outcomes, [0, 2, 9], "failed to re-rate RXX: down");
        assert!(
            matches!(&outcomes[0], Err(super::HandleError::Transient(e)) if e.to_string() == "failed to re-rate RXX: down")
        );
        assert!(outcomes[1].is_ok());
        assert!(matches!(
            &outcomes[2],
            Err(super::HandleError::Transient(_))
        ));
        assert!(
            matches!(&outcomes[3], Err(super::HandleError::Poison(_))),
            "others are left as they are"
        );
    }

    use super::*;

    #[test]
    fn lanes_are_stable_and_spread() {
        assert_eq!(lane_of("RXX", 4), lane_of("RXX", 4));
        assert_eq!(lane_of("", 1), 0);
        let used: std::collections::BTreeSet<usize> =
            (0..100).map(|i| lane_of(&format!("R{i:02}"), 4)).collect();
        assert_eq!(used.len(), 4, "100 trusts use every lane");
    }

    #[test]
    fn retry_backoff_grows_and_is_capped() {
        let max = Duration::from_secs(5);
        assert_eq!(retry_backoff(1, max), Duration::from_millis(100));
        assert_eq!(retry_backoff(2, max), Duration::from_millis(200));
        assert_eq!(retry_backoff(30, max), max);
    }
}
