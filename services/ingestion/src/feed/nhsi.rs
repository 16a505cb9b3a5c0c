//! NHSI's feeds (finance, ward staffing, productivity, operational, oversight status) as resource
//! evidence. Parsing and validation are `nhsi_rules::feeds`'; this module only maps its rows to
//! `ResourceEvidence { body: MetricObservation }` (an oversight status to
//! `ResourceEvidence { body: OversightStatusEvidence }`, one a message):
//!
//! | feed | `period` | `ward_code` | `values` |
//! | --- | --- | --- | --- |
//! | `finance` | `period_end` | empty | the five metric columns → decimal strings |
//! | `ward_staffing` | `date` | `ward_code` | `patients_at_midnight` and the four hours columns |
//! | `productivity` | `period_end` | empty | `{<metric>: value}` |
//! | `operational` | `period_end` | empty | `{<standard>: value_pct}` |
//!
//! The trust type is not in these feeds and travels as unspecified.

use std::collections::BTreeMap;
use std::io::Read;

use nhsi_rules::feeds::{self, FeedError, FeedErrorReason, FeedRow};
use oversight_proto::common::v1 as common;
use oversight_proto::evidence::v1 as ev;

use super::ratings::At;
use super::{Evidence, Parsed, ReadError, Records, Rejection};

/// A validated NHSI row as resource evidence.
pub fn row_evidence(row: FeedRow) -> Evidence {
    let kind = row.kind();
    let (trust, period, ward, values): (String, String, String, Vec<(&str, String)>) = match row {
        FeedRow::Finance(f) => (
            f.trust.to_string(),
            f.period_end.to_string(),
            String::new(),
            vec![
                (
                    "capital_service_capacity",
                    f.inputs.capital_service_capacity.to_string(),
                ),
                ("liquidity_days", f.inputs.liquidity_days.to_string()),
                (
                    "income_expenditure_margin_pct",
                    f.inputs.income_expenditure_margin_pct.to_string(),
                ),
                (
                    "distance_from_plan_pct",
                    f.inputs.distance_from_plan_pct.to_string(),
                ),
                (
                    "agency_spend_vs_ceiling_pct",
                    f.inputs.agency_spend_vs_ceiling_pct.to_string(),
                ),
            ],
        ),
        FeedRow::WardStaffing(w) => (
            w.trust.to_string(),
            w.date.to_string(),
            w.ward.to_string(),
            vec![
                ("patients_at_midnight", w.patients_at_midnight.to_string()),
                (
                    "registered_nurse_hours",
                    w.registered_nurse_hours.to_string(),
                ),
                (
                    "registered_midwife_hours",
                    w.registered_midwife_hours.to_string(),
                ),
                (
                    "allied_health_professional_hours",
                    w.allied_health_professional_hours.to_string(),
                ),
                (
                    "healthcare_support_worker_hours",
                    w.healthcare_support_worker_hours.to_string(),
                ),
            ],
        ),
        FeedRow::Productivity(p) => (
            p.trust.to_string(),
            p.period_end.to_string(),
            String::new(),
            vec![(p.metric.name(), p.value.to_string())],
        ),
        FeedRow::Operational(o) => (
            o.trust.to_string(),
            o.period_end.to_string(),
            String::new(),
            vec![(o.standard.name(), o.value_pct.to_string())],
        ),
        FeedRow::OversightStatus(o) => return status_evidence(o),
    };
    Evidence::Resource(ev::ResourceEvidence {
        provenance: None,
        trust_code: trust,
        trust_type: common::TrustType::Unspecified as i32,
        body: Some(ev::resource_evidence::Body::Metric(ev::MetricObservation {
            feed: kind.name().to_string(),
            period,
            ward_code: ward,
            values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        })),
    })
}

/// An oversight status row as evidence of its own (statuses are not metric observations).
fn status_evidence(o: feeds::OversightStatusRow) -> Evidence {
    Evidence::Resource(ev::ResourceEvidence {
        provenance: None,
        trust_code: o.trust.to_string(),
        trust_type: common::TrustType::Unspecified as i32,
        body: Some(ev::resource_evidence::Body::OversightStatus(
            ev::OversightStatusEvidence {
                kind: o.status.kind.name().to_string(),
                from_date: o.status.from.to_string(),
                to_date: o.status.to.map(|t| t.to_string()).unwrap_or_default(),
                source: o.status.source,
            },
        )),
    })
}

fn reason(e: &FeedError) -> String {
    match &e.reason {
        FeedErrorReason::UnrecognisedHeader(_) => format!(
            "{}, or the oversight ratings feed (record_type, trust_code, rating, report_date, …)",
            e.reason
        ),
        other => other.to_string(),
    }
}

/// A parser error as a rejection at `at` (the parser's line wins when it has one).
pub(crate) fn rejection(at: At<'_>, e: &FeedError) -> Rejection {
    let line = if e.line > 0 { e.line } else { at.line };
    let field = match e.field.as_deref() {
        Some(f) if !f.trim().is_empty() => f,
        _ if at.record == 0 => "header",
        _ => "record",
    };
    Rejection::new(at.file, at.record, line, field, reason(e))
}

/// One NDJSON line of an NHSI feed (its kind recognised from its keys).
pub(crate) fn ndjson_record(at: At<'_>, text: &[u8]) -> Result<Evidence, Rejection> {
    match feeds::read_ndjson(text, None).next() {
        Some(Ok(row)) => Ok(row_evidence(row)),
        Some(Err(e)) => Err(rejection(
            at,
            &FeedError {
                // The line parser counts from 1 within this one line.
                line: at.line,
                ..e
            },
        )),
        None => Err(at.reject("record", "empty record")),
    }
}

/// An NHSI feed as CSV: the header names the feed.
pub fn csv_records<'a, R: Read + Send + 'a>(file: &str, reader: R) -> Records<'a> {
    let file = file.to_string();
    let header_at = |f: &str, e: &FeedError| {
        rejection(
            At {
                file: f,
                record: 0,
                line: 1,
            },
            e,
        )
    };
    let rows = match feeds::read_csv(reader) {
        Ok(rows) => rows,
        Err(e) if matches!(e.reason, FeedErrorReason::Io(_)) => {
            return Box::new(std::iter::once(Err(ReadError {
                file_name: file,
                line: e.line,
                reason: e.reason.to_string(),
            })));
        }
        Err(e) => {
            return Box::new(std::iter::once(Ok(Parsed::Rejected(header_at(&file, &e)))));
        }
    };
    let mut number = 0u64;
    Box::new(rows.map(move |row| {
        number += 1;
        match row {
            Ok(row) => {
                // The parser reports lines only for errors; records follow the header.
                let at = At {
                    file: &file,
                    record: number,
                    line: 0,
                };
                Ok(at.outcome(Ok(vec![row_evidence(row)])))
            }
            Err(e) if matches!(e.reason, FeedErrorReason::Io(_)) => Err(ReadError {
                file_name: file.clone(),
                line: e.line,
                reason: e.reason.to_string(),
            }),
            Err(e) => {
                let at = At {
                    file: &file,
                    record: number,
                    line: e.line,
                };
                Ok(Parsed::Rejected(rejection(at, &e)))
            }
        }
    }))
}
