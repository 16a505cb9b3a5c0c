//! `oversight deadletters` against a real nats-server: a message the handler rejects as poison is
//! dead-lettered; `list` and `show` give its service, subject, reason and decoded body; after the
//! "fix" (the handler now accepts it) `requeue` puts it back and it is processed exactly once, a
//! second `requeue` of the same dead letter is refused and republishes nothing, and bad sequence
//! numbers get clear errors.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oversight_proto::evidence::v1 as ev;
use oversight_runtime::Shutdown;
use oversight_runtime::consumer::ConsumerSettings;
use oversight_runtime::nats::{Bus, HandleError, Incoming, Outgoing};
use oversight_runtime::subjects::consumers;
use oversight_testkit::{TestEnv, wait_until};
use prost::Message;

const DEADLINE: Duration = Duration::from_secs(60);

/// A message the handler accepted: its trust and the dead letter it was requeued from.
type Applied = (String, Option<String>);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn oversight(env: &TestEnv, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_oversight"))
        .arg("deadletters")
        .args(args)
        .env("NATS_URL", &env.nats_url)
        .env("OVERSIGHT_NAMESPACE", &env.namespace)
        .env_remove("NATS_USER")
        .env_remove("NATS_PASSWORD")
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The dead letters as `list --format json` gives them.
async fn listed(env: &TestEnv) -> Vec<serde_json::Value> {
    let run = oversight(env, &["list", "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Whether the consumer has settled everything it was given.
async fn settled(bus: &Bus) -> Option<()> {
    let stream = bus
        .jetstream()
        .get_stream(bus.subjects().evidence_stream().name)
        .await
        .ok()?;
    let mut c: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(consumers::CQC_EVIDENCE).await.ok()?;
    let info = c.info().await.ok()?;
    (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisoned_message_is_listed_shown_and_requeued_after_a_fix_exactly_once() {
    let env = TestEnv::start().await.unwrap();
    let owner = Bus::connect(&env.infra("ingestion").await.unwrap(), "ingestion")
        .await
        .unwrap();
    for s in [
        owner.subjects().evidence_stream(),
        owner.subjects().deadletter_stream(),
    ] {
        owner.ensure_stream(&s).await.unwrap();
    }

    // The handler: quality evidence for a trust of an unknown type is poison until the fix is
    // deployed; every accepted message is recorded with the dead letter it came from.
    let fixed = Arc::new(AtomicBool::new(false));
    let applied: Arc<Mutex<Vec<Applied>>> = Arc::default();
    let shutdown = Shutdown::new();
    let consumer_bus = Bus::connect(&env.infra("cqc-quality").await.unwrap(), "cqc-quality")
        .await
        .unwrap();
    let consumer = {
        let (fixed, applied, shutdown) = (fixed.clone(), applied.clone(), shutdown.clone());
        tokio::spawn(async move {
            let handler = |batch: Vec<Incoming>| {
                let (fixed, applied) = (fixed.clone(), applied.clone());
                async move {
                    batch
                        .iter()
                        .map(|m| {
                            let e: ev::QualityEvidence = m.decode()?;
                            if e.trust_type == 0 && !fixed.load(Ordering::SeqCst) {
                                return Err(HandleError::poison(format!(
                                    "trust {}: trust type not given",
                                    e.trust_code
                                )));
                            }
                            applied
                                .lock()
                                .unwrap()
                                .push((e.trust_code.clone(), m.header("Oversight-Requeued-From")));
                            Ok(())
                        })
                        .collect()
                }
            };
            let settings = ConsumerSettings {
                batch_max: 8,
                batch_wait: Duration::from_millis(2),
                lanes: 1,
                retry_max: Duration::from_millis(200),
                max_inflight_bytes: 1 << 20,
            };
            consumer_bus
                .consume_with(consumers::CQC_EVIDENCE, settings, handler, shutdown)
                .await
        })
    };

    let evidence = ev::QualityEvidence {
        trust_code: "RXX".into(),
        trust_name: "Example Hospitals NHS Trust".into(),
        ..Default::default()
    };
    let subject = owner.subjects().evidence_quality();
    owner
        .publish_many(vec![
            Outgoing {
                subject: subject.clone(),
                msg_id: "ev-rxx-1".into(),
                key: "RXX".into(),
                payload: evidence.encode_to_vec().into(),
            },
            Outgoing {
                subject: subject.clone(),
                msg_id: "ev-garbage-1".into(),
                key: "RYY".into(),
                payload: vec![0xff, 0xff, 0xff].into(),
            },
        ])
        .await
        .unwrap();

    // Both are dead-lettered, with their reasons.
    let letters = wait_until(DEADLINE, "two dead letters", || async {
        let l = listed(&env).await;
        (l.len() == 2).then_some(l)
    })
    .await
    .unwrap();
    let by_reason = |needle: &str| {
        letters
            .iter()
            .find(|l| l["reason"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no dead letter with {needle:?} in {letters:?}"))
            .clone()
    };
    let poisoned = by_reason("trust RXX: trust type not given");
    let garbage = by_reason("undecodable");
    for l in [&poisoned, &garbage] {
        assert_eq!(l["service"], "cqc-quality");
        assert_eq!(l["subject"], subject.as_str());
        assert_eq!(l["deliveries"], 1);
    }
    let seq = poisoned["seq"].as_u64().unwrap();
    let garbage_seq = garbage["seq"].as_u64().unwrap();
    assert!(applied.lock().unwrap().is_empty());

    // The table names service, subject and reason too.
    let table = oversight(&env, &["list"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains("2 dead letter(s)"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("trust RXX: trust type not given"));

    // `show`: the reason, the origin, and the original message decoded.
    let show = oversight(&env, &["show", &seq.to_string()]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    for needle in [
        "reason:     trust RXX: trust type not given",
        "service:    cqc-quality",
        "Nats-Msg-Id: ev-rxx-1",
        "message:    QualityEvidence",
        "trust_code: \"RXX\"",
        "Example Hospitals NHS Trust",
    ] {
        assert!(
            show.stdout.contains(needle),
            "{needle:?} in\n{}",
            show.stdout
        );
    }
    let show = oversight(&env, &["show", &garbage_seq.to_string()]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout.contains("not a valid QualityEvidence"),
        "{}",
        show.stdout
    );

    // Bad sequence numbers: clear errors, nothing changes.
    let missing = oversight(&env, &["show", "999"]).await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no dead letter at sequence 999"),
        "{}",
        missing.stderr
    );
    let zero = oversight(&env, &["requeue", "0"]).await;
    assert_ne!(zero.code, 0);
    assert!(
        zero.stderr.contains("sequences start at 1"),
        "{}",
        zero.stderr
    );
    let word = oversight(&env, &["show", "seven"]).await;
    assert_eq!(word.code, 2);
    assert!(
        word.stderr.contains("invalid value 'seven'"),
        "{}",
        word.stderr
    );

    // The fix is deployed; requeue: the message is processed once, with its origin.
    fixed.store(true, Ordering::SeqCst);
    let requeue = oversight(&env, &["requeue", &seq.to_string()]).await;
    assert_eq!(requeue.code, 0, "{}{}", requeue.stdout, requeue.stderr);
    assert!(
        requeue.stdout.contains("requeued 1 of 1"),
        "{}",
        requeue.stdout
    );
    wait_until(DEADLINE, "the requeued message applied", || async {
        (!applied.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .unwrap();

    // A second requeue of the same dead letter republishes nothing.
    let again = oversight(&env, &["requeue", &seq.to_string()]).await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again
            .stderr
            .contains(&format!("no dead letter at sequence {seq}")),
        "{}",
        again.stderr
    );
    wait_until(DEADLINE, "the consumer settled", || settled(&owner))
        .await
        .unwrap();
    let dl_stream = owner.subjects().deadletter_stream().name;
    assert_eq!(
        *applied.lock().unwrap(),
        vec![("RXX".to_string(), Some(format!("{dl_stream}/{seq}")))],
        "processed exactly once, carrying where it came from"
    );
    // Only the undecodable one is left (requeuing it unchanged would only poison again).
    let left = listed(&env).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["seq"].as_u64(), Some(garbage_seq));

    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}
