//! Bad input through every door: the ratings feed (CSV and NDJSON), the NHSI feeds (finance,
//! productivity, operational CSV; ward staffing NDJSON) and CQC API JSON, each with good records and generated bad ones —
//! a good record with exactly one field corrupted, for every field the feed's documentation says
//! is checked (so every case passes the column count and reaches the field-level checks) — sent
//! through the running stack's gRPC `Submit`, the queue door (`<ns>.feeds.submit` chunks) and
//! `oversight ingest`. Every rejection names the file, record number, line and field (the ones
//! the test corrupted, at the positions where it put them); the good records of the same batch
//! are stored and the trusts rated (DOMAIN.md §3's hand example: Good); the stack survives and
//! stops cleanly.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{Stack, feed_for, rating_with_uor};
use oversight_proto::common::v1::Rating;
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::wait_until;

const DEADLINE: Duration = Duration::from_secs(90);

/// One feed file: its name, format, content, and the rejections it must produce as (record
/// number, line, field), plus its number of good records.
struct Case {
    file: String,
    format: ing::FeedFormat,
    content: String,
    rejected: Vec<(u64, u64, String)>,
    good: u64,
}

/// A record as (field, value) pairs in column order.
type Record = Vec<(String, String)>;

fn record(header: &str, line: &str) -> Record {
    header
        .split(',')
        .zip(line.split(','))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn with(r: &Record, field: &str, value: &str) -> Record {
    let mut r = r.clone();
    let slot = r.iter_mut().find(|(k, _)| k == field).unwrap();
    slot.1 = value.to_string();
    r
}

/// `template` once per (field, bad value), with that one field corrupted.
fn corrupted(template: &Record, bad: &[(&str, String)]) -> Vec<(Record, String)> {
    bad.iter()
        .map(|(field, value)| (with(template, field, value), field.to_string()))
        .collect()
}

enum Shape {
    Csv,
    Ndjson,
}

/// Good records with the bad ones interleaved (one after each good one while any are left), as
/// CSV with a header row (records from line 2) or NDJSON (records from line 1, empty fields left
/// out).
fn build(file: &str, shape: Shape, good: Vec<Record>, bad: Vec<(Record, String)>) -> Case {
    let mut content = String::new();
    let first_line = match shape {
        Shape::Csv => {
            let header: Vec<&str> = good[0].iter().map(|(k, _)| k.as_str()).collect();
            content.push_str(&header.join(","));
            content.push('\n');
            2
        }
        Shape::Ndjson => 1,
    };
    let render = |r: &Record| match shape {
        Shape::Csv => r
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
        Shape::Ndjson => {
            let map: serde_json::Map<String, serde_json::Value> = r
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::Value::Object(map).to_string()
        }
    };
    let good_count = good.len() as u64;
    let mut bad = bad.into_iter();
    let mut rejected = Vec::new();
    let mut n = 0u64;
    for g in &good {
        n += 1;
        content.push_str(&render(g));
        content.push('\n');
        if let Some((b, field)) = bad.next() {
            n += 1;
            content.push_str(&render(&b));
            content.push('\n');
            rejected.push((n, n + first_line - 1, field));
        }
    }
    for (b, field) in bad {
        n += 1;
        content.push_str(&render(&b));
        content.push('\n');
        rejected.push((n, n + first_line - 1, field));
    }
    Case {
        file: file.to_string(),
        format: match shape {
            Shape::Csv => ing::FeedFormat::Csv,
            Shape::Ndjson => ing::FeedFormat::Ndjson,
        },
        content,
        rejected,
        good: good_count,
    }
}

const RATINGS_HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date";

/// The ratings feed of `trust` (the first-flow fixture), with every checked field of each record
/// type corrupted once, on records of another trust (R0Z) so that a wrongly accepted one would not
/// hide among the good trust's.
fn ratings(file: &str, shape: Shape, trust: &str) -> Case {
    let feed = feed_for(
        trust,
        "Example Hospitals NHS Trust",
        "acute",
        "Requires improvement",
    );
    let good: Vec<Record> = feed
        .lines()
        .skip(1)
        .map(|l| record(RATINGS_HEADER, l))
        .collect();
    let other = feed_for("R0Z", "Other NHS Trust", "acute", "Requires improvement");
    let rows: Vec<Record> = other
        .lines()
        .skip(1)
        .map(|l| record(RATINGS_HEADER, l))
        .collect();
    let (service, well_led, uor) = (&rows[0], &rows[rows.len() - 2], &rows[rows.len() - 1]);
    let s = String::from;
    let mut bad = corrupted(
        service,
        &[
            ("record_type", s("service_ratin")),
            ("trust_code", s("R?X")),
            ("trust_type", s("hospital")),
            ("location_id", s("R?X01")),
            ("service", "x".repeat(300)),
            ("key_question", s("kindness")),
            ("rating", s("Brilliant")),
            ("report_date", s("2018-02-30")),
        ],
    );
    bad.extend(corrupted(
        well_led,
        &[
            ("record_type", s("wellled")),
            ("trust_code", s("1RX?")),
            ("trust_type", s("hospital")),
            ("rating", s("Brilliant")),
            ("report_date", s("2018-13-01")),
        ],
    ));
    bad.extend(corrupted(
        uor,
        &[
            ("trust_code", s("")),
            ("trust_type", s("hospital")),
            ("rating", s("Not rated")),
            ("report_date", s("01/07/2018")),
        ],
    ));
    build(file, shape, good, bad)
}

/// An NHSI feed (CSV, or NDJSON with the same field names): two good records of `trust` and each
/// field corrupted once.
fn nhsi(
    file: &str,
    shape: Shape,
    header: &str,
    good_line: &str,
    trust: &str,
    bad: &[(&str, &str)],
) -> Case {
    let good_line = good_line.replace("{trust}", trust);
    let template = record(header, &good_line);
    let date_field = if header.contains(",date,") {
        "date"
    } else {
        "period_end"
    };
    let second = with(&template, date_field, "2018-03-31");
    let bad: Vec<(&str, String)> = bad.iter().map(|(f, v)| (*f, v.to_string())).collect();
    build(
        file,
        shape,
        vec![template.clone(), second],
        corrupted(&template, &bad),
    )
}

/// CQC API JSON, one element per line after `[`: a good location and provider of `trust`, and
/// a location without its ODS code (which says which trust it belongs to).
fn cqc_json(trust: &str) -> Case {
    let elements = [
        format!(
            r#"{{"locationId": "1-1000000001", "odsCode": "{trust}01", "name": "General", "currentRatings": {{"serviceRatings": [{{"name": "Surgery", "reportDate": "2019-06-05", "keyQuestionRatings": [{{"name": "Safe", "rating": "Good"}}]}}]}}}}"#
        ),
        r#"{"locationId": "1-1000000002", "name": "No ODS code", "currentRatings": {"serviceRatings": [{"name": "Surgery", "reportDate": "2019-06-05", "keyQuestionRatings": [{"name": "Safe", "rating": "Good"}]}]}}"#.to_string(),
        format!(
            r#"{{"providerId": "1-2", "odsCode": "{trust}", "name": "Example", "currentRatings": {{"overall": {{"rating": "Good", "reportDate": "2019-06-05", "keyQuestionRatings": [{{"name": "Well-led", "rating": "Good"}}]}}}}}}"#
        ),
    ];
    Case {
        file: "cqc.json".into(),
        format: ing::FeedFormat::CqcJson,
        content: format!("[\n{}\n]\n", elements.join(",\n")),
        rejected: vec![(2, 3, "odsCode".into())],
        good: 2,
    }
}

/// Every case for one door, its ratings feeds about `trust` (CSV) and `trust` with its last
/// letter replaced by `N` (NDJSON).
fn cases(trust: &str) -> Vec<Case> {
    let ndjson_trust = format!("{}N", &trust[..2]);
    vec![
        ratings("ratings.csv", Shape::Csv, trust),
        ratings("ratings.ndjson", Shape::Ndjson, &ndjson_trust),
        nhsi(
            "finance.csv",
            Shape::Csv,
            "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct",
            "{trust},2017-03-31,2.6,-3,0.5,-1.5,60",
            trust,
            &[
                ("trust_code", "R?X"),
                ("period_end", "2017-02-30"),
                ("capital_service_capacity", "abc"),
                ("liquidity_days", "1e999x"),
                ("income_expenditure_margin_pct", "--1"),
                ("distance_from_plan_pct", "NaN%"),
                ("agency_spend_vs_ceiling_pct", "sixty"),
            ],
        ),
        nhsi(
            "productivity.csv",
            Shape::Csv,
            "trust_code,period_end,metric,value",
            "{trust},2017-03-31,sickness_absence_rate,4.2",
            trust,
            &[
                ("trust_code", "12345678"),
                ("period_end", "31/03/2017"),
                ("metric", "bed_days"),
                ("value", "abc"),
            ],
        ),
        nhsi(
            "operational.csv",
            Shape::Csv,
            "trust_code,period_end,standard,value_pct",
            "{trust},2017-03-31,ae_4h,91.5",
            trust,
            &[
                ("trust_code", "R X"),
                ("period_end", "2017-3-31x"),
                ("standard", "ae_5h"),
                ("value_pct", "100.5"),
            ],
        ),
        nhsi(
            "ward.ndjson",
            Shape::Ndjson,
            "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours",
            "{trust},W1,2018-04-01,20,150.5,0,12,60",
            trust,
            &[
                ("trust_code", "R_X"),
                ("ward_code", ""),
                ("date", "2018-04-31"),
                ("patients_at_midnight", "-1"),
                ("registered_nurse_hours", "-0.5"),
                ("registered_midwife_hours", "many"),
                ("allied_health_professional_hours", "1,5"),
                ("healthcare_support_worker_hours", "∞"),
            ],
        ),
        cqc_json(trust),
    ]
}

/// The stored status of `batch` once it has settled.
async fn settled(stack: &Stack, batch: &str) -> ing::GetBatchStatusResponse {
    wait_until(DEADLINE, &format!("batch {batch} settled"), || async {
        let mut client = stack.ingestion_client().await.ok()?;
        client
            .get_batch_status(ing::GetBatchStatusRequest {
                batch_id: batch.into(),
            })
            .await
            .ok()
            .map(tonic::Response::into_inner)
            .filter(|s| {
                s.state == ing::BatchState::Complete as i32
                    || s.state == ing::BatchState::Failed as i32
            })
    })
    .await
    .unwrap()
}

fn check(
    door: &str,
    case: &Case,
    status: &ing::GetBatchStatusResponse,
    problems: &mut Vec<String>,
) {
    let got: Vec<(u64, u64, String)> = status
        .rejections
        .iter()
        .map(|r| (r.record_number, r.line, r.field.clone()))
        .collect();
    if got != case.rejected {
        let detail: Vec<String> = status
            .rejections
            .iter()
            .map(|r| {
                format!(
                    "    {}:{} line {} {}: {}",
                    r.file_name, r.record_number, r.line, r.field, r.reason
                )
            })
            .collect();
        problems.push(format!(
            "{door} {}: rejections (record, line, field) {got:?}, expected {:?}\n{}",
            case.file,
            case.rejected,
            detail.join("\n")
        ));
    }
    if let Some(r) = status
        .rejections
        .iter()
        .find(|r| r.file_name != case.file || r.reason.is_empty())
    {
        problems.push(format!(
            "{door} {}: rejection without file or reason: {r:?}",
            case.file
        ));
    }
    let bad = case.rejected.len() as u64;
    let counts = (
        ing::BatchState::try_from(status.state).unwrap_or(ing::BatchState::Unspecified),
        status.records,
        status.accepted + status.duplicates,
        status.rejected,
    );
    if counts != (ing::BatchState::Complete, case.good + bad, case.good, bad) {
        problems.push(format!(
            "{door} {}: (state, records, accepted + duplicates, rejected) = {counts:?}, expected {:?}",
            case.file,
            (ing::BatchState::Complete, case.good + bad, case.good, bad)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_through_every_door_are_named_and_the_good_ones_rated() {
    let stack = Stack::start().await.unwrap();
    let mut problems = Vec::new();

    // gRPC Submit (64 KiB chunks).
    for case in cases("RAA") {
        let batch = format!("grpc-{}", case.file);
        stack
            .submit(&batch, case.format, &case.file, case.content.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("grpc {}: {e}", case.file));
        check("grpc", &case, &settled(&stack, &batch).await, &mut problems);
    }

    // The queue door: FeedBatch chunks of 97 bytes (records split anywhere).
    let bus = stack.env.nats_client().await.unwrap();
    for case in cases("RBB") {
        let batch = format!("queue-{}", case.file);
        let chunks: Vec<&[u8]> = case.content.as_bytes().chunks(97).collect();
        for (i, c) in chunks.iter().enumerate() {
            let msg = ing::FeedBatch {
                source: "bad-input-test".into(),
                batch_id: batch.clone(),
                format: case.format as i32,
                file_name: case.file.clone(),
                chunk_index: i as u32,
                last: i + 1 == chunks.len(),
                content: c.to_vec(),
            };
            bus.publish(bus.subjects().feeds_submit(), &format!("{batch}/{i}"), &msg)
                .await
                .unwrap();
        }
        check(
            "queue",
            &case,
            &settled(&stack, &batch).await,
            &mut problems,
        );
    }

    // `oversight ingest`.
    let dir = tempfile::tempdir().unwrap();
    for case in cases("RCC") {
        let batch = format!("cli-{}", case.file);
        let path = dir.path().join(&case.file);
        std::fs::write(&path, &case.content).unwrap();
        let format = match case.format {
            ing::FeedFormat::Ndjson => "ndjson",
            ing::FeedFormat::CqcJson => "cqc-json",
            _ => "csv",
        };
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_oversight"))
            .args(["ingest", "--server", &format!("http://{}", stack.ingestion)])
            .args(["--batch-id", &batch, "--format", format])
            .arg(&path)
            .env_remove("OVERSIGHT_TOKEN")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The summary names the first rejection's file, line and field.
        let (_, line, field) = &case.rejected[0];
        assert!(
            stdout.contains(&case.file)
                && stdout.contains(&format!("line {line}"))
                && stdout.contains(field.as_str()),
            "cli {}: summary does not name the first rejection:\n{stdout}",
            case.file
        );
        check("cli", &case, &settled(&stack, &batch).await, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The good records of every door's batches were stored and rated.
    for trust in ["RAA", "RAN", "RBB", "RBN", "RCC", "RCN"] {
        let rating = wait_until(DEADLINE, &format!("combined rating of {trust}"), || {
            rating_with_uor(stack.combiner, trust)
        })
        .await
        .unwrap();
        assert_eq!(
            rating.combined.unwrap().rating,
            Rating::Good as i32,
            "{trust}"
        );
    }
    // Nothing of the corrupted records' trust got through.
    assert!(
        oversight_e2e::latest_rating(stack.combiner, "R0Z")
            .await
            .is_none()
    );
    // Every service is still running and stops cleanly.
    stack.stop().await.unwrap();
}
