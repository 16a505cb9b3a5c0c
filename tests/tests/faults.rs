//! Fault tests (issue 9): the four services run as separate OS processes on one file-backed
//! nats-server, all on loopback, while a large ratings feed flows through the queue door. Each
//! test breaks something in the middle of the feed and then shows that no rating was lost,
//! duplicated or changed:
//!
//! - `kill_9_each_service_mid_feed_loses_and_duplicates_nothing`: SIGKILL each service in turn
//!   and restart it;
//! - `nats_server_restart_mid_feed_loses_and_duplicates_nothing`: kill and restart nats-server on
//!   the same port and store;
//! - `database_unavailable_messages_are_retried_and_nothing_is_acked_before_stored`: cqc-quality's
//!   database refuses writes for a while;
//! - `poison_and_malformed_messages_are_dead_lettered_with_reasons_and_exact_counts`.
//!
//! The expected ratings come from a fault-free run of the same feed through the in-process
//! `Stack` (computed once, shared by the tests).
//!
//! Scale: the 100,000-record feed in the national shape: [`TRUSTS`] (230) acute trusts ×
//! 8–14 locations × 8 core services × 5 key questions, a well-led and a use-of-resources record per
//! trust and two bad records per batch — over 100,000 records (asserted) in [`BATCHES`] (23)
//! queued batches of two chunks each.
//! The database and poison tests send the first quarter and the first batch of the same feed.
//!
//! Binaries: the services are the workspace's own binaries next to this test executable
//! (`target/<profile>/`; `oversight_e2e::processes`); `cargo test --workspace` builds them first. The in-flight messages of a
//! killed service come back after the consumers' ack wait (30 s), which bounds how fast these
//! tests can finish.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use oversight_e2e::national::{self, Part as Batch, combined_ratings, consumer_info, stream_len};
use oversight_e2e::processes::{DbOutage, Processes};
use oversight_e2e::{Stack, normal_combined};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1::DeadLetter;
use oversight_proto::ingestion::v1 as ing;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::consumers;
use oversight_testkit::wait_until;
use prost::Message;
use tokio::sync::OnceCell;

/// Trusts in the feed (every one acute, with 8–14 locations).
const TRUSTS: usize = 230;
/// Queued batches; each trust's records are in exactly one batch.
const BATCHES: usize = 23;
/// The source name on every batch (it is part of the UoR rating's `approved_by`).
const SOURCE: &str = "faults";
/// Deadline for a whole feed to be rated, including the 30 s ack wait after a kill.
const FEED_DEADLINE: Duration = Duration::from_secs(150);

// ---------------------------------------------------------------------------------------------
// The four services as OS processes (`oversight_e2e::processes`)

async fn start_processes() -> Processes {
    let mut p = Processes::new(&[]).await.unwrap();
    p.start_all().await;
    p
}

// ---------------------------------------------------------------------------------------------
// Reading what the pipeline produced

/// Messages (payloads by sequence) of one stream.
async fn stream_payloads(bus: &Bus, stream: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(mut s) = bus.jetstream().get_stream(stream).await else {
        return Vec::new();
    };
    let info = s.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    if info.messages == 0 {
        return out;
    }
    for seq in info.first_sequence..=info.last_sequence {
        let m = s.get_raw_message(seq).await.unwrap();
        out.push((m.subject.to_string(), m.payload.to_vec()));
    }
    out
}

/// Wait until every trust has a combined rating with both parts.
async fn wait_all_rated(
    bus: &Bus,
    combiner: impl Fn() -> SocketAddr,
    trusts: &[String],
    what: &str,
) -> BTreeMap<String, pb::CombinedRatingPublished> {
    wait_until(FEED_DEADLINE, what, || async {
        // Drained first, then read: what is served is then the end state, not a snapshot taken
        // while a trust's later evidence was still on its way.
        if !drained(bus).await {
            return None;
        }
        let all = combined_ratings(combiner()).await?;
        trusts
            .iter()
            .all(|t| {
                all.get(t)
                    .is_some_and(|r| r.use_of_resources_version > 0 && r.quality_version > 0)
            })
            .then_some(all)
    })
    .await
    .unwrap()
}

