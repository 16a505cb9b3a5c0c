//! The ratings auditor on CQC public API JSON fixtures.

// Tests may panic on broken fixtures; the workspace lints forbid it only in library code.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::NaiveDate;
use combined_rules::{ApprovedUor, CombineInput, CombinedRuleSet, DatedRating};
use cqc_rules::audit::{AuditRules, RowKind};
use oversight_cli::rate::{AuditOutput, audit_document, audit_document_with, exit_ok};
use oversight_cli::render::rate::{render_json_lines, render_table, summarise};
use oversight_feeds::cqc_api::audit::RecordRef;
use oversight_rating::{KeyQuestion, Rating, TrustType};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    // CQC API JSON samples live with the format, in oversight-feeds.
    let path = format!(
        "{}/../feeds/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn audit(name: &str) -> AuditOutput {
    audit_document(name, &fixture(name))
}

fn json_rows(out: &AuditOutput) -> Vec<Value> {
    render_json_lines(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn kqs(s: &str, e: &str, c: &str, r: &str, w: &str) -> Value {
    let v = |x: &str| if x.is_empty() { Value::Null } else { json!(x) };
    json!({"safe": v(s), "effective": v(e), "caring": v(c), "responsive": v(r), "wellLed": v(w)})
}

fn null_kqs() -> Value {
    kqs("", "", "", "", "")
}

#[test]
fn location_with_six_services_one_departing() {
    let out = audit("location_six_services.json");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(exit_ok(&out));
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 7);
    let services: Vec<&str> = rows.iter().filter_map(|r| r["service"].as_str()).collect();
    assert_eq!(
        services,
        [
            "urgent",
            "care",
            "surgery",
            "critical",
            "maternity",
            "childrens"
        ]
    );
    // The surgery row, exactly: one outstanding of five is Good (X = 2), CQC published Outstanding.
    assert_eq!(
        rows[2],
        json!({
            "kind": "service",
            "id": "1-1000000001",
            "service": "surgery",
            "computed": {"overall": "Good", "keyQuestions": null_kqs(), "combined": null},
            "published": {
                "overall": "Outstanding",
                "keyQuestions": kqs("Good", "Good", "Outstanding", "Good", "Good"),
                "combined": null
            },
            "agrees": false,
            "explanation": [
                "[cqc-2018] overall: 0 inadequate, 0 requires improvement (threshold 2), 1 outstanding (threshold 2) of 5 → Good",
                "input: Safe: Good (2019-06-05)",
                "input: Effective: Good (2019-06-05)",
                "input: Caring: Outstanding (2019-06-05)",
                "input: Responsive: Good (2019-06-05)",
                "input: Well-led: Good (2019-06-05)",
                "differs: overall computed Good, published Outstanding (a departure CQC should explain in the report)"
            ]
        })
    );
    // Every other service agrees.
    let computed: Vec<(&str, &str, bool)> = rows[..6]
        .iter()
        .map(|r| {
            (
                r["computed"]["overall"].as_str().unwrap_or("null"),
                r["published"]["overall"].as_str().unwrap_or("null"),
                r["agrees"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        computed,
        [
            ("Requires improvement", "Requires improvement", true),
            ("Good", "Good", true),
            ("Good", "Outstanding", false),
            ("Outstanding", "Outstanding", true),
            ("Requires improvement", "Requires improvement", true),
            ("Good", "Good", true),
        ]
    );
    // The location row: every KQ from its six services (X = 2), overall from its published KQs.
    let loc = &rows[6];
    assert_eq!(loc["kind"], "location");
    assert_eq!(loc["id"], "1-1000000001");
    assert_eq!(loc["service"], Value::Null);
    assert_eq!(
        loc["computed"],
        json!({
            "overall": "Good",
            "keyQuestions": kqs("Requires improvement", "Good", "Outstanding", "Good", "Good"),
            "combined": null
        })
    );
    assert_eq!(loc["published"], loc["computed"]);
    assert_eq!(loc["agrees"], true);
    let expl: Vec<&str> = loc["explanation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(expl.contains(
        &"[cqc-2018] Safe: 1 of 6 ratings inadequate, below threshold 2, limits to Requires improvement"
    ), "{expl:#?}");
    assert!(
        expl.contains(&"input: Safe ← maternity: Inadequate (2019-06-05)"),
        "{expl:#?}"
    );
    assert!(
        expl.contains(&"input: Effective ← care: Good (2016-03-10)"),
        "{expl:#?}"
    );
    assert!(expl.contains(
        &"[cqc-2018] Caring: 2 of 6 ratings outstanding, threshold 2, the rest good → Outstanding"
    ), "{expl:#?}");
}

#[test]
fn provider_with_use_of_resources_combined() {
    let out = audit("provider_use_of_resources.json");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 1);
    let p = &rows[0];
    // Hand example of DOMAIN §3: S=RI, rest G, UoR=RI → quality Good, combined Good (2 RI < 3).
    assert_eq!(p["kind"], "provider");
    assert_eq!(p["id"], "RXX");
    assert_eq!(p["service"], Value::Null);
    assert_eq!(
        p["computed"],
        json!({"overall": "Good", "keyQuestions": null_kqs(), "combined": "Good"})
    );
    assert_eq!(
        p["published"],
        json!({
            "overall": "Good",
            "keyQuestions": kqs("Requires improvement", "Good", "Good", "Good", "Good"),
            "combined": "Good"
        })
    );
    assert_eq!(p["agrees"], true);
    let expl = p["explanation"].to_string();
    assert!(
        expl.contains("[cqc-combined-2018] combined (acute trust, as of 2019-06-05; five key questions + use of resources as a sixth rating): 0 inadequate, 2 requires improvement (threshold 3), 0 outstanding (threshold 2) of 6 → Good"),
        "{expl}"
    );
}

#[test]
fn array_of_locations_and_providers() {
    let out = audit("array.json");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let rows = &out.rows;
    let kinds: Vec<(RowKind, &str, Option<&str>, bool)> = rows
        .iter()
        .map(|r| (r.kind, r.id.as_str(), r.service.as_deref(), r.agrees))
        .collect();
    assert_eq!(
        kinds,
        [
            (RowKind::Service, "1-2000000002", Some("surgery"), true),
            (RowKind::Service, "1-2000000002", Some("outpatients"), true),
            (RowKind::Location, "1-2000000002", None, true),
            (RowKind::Provider, "RYY", None, true),
            (RowKind::Provider, "RZZ", None, false),
        ]
    );
    // Outpatients' "Inspected but not rated" is excluded, published as null.
    let rows_json = json_rows(&out);
    assert_eq!(
        rows_json[1]["published"]["keyQuestions"]["effective"],
        Value::Null
    );
    // RYY: 3 RI of 6 → RI combined. RZZ: one inadequate of 6 limits the combined to RI.
    assert_eq!(rows_json[3]["computed"]["combined"], "Requires improvement");
    assert_eq!(rows_json[4]["computed"]["combined"], "Requires improvement");
    assert_eq!(rows_json[4]["published"]["combined"], "Good");
    assert_eq!(rows_json[4]["computed"]["overall"], "Requires improvement");
    let s = summarise(&out);
    assert_eq!(s.service_overall, (2, 2));
    assert_eq!(s.location_key_questions, (5, 5));
    assert_eq!(s.provider_combined, (1, 2));
}

#[test]
fn ndjson_with_one_bad_line_audits_the_others() {
    let out = audit("ratings.ndjson");
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.file, "ratings.ndjson");
    assert_eq!(e.record, Some(RecordRef::Line(2)));
    assert!(e.message.starts_with("malformed JSON"), "{e}");
    assert!(
        e.to_string()
            .starts_with("ratings.ndjson: line 2: malformed JSON"),
        "{e}"
    );
    let ids: Vec<&str> = out.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1-2000000002", "1-2000000002", "1-2000000002", "RXX"]);
    assert!(!exit_ok(&out));
}

#[test]
fn unknown_rating_names_file_record_id_and_field() {
    let out = audit("unknown_rating.json");
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.record, Some(RecordRef::Index(0)));
    assert_eq!(e.id.as_deref(), Some("1-4000000004"));
    assert_eq!(
        e.field.as_deref(),
        Some("currentRatings.serviceRatings[1].keyQuestionRatings[2].rating")
    );
    assert_eq!(
        e.to_string(),
        "unknown_rating.json: record 0 (1-4000000004): currentRatings.serviceRatings[1].keyQuestionRatings[2].rating: unknown rating \"Excellent\" (expected Outstanding, Good, Requires improvement, Inadequate or a CQC non-rating)"
    );
    // The bad record is not audited; the provider after it is.
    assert_eq!(out.rows.len(), 1);
    assert_eq!(out.rows[0].id, "RXX");
}

