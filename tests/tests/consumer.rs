//! The runtime's batched, laned, pinned consumer on a real nats-server: batches, per-key order,
//! poison alone, transient failures retried in place, one replica at a time, and a standby
//! replica taking over when the pinned one dies.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oversight_runtime::Shutdown;
use oversight_runtime::consumer::{ConsumerSettings, PIN_TIMEOUT};
use oversight_runtime::nats::{Bus, HandleError, Incoming, Outgoing};
use oversight_runtime::subjects::consumers;
use oversight_testkit::{TestEnv, wait_until};

const DEADLINE: Duration = Duration::from_secs(60);

/// What one replica saw: (replica, key, body) in the order it applied them, and batch sizes.
#[derive(Default)]
struct Seen {
    applied: Vec<(usize, String, u64)>,
    batches: Vec<usize>,
}

async fn bus(env: &TestEnv, name: &'static str) -> Bus {
    let cfg = env.infra(name).await.unwrap();
    Bus::connect(&cfg, name).await.unwrap()
}

fn settings() -> ConsumerSettings {
    ConsumerSettings {
        batch_max: 32,
        batch_wait: Duration::from_millis(2),
        lanes: 4,
        retry_max: Duration::from_millis(200),
        max_inflight_bytes: 1 << 20,
    }
}

/// Run the quality-evidence consumer as replica `replica`, recording what it applies; bodies
/// that say "poison" are poison, and "flaky" fails transiently `flaky_failures` times.
fn replica(
    bus: Bus,
    replica: usize,
    seen: Arc<Mutex<Seen>>,
    flaky_failures: Arc<Mutex<u32>>,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let handler = |batch: Vec<Incoming>| {
            let seen = seen.clone();
            let flaky = flaky_failures.clone();
            async move {
                let bodies: Vec<String> = batch
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                    .collect();
                if bodies.iter().any(|b| b == "flaky") {
                    let mut left = flaky.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return batch
                            .iter()
                            .map(|_| Err(HandleError::Transient(anyhow::anyhow!("database away"))))
                            .collect();
                    }
                }
                let mut s = seen.lock().unwrap();
                s.batches.push(batch.len());
                batch
                    .iter()
                    .zip(bodies)
                    .map(|(m, body)| {
                        if body == "poison" {
                            return Err(HandleError::poison("a poison body"));
                        }
                        let key = m.header("Oversight-Key").unwrap_or_default();
                        let n = body.parse().unwrap_or(u64::MAX);
                        s.applied.push((replica, key, n));
                        Ok(())
                    })
                    .collect()
            }
        };
        bus.consume_with(consumers::CQC_EVIDENCE, settings(), handler, shutdown)
            .await
    })
}

async fn publish(bus: &Bus, items: impl IntoIterator<Item = (String, String)>, prefix: &str) {
    let messages = items
        .into_iter()
        .enumerate()
        .map(|(i, (key, body))| Outgoing {
            subject: bus.subjects().evidence_quality(),
            msg_id: format!("{prefix}-{i}"),
            key,
            payload: body.into_bytes().into(),
        })
        .collect();
    bus.publish_many(messages).await.unwrap();
}

/// Per key, the bodies in the order they were applied.
fn by_key(seen: &Seen) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (_, k, n) in &seen.applied {
        out.entry(k.clone()).or_default().push(*n);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_apply_each_key_in_order_one_at_a_time_and_a_standby_takes_over() {
    let env = TestEnv::start().await.unwrap();
    let owner = bus(&env, "ingestion").await;
    owner
        .ensure_stream(&owner.subjects().evidence_stream())
        .await
        .unwrap();
    owner
        .ensure_stream(&owner.subjects().deadletter_stream())
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let flaky = Arc::new(Mutex::new(3u32));
    let stop_a = Shutdown::new();
    let stop_b = Shutdown::new();
    let bus_a = bus(&env, "cqc-quality").await;
    let a = replica(
        bus_a.clone(),
        0,
        seen.clone(),
        flaky.clone(),
        stop_a.clone(),
    );
    let b = replica(
        bus(&env, "cqc-quality").await,
        1,
        seen.clone(),
        flaky.clone(),
        stop_b.clone(),
    );

    // 20 keys × 50 messages each, interleaved, plus one poison and one flaky message.
    let mut items = Vec::new();
    for n in 0..50u64 {
        for k in 0..20 {
            items.push((format!("R{k:02}"), n.to_string()));
        }
    }
    items.insert(300, ("R05".into(), "poison".into()));
    items.insert(600, ("R07".into(), "flaky".into()));
    publish(&owner, items, "first").await;
    wait_until(DEADLINE, "every message applied", || async {
        // 1,000 numbered messages and the flaky one; never the poison one.
        (seen.lock().unwrap().applied.len() > 1000).then_some(())
    })
    .await
    .unwrap();
    {
        let s = seen.lock().unwrap();
        // Every key's messages in publish order, each once (the flaky batch was retried in place
        // and then applied once; the poison one never).
        for (key, bodies) in by_key(&s) {
            let numbers: Vec<u64> = bodies.iter().copied().filter(|n| *n != u64::MAX).collect();
            assert_eq!(numbers, (0..50).collect::<Vec<_>>(), "{key}");
        }
        // One replica at a time: the pinned one applied everything.
        let replicas: std::collections::BTreeSet<usize> =
            s.applied.iter().map(|(r, ..)| *r).collect();
        assert_eq!(replicas.len(), 1, "both replicas applied messages");
        // Batches, not one message at a time.
        assert!(s.batches.iter().any(|n| *n > 1), "{:?}", s.batches);
    }
    assert_eq!(*flaky.lock().unwrap(), 0, "the flaky batch was retried");
    // The poison message was dead-lettered, alone.
    let dl = owner
        .jetstream()
        .get_stream(owner.subjects().deadletter_stream().name)
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(dl, 1);

    // Kill the pinned replica (its connection goes); the standby takes over and applies what
    // comes next, within the pin timeout and an ack wait.
    let pinned = seen.lock().unwrap().applied[0].0;
    let (dead, standby_stop) = if pinned == 0 {
        (a, stop_b.clone())
    } else {
        (b, stop_a.clone())
    };
    dead.abort();
    let _ = dead.await;
    if pinned == 0 {
        drop(bus_a);
    }
    let killed_at = Instant::now();
    let before = seen.lock().unwrap().applied.len();
    publish(
        &owner,
        (0..20).map(|k| (format!("R{k:02}"), "50".to_string())),
        "second",
    )
    .await;
    wait_until(
        PIN_TIMEOUT + Duration::from_secs(45),
        "the standby applying new messages",
        || async {
            let s = seen.lock().unwrap();
            (s.applied.len() >= before + 20).then_some(())
        },
    )
    .await
    .unwrap();
    let s = seen.lock().unwrap();
    assert!(
        s.applied[before..].iter().all(|(r, ..)| *r != pinned),
        "the dead replica applied nothing after it died"
    );
    eprintln!("standby took over after {:?}", killed_at.elapsed());
    drop(s);
    standby_stop.cancel();
    stop_a.cancel();
    stop_b.cancel();
}
