//! `oversight score` on the fixtures in `tests/fixtures/`, checking the exact JSON lines.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use nhsi_rules::score::ScoreLine;
use oversight_cli::render::score::{render_json_lines, render_table};
use oversight_cli::score::{ScoreError, score_document, score_documents};
use oversight_feeds::nhsi::ScoreFileError;

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
    assert!(matches!(
        out.errors[0],
        ScoreError::File(ScoreFileError::Feed { .. })
    ));
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

// One finance file: the JSON line's shape, NDJSON sniffed from content, duplicates, the table.

const FINANCE_ONE: &str = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2017-03-31,2.6,-3,-0.5,0,60\n";

#[test]
fn finance_json_line_has_the_documented_shape() {
    let out = score_document("fin.csv", FINANCE_ONE.as_bytes());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let json = render_json_lines(&out.lines);
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(v["kind"], "finance");
    assert_eq!(v["trust"], "RXX");
    assert_eq!(v["period"], "2017-03-31");
    assert_eq!(
        v["scores"],
        serde_json::json!({"capitalServiceCapacity": 1, "liquidity": 2, "incomeExpenditureMargin": 3, "distanceFromPlan": 1, "agencySpend": 4})
    );
    assert_eq!(v["overall"], 3);
    assert!(json.starts_with(
        "{\"kind\":\"finance\",\"trust\":\"RXX\",\"period\":\"2017-03-31\",\"scores\":"
    ));
}

#[test]
fn unsupported_feeds_and_bad_headers_are_errors() {
    let out = score_documents([
            ("prod.csv", "trust_code,period_end,metric,value\nRXX,2017-03-31,vacancy_rate,1\nRXX,2017-03-31,vacancy_rate,2\n".as_bytes()),
            ("junk.csv", "a,b\n1,2\n".as_bytes()),
        ]);
    assert!(out.lines.is_empty());
    let msgs: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 2);
    assert_eq!(
        msgs[0],
        "prod.csv: productivity feed is not scored by `oversight score` (finance and ward staffing only)"
    );
    assert!(
        msgs[1].starts_with("junk.csv: line 1: unrecognised header"),
        "{}",
        msgs[1]
    );
}

#[test]
fn ndjson_is_sniffed_from_content() {
    let text = r#"{"trust_code":"RXX","period_end":"2017-03-31","capital_service_capacity":2.6,"liquidity_days":-3,"income_expenditure_margin_pct":-0.5,"distance_from_plan_pct":0,"agency_spend_vs_ceiling_pct":60}"#;
    let out = score_document("-", text.as_bytes());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(matches!(&out.lines[..], [ScoreLine::Finance(f)] if f.overall == 3));
}

#[test]
fn duplicate_finance_is_reported_and_first_kept() {
    let out = score_documents([
        ("a.csv", FINANCE_ONE.as_bytes()),
        ("b.csv", FINANCE_ONE.as_bytes()),
    ]);
    assert_eq!(out.lines.len(), 1);
    assert!(
        matches!(&out.errors[..], [ScoreError::File(ScoreFileError::DuplicateFinance { file, .. })] if file == "b.csv")
    );
}

#[test]
fn table_is_aligned() {
    let out = score_document("fin.csv", FINANCE_ONE.as_bytes());
    assert_eq!(
        render_table(&out.lines),
        "Finance and use of resources score (1 best – 4)\n\
TRUST  PERIOD      CAPITAL  LIQUIDITY  I&E  PLAN  AGENCY  OVERALL\n\
RXX    2017-03-31        1          2    3     1       4        3\n"
    );
}
