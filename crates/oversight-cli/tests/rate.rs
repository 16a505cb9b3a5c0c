//! `oversight rate` on a provider with a use-of-resources rating: the combined rating is derived
//! only where the combiner's eligibility rule gives one, and `--trust-type` says what CQC's API
//! does not.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

/// A provider as CQC's API serves it: S=RI, the rest Good, use of resources RI (2019).
const PROVIDER: &str = r#"{
  "providerId": "RXX",
  "currentRatings": {
    "overall": {
      "rating": "Good",
      "reportDate": "2019-06-05",
      "keyQuestionRatings": [
        {"name": "Safe", "rating": "Requires improvement"},
        {"name": "Effective", "rating": "Good"},
        {"name": "Caring", "rating": "Good"},
        {"name": "Responsive", "rating": "Good"},
        {"name": "Well-led", "rating": "Good"}
      ],
      "useOfResources": {
        "reportDate": "2019-05-01",
        "useOfResourcesRating": "Requires improvement",
        "combinedQualityRating": "Good"
      }
    }
  }
}"#;

fn rate(args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provider.json");
    std::fs::write(&file, PROVIDER).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oversight"))
        .arg("rate")
        .arg(&file)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let rows = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        rows,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn combined_rating_follows_the_trust_type() {
    // DOMAIN.md §3 hand example (S=RI, rest G, UoR=RI, 2019): an acute trust's combined is Good.
    let (code, rows, _) = rate(&[]);
    assert_eq!(code, 0);
    assert_eq!(rows[0]["computed"]["combined"], "Good");
    // A specialist acute trust has no combined rating, whatever its parts.
    let (code, rows, _) = rate(&["--trust-type", "specialist_acute"]);
    assert_eq!(code, 0);
    assert_eq!(rows[0]["computed"]["combined"], serde_json::Value::Null);
    assert!(
        rows[0]["explanation"].to_string().contains(
            "specialist acute trust: combined ratings apply only to non-specialist acute trusts"
        ),
        "{}",
        rows[0]["explanation"]
    );
    // An unknown type is a usage error.
    let (code, _, stderr) = rate(&["--trust-type", "hospice"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--trust-type"), "{stderr}");
}
