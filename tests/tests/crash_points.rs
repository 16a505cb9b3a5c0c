//! Crash points and long outages (issue 15): the four services as OS processes (the workspace's
//! debug binaries, `oversight_e2e::processes`) on a nats-server of the test's own.
//!
//! Crash points: a service is started with `OVERSIGHT_CRASH_AT=<point>:<n>` and aborts
//! (`std::process::abort`, as `kill -9` would leave it: nothing flushed, nothing acked) the n-th
//! time it reaches that place (`oversight_runtime::crash`); the test checks it died by abort at
//! that point, restarts it unarmed, and checks the end state:
//!
//! - `abort_after_commit_before_publish_loses_and_duplicates_nothing` (cqc-quality);
//! - `abort_after_publish_before_ack_loses_and_duplicates_nothing` (nhsi-resources);
//! - `abort_between_commit_groups_of_a_chunked_batch_loses_and_duplicates_nothing` (ingestion);
//! - `abort_twice_in_a_row_during_recovery_then_recover` (the combiner dies at a point, and again
//!   at the same point while recovering; a third start finishes).
//!
//! Outage: `every_database_out_longer_than_the_old_retry_budget_dead_letters_nothing`.
//!
//! The end state, every time: every trust's final quality, UoR and combined ratings equal the
//! ratings the rules crates give when applied directly to the generated feed
//! (`oversight_e2e::expected`, no service involved); exact counts — one quality, one UoR and one
//! combined version per trust, one message per piece of evidence, nothing published twice; every
//! record counted by ingestion; no dead letter.
//!
//! The feed (`expected::Feed`) is small (24 trusts) and laid out so those counts are known: the
//! UoR records are sent and settled first, then the quality records, four trusts to an ingestion
//! commit group. The messages a dead process held come back after the consumers' ack wait (30 s),
//! which bounds how fast a crash test can finish.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use oversight_e2e::Stack;
use oversight_e2e::expected::{Feed, TrustRatings};
use oversight_e2e::national::{
    self, Part, all_rated, consumer_info, drained, stream_len, stream_payloads,
};
use oversight_e2e::processes::{DbOutage, Processes, Service};
use oversight_proto::combined::v1::CombinedRatingPublished;
use oversight_proto::evidence::v1::{QualityEvidence, ResourceEvidence};
use oversight_proto::ingestion::v1 as ing;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_runtime::crash::{
    AFTER_COMMIT_BEFORE_PUBLISH, AFTER_PUBLISH_BEFORE_ACK, BETWEEN_COMMIT_GROUPS, CRASH_AT_ENV,
};
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::consumers;
use oversight_testkit::wait_until;
use prost::Message;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The source name on every batch.
const SOURCE: &str = "crash-points";
/// Deadline for a feed to be rated, including the ack wait (30 s) after an abort.
const FEED_DEADLINE: Duration = Duration::from_secs(150);
/// How long an armed process may take to reach its point.
const CRASH_DEADLINE: Duration = Duration::from_secs(90);
/// SIGABRT: how `std::process::abort` ends a process.
const SIGABRT: i32 = 6;
/// The old retry budget: a message was dead-lettered on its 10th delivery.
const OLD_BUDGET_DELIVERIES: f64 = 10.0;

fn arm(point: &str, n: u32) -> String {
    format!("{point}:{n}")
}

/// The process died by abort, saying it reached `point`.
fn assert_aborted_at(service: &Service, status: ExitStatus, point: &str) {
    assert_eq!(
        status.signal(),
        Some(SIGABRT),
        "{} ended by abort: {status}\n{}",
        service.name,
        service.current_log()
    );
    assert!(
        service
            .current_log()
            .contains(&format!("crash point {point} reached")),
        "{} logged the point:\n{}",
        service.name,
        service.current_log()
    );
}

async fn publish(bus: &Bus, parts: &[Part]) {
    national::publish(bus, SOURCE, parts).await.unwrap();
}

/// Send the UoR part and wait until every trust's UoR rating is published and every consumer has
/// settled it (so the quality ratings that follow each make exactly one combined version).
async fn uor_phase(bus: &Bus, feed: &Feed) {
    publish(bus, std::slice::from_ref(&feed.uor_part)).await;
    let n = feed.trusts.len() as u64;
    let s = bus.subjects().clone();
    wait_until(
        FEED_DEADLINE,
        "every UoR rating published and settled",
        || async {
            (stream_len(bus, &s.uor_stream().name).await == n && drained(bus).await).then_some(())
        },
    )
    .await
    .unwrap();
}