#[test]
fn malformed_file_names_the_file() {
    let out = audit("malformed.json");
    assert!(out.rows.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].file, "malformed.json");
    assert_eq!(out.errors[0].record, None);
    assert!(out.errors[0].message.starts_with("malformed JSON"));
    let none = audit_document("x.json", "[1]");
    assert_eq!(none.errors.len(), 1);
    assert_eq!(none.errors[0].record, Some(RecordRef::Index(0)));
    let empty = audit_document("e.json", "  \n");
    assert_eq!(empty.errors[0].message, "empty file: no JSON records");
    let neither = audit_document("n.json", r#"{"name": "x"}"#);
    assert!(
        neither.errors[0]
            .message
            .contains("neither locationId nor providerId")
    );
}

#[test]
fn superseded_maternity_is_counted_once() {
    let out = audit("superseded_maternity.json");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["service"], "npimaternity");
    assert_eq!(rows[1]["computed"]["overall"], "Requires improvement");
    let loc = &rows[3];
    assert_eq!(loc["agrees"], true, "{loc:#}");
    assert_eq!(
        loc["computed"]["keyQuestions"],
        kqs(
            "Requires improvement",
            "Good",
            "Good",
            "Good",
            "Requires improvement"
        )
    );
    let expl = loc["explanation"].to_string();
    assert!(
        expl.contains("superseded area(s) maternity counted as npimaternity"),
        "{expl}"
    );
    // Two services, not three: effective carries forward from the 2018 maternity report.
    assert!(
        expl.contains("input: Effective ← maternity: Good (2018-01-01)"),
        "{expl}"
    );
    assert!(
        expl.contains(
            "Safe: 2 of 2 ratings requires improvement, threshold 1 → Requires improvement"
        ),
        "{expl}"
    );
    assert!(expl.contains("Effective: 0 inadequate, 0 requires improvement (threshold 1), 0 outstanding (threshold 1) of 2 → Good"), "{expl}");
}

