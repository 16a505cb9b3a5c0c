//! The combiner's HTML ratings report, checked in a real headless browser (Debian `chromium`):
//! feeds go through the whole stack, then Chromium loads the report of a combiner App with the
//! report server on (the stack's own runs without one), and the test asserts on the DOM it
//! rendered and saves screenshots in `test-artifacts/` at the workspace root.
//!
//! Chromium is required: without it the test fails and says how to install it (`CHROMIUM_BIN`
//! names another binary).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, feed_for, rating_with_uor};
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::Shutdown;
use oversight_testkit::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM_BIN") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser"] {
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
    }
    panic!(
        "headless Chromium is required for the ratings report test but was not found on PATH: \
         install it (Debian: `apt-get install -y chromium`) or set CHROMIUM_BIN"
    );
}

/// Run headless Chromium on `url` with `extra` arguments; returns stdout.
async fn browse(profile: &std::path::Path, url: &str, extra: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(BROWSER_DEADLINE, cmd.output())
        .await
        .expect("chromium finished in time")
        .expect("chromium ran");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn dump_dom(profile: &std::path::Path, url: &str) -> String {
    browse(profile, url, &["--dump-dom"]).await
}

async fn screenshot(profile: &std::path::Path, url: &str, name: &str) -> PathBuf {
    let dir = oversight_testkit::workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    browse(
        profile,
        url,
        &[
            &format!("--screenshot={}", path.display()),
            "--window-size=1280,900",
            "--hide-scrollbars",
        ],
    )
    .await;
    let png =
        std::fs::read(&path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} is not a real screenshot",
        path.display()
    );
    path
}