/// Every rating event of a run, per trust, oldest first.
#[derive(Default)]
struct Events {
    quality: BTreeMap<String, Vec<QualityRatingIssued>>,
    uor: BTreeMap<String, Vec<UseOfResourcesRatingApproved>>,
    combined: BTreeMap<String, Vec<CombinedRatingPublished>>,
    /// Evidence messages per trust: (quality, resources).
    evidence: BTreeMap<String, (usize, usize)>,
    dead_letters: usize,
}

async fn read_events(bus: &Bus) -> Events {
    let s = bus.subjects().clone();
    let mut ev = Events::default();
    for p in stream_payloads(bus, &s.quality_stream().name)
        .await
        .unwrap()
    {
        let q = QualityRatingIssued::decode(p.as_slice()).unwrap();
        ev.quality.entry(q.trust_code.clone()).or_default().push(q);
    }
    for p in stream_payloads(bus, &s.uor_stream().name).await.unwrap() {
        let u = UseOfResourcesRatingApproved::decode(p.as_slice()).unwrap();
        ev.uor.entry(u.trust_code.clone()).or_default().push(u);
    }
    for p in stream_payloads(bus, &s.combined_stream().name)
        .await
        .unwrap()
    {
        let c = CombinedRatingPublished::decode(p.as_slice()).unwrap();
        ev.combined.entry(c.trust_code.clone()).or_default().push(c);
    }
    let mut evidence = bus
        .jetstream()
        .get_stream(&s.evidence_stream().name)
        .await
        .unwrap();
    let state = evidence.info().await.unwrap().state.clone();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let m = evidence.get_raw_message(seq).await.unwrap();
        if m.subject.as_str() == s.evidence_quality() {
            let q = QualityEvidence::decode(m.payload.as_ref()).unwrap();
            ev.evidence.entry(q.trust_code).or_default().0 += 1;
        } else {
            let r = ResourceEvidence::decode(m.payload.as_ref()).unwrap();
            ev.evidence.entry(r.trust_code).or_default().1 += 1;
        }
    }
    ev.dead_letters = stream_len(bus, &s.deadletter_stream().name).await as usize;
    ev
}

