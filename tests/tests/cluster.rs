//! The distributed engine (issue 15): the four services on a three-node JetStream cluster on
//! loopback, every stream and durable consumer at three replicas, the services connected with
//! the server list, node 1 first. Node 1 — the one every service is connected to, and the leader
//! of every stream and consumer — is killed mid-feed and not restarted; the rest of the feed is
//! submitted through a surviving node. Nothing may be lost, duplicated or dead-lettered: every
//! trust ends with the combined rating the same feed gets from a fault-free single-node stack,
//! each trust's versions run 1, 2, … without a repeat, and the dead-letter stream is empty.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use oversight_e2e::national::{self, Feed};
use oversight_e2e::{Stack, normal_combined, rating_history};
use oversight_proto::combined::v1 as pb;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_runtime::nats::Bus;
use oversight_testkit::{TestEnv, move_leader, wait_until};
use prost::Message;

/// Trusts in the feed, and the parts it is submitted in.
const TRUSTS: usize = 60;
const PARTS: usize = 6;
/// Parts submitted through node 1 before it is killed.
const BEFORE_KILL: usize = 3;
/// Deadline for a feed to be rated: messages a dead pull had received come back after the
/// consumers' ack wait (30 s).
const FEED_DEADLINE: Duration = Duration::from_secs(120);
const SOURCE: &str = "cluster";

/// The combined rating of every trust after the feed went through a fault-free single-node stack.
async fn reference(feed: &Feed) -> BTreeMap<String, pb::CombinedRatingPublished> {
    let stack = Stack::start().await.unwrap();
    let bus = stack.env.nats_client().await.unwrap();
    national::publish(&bus, SOURCE, &feed.parts).await.unwrap();
    let addr = stack.combiner;
    let rated = wait_until(FEED_DEADLINE, "the fault-free reference run", || {
        national::all_rated(&bus, addr, &feed.trusts)
    })
    .await
    .unwrap();
    stack.stop().await.unwrap();
    rated
        .iter()
        .map(|(t, r)| (t.clone(), normal_combined(r)))
        .collect()
}

/// Every stream the services declare.
fn streams(bus: &Bus) -> Vec<String> {
    let s = bus.subjects();
    [
        s.feeds_stream(),
        s.evidence_stream(),
        s.quality_stream(),
        s.uor_stream(),
        s.combined_stream(),
        s.deadletter_stream(),
    ]
    .into_iter()
    .map(|s| s.name)
    .collect()
}

