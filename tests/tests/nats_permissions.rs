//! The shipped NATS configuration (deploy/nats/nats-server.conf): every service connects with its
//! own credentials and the whole flow works within its subject permissions; a feed sender can only
//! submit feeds. (deploy/nats/smoke.py, run by deploy/validate.sh in CI, checks each forbidden
//! publish and subscribe one by one.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use oversight_e2e::{Stack, rating_with_uor};
use oversight_proto::common::v1::Rating;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::InfraConfig;
use oversight_runtime::config::Secret;
use oversight_runtime::nats::Bus;
use oversight_testkit::{TestEnv, wait_until, workspace_root};

const FEED: &[u8] = include_bytes!("../fixtures/first_flow.csv");

/// The shipped config with the listen, monitoring and store settings left to the test.
fn shipped_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/nats/nats-server.conf"))?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("listen:") || t.starts_with("http:") || t.starts_with("store_dir:"))
        })
        .collect();
    let path = dir.join("nats-server.conf");
    std::fs::write(&path, kept.join("\n"))?;
    Ok(path)
}

fn user_of(service: &str) -> &'static str {
    match service {
        "ingestion" => "ingestion",
        "cqc-quality" => "cqc_quality",
        "nhsi-resources" => "nhsi_resources",
        "combiner" => "combiner",
        _ => "feeds",
    }
}

fn credentials(cfg: &mut InfraConfig, user: &str) {
    cfg.nats_user = Some(user.to_string());
    cfg.nats_password = Some(Secret::new(format!(
        "dev-{}-password",
        user.replace('_', "-")
    )));
}

async fn client_as(env: &TestEnv, user: &str) -> anyhow::Result<Bus> {
    let mut cfg = InfraConfig::new(env.nats_url.clone(), env.namespace.clone(), "unused");
    credentials(&mut cfg, user);
    Bus::connect(&cfg, "test").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_work_within_their_nats_permissions() {
    let env = TestEnv::start_with_nats_config(shipped_config)
        .await
        .unwrap();
    // Without credentials nobody gets in.
    assert!(
        client_as(&env, "nobody").await.is_err(),
        "unknown user must be refused"
    );

    let stack = Stack::start_customised(env, |service, cfg| credentials(cfg, user_of(service)))
        .await
        .unwrap();
    let feeds = client_as(&stack.env, "feeds").await.unwrap();
    let batch = ing::FeedBatch {
        source: "permissions-test".into(),
        batch_id: "perm-1".into(),
        format: ing::FeedFormat::Csv as i32,
        file_name: "first_flow.csv".into(),
        chunk_index: 0,
        last: true,
        content: FEED.to_vec(),
    };
    feeds
        .publish(feeds.subjects().feeds_submit(), "perm-1", &batch)
        .await
        .unwrap();

    let rating = wait_until(Duration::from_secs(60), "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(rating.combined.unwrap().rating, Rating::Good as i32);

    // A feed sender may not forge a quality rating.
    let forged = feeds
        .publish_bytes(
            feeds.subjects().quality_rated(),
            "forged-1",
            b"forged".to_vec().into(),
        )
        .await;
    assert!(
        forged.is_err(),
        "the feeds user must not publish on quality.rated"
    );
    stack.stop().await.unwrap();
}