/// The text of the element with `id`, roughly: from its start tag to the next row.
fn row<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in the rendered DOM"));
    let rest = &dom[start..];
    &rest[..rest.find("</tr>").expect("row end")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratings_report_renders_in_headless_chromium() {
    let browser = chromium();
    let stack = Stack::start().await.unwrap();
    // The stack's combiner runs without a report; this one serves it. It is the same App with
    // consumers of its own, so it builds its state from the quality and UoR streams.
    let reporting = combiner::App::build(combiner::Config {
        infra: stack.env.infra("combiner-report").await.unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        report_addr: Some("127.0.0.1:0".parse().unwrap()),
        force_shadow: false,
        max_months_apart: 12,
        consumer_suffix: Some("report".into()),
    })
    .await
    .unwrap();
    let (report, reporting_grpc) = (
        reporting.report_addr().expect("report server bound"),
        reporting.grpc_addr().unwrap(),
    );
    let reporting_stop = Shutdown::new();
    let reporting_task = tokio::spawn(reporting.run_until_stopped(reporting_stop.clone()));
    for (batch, feed) in [
        ("rxx", FIRST_FLOW_FEED.to_string()),
        (
            "ryy",
            feed_for(
                "RYY",
                &format!("{} <Example> & Hospitals NHS Trust", "RYY"),
                "acute",
                "Inadequate",
            ),
        ),
        (
            "rzz",
            feed_for(
                "RZZ",
                &format!("{} <Example> & Hospitals NHS Trust", "RZZ"),
                "specialist_acute",
                "Good",
            ),
        ),
    ] {
        let receipt = stack
            .submit(batch, ing::FeedFormat::Csv, "feed.csv", feed.as_bytes())
            .await
            .unwrap();
        assert_eq!(receipt.rejected, 0, "{receipt:?}");
    }
    for trust in ["RXX", "RYY", "RZZ"] {
        wait_until(DEADLINE, trust, || rating_with_uor(reporting_grpc, trust))
            .await
            .unwrap();
    }
    let profile = stack.env.dir().join("chromium-profile");
    let profile = profile.as_path();
    let base = format!("http://{report}");

    let dom = dump_dom(profile, &format!("{base}/")).await;
    assert!(dom.contains("<h1>NHS trust ratings</h1>"), "{dom}");
    // RXX: the hand example, quality Good, UoR RI, combined Good, no flags.
    let rxx = row(&dom, "trust-RXX");
    assert!(!rxx.contains("flag-badge"), "{rxx}");
    assert!(
        rxx.contains("<td class=\"combined\"><span class=\"rating rating-good\">Good</span>"),
        "{rxx}"
    );
    assert!(rxx.contains("<td class=\"use-of-resources\"><span class=\"rating rating-requires-improvement\">Requires improvement</span>"), "{rxx}");
    assert!(
        rxx.contains("data-kq=\"safe\"><span class=\"rating rating-requires-improvement\">"),
        "{rxx}"
    );
    // The explanation behind the click: rule set, rule and the six inputs with dates and sources.
    assert!(
        rxx.contains("<details class=\"explanation\"><summary>Why?</summary>"),
        "{rxx}"
    );
    assert!(rxx.contains("<code>cqc-combined-2018</code>"), "{rxx}");
    assert!(rxx.contains("use of resources: Requires improvement (2018-07-01, version 1) — source: NHSI use of resources"), "{rxx}");
    assert!(
        rxx.contains(
            "safe: Requires improvement (2018-06-01) — source: CQC quality rating cqc-2018"
        ),
        "{rxx}"
    );
    // RYY: UoR inadequate lowers the combined rating: flagged where nobody can miss it.
    let ryy = row(&dom, "trust-RYY");
    assert!(ryy.contains("class=\"flagged\""), "{ryy}");
    assert!(
        ryy.contains("<span class=\"flag-badge\" data-flag=\"uor_lowered_result\""),
        "{ryy}"
    );
    assert!(
        ryy.contains("⚠ the use of resources rating lowered the combined rating"),
        "{ryy}"
    );
    assert!(
        ryy.contains("<td class=\"combined\"><span class=\"rating rating-requires-improvement\">"),
        "{ryy}"
    );
    assert!(
        ryy.contains("<td class=\"overall-quality\"><span class=\"rating rating-good\">"),
        "{ryy}"
    );
    // Text from the data is escaped, never markup.
    assert!(
        ryy.contains("RYY &lt;Example&gt; &amp; Hospitals NHS Trust"),
        "{ryy}"
    );
    assert!(dom.contains("id=\"flag-summary\""), "flag banner missing");
    // RZZ: specialist acute, no combined rating, with the reason.
    let rzz = row(&dom, "trust-RZZ");
    assert!(rzz.contains("No combined rating"), "{rzz}");
    assert!(
        rzz.contains(
            "specialist acute trust: combined ratings apply only to non-specialist acute trusts"
        ),
        "{rzz}"
    );

    // The trust page: parts with explanations and the history.
    let page = dump_dom(profile, &format!("{base}/trusts/RYY")).await;
    assert!(page.contains("id=\"history-table\""), "{page}");
    let versions = TrustRatingsServiceClient::new(Stack::channel(reporting_grpc).await.unwrap())
        .get_trust_history(pb::GetTrustHistoryRequest {
            trust_code: "RYY".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    for v in &versions {
        assert!(
            page.contains(&format!("data-version=\"{}\"", v.version)),
            "v{} missing",
            v.version
        );
    }
    assert!(page.contains("id=\"flags\""), "{page}");
    assert!(page.contains("<th>Use of resources</th>"), "{page}");
    let unknown = dump_dom(profile, &format!("{base}/trusts/RQQ")).await;
    assert!(unknown.contains("no rating for trust RQQ"), "{unknown}");

    let shots = [
        screenshot(profile, &format!("{base}/"), "combiner-report.png").await,
        screenshot(
            profile,
            &format!("{base}/trusts/RYY"),
            "combiner-report-RYY.png",
        )
        .await,
    ];
    eprintln!("browser {}; screenshots: {shots:?}", browser.display());
    reporting_stop.cancel();
    reporting_task.await.unwrap().unwrap();
    stack.stop().await.unwrap();
}