#[test]
fn table_is_aligned_with_summary() {
    let mut out = audit("location_six_services.json");
    out.extend(audit("provider_use_of_resources.json"));
    out.extend(audit("ratings.ndjson"));
    let table = render_table(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("KIND"), "{table}");
    let service_col = lines[0].find("SERVICE").unwrap_or(0);
    assert!(lines[1..8].iter().all(|l| l.len() > service_col), "{table}");
    let surgery = lines
        .iter()
        .find(|l| l.contains("surgery") && l.contains("1-1000000001"));
    assert!(
        surgery.is_some_and(|l| l.contains("G/O ≠") && l.ends_with("NO")),
        "{table}"
    );
    assert!(
        table.contains("service overall 7/8 agree, location key questions 10/10 agree, location overall 2/2 agree, provider overall 2/2 agree, provider combined 2/2 agree; 1 error"),
        "{table}"
    );
    assert!(
        table.contains("error: ratings.ndjson: line 2: malformed JSON"),
        "{table}"
    );
}

/// A provider object publishing the given key questions (all dated `date`) and a use-of-resources
/// rating of `uor_date`.
fn provider_json(kqs: &[(&str, &str)], date: &str, uor: &str, uor_date: &str) -> String {
    let kq: Vec<Value> = kqs
        .iter()
        .map(|(name, rating)| json!({"name": name, "rating": rating, "reportDate": date}))
        .collect();
    json!({
        "providerId": "RXX",
        "currentRatings": {
            "overall": {
                "rating": "Good",
                "reportDate": date,
                "keyQuestionRatings": kq,
                "useOfResources": {"reportDate": uor_date, "useOfResourcesRating": uor}
            }
        }
    })
    .to_string()
}

const FIVE_GOOD: [(&str, &str); 5] = [
    ("Safe", "Good"),
    ("Effective", "Good"),
    ("Caring", "Good"),
    ("Responsive", "Good"),
    ("Well-led", "Good"),
];

