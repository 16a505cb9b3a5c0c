//! Security defaults: authentication fails closed. A service without a tokens file refuses to
//! start unless it is explicitly told to run without authentication.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use oversight_runtime::InfraConfig;

fn ephemeral() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// No NATS and no database are needed: authentication is checked before anything connects.
fn infra() -> InfraConfig {
    InfraConfig::new("nats://127.0.0.1:1", "t", "sqlite::memory:")
}

fn assert_names_the_fix(service: &str, result: anyhow::Result<()>) {
    let error = format!("{:#}", result.expect_err("refuses to start"));
    assert!(
        error.contains("AUTH_TOKENS_FILE") && error.contains("--insecure-no-auth"),
        "{service}: the error names both ways out: {error}"
    );
}

#[tokio::test]
async fn every_service_refuses_to_start_without_tokens_unless_told_to_run_insecure() {
    assert!(!infra().insecure_no_auth, "fails closed by default");
    assert_names_the_fix(
        "ingestion",
        ingestion::App::build(ingestion::Config {
            infra: infra(),
            grpc_addr: ephemeral(),
        })
        .await
        .map(|_| ()),
    );
    assert_names_the_fix(
        "cqc-quality",
        cqc_quality::App::build(cqc_quality::Config {
            infra: infra(),
            grpc_addr: ephemeral(),
            rule_set: None,
        })
        .await
        .map(|_| ()),
    );
    assert_names_the_fix(
        "nhsi-resources",
        nhsi_resources::App::build(nhsi_resources::Config {
            infra: infra(),
            grpc_addr: ephemeral(),
        })
        .await
        .map(|_| ()),
    );
    assert_names_the_fix(
        "combiner",
        combiner::App::build(combiner::Config {
            infra: infra(),
            grpc_addr: ephemeral(),
            report_addr: None,
            force_shadow: false,
            max_months_apart: 12,
            consumer_suffix: None,
        })
        .await
        .map(|_| ()),
    );
}

#[test]
fn the_insecure_flag_is_a_command_line_option() {
    use clap::Parser;
    let parsed = ingestion::Config::try_parse_from(["ingestion", "--insecure-no-auth"]).unwrap();
    assert!(parsed.infra.insecure_no_auth);
}