/// Whether every consumer of the pipeline has nothing pending (nothing undelivered, nothing
/// delivered and unsettled).
async fn drained(bus: &Bus) -> bool {
    let s = bus.subjects();
    for durable in [
        consumers::INGESTION_FEEDS,
        consumers::CQC_EVIDENCE,
        consumers::NHSI_EVIDENCE,
        consumers::COMBINER_QUALITY,
        consumers::COMBINER_UOR,
        consumers::NHSI_QUALITY,
    ] {
        let spec = s.consumer(durable).unwrap();
        match consumer_info(bus, &spec.stream, durable).await {
            Some(i) if i.num_pending == 0 && i.num_ack_pending == 0 => {}
            // nhsi-resources' consumer of quality ratings, where that service has one.
            None if durable == consumers::NHSI_QUALITY => {}
            _ => return false,
        }
    }
    true
}

/// A rating with what differs between runs cleared: ids, versions and timestamps.
fn normal_quality(q: &QualityRatingIssued) -> QualityRatingIssued {
    let mut q = q.clone();
    q.event_id.clear();
    q.version = 0;
    q.issued_at = None;
    q
}

fn normal_uor(u: &UseOfResourcesRatingApproved) -> UseOfResourcesRatingApproved {
    let mut u = u.clone();
    u.event_id.clear();
    u.version = 0;
    u.approved_at = None;
    u
}

/// Every rating event of a run, per trust, oldest version first.
#[derive(Default)]
struct Events {
    quality: BTreeMap<String, Vec<QualityRatingIssued>>,
    uor: BTreeMap<String, Vec<UseOfResourcesRatingApproved>>,
    combined: BTreeMap<String, Vec<pb::CombinedRatingPublished>>,
    dead_letters: Vec<DeadLetter>,
    not_events: usize,
    /// Distinct evidence messages per trust (quality, resources), from the evidence stream.
    evidence: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
}

/// The final ratings of a run, normalised for comparison.
#[derive(Debug, Clone, PartialEq)]
struct Finals {
    quality: BTreeMap<String, QualityRatingIssued>,
    uor: BTreeMap<String, UseOfResourcesRatingApproved>,
    combined: BTreeMap<String, pb::CombinedRatingPublished>,
}

