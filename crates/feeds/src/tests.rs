//! Reading feed files of every format: what a whole file gives, rejections named by record and
//! field, read errors, and no panic on any input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use proptest::prelude::*;

use super::*;

const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n";

/// A whole file read at once.
#[derive(Debug, Default)]
struct ParsedFile {
    accepted: Vec<Record>,
    rejected: Vec<Rejection>,
}

impl ParsedFile {
    fn records(&self) -> u64 {
        (self.accepted.len() + self.rejected.len()) as u64
    }
}

fn parse(format: Format, file_name: &str, content: &[u8]) -> ParsedFile {
    let mut out = ParsedFile::default();
    for item in records(format, file_name, content) {
        match item {
            Ok(Outcome::Record(r)) => out.accepted.push(r),
            Ok(Outcome::Rejected(r)) => out.rejected.push(r),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn ratings_csv_missing_columns_fails_the_file() {
    let p = parse(
        Format::Csv,
        "x.csv",
        b"record_type,trust_code\nwell_led,RXX\n",
    );
    assert_eq!(p.accepted.len(), 0);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!((p.rejected[0].record_number, p.rejected[0].line), (0, 1));
    assert!(
        p.rejected[0].reason.contains("rating, report_date"),
        "{:?}",
        p.rejected[0]
    );
}

#[test]
fn location_required_for_acute_not_for_mental_health() {
    let csv = format!(
        "{HEADER}service_rating,RXX,,acute,,,urgent,safe,Good,2017-06-01\n\
         service_rating,RYY,,mental_health,,,community,safe,Good,2017-06-01\n"
    );
    let p = parse(Format::Csv, "f.csv", csv.as_bytes());
    assert_eq!(p.accepted.len(), 1);
    assert_eq!(p.rejected[0].field, "location_id");
}

#[test]
fn unknown_csv_header_is_one_rejection() {
    let p = parse(Format::Csv, "odd.csv", b"a,b,c\n1,2,3\n");
    assert_eq!(p.accepted.len(), 0);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(
        (p.rejected[0].record_number, p.rejected[0].field.as_str()),
        (0, "header")
    );
    assert!(
        p.rejected[0].reason.contains("ratings feed"),
        "{}",
        p.rejected[0]
    );
    let p = parse(
        Format::Csv,
        "fin.csv",
        b"trust_code,period_end,capital_service_capacity,liquidity\n",
    );
    assert_eq!(p.rejected[0].field, "liquidity_days");
    let p = parse(Format::Csv, "empty.csv", b"");
    assert_eq!(p.rejected.len(), 1);
}

#[test]
fn a_failing_reader_is_a_read_error_not_a_rejection() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("connection reset"))
        }
    }
    for format in [Format::Csv, Format::Ndjson, Format::CqcJson] {
        let items: Vec<_> = records(format, "f", Broken).collect();
        assert_eq!(items.len(), 1, "{format:?}");
        assert!(
            items[0]
                .as_ref()
                .is_err_and(|e| e.reason.contains("connection reset"))
        );
    }
}

fn check_no_panic(format: Format, bytes: &[u8]) -> Result<(), TestCaseError> {
    let p = parse(format, "fuzz", bytes);
    // Every rejection names a field and a reason; records are numbered in order.
    for r in &p.rejected {
        prop_assert!(!r.field.is_empty() && !r.reason.is_empty(), "{r:?}");
    }
    let mut numbers: Vec<u64> = p
        .accepted
        .iter()
        .map(|a| a.record_number)
        .chain(p.rejected.iter().map(|r| r.record_number))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    prop_assert_eq!(numbers.len() as u64, p.records());
    Ok(())
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b",\n\"{}[]:\\ RXX01-2017-03-31.5e".to_vec()),
        ],
        0..400,
    )
}

fn lines_after(header: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            "[A-Z0-9]{0,6}",
            "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
            "20[0-9]{2}-[0-9]{2}-[0-9]{2}",
            prop::sample::select(vec![
                "Good",
                "Not rated",
                "service_rating",
                "well_led",
                "use_of_resources",
                "urgent",
                "safe",
                "vacancy_rate",
                "ae_4h",
                "\"",
                "",
                "W1",
                "acute",
                "1e999",
            ])
            .prop_map(str::to_string),
        ],
        0..40,
    )
    .prop_map(move |cells| {
        let mut text = header.to_string();
        for (i, c) in cells.iter().enumerate() {
            text.push_str(c);
            text.push(if i % 4 == 3 { '\n' } else { ',' });
        }
        text.into_bytes()
    })
}

fn json_ish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"locationId\"",
            "\"providerId\"",
            "\"odsCode\"",
            "\"RXX01\"",
            "\"1-123\"",
            "\"currentRatings\"",
            "\"serviceRatings\"",
            "\"keyQuestionRatings\"",
            "\"overall\"",
            "\"name\"",
            "\"Safe\"",
            "\"rating\"",
            "\"Good\"",
            "\"reportDate\"",
            "\"2019-06-05\"",
            "\"useOfResources\"",
            "null",
            "1",
            "\n",
            " ",
            "\"\\\"",
            "\"record_type\"",
            "\"trust_code\"",
        ]),
        0..80,
    )
    .prop_map(|tokens| tokens.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_any_parser(bytes in garbage()) {
        for format in [Format::Csv, Format::Ndjson, Format::CqcJson] {
            check_no_panic(format, &bytes)?;
        }
    }

    #[test]
    fn malformed_ratings_csv_never_panics(bytes in lines_after("record_type,trust_code,trust_type,location_id,service,key_question,rating,report_date\n")) {
        check_no_panic(Format::Csv, &bytes)?;
    }

    #[test]
    fn malformed_nhsi_csv_never_panics(bytes in prop_oneof![
        lines_after("trust_code,period_end,metric,value\n"),
        lines_after("trust_code,period_end,standard,value_pct\n"),
        lines_after("trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n"),
        lines_after("trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n"),
    ]) {
        check_no_panic(Format::Csv, &bytes)?;
    }

    #[test]
    fn malformed_json_never_panics(bytes in json_ish()) {
        check_no_panic(Format::Ndjson, &bytes)?;
        check_no_panic(Format::CqcJson, &bytes)?;
        let mut array = b"[".to_vec();
        array.extend_from_slice(&bytes);
        check_no_panic(Format::CqcJson, &array)?;
    }
}
