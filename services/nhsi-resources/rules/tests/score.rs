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

#[test]
fn a_ward_without_patients_has_no_figure_and_its_hours_count_for_the_trust() {
    // DOMAIN.md §4.3, worked by hand: W1 has 10 patients on each of two days and 50 hours a day
    // (100 hours ÷ 20 patient days = 5); W9 is staffed for 30 hours a day with nobody in its beds
    // at midnight. Trust: (100 + 60) hours ÷ 20 patient days = 8, not W1's 5.
    let csv = "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n\
               RXX,W1,2018-06-01,10,30,0,0,20\n\
               RXX,W1,2018-06-02,10,30,0,0,20\n\
               RXX,W9,2018-06-01,0,30,0,0,0\n\
               RXX,W9,2018-06-02,0,30,0,0,0\n";
    let out = score_documents([("june.csv", csv.as_bytes())]);
    assert!(
        out.errors.is_empty(),
        "no patients is not an error: {:?}",
        out.errors
    );
    assert_eq!(
        render_json_lines(&out.lines),
        concat!(
            r#"{"kind":"chppd","trust":"RXX","ward":"W1","month":"2018-06","chppd":5.0,"byStaffGroup":{"registeredNurse":3.0,"registeredMidwife":0.0,"alliedHealthProfessional":0.0,"healthcareSupportWorker":2.0}}"#,
            "\n",
            r#"{"kind":"chppd","trust":"RXX","ward":"W9","month":"2018-06","chppd":null,"byStaffGroup":null}"#,
            "\n",
            r#"{"kind":"chppd","trust":"RXX","ward":null,"month":"2018-06","chppd":8.0,"byStaffGroup":{"registeredNurse":6.0,"registeredMidwife":0.0,"alliedHealthProfessional":0.0,"healthcareSupportWorker":2.0}}"#,
            "\n",
        )
    );
    let table = render_table(&out.lines);
    let w9: Vec<&str> = table
        .lines()
        .find(|l| l.contains("W9"))
        .expect("a W9 row")
        .split_whitespace()
        .collect();
    assert_eq!(
        w9,
        ["RXX", "W9", "2018-06", "-", "-", "-", "-", "-", "0"],
        "{table}"
    );
}