/// `oversight rate` decides whether a combined rating exists with the combiner's own rule
/// (DOMAIN.md §3): non-specialist acute trusts only, not before 5 March 2018, six real ratings.
#[test]
fn the_audit_computes_a_combined_rating_only_where_the_combiner_would() {
    let hand_example = [
        ("Safe", "Requires improvement"),
        ("Effective", "Good"),
        ("Caring", "Good"),
        ("Responsive", "Good"),
        ("Well-led", "Good"),
    ];
    // (trust type, key questions, their date, UoR, UoR date, expected combined, reason)
    type Case<'a> = (
        TrustType,
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a str,
    );
    let cases: &[Case] = &[
        // §3 hand example: S=RI, rest G, UoR=RI → combined Good.
        (
            TrustType::Acute,
            &hand_example,
            "2019-06-05",
            "Requires improvement",
            "2019-05-01",
            Some("Good"),
            "",
        ),
        // Dated by the latest part: 5 March 2018 is the first combined day.
        (
            TrustType::Acute,
            &FIVE_GOOD,
            "2017-06-01",
            "Good",
            "2018-03-05",
            Some("Good"),
            "",
        ),
        (
            TrustType::Acute,
            &FIVE_GOOD,
            "2017-06-01",
            "Good",
            "2018-03-04",
            None,
            "shadow (as of 2018-03-04, before 2018-03-05)",
        ),
        // Six real ratings: four key questions and UoR are not enough; nor is a non-rating UoR.
        (
            TrustType::Acute,
            &FIVE_GOOD[..4],
            "2019-06-05",
            "Good",
            "2019-05-01",
            None,
            "no rating for well-led",
        ),
        (
            TrustType::Acute,
            &FIVE_GOOD,
            "2019-06-05",
            "Not rated",
            "2019-05-01",
            None,
            "no approved use of resources rating",
        ),
        // Trust type.
        (
            TrustType::SpecialistAcute,
            &FIVE_GOOD,
            "2019-06-05",
            "Good",
            "2019-05-01",
            None,
            "specialist acute trust",
        ),
        (
            TrustType::MentalHealth,
            &FIVE_GOOD,
            "2019-06-05",
            "Good",
            "2019-05-01",
            None,
            "not an acute trust (mental health)",
        ),
    ];
    let kq_of = |name: &str| name.parse::<KeyQuestion>().expect("key question");
    let rating_of = |r: &str| {
        r.parse::<oversight_rating::RatingValue>()
            .expect("rating")
            .rating()
    };
    let day = |s: &str| s.parse::<NaiveDate>().expect("date");
    for (trust_type, kqs, date, uor, uor_date, want, reason) in cases {
        let rules = AuditRules {
            provider_trust_type: *trust_type,
            ..AuditRules::cqc_2018()
        };
        let out = audit_document_with("p.json", &provider_json(kqs, date, uor, uor_date), &rules);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let row = &out.rows[0];
        let expected = want.map(|w| w.parse::<Rating>().expect("rating"));
        assert_eq!(
            row.computed.combined, expected,
            "{trust_type:?} {kqs:?} {uor_date}: {:?}",
            row.explanation
        );
        if !reason.is_empty() {
            assert!(
                row.explanation
                    .iter()
                    .any(|l| l.contains("no combined rating") && l.contains(reason)),
                "{reason}: {:?}",
                row.explanation
            );
        }
        // The combiner, given the same parts and dated the same way, agrees.
        let input = CombineInput {
            trust_type: *trust_type,
            key_questions: kqs
                .iter()
                .map(|(k, r)| {
                    (
                        kq_of(k),
                        DatedRating {
                            rating: rating_of(r),
                            date: Some(day(date)),
                        },
                    )
                })
                .collect(),
            overall_quality: DatedRating {
                rating: Some(Rating::Good),
                date: Some(day(date)),
            },
            uor: rating_of(uor).map(|rating| ApprovedUor {
                rating,
                date: day(uor_date),
                version: 1,
            }),
            sources: Default::default(),
        };
        let as_of = day(date).max(day(uor_date));
        let outcome = combined_rules::combine(&input, as_of, &CombinedRuleSet::default());
        assert_eq!(
            outcome.combined, expected,
            "combiner: {:?}",
            outcome.no_combined_reason
        );
    }
}