/// Ingestion's receipts: every record of every part counted once, the bad ones rejected.
async fn assert_parts_counted(p: &Processes, parts: &[&Part]) {
    let mut client = IngestionServiceClient::new(Stack::channel(p.ingestion()).await.unwrap());
    for part in parts {
        let s = client
            .get_batch_status(ing::GetBatchStatusRequest {
                batch_id: part.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s.records, part.good + part.bad, "{}: records", part.id);
        assert_eq!(s.rejected, part.bad, "{}: rejected", part.id);
        // A batch ingested again after a crash counts what it had stored as duplicates.
        assert_eq!(s.accepted + s.duplicates, part.good, "{}: {s:?}", part.id);
    }
}

/// The end state of every test: wait until every trust is rated and every consumer has settled,
/// then check the counts and the ratings against the rules applied to the feed.
/// `resource_evidence` is the number of UoR parts sent (each makes one evidence message per trust).
async fn assert_rated_exactly_once_as_the_rules_say(
    p: &Processes,
    bus: &Bus,
    feed: &Feed,
    resource_evidence: usize,
) {
    let codes = feed.codes();
    let combiner = p.combiner();
    let served = wait_until(FEED_DEADLINE, "every trust rated", || {
        let codes = codes.clone();
        async move { all_rated(bus, combiner, &codes).await }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", p.logs_tail()));
    let mut parts: Vec<&Part> = feed.quality_parts.iter().collect();
    parts.push(&feed.uor_part);
    assert_parts_counted(p, &parts).await;

    let events = read_events(bus).await;
    assert_eq!(events.dead_letters, 0, "no dead letters\n{}", p.logs_tail());
    let expected = feed.expected();
    let n = codes.len();
    assert_eq!(events.quality.len(), n, "trusts with a quality rating");
    assert_eq!(events.uor.len(), n, "trusts with a UoR rating");
    assert_eq!(events.combined.len(), n, "trusts with a combined rating");
    for t in &codes {
        // Exactly one version of each: the same content is never published twice, and a message
        // applied again after a crash makes no new version.
        assert_eq!(
            events.quality[t]
                .iter()
                .map(|q| q.version)
                .collect::<Vec<u64>>(),
            [1],
            "{t}: quality versions"
        );
        assert_eq!(
            events.uor[t]
                .iter()
                .map(|u| u.version)
                .collect::<Vec<u64>>(),
            [1],
            "{t}: UoR versions"
        );
        assert_eq!(
            events.combined[t]
                .iter()
                .map(|c| c.version)
                .collect::<Vec<u64>>(),
            [1],
            "{t}: combined versions"
        );
        assert_eq!(
            events.evidence.get(t),
            Some(&(1, resource_evidence)),
            "{t}: evidence messages (quality, resources)"
        );
        let published = TrustRatings::published(
            &events.quality[t][0],
            &events.uor[t][0],
            &events.combined[t][0],
        );
        assert_eq!(
            published, expected[t],
            "{t}: published ratings vs the rules"
        );
        assert_eq!(
            served[t].combined.as_ref().map(|c| c.rating),
            events.combined[t][0].combined.as_ref().map(|c| c.rating),
            "{t}: served combined rating"
        );
        assert_eq!(
            events.combined[t][0].mode,
            oversight_proto::combined::v1::Mode::Combined as i32,
            "{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_commit_before_publish_loses_and_duplicates_nothing() {
    let feed = Feed::generate(24, 2);
    let mut p = Processes::new(&[]).await.unwrap();
    let armed = arm(AFTER_COMMIT_BEFORE_PUBLISH, 1);
    p.service("cqc-quality")
        .start(&[(CRASH_AT_ENV, armed.as_str())])
        .await;
    p.start_all().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();
    uor_phase(&bus, &feed).await;

    publish(&bus, &feed.quality_parts).await;
    // cqc-quality stores its first batch of evidence, versions the ratings, and dies before
    // publishing them: nothing rated is on the stream and nothing it consumed is acked.
    let cqc = p.service("cqc-quality");
    let status = cqc.exited(CRASH_DEADLINE).await;
    assert_aborted_at(cqc, status, AFTER_COMMIT_BEFORE_PUBLISH);
    assert_eq!(stream_len(&bus, &s.quality_stream().name).await, 0);
    let info = consumer_info(&bus, &s.evidence_stream().name, consumers::CQC_EVIDENCE)
        .await
        .unwrap();
    assert_eq!(info.ack_floor.stream_sequence, 0, "acked: {info:?}");

    // Restarted unarmed: the outbox publishes what was committed, the redelivered evidence
    // changes nothing.
    p.service("cqc-quality").start(&[]).await;
    assert_rated_exactly_once_as_the_rules_say(&p, &bus, &feed, 1).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_publish_before_ack_loses_and_duplicates_nothing() {
    let feed = Feed::generate(24, 2);
    let mut p = Processes::new(&[]).await.unwrap();
    let armed = arm(AFTER_PUBLISH_BEFORE_ACK, 1);
    p.service("nhsi-resources")
        .start(&[(CRASH_AT_ENV, armed.as_str())])
        .await;
    p.start_all().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();

    publish(&bus, std::slice::from_ref(&feed.uor_part)).await;
    // nhsi-resources stores its first batch of resource evidence, publishes the UoR ratings
    // (acknowledged by JetStream) and dies before acking the evidence.
    let nhsi = p.service("nhsi-resources");
    let status = nhsi.exited(CRASH_DEADLINE).await;
    assert_aborted_at(nhsi, status, AFTER_PUBLISH_BEFORE_ACK);
    let published = stream_len(&bus, &s.uor_stream().name).await;
    assert!(published > 0, "published before the abort");
    let info = consumer_info(&bus, &s.evidence_stream().name, consumers::NHSI_EVIDENCE)
        .await
        .unwrap();
    assert_eq!(info.ack_floor.stream_sequence, 0, "acked: {info:?}");

    // Restarted unarmed: the redelivered evidence is applied again and publishes nothing new.
    p.service("nhsi-resources").start(&[]).await;
    let n = feed.trusts.len() as u64;
    wait_until(
        FEED_DEADLINE,
        "every UoR rating published and settled",
        || async {
            (stream_len(&bus, &s.uor_stream().name).await == n && drained(&bus).await).then_some(())
        },
    )
    .await
    .unwrap();
    publish(&bus, &feed.quality_parts).await;
    assert_rated_exactly_once_as_the_rules_say(&p, &bus, &feed, 1).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_between_commit_groups_of_a_chunked_batch_loses_and_duplicates_nothing() {
    // Two quality parts of three commit groups (12 trusts) each, each part sent in two chunks.
    let feed = Feed::generate(24, 3);
    let mut p = Processes::new(&[]).await.unwrap();
    let armed = arm(BETWEEN_COMMIT_GROUPS, 2);
    p.service("ingestion")
        .start(&[(CRASH_AT_ENV, armed.as_str())])
        .await;
    p.start_all().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();
    // The UoR part is one commit group: no point between groups.
    uor_phase(&bus, &feed).await;

    publish(&bus, &feed.quality_parts).await;
    // Ingestion dies after the second of the first part's three commit groups: eight trusts'
    // quality evidence stored and published, the batch's chunks not acked.
    let ingestion = p.service("ingestion");
    let status = ingestion.exited(CRASH_DEADLINE).await;
    assert_aborted_at(ingestion, status, BETWEEN_COMMIT_GROUPS);
    let quality_evidence = stream_payloads(&bus, &s.evidence_stream().name)
        .await
        .unwrap()
        .iter()
        .filter(|p| {
            QualityEvidence::decode(p.as_slice()).is_ok_and(|q| {
                q.provenance
                    .as_ref()
                    .is_some_and(|p| p.batch_id == feed.quality_parts[0].id)
            })
        })
        .count();
    assert_eq!(quality_evidence, 8, "two commit groups of four trusts");
    let info = consumer_info(&bus, &s.feeds_stream().name, consumers::INGESTION_FEEDS)
        .await
        .unwrap();
    assert!(
        info.ack_floor.stream_sequence < 4,
        "the first part's last chunk (sequence 4, after the UoR part's two) is not acked: {info:?}"
    );

    // Restarted unarmed: the batch is ingested again from its stored chunks; the first two
    // groups are duplicates of themselves.
    p.service("ingestion").start(&[]).await;
    assert_rated_exactly_once_as_the_rules_say(&p, &bus, &feed, 1).await;
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_twice_in_a_row_during_recovery_then_recover() {
    let feed = Feed::generate(24, 2);
    let mut p = Processes::new(&[]).await.unwrap();
    let armed = arm(AFTER_COMMIT_BEFORE_PUBLISH, 1);
    p.service("combiner")
        .start(&[(CRASH_AT_ENV, armed.as_str())])
        .await;
    p.start_all().await;
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();
    // No quality yet: the combiner stores the UoR parts and versions nothing.
    uor_phase(&bus, &feed).await;

    publish(&bus, &feed.quality_parts).await;
    let combiner = p.service("combiner");
    let status = combiner.exited(CRASH_DEADLINE).await;
    assert_aborted_at(combiner, status, AFTER_COMMIT_BEFORE_PUBLISH);
    assert_eq!(stream_len(&bus, &s.combined_stream().name).await, 0);

    // Recovery, armed again: the committed, unpublished versions are the first thing it
    // publishes, and it dies there again.
    combiner.spawn(&[(CRASH_AT_ENV, armed.as_str())]);
    let status = combiner.exited(CRASH_DEADLINE).await;
    assert_aborted_at(combiner, status, AFTER_COMMIT_BEFORE_PUBLISH);
    assert_eq!(stream_len(&bus, &s.combined_stream().name).await, 0);
    assert_eq!(combiner.starts, 2);

    // The third start, unarmed, finishes the job.
    combiner.start(&[]).await;
    assert_rated_exactly_once_as_the_rules_say(&p, &bus, &feed, 1).await;
    p.stop().await;
}

/// Whether a service's gRPC readiness is NOT_SERVING.
async fn not_serving(service: &Service) -> bool {
    let Ok(channel) = Stack::channel(service.addr()).await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: oversight_runtime::host::READINESS.into(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == ServingStatus::NotServing as i32)
}

/// Batches retried by a service, over all its consumers.
async fn retries(service: &Service) -> f64 {
    service
        .metric(
            "oversight_handler_retries_total",
            &[("service", service.name)],
        )
        .await
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_database_out_longer_than_the_old_retry_budget_dead_letters_nothing() {
    // The budget scaled down by configuration: retries at most 50 ms apart, a SQLite statement
    // gives up on a held lock after 50 ms, readiness checked every 200 ms.
    let mut p = Processes::new(&[
        ("RETRY_MAX_BACKOFF_MS", "50"),
        ("SQLITE_BUSY_TIMEOUT_MS", "50"),
        ("HEALTH_CHECK_INTERVAL_MS", "200"),
    ])
    .await
    .unwrap();
    p.serve_metrics();
    p.start_all().await;
    let feed = Feed::generate(24, 1);
    let bus = p.bus().await.unwrap();
    let s = bus.subjects().clone();
    uor_phase(&bus, &feed).await;

    // A service retries only while it holds work, and work reaches a service only through the
    // database of the one before it: so the outages begin downstream first and overlap, and
    // then all four databases are out at once while feeds keep arriving.
    let mut outages = Vec::new();
    outages.push(DbOutage::begin(&p.database_url("combiner")).await.unwrap());
    publish(&bus, &feed.quality_parts[..2]).await;
    let first = (feed.quality_parts[0].trusts.len() + feed.quality_parts[1].trusts.len()) as u64;
    wait_until(
        FEED_DEADLINE,
        "quality ratings waiting at the combiner",
        || async { (stream_len(&bus, &s.quality_stream().name).await == first).then_some(()) },
    )
    .await
    .unwrap();
    outages.push(
        DbOutage::begin(&p.database_url("cqc-quality"))
            .await
            .unwrap(),
    );
    outages.push(
        DbOutage::begin(&p.database_url("nhsi-resources"))
            .await
            .unwrap(),
    );
    // The same UoR records again (a new batch: new evidence, the same ratings) for
    // nhsi-resources to hold, and more quality records for cqc-quality.
    let uor_again = Part {
        id: "crash-uor-again".into(),
        csv: feed.uor_part.csv.clone(),
        trusts: feed.uor_part.trusts.clone(),
        good: feed.uor_part.good,
        bad: feed.uor_part.bad,
    };
    publish(&bus, std::slice::from_ref(&uor_again)).await;
    publish(&bus, &feed.quality_parts[2..4]).await;
    wait_until(
        FEED_DEADLINE,
        "ingestion has published every batch so far",
        || async {
            consumer_info(&bus, &s.feeds_stream().name, consumers::INGESTION_FEEDS)
                .await
                .is_some_and(|i| i.num_pending == 0 && i.num_ack_pending == 0)
                .then_some(())
        },
    )
    .await
    .unwrap();
    outages.push(DbOutage::begin(&p.database_url("ingestion")).await.unwrap());
    // Feeds keep arriving while everything is out.
    publish(&bus, &feed.quality_parts[4..]).await;

    // Every service retries its batch in place more often than the old budget allowed
    // deliveries, reports not ready where the outage can be seen, and dead-letters nothing.
    let visible = outages.iter().all(DbOutage::server_gone);
    for service in &p.services {
        wait_until(
            FEED_DEADLINE,
            &format!(
                "{} retried more than {OLD_BUDGET_DELIVERIES} times",
                service.name
            ),
            || async { (retries(service).await > OLD_BUDGET_DELIVERIES).then_some(()) },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", p.logs_tail()));
        assert!(
            service.log_text().contains("transient failure; will retry"),
            "{}",
            service.name
        );
        if visible {
            wait_until(
                FEED_DEADLINE,
                &format!("{} not ready", service.name),
                || async {
                    let gauge = service
                        .metric("oversight_ready", &[("service", service.name)])
                        .await;
                    (not_serving(service).await && gauge == Some(0.0)).then_some(())
                },
            )
            .await
            .unwrap();
        } else {
            // SQLite: the file stays open and readable (WAL), so readiness has nothing to see;
            // `tests/tests/health.rs` shows readiness following a database server.
            eprintln!(
                "{}: readiness not checked: a SQLite lock is no server outage",
                service.name
            );
        }
    }
    assert_eq!(stream_len(&bus, &s.deadletter_stream().name).await, 0);
    assert_eq!(stream_len(&bus, &s.combined_stream().name).await, 0);
    let held = consumer_info(&bus, &s.quality_stream().name, consumers::COMBINER_QUALITY)
        .await
        .unwrap();
    assert_eq!(held.ack_floor.stream_sequence, 0, "nothing acked: {held:?}");
    // Retried in place: JetStream delivered nothing a second time.
    assert_eq!(held.num_redelivered, 0, "{held:?}");

    for outage in outages.into_iter().rev() {
        outage.end().await.unwrap();
    }
    // The services resume by themselves.
    assert_rated_exactly_once_as_the_rules_say(&p, &bus, &feed, 2).await;
    for service in &p.services {
        wait_until(
            FEED_DEADLINE,
            &format!("{} ready", service.name),
            || async {
                let gauge = service
                    .metric("oversight_ready", &[("service", service.name)])
                    .await;
                (!not_serving(service).await && gauge == Some(1.0)).then_some(())
            },
        )
        .await
        .unwrap();
    }
    p.stop().await;
}
