//! `oversight ratings`, the built binary, against a whole stack: the terminal table says what the
//! combiner's API says.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Output;
use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, feed_for};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);

async fn oversight(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_oversight"))
        .args(args)
        .env_remove("OVERSIGHT_COMBINER_URL")
        .env_remove("OVERSIGHT_TOKEN")
        .output()
        .await
        .unwrap()
}

/// The test's own reading of a wire rating (independent of the CLI's code).
fn short(d: Option<&common::DatedRating>) -> &'static str {
    match d.map(|d| common::Rating::try_from(d.rating).unwrap()) {
        Some(common::Rating::Outstanding) => "O",
        Some(common::Rating::Good) => "G",
        Some(common::Rating::RequiresImprovement) => "RI",
        Some(common::Rating::Inadequate) => "I",
        _ => "-",
    }
}

fn expected_row(r: &pb::CombinedRatingPublished) -> Vec<String> {
    let kq = |k: common::KeyQuestion| {
        short(
            r.key_questions
                .iter()
                .find(|x| x.key_question == k as i32)
                .and_then(|x| x.rating.as_ref()),
        )
    };
    let mut row = vec![
        r.trust_code.clone(),
        kq(common::KeyQuestion::Safe).into(),
        kq(common::KeyQuestion::Effective).into(),
        kq(common::KeyQuestion::Caring).into(),
        kq(common::KeyQuestion::Responsive).into(),
        kq(common::KeyQuestion::WellLed).into(),
        short(r.overall_quality.as_ref()).into(),
        short(r.use_of_resources.as_ref()).into(),
        if r.no_combined_reason.is_empty() {
            short(r.combined.as_ref()).into()
        } else {
            "none".into()
        },
    ];
    if !r.flags.is_empty() {
        let codes: Vec<&str> = r.flags.iter().map(|f| f.code.as_str()).collect();
        row.push("⚠".into());
        row.push(codes.join(","));
    }
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratings_table_matches_the_api() {
    let stack = Stack::start().await.unwrap();
    for (batch, feed) in [
        ("rxx", FIRST_FLOW_FEED.to_string()),
        (
            "ryy",
            feed_for("RYY", "Example Hospitals NHS Trust", "acute", "Inadequate"),
        ),
        (
            "rzz",
            feed_for(
                "RZZ",
                "Example Hospitals NHS Trust",
                "mental_health",
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
    let api = wait_until(DEADLINE, "three trusts with both parts", || async {
        let ratings = stack
            .ratings_client()
            .await
            .ok()?
            .list_trust_ratings(pb::ListTrustRatingsRequest::default())
            .await
            .ok()?
            .into_inner()
            .ratings;
        (ratings.len() == 3 && ratings.iter().all(|r| r.use_of_resources_version > 0))
            .then_some(ratings)
    })
    .await
    .unwrap();
    let server = format!("http://{}", stack.combiner);

    // The table: a header, one row per trust in the API's order, a summary.
    let out = oversight(&["ratings", "--server", &server]).await;
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "TRUST", "S", "E", "C", "R", "W", "QUALITY", "UOR", "COMBINED", "FLAGS"
        ],
        "{table}"
    );
    let rows: Vec<Vec<String>> = lines[1..=api.len()]
        .iter()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let expected: Vec<Vec<String>> = api.iter().map(expected_row).collect();
    assert_eq!(rows, expected, "{table}");
    assert_eq!(
        lines[api.len() + 1],
        "3 trusts, 2 with a combined rating, 1 flagged"
    );
    // Spot-check against the domain, not only the API: the hand example and the flagged trust.
    assert_eq!(rows[0].join(" "), "RXX RI G G G G G RI G");
    assert_eq!(
        rows[1].join(" "),
        "RYY RI G G G G G I RI ⚠ uor_lowered_result"
    );
    assert_eq!(rows[2].join(" "), "RZZ RI G G G G G G none");

    // NDJSON: the same trusts, with words and dates.
    let out = oversight(&["ratings", "--server", &server, "--format", "json"]).await;
    assert!(out.status.success(), "{out:?}");
    let objects: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[1]["trust_code"], "RYY");
    assert_eq!(objects[1]["combined"]["rating"], "Requires improvement");
    assert_eq!(objects[1]["useOfResources"], serde_json::Value::Null);
    assert_eq!(objects[1]["use_of_resources"]["rating"], "Inadequate");
    assert_eq!(objects[1]["flags"][0]["code"], "uor_lowered_result");
    assert_eq!(objects[2]["no_combined_reason"], api[2].no_combined_reason);

    // One trust: its parts with explanations, its flags and its history.
    let history = stack
        .ratings_client()
        .await
        .unwrap()
        .get_trust_history(pb::GetTrustHistoryRequest {
            trust_code: "RYY".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .versions;
    let out = oversight(&["ratings", "RYY", "--server", &server]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Use of resources: Inadequate 2018-07-01"),
        "{text}"
    );
    assert!(text.contains("Combined: Requires improvement"), "{text}");
    assert!(text.contains("rule (cqc-combined-2018):"), "{text}");
    assert!(
        text.contains("input: use of resources: Inadequate (2018-07-01, version 1) — source: NHSI use of resources"),
        "{text}"
    );
    assert!(text.contains("⚠ FLAG uor_lowered_result:"), "{text}");
    // What would change RYY's ratings (S=RI, E=C=R=W=G, UoR=I), worked from DOMAIN.md:
    // - overall quality (§2.1, n = 5, X = 2): 1 RI + 4 G → Good. Up: 2 outstanding with all the
    //   rest good, so safe to Outstanding with one other; down: a second RI, or safe inadequate
    //   (one inadequate limits to RI).
    // - combined (§3): one inadequate of 6 (threshold 2) limits to RI. Up: use of resources to
    //   RI lifts the limit (2 RI of 6 < 3 → Good); down: a second inadequate — safe one step,
    //   or a good key question all the way.
    let changes = text
        .split("What would change this rating (smallest sets of changes, one step):\n")
        .nth(1)
        .and_then(|rest| rest.split("\nHistory:").next())
        .unwrap_or_else(|| panic!("no what-if section in {text}"));
    let mut expected = vec![
        "  Overall quality (Good now):".to_string(),
        "    up to Outstanding:".to_string(),
    ];
    for kq in ["effective", "caring", "responsive", "well-led"] {
        expected.push(format!(
            "      - safe from Requires improvement to Outstanding and {kq} from Good to Outstanding"
        ));
    }
    expected.push("    down to Requires improvement:".into());
    expected.push("      - safe from Requires improvement to Inadequate".into());
    for kq in ["effective", "caring", "responsive", "well-led"] {
        expected.push(format!("      - {kq} from Good to Requires improvement"));
    }
    expected.extend([
        "  Combined (Requires improvement now):".to_string(),
        "    up to Good:".to_string(),
        "      - use of resources from Inadequate to Requires improvement".to_string(),
        "    down to Inadequate:".to_string(),
        "      - safe from Requires improvement to Inadequate".to_string(),
    ]);
    for kq in ["effective", "caring", "responsive", "well-led"] {
        expected.push(format!("      - {kq} from Good to Inadequate"));
    }
    assert_eq!(changes.lines().collect::<Vec<_>>(), expected, "{text}");
    // The same as JSON, typed.
    let out = oversight(&["ratings", "RYY", "--server", &server, "--format", "json"]).await;
    assert!(out.status.success(), "{out:?}");
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let up = &one["rating_changes"]["combined"]["up"];
    assert_eq!(up["outcome"], "changes");
    assert_eq!(up["to"], "Good");
    assert_eq!(
        up["sets"][0]["changes"],
        serde_json::json!([{"rating": "useOfResources", "from": "Inadequate", "to": "Requires improvement"}])
    );
    assert_eq!(
        one["rating_changes"]["overall_quality"]["down"]["sets"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // A mental health trust: no combined rating, so nothing changes it.
    let out = oversight(&["ratings", "RZZ", "--server", &server]).await;
    assert!(out.status.success(), "{out:?}");
    let text_rzz = String::from_utf8(out.stdout).unwrap();
    assert!(
        text_rzz.contains("  Combined: none — no combined rating: not an acute trust"),
        "{text_rzz}"
    );
    let history_part = text.split("History:").nth(1).expect("a history section");
    for v in &history {
        assert!(
            history_part
                .lines()
                .any(|l| l.starts_with(&format!("v{} ", v.version))),
            "v{} missing from {history_part}",
            v.version
        );
    }

    // No such trust: NOT_FOUND, exit status 1.
    let out = oversight(&["ratings", "RQQ", "--server", &server]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{out:?}"
    );
    stack.stop().await.unwrap();

    // No server: exit status 2 with the reason.
    let out = oversight(&["ratings", "--server", &server]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed to connect to the combiner"),
        "{out:?}"
    );
}