/// Read every rating event from the streams, asserting that no event id appears twice and that
/// each trust's versions run 1, 2, … with no repeat of the same content. Messages that are no
/// rating event (undecodable, or without a version: only a test's poison) are counted in
/// `not_events`.
async fn read_events(bus: &Bus) -> Events {
    fn event<M: Message + Default>(payload: &[u8], version: impl Fn(&M) -> u64) -> Option<M> {
        M::decode(payload).ok().filter(|m| version(m) > 0)
    }
    let s = bus.subjects();
    let mut ids = BTreeSet::new();
    let mut ev = Events::default();
    for (_, p) in stream_payloads(bus, &s.quality_stream().name).await {
        let Some(q) = event(&p, |q: &QualityRatingIssued| q.version) else {
            ev.not_events += 1;
            continue;
        };
        assert!(
            ids.insert(q.event_id.clone()),
            "duplicate event {}",
            q.event_id
        );
        ev.quality.entry(q.trust_code.clone()).or_default().push(q);
    }
    for (_, p) in stream_payloads(bus, &s.uor_stream().name).await {
        let Some(u) = event(&p, |u: &UseOfResourcesRatingApproved| u.version) else {
            ev.not_events += 1;
            continue;
        };
        assert!(
            ids.insert(u.event_id.clone()),
            "duplicate event {}",
            u.event_id
        );
        ev.uor.entry(u.trust_code.clone()).or_default().push(u);
    }
    for (_, p) in stream_payloads(bus, &s.combined_stream().name).await {
        let Some(c) = event(&p, |c: &pb::CombinedRatingPublished| c.version) else {
            ev.not_events += 1;
            continue;
        };
        assert!(
            ids.insert(c.event_id.clone()),
            "duplicate event {}",
            c.event_id
        );
        ev.combined.entry(c.trust_code.clone()).or_default().push(c);
    }
    for (_, p) in stream_payloads(bus, &s.deadletter_stream().name).await {
        ev.dead_letters
            .push(DeadLetter::decode(p.as_slice()).unwrap());
    }
    for (subject, p) in stream_payloads(bus, &s.evidence_stream().name).await {
        use oversight_proto::evidence::v1::{Provenance, QualityEvidence, ResourceEvidence};
        let id =
            |prov: Option<&Provenance>| prov.map(|p| p.evidence_id.clone()).unwrap_or_default();
        if subject == s.evidence_quality() {
            if let Ok(q) = QualityEvidence::decode(p.as_slice()) {
                let entry = ev.evidence.entry(q.trust_code.clone()).or_default();
                entry.0.insert(id(q.provenance.as_ref()));
            }
        } else if let Ok(r) = ResourceEvidence::decode(p.as_slice()) {
            let entry = ev.evidence.entry(r.trust_code.clone()).or_default();
            entry.1.insert(id(r.provenance.as_ref()));
        }
    }
    assert_versions("quality", &ev.quality, |q| q.version, normal_quality);
    assert_versions("UoR", &ev.uor, |u| u.version, normal_uor);
    assert_versions("combined", &ev.combined, |c| c.version, normal_combined);
    ev
}

/// Each trust's versions run 1, 2, … and no version repeats the content of the one before.
fn assert_versions<E: PartialEq + std::fmt::Debug>(
    what: &str,
    events: &BTreeMap<String, Vec<E>>,
    version: impl Fn(&E) -> u64,
    normal: impl Fn(&E) -> E,
) {
    for (trust, versions) in events {
        let v: Vec<u64> = versions.iter().map(&version).collect();
        assert_eq!(
            v,
            (1..=v.len() as u64).collect::<Vec<_>>(),
            "{what} versions of {trust}"
        );
        for w in versions.windows(2) {
            assert_ne!(
                normal(&w[0]),
                normal(&w[1]),
                "{trust}: repeated {what} content"
            );
        }
    }
}

impl Events {
    fn finals(&self) -> Finals {
        Finals {
            quality: self
                .quality
                .iter()
                .filter_map(|(t, v)| Some((t.clone(), normal_quality(v.last()?))))
                .collect(),
            uor: self
                .uor
                .iter()
                .filter_map(|(t, v)| Some((t.clone(), normal_uor(v.last()?))))
                .collect(),
            combined: self
                .combined
                .iter()
                .filter_map(|(t, v)| Some((t.clone(), normal_combined(v.last()?))))
                .collect(),
        }
    }

    /// Every trust rated, and rated once per piece of evidence at most: ingestion sends a trust's
    /// quality records of one commit group as one message, each message may make one new quality
    /// version and each part version one combined version. A redelivered or replayed message
    /// that made a second version would break these bounds or repeat the previous content
    /// (checked in `read_events`).
    fn assert_each_trust_rated_once(&self, trusts: &[String]) {
        let expected: BTreeSet<&String> = trusts.iter().collect();
        assert_eq!(
            self.quality.keys().collect::<BTreeSet<_>>(),
            expected,
            "trusts with a quality rating"
        );
        assert_eq!(
            self.uor.keys().collect::<BTreeSet<_>>(),
            expected,
            "trusts with a UoR rating"
        );
        assert_eq!(
            self.combined.keys().collect::<BTreeSet<_>>(),
            expected,
            "trusts with a combined rating"
        );
        for t in trusts {
            let Some((quality_msgs, resource_msgs)) = self.evidence.get(t) else {
                panic!(
                    "{t}: no evidence on the evidence stream ({} trusts there)",
                    self.evidence.len()
                );
            };
            let (q, u, c) = (
                self.quality[t].len(),
                self.uor[t].len(),
                self.combined[t].len(),
            );
            assert!(
                q <= quality_msgs.len(),
                "{t}: {q} quality versions from {} evidence messages",
                quality_msgs.len()
            );
            assert!(
                u <= resource_msgs.len(),
                "{t}: {u} UoR versions from {} evidence messages",
                resource_msgs.len()
            );
            assert!(
                c <= q + u,
                "{t}: {c} combined versions from {q} quality and {u} UoR versions"
            );
        }
    }
}