/// Decode every rating event of a stream, asserting that no event id appears twice and that each
/// trust's versions run 1, 2, … with no repeat of the previous content.
async fn events<E: Message + Default + PartialEq + std::fmt::Debug>(
    bus: &Bus,
    stream: &str,
    id: impl Fn(&E) -> (String, String, u64),
    normal: impl Fn(&E) -> E,
) -> BTreeMap<String, Vec<E>> {
    let mut ids = BTreeSet::new();
    let mut by_trust: BTreeMap<String, Vec<E>> = BTreeMap::new();
    for p in national::stream_payloads(bus, stream).await.unwrap() {
        let e = E::decode(p.as_slice()).unwrap();
        let (event_id, trust, _) = id(&e);
        assert!(ids.insert(event_id.clone()), "{stream}: {event_id} twice");
        by_trust.entry(trust).or_default().push(e);
    }
    for (trust, versions) in &by_trust {
        let v: Vec<u64> = versions.iter().map(|e| id(e).2).collect();
        assert_eq!(
            v,
            (1..=v.len() as u64).collect::<Vec<_>>(),
            "{stream}: versions of {trust}"
        );
        for w in versions.windows(2) {
            assert_ne!(
                normal(&w[0]),
                normal(&w[1]),
                "{stream}: {trust} repeats a version"
            );
        }
    }
    by_trust
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_connected_node_mid_feed_loses_duplicates_and_dead_letters_nothing() {
    // The services' logs, when asked for (RUST_LOG=oversight_runtime=debug shows the pulls).
    let _telemetry = std::env::var_os("RUST_LOG")
        .map(|_| oversight_runtime::telemetry::init("cluster-test").unwrap());
    let started = Instant::now();
    let feed = national::feed(TRUSTS, PARTS);
    let expected = reference(&feed).await;
    assert_eq!(expected.len(), TRUSTS, "the reference rates every trust");
    eprintln!(
        "reference: {} records, {} trusts in {:?}",
        feed.records(),
        feed.trusts.len(),
        started.elapsed()
    );

    let env = TestEnv::start_cluster(3).await.unwrap();
    let mut stack = Stack::start_in(env).await.unwrap();
    let cluster = stack.env.cluster.as_ref().unwrap();
    let node1 = cluster.nodes[0].server.url.clone();
    let via_node1 = stack.env.nats_client_at(&node1).await.unwrap();
    let js = via_node1.jetstream().clone();

    // Every stream and durable consumer is declared with three replicas; node 1 leads them all,
    // so killing it moves every leader as well as every connection.
    let durables = national::durables(&via_node1);
    wait_until(
        Duration::from_secs(30),
        "every durable consumer declared",
        || async {
            for (stream, durable) in &durables {
                let s = js.get_stream(stream).await.ok()?;
                s.get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
                    .await
                    .ok()?;
            }
            Some(())
        },
    )
    .await
    .unwrap();
    for stream in streams(&via_node1) {
        let mut s = js.get_stream(&stream).await.unwrap();
        let info = s.info().await.unwrap();
        assert_eq!(info.config.num_replicas, 3, "{stream} replicas");
        move_leader(&js, &stream, None, "n1", Duration::from_secs(30))
            .await
            .unwrap();
    }
    for (stream, durable) in &durables {
        let s = js.get_stream(stream).await.unwrap();
        let mut c: async_nats::jetstream::consumer::PullConsumer =
            s.get_consumer(durable).await.unwrap();
        let info = c.info().await.unwrap();
        assert_eq!(info.config.num_replicas, 3, "{durable} replicas");
        move_leader(&js, stream, Some(durable), "n1", Duration::from_secs(30))
            .await
            .unwrap();
    }

    // Every service is connected to node 1 (the first server of its list).
    let services = ["ingestion", "cqc-quality", "nhsi-resources", "combiner"];
    let on_node1 = cluster.nodes[0].client_names().await.unwrap();
    for service in services {
        assert!(
            on_node1.iter().any(|n| n == service),
            "{service} is not connected to node 1: {on_node1:?}"
        );
    }

    // The first parts through node 1; node 1 killed while the pipeline is part-way through them
    // (a third of their trusts rated: the rest in flight on node 1), the other parts after.
    national::publish(&via_node1, SOURCE, &feed.parts[..BEFORE_KILL])
        .await
        .unwrap();
    let quality_stream = via_node1.subjects().quality_stream().name;
    let first_trusts: usize = feed.parts[..BEFORE_KILL]
        .iter()
        .map(|p| p.trusts.len())
        .sum();
    let rated_at_kill = wait_until(FEED_DEADLINE, "the feed part-way", || async {
        let mut s = js.get_stream(&quality_stream).await.ok()?;
        let n = s.info().await.ok()?.state.messages;
        (n >= (first_trusts / 3) as u64).then_some(n)
    })
    .await
    .unwrap();
    drop(via_node1);
    stack.env.cluster.as_mut().unwrap().kill(0).await.unwrap();
    eprintln!(
        "node 1 killed at {:?} with {rated_at_kill} quality events",
        started.elapsed()
    );

    // The rest through a surviving node.
    let survivors = stack.env.cluster.as_ref().unwrap().live_urls();
    let bus = stack.env.nats_client_at(&survivors).await.unwrap();
    // A sender whose publish is still refused after the bus's own retries (the streams have
    // not elected their new leaders yet) sends again: the message ids make it once only.
    wait_until(FEED_DEADLINE, "the rest of the feed accepted", || async {
        national::publish(&bus, SOURCE, &feed.parts[BEFORE_KILL..])
            .await
            .inspect_err(|e| eprintln!("submitting the rest: {e:#}; again"))
            .ok()
    })
    .await
    .unwrap();
    let combiner = stack.combiner;
    let served = wait_until(
        FEED_DEADLINE,
        "every trust rated after the node loss",
        || national::all_rated(&bus, combiner, &feed.trusts),
    )
    .await
    .unwrap();
    eprintln!("all rated at {:?}", started.elapsed());
    // The services carried on through the surviving nodes.
    let mut on_survivors = Vec::new();
    for node in &stack.env.cluster.as_ref().unwrap().nodes[1..] {
        on_survivors.extend(node.client_names().await.unwrap());
    }
    for service in services {
        assert!(
            on_survivors.iter().any(|n| n == service),
            "{service} is not connected to a surviving node: {on_survivors:?}"
        );
    }

    // Nothing lost or changed: every trust's rating is the fault-free one.
    for t in &feed.trusts {
        assert_eq!(
            normal_combined(&served[t]),
            expected[t],
            "{t}: combined rating differs from the fault-free run"
        );
    }
    // Nothing duplicated: no event twice, versions 1, 2, … without a repeat, the history served
    // is the stream's.
    let s = bus.subjects().clone();
    let quality = events(
        &bus,
        &s.quality_stream().name,
        |q: &QualityRatingIssued| (q.event_id.clone(), q.trust_code.clone(), q.version),
        |q| QualityRatingIssued {
            event_id: String::new(),
            version: 0,
            issued_at: None,
            ..q.clone()
        },
    )
    .await;
    let uor = events(
        &bus,
        &s.uor_stream().name,
        |u: &UseOfResourcesRatingApproved| (u.event_id.clone(), u.trust_code.clone(), u.version),
        |u| UseOfResourcesRatingApproved {
            event_id: String::new(),
            version: 0,
            approved_at: None,
            ..u.clone()
        },
    )
    .await;
    let combined = events(
        &bus,
        &s.combined_stream().name,
        |c: &pb::CombinedRatingPublished| (c.event_id.clone(), c.trust_code.clone(), c.version),
        normal_combined,
    )
    .await;
    assert_eq!(
        combined.keys().cloned().collect::<BTreeSet<_>>(),
        feed.trusts.iter().cloned().collect::<BTreeSet<_>>(),
        "trusts with combined events"
    );
    for t in &feed.trusts {
        // Each combined version comes from a new version of one of its parts.
        let parts = quality.get(t).map_or(0, Vec::len) + uor.get(t).map_or(0, Vec::len);
        assert!(
            combined[t].len() <= parts,
            "{t}: {} combined versions from {parts} part versions",
            combined[t].len()
        );
        let history = rating_history(combiner, t).await;
        assert_eq!(
            history.iter().map(|v| v.version).collect::<Vec<_>>(),
            combined[t].iter().map(|v| v.version).collect::<Vec<_>>(),
            "{t}: history served"
        );
    }
    // No dead letters.
    let dead = national::stream_payloads(&bus, &s.deadletter_stream().name)
        .await
        .unwrap();
    assert!(dead.is_empty(), "{} dead letters", dead.len());
    // Still three replicas each, and node 1 leads nothing now.
    for stream in streams(&bus) {
        let mut st = bus.jetstream().get_stream(&stream).await.unwrap();
        let info = st.info().await.unwrap();
        assert_eq!(info.config.num_replicas, 3, "{stream} replicas");
        let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
        assert!(
            leader.is_some() && leader.as_deref() != Some("n1"),
            "{stream} leader {leader:?}"
        );
    }
    eprintln!("done in {:?}", started.elapsed());
    stack.stop().await.unwrap();
}
