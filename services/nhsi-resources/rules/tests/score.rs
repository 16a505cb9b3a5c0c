//! `oversight score` on the fixtures in `tests/fixtures/`, checking the exact JSON lines.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use nhsi_rules::score::{ScoreError, render_json_lines, render_table, score_documents};

const FINANCE: &str = include_str!("fixtures/finance.csv");
const WARD_A: &str = include_str!("fixtures/ward_staffing_a.csv");
const WARD_B: &str = include_str!("fixtures/ward_staffing_b.csv");
const EXPECTED_JSON: &str = include_str!("fixtures/expected.jsonl");
const EXPECTED_TABLE: &str = include_str!("fixtures/expected_table.txt");

fn documents() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("finance.csv", FINANCE.as_bytes()),
        ("ward_staffing_a.csv", WARD_A.as_bytes()),
        ("ward_staffing_b.csv", WARD_B.as_bytes()),
    ]
}

#[test]
fn json_lines_are_exact() {
    let out = score_documents(documents());
    assert_eq!(render_json_lines(&out.lines), EXPECTED_JSON);
}

#[test]
fn table_is_exact() {
    let out = score_documents(documents());
    assert_eq!(render_table(&out.lines), EXPECTED_TABLE);
}

#[test]
fn the_bad_ward_row_is_reported_and_the_rest_scored() {
    let out = score_documents(documents());
    let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        vec![
            "ward_staffing_b.csv: line 4, field registered_nurse_hours: negative hours -5"
                .to_string()
        ]
    );
    assert!(matches!(out.errors[0], ScoreError::Feed { .. }));
}

#[test]
fn file_order_does_not_change_the_output() {
    let mut docs = documents();
    docs.reverse();
    let out = score_documents(docs);
    assert_eq!(render_json_lines(&out.lines), EXPECTED_JSON);
}

#[test]
fn ward_days_split_across_files_roll_up_together() {
    // W1 in April has two days in file A and one in file B: 474 hours ÷ 60 patient days = 7.9.
    let out = score_documents(documents());
    let json = render_json_lines(&out.lines);
    assert!(json.contains(
        r#"{"kind":"chppd","trust":"RXX","ward":"W1","month":"2018-04","chppd":7.9,"byStaffGroup":{"registeredNurse":5.0,"registeredMidwife":0.0,"alliedHealthProfessional":0.5,"healthcareSupportWorker":2.4}}"#
    ));
    // Without file B, W1's April is only two days (same CHPPD here, since staffing is constant).
    let only_a = score_documents([("ward_staffing_a.csv", WARD_A.as_bytes())]);
    assert_eq!(only_a.lines.len(), 2);
}