/// The fault-free ratings of the whole feed, from the in-process stack (computed once). Every
/// test awaits it first, before starting its processes: the first test computes it while nothing
/// else runs and the others wait, so its deadline is never spent competing with a faulted run.
async fn reference() -> &'static Finals {
    static REFERENCE: OnceCell<Finals> = OnceCell::const_new();
    REFERENCE
        .get_or_init(|| async {
            let feed = national::feed(TRUSTS, BATCHES);
            let stack = Stack::start().await.unwrap();
            let bus = stack.env.nats_client().await.unwrap();
            national::publish(&bus, SOURCE, &feed.parts).await.unwrap();
            let addr = stack.combiner;
            wait_all_rated(&bus, || addr, &feed.trusts, "the fault-free reference run").await;
            let events = read_events(&bus).await;
            events.assert_each_trust_rated_once(&feed.trusts);
            assert!(events.dead_letters.is_empty(), "{:?}", events.dead_letters);
            stack.stop().await.unwrap();
            events.finals()
        })
        .await
}

/// Ingestion's receipts: every record counted, the bad ones rejected with their reasons.
async fn assert_batches_counted(addr: SocketAddr, batches: &[Batch]) {
    let mut client = IngestionServiceClient::new(Stack::channel(addr).await.unwrap());
    for b in batches {
        let s = client
            .get_batch_status(ing::GetBatchStatusRequest {
                batch_id: b.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s.records, b.good + b.bad, "{}: records", b.id);
        assert_eq!(s.rejected, b.bad, "{}: rejected", b.id);
        // A batch redelivered after its commit counts its records as duplicates of itself.
        assert_eq!(
            s.accepted + s.duplicates,
            b.good,
            "{}: accepted {s:?}",
            b.id
        );
        assert_eq!(s.rejections.len() as u64, b.bad, "{}: rejections", b.id);
        let fields: BTreeSet<&str> = s.rejections.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(fields, BTreeSet::from(["rating", "trust_code"]), "{}", b.id);
    }
}

/// Everything a faulted run must show at the end, against the fault-free reference: every trust
/// of `batches` rated exactly once, no event id twice, no dead letter (unless the run carried
/// poison), and the same final ratings.
async fn assert_no_rating_lost_duplicated_or_changed(
    p: &Processes,
    batches: &[Batch],
    poison_sent: bool,
) {
    let trusts: Vec<String> = batches.iter().flat_map(|b| b.trusts.clone()).collect();
    let bus = p.bus().await.unwrap();
    let served = wait_all_rated(&bus, || p.combiner(), &trusts, "every trust rated").await;
    assert_batches_counted(p.ingestion(), batches).await;
    let events = read_events(&bus).await;
    events.assert_each_trust_rated_once(&trusts);
    if !poison_sent {
        assert_eq!(
            events.not_events, 0,
            "messages on rating streams that are no rating event"
        );
        assert!(
            events.dead_letters.is_empty(),
            "no dead letters expected: {:?}",
            events
                .dead_letters
                .iter()
                .map(|d| &d.reason)
                .collect::<Vec<_>>()
        );
    }
    let finals = events.finals();
    let expected = reference().await;
    for t in &trusts {
        assert_eq!(
            finals.quality[t], expected.quality[t],
            "{t}: quality rating differs from the fault-free run"
        );
        assert_eq!(
            finals.uor[t], expected.uor[t],
            "{t}: UoR rating differs from the fault-free run"
        );
        assert_eq!(
            finals.combined[t], expected.combined[t],
            "{t}: combined rating differs from the fault-free run"
        );
        assert_eq!(
            normal_combined(&served[t]),
            expected.combined[t],
            "{t}: served rating differs"
        );
    }
}

/// How far the pipeline got: (feed chunks acked by ingestion, quality events, UoR events,
/// combined events).
async fn progress(bus: &Bus) -> (u64, u64, u64, u64) {
    let s = bus.subjects();
    let feeds = consumer_info(bus, &s.feeds_stream().name, consumers::INGESTION_FEEDS)
        .await
        .map_or(0, |i| i.ack_floor.stream_sequence);
    (
        feeds,
        stream_len(bus, &s.quality_stream().name).await,
        stream_len(bus, &s.uor_stream().name).await,
        stream_len(bus, &s.combined_stream().name).await,
    )
}

async fn wait_progress(bus: &Bus, what: &str, reached: impl Fn((u64, u64, u64, u64)) -> bool) {
    let at = wait_until(FEED_DEADLINE, what, || async {
        let p = progress(bus).await;
        reached(p).then_some(p)
    })
    .await
    .unwrap();
    eprintln!("{what}: progress (feed chunks, quality, uor, combined) = {at:?}");
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_each_service_mid_feed_loses_and_duplicates_nothing() {
    let feed = national::feed(TRUSTS, BATCHES);
    reference().await;
    assert!(
        feed.records() >= 100_000,
        "the issue's 100,000-record feed: {}",
        feed.records()
    );
    let mut p = start_processes().await;
    let bus = p.bus().await.unwrap();
    let t = feed.trusts.len() as u64;
    let chunks = 2 * feed.parts.len() as u64;
    eprintln!(
        "feed: {} records in {} batches, {t} trusts",
        feed.records(),
        feed.parts.len()
    );
    national::publish(&bus, SOURCE, &feed.parts).await.unwrap();

    // Each service is killed while its stage is part-way through the feed, then restarted.
    wait_progress(&bus, "ingestion part-way", |(f, ..)| f >= chunks / 4).await;
    p.service("ingestion").kill9().await;
    p.service("ingestion").start(&[]).await;
    wait_progress(&bus, "cqc-quality part-way", |(_, q, ..)| q >= t / 3).await;
    p.service("cqc-quality").kill9().await;
    p.service("cqc-quality").start(&[]).await;
    wait_progress(&bus, "nhsi-resources part-way", |(_, _, u, _)| u >= t / 2).await;
    p.service("nhsi-resources").kill9().await;
    p.service("nhsi-resources").start(&[]).await;
    wait_progress(&bus, "combiner part-way", |(.., c)| c >= 2 * t / 3).await;
    p.service("combiner").kill9().await;
    p.service("combiner").start(&[]).await;

    assert!(p.services.iter().all(|s| s.starts == 2));
    assert_no_rating_lost_duplicated_or_changed(&p, &feed.parts, false).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restart_mid_feed_loses_and_duplicates_nothing() {
    let feed = national::feed(TRUSTS, BATCHES);
    reference().await;
    let mut p = start_processes().await;
    let bus = p.bus().await.unwrap();
    let t = feed.trusts.len() as u64;
    national::publish(&bus, SOURCE, &feed.parts).await.unwrap();
    wait_progress(&bus, "feed part-way", |(_, q, ..)| q >= t / 3).await;
    let before = progress(&bus).await;
    p.nats.restart().await.unwrap();
    eprintln!("nats-server restarted at progress {before:?}");
    assert!(before.1 < t, "the restart happened mid-feed");
    assert_no_rating_lost_duplicated_or_changed(&p, &feed.parts, false).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_unavailable_messages_are_retried_and_nothing_is_acked_before_stored() {
    let feed = national::feed(TRUSTS, BATCHES);
    reference().await;
    // A quarter of the feed is enough to show the retries.
    let batches = &feed.parts[..BATCHES / 4];
    let mut p = start_processes().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();

    let outage = DbOutage::begin(&p.database_url("cqc-quality"))
        .await
        .unwrap();
    national::publish(&bus, SOURCE, batches).await.unwrap();
    // cqc-quality gets the evidence, cannot store it, and retries the batch in place (never
    // dead-lettering it, never letting later evidence overtake it) until the database returns.
    let log_file = p.service("cqc-quality").log.clone();
    wait_until(
        FEED_DEADLINE,
        "a retried quality evidence batch",
        || async {
            let log =
                String::from_utf8_lossy(&std::fs::read(&log_file).unwrap_or_default()).into_owned();
            (log.matches("transient failure; will retry").count() >= 2).then_some(())
        },
    )
    .await
    .unwrap();
    let info = consumer_info(&bus, &s.evidence_stream().name, consumers::CQC_EVIDENCE)
        .await
        .unwrap();
    assert!(info.num_ack_pending > 0, "held while retried: {info:?}");
    // Nothing was acked, nothing was rated, nothing was dead-lettered while the database was out.
    assert_eq!(
        info.ack_floor.stream_sequence, 0,
        "acked before stored: {info:?}"
    );
    assert_eq!(stream_len(&bus, &s.quality_stream().name).await, 0);
    assert_eq!(stream_len(&bus, &s.deadletter_stream().name).await, 0);
    let log = p.service("cqc-quality").log_text();
    assert!(
        log.contains("transient failure; will retry"),
        "{}",
        p.logs_tail()
    );
    assert!(log.contains("retry_in_ms="), "nak with a backoff delay");

    outage.end().await.unwrap();
    assert_no_rating_lost_duplicated_or_changed(&p, batches, false).await;
    let info = consumer_info(&bus, &s.evidence_stream().name, consumers::CQC_EVIDENCE)
        .await
        .unwrap();
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0), "{info:?}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_and_malformed_messages_are_dead_lettered_with_reasons_and_exact_counts() {
    let feed = national::feed(TRUSTS, BATCHES);
    reference().await;
    let batches = &feed.parts[..1];
    let p = start_processes().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();
    let garbage = prost::bytes::Bytes::from_static(b"\xff\xff\xff not protobuf");
    let feed_batch = |format: ing::FeedFormat, batch_id: &str| ing::FeedBatch {
        source: SOURCE.into(),
        batch_id: batch_id.into(),
        format: format as i32,
        file_name: "poison.csv".into(),
        chunk_index: 0,
        last: true,
        content: b"record_type\n".to_vec(),
    };
    // (subject, message id, payload, dead-lettering service, words the reason must contain)
    let poison: Vec<(String, &str, prost::bytes::Bytes, &str, &str)> = vec![
        (
            s.feeds_submit(),
            "p-feed-1",
            garbage.clone(),
            "ingestion",
            "undecodable",
        ),
        (
            s.feeds_submit(),
            "p-feed-2",
            feed_batch(ing::FeedFormat::Unspecified, "p2")
                .encode_to_vec()
                .into(),
            "ingestion",
            "format",
        ),
        (
            s.feeds_submit(),
            "p-feed-3",
            feed_batch(ing::FeedFormat::Csv, " ").encode_to_vec().into(),
            "ingestion",
            "batch_id",
        ),
        (
            s.evidence_quality(),
            "p-q-1",
            garbage.clone(),
            "cqc-quality",
            "undecodable",
        ),
        (
            s.evidence_quality(),
            "p-q-2",
            oversight_proto::evidence::v1::QualityEvidence {
                trust_code: "not a trust".into(),
                ..Default::default()
            }
            .encode_to_vec()
            .into(),
            "cqc-quality",
            "trust_code",
        ),
        (
            s.evidence_resources(),
            "p-r-1",
            garbage.clone(),
            "nhsi-resources",
            "undecodable",
        ),
        (
            s.evidence_resources(),
            "p-r-2",
            oversight_proto::evidence::v1::ResourceEvidence {
                trust_code: "RZZ".into(),
                ..Default::default()
            }
            .encode_to_vec()
            .into(),
            "nhsi-resources",
            "body",
        ),
        (
            s.uor_approved(),
            "p-u-1",
            garbage.clone(),
            "combiner",
            "undecodable",
        ),
        (
            s.uor_approved(),
            "p-u-2",
            UseOfResourcesRatingApproved {
                event_id: "RZZ-uor-v0".into(),
                trust_code: "RZZ".into(),
                version: 0,
                ..Default::default()
            }
            .encode_to_vec()
            .into(),
            "combiner",
            "no version",
        ),
        // Two services consume quality ratings: each dead-letters the garbage itself.
        (
            s.quality_rated(),
            "p-qr-1",
            garbage.clone(),
            "combiner",
            "undecodable",
        ),
        (
            s.quality_rated(),
            "p-qr-1",
            garbage.clone(),
            "nhsi-resources",
            "undecodable",
        ),
    ];
    let mut published = BTreeSet::new();
    for (subject, id, payload, ..) in &poison {
        if !published.insert(*id) {
            continue;
        }
        bus.publish_bytes(subject.clone(), id, payload.clone())
            .await
            .unwrap();
    }
    // Good records still flow around the poison, and malformed records are rejected by name.
    national::publish(&bus, SOURCE, batches).await.unwrap();
    assert_no_rating_lost_duplicated_or_changed(&p, batches, true).await;

    // Once every consumer has settled everything, every dead letter has been published (a
    // poison message is terminated only after its dead letter is acknowledged).
    wait_until(FEED_DEADLINE, "every consumer settled", || async {
        drained(&bus).await.then_some(())
    })
    .await
    .unwrap();
    let letters: Vec<DeadLetter> = stream_payloads(&bus, &s.deadletter_stream().name)
        .await
        .iter()
        .map(|(_, p)| DeadLetter::decode(p.as_slice()).unwrap())
        .collect();
    for (subject, id, payload, service, reason) in &poison {
        let matching: Vec<&DeadLetter> = letters
            .iter()
            .filter(|d| {
                d.service == *service && d.subject == *subject && d.payload == payload.as_ref()
            })
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "{id}: one dead letter from {service}: {letters:#?}"
        );
        let d = matching[0];
        assert!(
            d.reason.contains(reason),
            "{id}: reason {:?} lacks {reason:?}",
            d.reason
        );
        assert_eq!(d.deliveries, 1, "{id}: poison is not retried");
        assert!(d.failed_at.is_some() && !d.stream.is_empty());
    }
    // Exact counts per service and subject.
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in &letters {
        *counts
            .entry((d.service.clone(), d.subject.clone()))
            .or_default() += 1;
    }
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (subject, _, _, service, _) in &poison {
        *expected
            .entry((service.to_string(), subject.clone()))
            .or_default() += 1;
    }
    for (key, n) in &expected {
        assert_eq!(
            counts.get(key),
            Some(n),
            "dead letters of {key:?}: {counts:?}"
        );
    }
    // Poison is terminated at once, never retried.
    for durable in [
        consumers::INGESTION_FEEDS,
        consumers::CQC_EVIDENCE,
        consumers::NHSI_EVIDENCE,
        consumers::COMBINER_UOR,
        consumers::COMBINER_QUALITY,
    ] {
        let spec = s.consumer(durable).unwrap();
        let info = consumer_info(&bus, &spec.stream, durable).await.unwrap();
        assert_eq!(info.num_redelivered, 0, "{durable}: {info:?}");
    }
    p.stop().await;
}
