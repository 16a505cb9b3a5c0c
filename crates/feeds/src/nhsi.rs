//! Typed, validated parsing of NHSI's feeds, from CSV or NDJSON: each record a [`FeedRow`] of
//! `nhsi_rules`' record types.
//!
//! | feed | columns (exact names, any order) |
//! | --- | --- |
//! | finance | `trust_code, period_end, capital_service_capacity, liquidity_days, income_expenditure_margin_pct, distance_from_plan_pct, agency_spend_vs_ceiling_pct` |
//! | ward staffing | `trust_code, ward_code, date, patients_at_midnight, registered_nurse_hours, registered_midwife_hours, allied_health_professional_hours, healthcare_support_worker_hours` |
//! | productivity | `trust_code, period_end, metric, value` |
//! | operational | `trust_code, period_end, standard, value_pct` |
//! | oversight status | `trust_code, kind, from, to, source` |
//!
//! An oversight status ([`nhsi_rules::status`]) is `financial_special_measures`,
//! `quality_special_measures` or `deficit_support`, standing from `from` up to, not including,
//! `to` (empty — or null in NDJSON — while it stands; after `from` otherwise), on the word of
//! `source` (required).
//!
//! Dates are ISO 8601 (`2017-03-31`); numbers are plain decimals (`-7.25`, scientific notation
//! accepted), read exactly. In NDJSON each line is one JSON object with the same keys; numbers
//! may be JSON numbers or strings (strings are exact; JSON numbers go through binary floating
//! point and are read back as their shortest decimal form). Metric names are those of
//! [`nhsi_rules::productivity::METRICS`]; standards are `ae_4h`, `rtt_18w`, `cancer_62d`,
//! `diagnostics_6w`.
//!
//! Parsing streams: the iterators yield one `Result` per record, and a bad record is reported
//! with its line number, the field and the reason while the good records after it keep coming.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};

use chrono::NaiveDate;
use oversight_rating::TrustCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use nhsi_rules::chppd::{WardCode, WardDay};
use nhsi_rules::parse_decimal;
use nhsi_rules::productivity::Metric;
pub use nhsi_rules::records::{FinanceRow, OperationalRow, OversightStatusRow, ProductivityRow};
use nhsi_rules::segment::OperationalStandard;
use nhsi_rules::sof::FinanceInputs;
use nhsi_rules::status::{OversightStatus, StatusError, StatusKind};

use crate::{At, FeedRecord, Outcome, ReadError, Records, Rejection};

/// Which feed a file or record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// SOF finance metrics per trust and period.
    Finance,
    /// Ward staffing per ward and day.
    WardStaffing,
    /// Productivity metrics per trust and period.
    Productivity,
    /// Operational performance per trust, period and standard.
    Operational,
    /// Oversight statuses (special measures, deficit support) per trust.
    OversightStatus,
}

const FINANCE_COLUMNS: &[&str] = &[
    "trust_code",
    "period_end",
    "capital_service_capacity",
    "liquidity_days",
    "income_expenditure_margin_pct",
    "distance_from_plan_pct",
    "agency_spend_vs_ceiling_pct",
];
const WARD_COLUMNS: &[&str] = &[
    "trust_code",
    "ward_code",
    "date",
    "patients_at_midnight",
    "registered_nurse_hours",
    "registered_midwife_hours",
    "allied_health_professional_hours",
    "healthcare_support_worker_hours",
];
const PRODUCTIVITY_COLUMNS: &[&str] = &["trust_code", "period_end", "metric", "value"];
const OPERATIONAL_COLUMNS: &[&str] = &["trust_code", "period_end", "standard", "value_pct"];
const OVERSIGHT_STATUS_COLUMNS: &[&str] = &["trust_code", "kind", "from", "to", "source"];

impl FeedKind {
    /// All five feeds.
    pub const ALL: [FeedKind; 5] = [
        FeedKind::Finance,
        FeedKind::WardStaffing,
        FeedKind::Productivity,
        FeedKind::Operational,
        FeedKind::OversightStatus,
    ];

    /// The feed's columns, in documented order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            FeedKind::Finance => FINANCE_COLUMNS,
            FeedKind::WardStaffing => WARD_COLUMNS,
            FeedKind::Productivity => PRODUCTIVITY_COLUMNS,
            FeedKind::Operational => OPERATIONAL_COLUMNS,
            FeedKind::OversightStatus => OVERSIGHT_STATUS_COLUMNS,
        }
    }

    /// The feed's name: `finance`, `ward_staffing`, `productivity`, `operational`,
    /// `oversight_status`.
    pub fn name(self) -> &'static str {
        match self {
            FeedKind::Finance => "finance",
            FeedKind::WardStaffing => "ward_staffing",
            FeedKind::Productivity => "productivity",
            FeedKind::Operational => "operational",
            FeedKind::OversightStatus => "oversight_status",
        }
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One validated record of any feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedRow {
    /// Finance.
    Finance(FinanceRow),
    /// Ward staffing.
    WardStaffing(WardDay),
    /// Productivity.
    Productivity(ProductivityRow),
    /// Operational performance.
    Operational(OperationalRow),
    /// An oversight status.
    OversightStatus(OversightStatusRow),
}

impl FeedRow {
    /// The feed it came from.
    pub fn kind(&self) -> FeedKind {
        match self {
            FeedRow::Finance(_) => FeedKind::Finance,
            FeedRow::WardStaffing(_) => FeedKind::WardStaffing,
            FeedRow::Productivity(_) => FeedKind::Productivity,
            FeedRow::Operational(_) => FeedKind::Operational,
            FeedRow::OversightStatus(_) => FeedKind::OversightStatus,
        }
    }
}

/// What is wrong with a record or header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedErrorReason {
    /// The header lacks a required column.
    #[error("missing column")]
    MissingColumn,
    /// The header has a column no feed of this kind has.
    #[error("unknown column")]
    UnknownColumn,
    /// A column appears twice in the header.
    #[error("duplicate column")]
    DuplicateColumn,
    /// The header matches no feed.
    #[error(
        "unrecognised header {0:?}: expected the columns of the finance, ward staffing, productivity, operational or oversight status feed"
    )]
    UnrecognisedHeader(String),
    /// The value is empty or absent.
    #[error("missing value")]
    MissingValue,
    /// Not a number.
    #[error("bad number {0:?}")]
    BadNumber(String),
    /// Not an ISO 8601 date.
    #[error("bad date {0:?}: expected YYYY-MM-DD")]
    BadDate(String),
    /// Not an ODS trust code.
    #[error("bad trust code {0:?}: expected an ODS trust code such as RXX")]
    BadTrustCode(String),
    /// Not a ward code.
    #[error("bad ward code {0:?}")]
    BadWardCode(String),
    /// Hours worked cannot be negative.
    #[error("negative hours {0}")]
    NegativeHours(Decimal),
    /// A value outside what the field allows.
    #[error("value {value} out of range: must be {range}")]
    OutOfRange { value: String, range: String },
    /// Not a productivity metric name.
    #[error("unknown metric {0:?}")]
    UnknownMetric(String),
    /// Not an operational standard name.
    #[error("unknown standard {0:?}: expected ae_4h, rtt_18w, cancer_62d or diagnostics_6w")]
    UnknownStandard(String),
    /// Not an oversight status kind.
    #[error(
        "unknown oversight status kind {0:?}: expected financial_special_measures, quality_special_measures or deficit_support"
    )]
    UnknownStatusKind(String),
    /// A status that ends on or before the day it starts.
    #[error("the status ends on {to}, which is not after it starts ({from})")]
    EndNotAfterStart { from: NaiveDate, to: NaiveDate },
    /// The record is not well-formed CSV or JSON.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// Reading failed; no more records follow.
    #[error("read failed: {0}")]
    Io(String),
}

/// A bad record or header: the line (1-based; the header is line 1 in CSV), the field when one is
/// to blame, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FeedError {
    /// 1-based line number.
    pub line: u64,
    /// The column at fault, if any.
    pub field: Option<String>,
    /// Why.
    pub reason: FeedErrorReason,
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}, field {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl FeedError {
    fn new(line: u64, field: Option<&str>, reason: FeedErrorReason) -> Self {
        FeedError {
            line,
            field: field.map(str::to_string),
            reason,
        }
    }
}

fn check_columns(kind: FeedKind, names: &[&str], line: u64) -> Result<(), FeedError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(*n) {
            return Err(FeedError::new(
                line,
                Some(n),
                FeedErrorReason::DuplicateColumn,
            ));
        }
    }
    if let Some(missing) = kind.columns().iter().find(|c| !seen.contains(*c)) {
        return Err(FeedError::new(
            line,
            Some(missing),
            FeedErrorReason::MissingColumn,
        ));
    }
    if let Some(unknown) = names.iter().find(|n| !kind.columns().contains(n)) {
        return Err(FeedError::new(
            line,
            Some(unknown),
            FeedErrorReason::UnknownColumn,
        ));
    }
    Ok(())
}

fn clean_header(name: &str) -> &str {
    name.trim_start_matches('\u{feff}').trim()
}

/// Detects the feed from a header (CSV column names or NDJSON keys). The columns must be exactly
/// those of one feed, in any order; otherwise the error names the closest feed's first missing or
/// unknown column, or says the header matches no feed.
pub fn detect_feed_kind<S: AsRef<str>>(header: &[S]) -> Result<FeedKind, FeedError> {
    detect_at_line(header, 1)
}

fn detect_at_line<S: AsRef<str>>(header: &[S], line: u64) -> Result<FeedKind, FeedError> {
    let names: Vec<&str> = header.iter().map(|h| clean_header(h.as_ref())).collect();
    let overlap = |k: FeedKind| names.iter().filter(|n| k.columns().contains(n)).count();
    // The feed sharing the most columns; productivity and operational share two with each other
    // and finance, so at least three are needed to recognise a feed at all.
    let best = FeedKind::ALL
        .into_iter()
        .map(|k| (overlap(k), k))
        .filter(|(n, _)| *n >= 3)
        .max_by_key(|(n, _)| *n);
    match best {
        Some((_, kind)) => check_columns(kind, &names, line).map(|()| kind),
        None => Err(FeedError::new(
            line,
            None,
            FeedErrorReason::UnrecognisedHeader(names.join(",")),
        )),
    }
}

/// Parses the fields of one record of a known kind; `get` returns a column's raw value.
fn parse_row<'a>(
    kind: FeedKind,
    line: u64,
    get: impl Fn(&str) -> Option<Cow<'a, str>>,
) -> Result<FeedRow, FeedError> {
    let f = Fields { line, get };
    Ok(match kind {
        FeedKind::Finance => FeedRow::Finance(FinanceRow {
            trust: f.trust()?,
            period_end: f.date("period_end")?,
            inputs: FinanceInputs {
                capital_service_capacity: f.decimal("capital_service_capacity")?,
                liquidity_days: f.decimal("liquidity_days")?,
                income_expenditure_margin_pct: f.decimal("income_expenditure_margin_pct")?,
                distance_from_plan_pct: f.decimal("distance_from_plan_pct")?,
                agency_spend_vs_ceiling_pct: f.decimal("agency_spend_vs_ceiling_pct")?,
            },
        }),
        FeedKind::WardStaffing => FeedRow::WardStaffing(WardDay {
            trust: f.trust()?,
            ward: f.ward("ward_code")?,
            date: f.date("date")?,
            patients_at_midnight: f.count("patients_at_midnight")?,
            registered_nurse_hours: f.hours("registered_nurse_hours")?,
            registered_midwife_hours: f.hours("registered_midwife_hours")?,
            allied_health_professional_hours: f.hours("allied_health_professional_hours")?,
            healthcare_support_worker_hours: f.hours("healthcare_support_worker_hours")?,
        }),
        FeedKind::Productivity => {
            let trust = f.trust()?;
            let period_end = f.date("period_end")?;
            let name = f.text("metric")?;
            let metric: Metric = name
                .parse()
                .map_err(|_| f.err("metric", FeedErrorReason::UnknownMetric(name.to_string())))?;
            let value = f.decimal("value")?;
            f.in_range("value", value, metric.valid_range())?;
            FeedRow::Productivity(ProductivityRow {
                trust,
                period_end,
                metric,
                value,
            })
        }
        FeedKind::Operational => {
            let trust = f.trust()?;
            let period_end = f.date("period_end")?;
            let name = f.text("standard")?;
            let standard: OperationalStandard = name.parse().map_err(|_| {
                f.err(
                    "standard",
                    FeedErrorReason::UnknownStandard(name.to_string()),
                )
            })?;
            let value_pct = f.decimal("value_pct")?;
            f.in_range(
                "value_pct",
                value_pct,
                (Some(Decimal::ZERO), Some(Decimal::ONE_HUNDRED)),
            )?;
            FeedRow::Operational(OperationalRow {
                trust,
                period_end,
                standard,
                value_pct,
            })
        }
        FeedKind::OversightStatus => {
            let trust = f.trust()?;
            let name = f.text("kind")?;
            let kind: StatusKind = name
                .parse()
                .map_err(|_| f.err("kind", FeedErrorReason::UnknownStatusKind(name.to_string())))?;
            let from = f.date("from")?;
            let to = match (f.get)("to") {
                Some(v) if !v.trim().is_empty() => Some(f.date("to")?),
                _ => None,
            };
            let source = f.text("source")?;
            let status = OversightStatus::new(kind, from, to, &source).map_err(|e| match e {
                StatusError::InvalidArgument { field: "to", .. } => f.err(
                    "to",
                    FeedErrorReason::EndNotAfterStart {
                        from,
                        to: to.unwrap_or(from),
                    },
                ),
                StatusError::InvalidArgument { field, .. } => {
                    f.err(field, FeedErrorReason::MissingValue)
                }
            })?;
            FeedRow::OversightStatus(OversightStatusRow { trust, status })
        }
    })
}

struct Fields<G> {
    line: u64,
    get: G,
}

impl<'a, G: Fn(&str) -> Option<Cow<'a, str>>> Fields<G> {
    fn err(&self, field: &str, reason: FeedErrorReason) -> FeedError {
        FeedError::new(self.line, Some(field), reason)
    }

    fn text(&self, field: &str) -> Result<Cow<'a, str>, FeedError> {
        match (self.get)(field) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(self.err(field, FeedErrorReason::MissingValue)),
        }
    }

    fn trust(&self) -> Result<TrustCode, FeedError> {
        let v = self.text("trust_code")?;
        v.parse()
            .map_err(|_| self.err("trust_code", FeedErrorReason::BadTrustCode(v.to_string())))
    }

    fn ward(&self, field: &str) -> Result<WardCode, FeedError> {
        let v = self.text(field)?;
        v.parse()
            .map_err(|_| self.err(field, FeedErrorReason::BadWardCode(v.to_string())))
    }

    fn date(&self, field: &str) -> Result<NaiveDate, FeedError> {
        let v = self.text(field)?;
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
            .map_err(|_| self.err(field, FeedErrorReason::BadDate(v.to_string())))
    }

    fn decimal(&self, field: &str) -> Result<Decimal, FeedError> {
        let v = self.text(field)?;
        parse_decimal(&v).ok_or_else(|| self.err(field, FeedErrorReason::BadNumber(v.to_string())))
    }

    fn hours(&self, field: &str) -> Result<Decimal, FeedError> {
        let h = self.decimal(field)?;
        if h < Decimal::ZERO {
            return Err(self.err(field, FeedErrorReason::NegativeHours(h)));
        }
        Ok(h)
    }

    fn count(&self, field: &str) -> Result<u32, FeedError> {
        let v = self.text(field)?;
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| self.err(field, FeedErrorReason::BadNumber(v.to_string())))?;
        u32::try_from(n).map_err(|_| {
            self.err(
                field,
                FeedErrorReason::OutOfRange {
                    value: v.to_string(),
                    range: format!("a whole number from 0 to {}", u32::MAX),
                },
            )
        })
    }

    fn in_range(
        &self,
        field: &str,
        v: Decimal,
        (min, max): (Option<Decimal>, Option<Decimal>),
    ) -> Result<(), FeedError> {
        let below = min.is_some_and(|m| v < m);
        let above = max.is_some_and(|m| v > m);
        if !(below || above) {
            return Ok(());
        }
        let range = match (min, max) {
            (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
            (Some(lo), None) => format!("at least {lo}"),
            (None, Some(hi)) => format!("at most {hi}"),
            (None, None) => String::new(),
        };
        Err(self.err(
            field,
            FeedErrorReason::OutOfRange {
                value: v.to_string(),
                range,
            },
        ))
    }
}

/// A CSV feed being read: its kind (from the header) and its records.
pub struct CsvFeed<R: Read> {
    kind: FeedKind,
    reader: csv::Reader<R>,
    /// Position of each of `kind.columns()` in the record.
    positions: Vec<usize>,
    width: usize,
    record: csv::StringRecord,
    done: bool,
}

impl<R: Read> fmt::Debug for CsvFeed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvFeed")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Starts reading a CSV feed: reads the header and detects the kind. Records follow from the
/// iterator.
pub fn read_csv<R: Read>(reader: R) -> Result<CsvFeed<R>, FeedError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FeedError::new(1, None, FeedErrorReason::Malformed(e.to_string())))?
        .iter()
        .map(|h| clean_header(h).to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(FeedError::new(
            1,
            None,
            FeedErrorReason::UnrecognisedHeader(String::new()),
        ));
    }
    let kind = detect_feed_kind(&header)?;
    let positions = kind
        .columns()
        .iter()
        .map(|c| header.iter().position(|h| h == c).unwrap_or(usize::MAX))
        .collect();
    Ok(CsvFeed {
        kind,
        reader,
        positions,
        width: header.len(),
        record: csv::StringRecord::new(),
        done: false,
    })
}

impl<R: Read> CsvFeed<R> {
    /// The feed the header belongs to.
    pub fn kind(&self) -> FeedKind {
        self.kind
    }
}

impl<R: Read> Iterator for CsvFeed<R> {
    type Item = Result<FeedRow, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let reason = if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.done = true;
                    FeedErrorReason::Io(e.to_string())
                } else {
                    FeedErrorReason::Malformed(e.to_string())
                };
                Some(Err(FeedError::new(line, None, reason)))
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                if self.record.len() != self.width {
                    return Some(Err(FeedError::new(
                        line,
                        None,
                        FeedErrorReason::Malformed(format!(
                            "expected {} fields, found {}",
                            self.width,
                            self.record.len()
                        )),
                    )));
                }
                let record = &self.record;
                let positions = &self.positions;
                let columns = self.kind.columns();
                let get = |name: &str| {
                    let i = columns.iter().position(|c| *c == name)?;
                    let at = *positions.get(i)?;
                    record.get(at).map(|v| Cow::Owned(v.to_string()))
                };
                Some(parse_row(self.kind, line, get))
            }
        }
    }
}

/// An NDJSON feed being read: one JSON object per line, each recognised by its keys (or all of
/// one expected kind).
pub struct NdjsonFeed<R: Read> {
    lines: std::io::Lines<BufReader<R>>,
    expected: Option<FeedKind>,
    line: u64,
    done: bool,
}

impl<R: Read> fmt::Debug for NdjsonFeed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NdjsonFeed")
            .field("expected", &self.expected)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Starts reading an NDJSON feed. With `expected`, every record must have exactly that feed's
/// keys; without, each record's kind is detected from its keys. Blank lines are skipped.
pub fn read_ndjson<R: Read>(reader: R, expected: Option<FeedKind>) -> NdjsonFeed<R> {
    NdjsonFeed {
        lines: BufReader::new(reader).lines(),
        expected,
        line: 0,
        done: false,
    }
}

fn json_text(v: &serde_json::Value) -> Option<Cow<'_, str>> {
    match v {
        serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
        serde_json::Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

fn parse_json_record(
    text: &str,
    line: u64,
    expected: Option<FeedKind>,
) -> Result<FeedRow, FeedError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| FeedError::new(line, None, FeedErrorReason::Malformed(e.to_string())))?;
    let serde_json::Value::Object(object) = value else {
        return Err(FeedError::new(
            line,
            None,
            FeedErrorReason::Malformed("expected a JSON object".to_string()),
        ));
    };
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let kind = match expected {
        Some(kind) => {
            check_columns(kind, &keys, line)?;
            kind
        }
        None => detect_at_line(&keys, line)?,
    };
    parse_row(kind, line, |name| object.get(name).and_then(json_text))
}

impl<R: Read> Iterator for NdjsonFeed<R> {
    type Item = Result<FeedRow, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.line += 1;
            let text = match self.lines.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    let invalid_utf8 = e.kind() == std::io::ErrorKind::InvalidData;
                    if !invalid_utf8 {
                        self.done = true;
                    }
                    let reason = if invalid_utf8 {
                        FeedErrorReason::Malformed(e.to_string())
                    } else {
                        FeedErrorReason::Io(e.to_string())
                    };
                    return Some(Err(FeedError::new(self.line, None, reason)));
                }
                Some(Ok(text)) => text,
            };
            let trimmed = text.trim_start_matches('\u{feff}').trim();
            if trimmed.is_empty() {
                continue;
            }
            return Some(parse_json_record(trimmed, self.line, self.expected));
        }
        None
    }
}

/// A feed's text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl FeedFormat {
    /// The format a file name's extension says (`.csv`; `.ndjson`, `.jsonl`, `.json`).
    pub fn from_file_name(name: &str) -> Option<FeedFormat> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(FeedFormat::Csv)
        } else if [".ndjson", ".jsonl", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Some(FeedFormat::Ndjson)
        } else {
            None
        }
    }
}

/// Records of a feed in either format.
#[derive(Debug)]
pub enum FeedRows<R: Read> {
    /// From CSV (one kind per file).
    Csv(CsvFeed<R>),
    /// From NDJSON (kind per record).
    Ndjson(NdjsonFeed<R>),
}

impl<R: Read> Iterator for FeedRows<R> {
    type Item = Result<FeedRow, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            FeedRows::Csv(f) => f.next(),
            FeedRows::Ndjson(f) => f.next(),
        }
    }
}

/// Starts reading a feed in the given format. Only a CSV header can fail up front.
pub fn read_feed<R: Read>(reader: R, format: FeedFormat) -> Result<FeedRows<R>, FeedError> {
    match format {
        FeedFormat::Csv => read_csv(reader).map(FeedRows::Csv),
        FeedFormat::Ndjson => Ok(FeedRows::Ndjson(read_ndjson(reader, None))),
    }
}

/// Why a parse error rejects its record, as the feed door says it (an unrecognised header may be
/// meant as the ratings feed).
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
pub(crate) fn ndjson_record(at: At<'_>, text: &[u8]) -> Result<FeedRow, Rejection> {
    match read_ndjson(text, None).next() {
        Some(Ok(row)) => Ok(row),
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

/// An NHSI feed as CSV records of a feed file: the header names the feed.
pub(crate) fn csv_records<'a, R: Read + Send + 'a>(file: &str, reader: R) -> Records<'a> {
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
    let rows = match read_csv(reader) {
        Ok(rows) => rows,
        Err(e) if matches!(e.reason, FeedErrorReason::Io(_)) => {
            return Box::new(std::iter::once(Err(ReadError {
                file_name: file,
                line: e.line,
                reason: e.reason.to_string(),
            })));
        }
        Err(e) => {
            return Box::new(std::iter::once(Ok(Outcome::Rejected(header_at(&file, &e)))));
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
                Ok(at.outcome(Ok(FeedRecord::Nhsi(row))))
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
                Ok(Outcome::Rejected(rejection(at, &e)))
            }
        }
    }))
}

/// What `oversight score` reads from its files: finance records (one per trust and period, by
/// trust and period) and ward days (in file order), with what could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScoreInputs {
    pub finance: Vec<FinanceRow>,
    pub ward_days: Vec<WardDay>,
    pub errors: Vec<ScoreFileError>,
}

/// Something in a file `oversight score` could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreFileError {
    /// A bad header or record.
    #[error("{file}: {error}")]
    Feed { file: String, error: FeedError },
    /// A feed `oversight score` does not score.
    #[error(
        "{file}: {kind} feed is not scored by `oversight score` (finance and ward staffing only)"
    )]
    UnsupportedFeed { file: String, kind: FeedKind },
    /// The same trust and period twice in the finance data.
    #[error("{file}: finance for trust {trust} period {period} already given; the first is kept")]
    DuplicateFinance {
        file: String,
        trust: TrustCode,
        period: NaiveDate,
    },
}

/// The format of a file: by its name's extension, else NDJSON when the content starts with `{`.
fn sniff_format<R: Read>(name: &str, reader: &mut BufReader<R>) -> FeedFormat {
    if let Some(f) = FeedFormat::from_file_name(name) {
        return f;
    }
    match reader.fill_buf() {
        Ok(buf) => {
            let text = String::from_utf8_lossy(buf);
            if text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{')
            {
                FeedFormat::Ndjson
            } else {
                FeedFormat::Csv
            }
        }
        Err(_) => FeedFormat::Csv,
    }
}

/// Reads finance and ward staffing files (CSV, or NDJSON when the name ends in `.ndjson`,
/// `.jsonl` or `.json` or the content starts with `{`) for `oversight score`. Several files
/// combine: ward days of one ward split across files come out together.
pub fn read_score_inputs<N, R, I>(documents: I) -> ScoreInputs
where
    N: AsRef<str>,
    R: Read,
    I: IntoIterator<Item = (N, R)>,
{
    let mut errors = Vec::new();
    let mut finance: BTreeMap<(TrustCode, NaiveDate), FinanceRow> = BTreeMap::new();
    let mut ward_days: Vec<WardDay> = Vec::new();
    for (name, reader) in documents {
        let file = name.as_ref();
        let mut reader = BufReader::new(reader);
        let format = sniff_format(file, &mut reader);
        let rows = match read_feed(reader, format) {
            Ok(rows) => rows,
            Err(error) => {
                errors.push(ScoreFileError::Feed {
                    file: file.to_string(),
                    error,
                });
                continue;
            }
        };
        let mut unsupported = BTreeSet::new();
        for row in rows {
            match row {
                Err(error) => errors.push(ScoreFileError::Feed {
                    file: file.to_string(),
                    error,
                }),
                Ok(FeedRow::Finance(row)) => {
                    match finance.entry((row.trust.clone(), row.period_end)) {
                        Entry::Occupied(_) => errors.push(ScoreFileError::DuplicateFinance {
                            file: file.to_string(),
                            trust: row.trust,
                            period: row.period_end,
                        }),
                        Entry::Vacant(slot) => {
                            slot.insert(row);
                        }
                    }
                }
                Ok(FeedRow::WardStaffing(day)) => ward_days.push(day),
                Ok(other) => {
                    let kind = other.kind();
                    if unsupported.insert(kind.name()) {
                        errors.push(ScoreFileError::UnsupportedFeed {
                            file: file.to_string(),
                            kind,
                        });
                    }
                }
            }
        }
    }
    ScoreInputs {
        finance: finance.into_values().collect(),
        ward_days,
        errors,
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A decimal from its text, e.g. `d("-7.25")`.
    fn d(s: &str) -> Decimal {
        s.parse().expect("test decimal")
    }

    fn csv_rows(text: &str) -> Result<Vec<Result<FeedRow, FeedError>>, FeedError> {
        read_csv(text.as_bytes()).map(Iterator::collect)
    }

    fn err(line: u64, field: Option<&str>, reason: FeedErrorReason) -> FeedError {
        FeedError::new(line, field, reason)
    }

    #[test]
    fn detects_each_feed_from_its_header_in_any_order() {
        for kind in FeedKind::ALL {
            assert_eq!(detect_feed_kind(kind.columns()), Ok(kind));
            let mut reversed = kind.columns().to_vec();
            reversed.reverse();
            assert_eq!(detect_feed_kind(&reversed), Ok(kind));
        }
        assert_eq!(
            detect_feed_kind(&["\u{feff}trust_code", " metric ", "value", "period_end"]),
            Ok(FeedKind::Productivity)
        );
    }

    #[test]
    fn bad_headers_name_the_column() {
        let cases: &[(&[&str], FeedError)] = &[
            (
                &["trust_code", "period_end", "metric"],
                err(1, Some("value"), FeedErrorReason::MissingColumn),
            ),
            (
                &["trust_code", "period_end", "metric", "value", "notes"],
                err(1, Some("notes"), FeedErrorReason::UnknownColumn),
            ),
            (
                &[
                    "trust_code",
                    "period_end",
                    "standard",
                    "value_pct",
                    "standard",
                ],
                err(1, Some("standard"), FeedErrorReason::DuplicateColumn),
            ),
            (
                &[
                    "trust_code",
                    "period_end",
                    "capital_service_capacity",
                    "liquidity",
                    "income_expenditure_margin_pct",
                    "distance_from_plan_pct",
                    "agency_spend_vs_ceiling_pct",
                ],
                err(1, Some("liquidity_days"), FeedErrorReason::MissingColumn),
            ),
            (
                &["a", "b"],
                err(1, None, FeedErrorReason::UnrecognisedHeader("a,b".into())),
            ),
        ];
        for (header, want) in cases {
            assert_eq!(detect_feed_kind(header).as_ref(), Err(want), "{header:?}");
        }
    }

    #[test]
    fn finance_rows_parse_and_bad_rows_do_not_stop_the_stream() {
        let text = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2017-03-31,2.6,-3,0.5,-1.5,60\n\
RXX,2017-02-30,2.6,-3,0.5,-1.5,60\n\
RYY,2017-03-31,abc,-3,0.5,-1.5,60\n\
R,2017-03-31,1,1,1,1,1\n\
RZZ,2017-03-31,1,1,1,1\n\
rzz , 2017-03-31 , 1.5e0 , 0 , 0 , 0 , 0\n";
        let rows = csv_rows(text).expect("header");
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[0],
            Ok(FeedRow::Finance(FinanceRow {
                trust: "RXX".parse().expect("trust"),
                period_end: NaiveDate::from_ymd_opt(2017, 3, 31).expect("date"),
                inputs: FinanceInputs {
                    capital_service_capacity: d("2.6"),
                    liquidity_days: d("-3"),
                    income_expenditure_margin_pct: d("0.5"),
                    distance_from_plan_pct: d("-1.5"),
                    agency_spend_vs_ceiling_pct: d("60"),
                },
            }))
        );
        assert_eq!(
            rows[1],
            Err(err(
                3,
                Some("period_end"),
                FeedErrorReason::BadDate("2017-02-30".into())
            ))
        );
        assert_eq!(
            rows[2],
            Err(err(
                4,
                Some("capital_service_capacity"),
                FeedErrorReason::BadNumber("abc".into())
            ))
        );
        assert_eq!(
            rows[3],
            Err(err(
                5,
                Some("trust_code"),
                FeedErrorReason::BadTrustCode("R".into())
            ))
        );
        assert!(matches!(
            &rows[4],
            Err(FeedError {
                line: 6,
                field: None,
                reason: FeedErrorReason::Malformed(_)
            })
        ));
        assert!(
            matches!(&rows[5], Ok(FeedRow::Finance(r)) if r.trust.as_str() == "RZZ" && r.inputs.capital_service_capacity == d("1.5"))
        );
        assert_eq!(
            rows[2].as_ref().err().map(ToString::to_string),
            Some("line 4, field capital_service_capacity: bad number \"abc\"".to_string())
        );
    }

    #[test]
    fn ward_staffing_validation() {
        let header = "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n";
        let body = "RXX,W1,2018-04-01,20,150.5,0,7.5,60\n\
RXX,W1,2018-04-02,-1,150,0,0,0\n\
RXX,W1,2018-04-03,20,-2,0,0,0\n\
RXX,W1,2018-04-04,20.5,1,0,0,0\n\
RXX,,2018-04-05,20,1,0,0,0\n\
RXX,W1,2018-04-06,5000000000,1,0,0,0\n\
RXX,W1,2018-04-07,20,1,,0,0\n";
        let rows = csv_rows(&format!("{header}{body}")).expect("header");
        assert!(
            matches!(&rows[0], Ok(FeedRow::WardStaffing(w)) if w.patients_at_midnight == 20 && w.registered_nurse_hours == d("150.5"))
        );
        let errors: Vec<(u64, Option<&str>, &FeedErrorReason)> = rows[1..]
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.line, e.field.as_deref(), &e.reason))
            .collect();
        assert_eq!(
            errors,
            vec![
                (
                    3,
                    Some("patients_at_midnight"),
                    &FeedErrorReason::OutOfRange {
                        value: "-1".into(),
                        range: "a whole number from 0 to 4294967295".into()
                    }
                ),
                (
                    4,
                    Some("registered_nurse_hours"),
                    &FeedErrorReason::NegativeHours(d("-2"))
                ),
                (
                    5,
                    Some("patients_at_midnight"),
                    &FeedErrorReason::BadNumber("20.5".into())
                ),
                (6, Some("ward_code"), &FeedErrorReason::MissingValue),
                (
                    7,
                    Some("patients_at_midnight"),
                    &FeedErrorReason::OutOfRange {
                        value: "5000000000".into(),
                        range: "a whole number from 0 to 4294967295".into()
                    }
                ),
                (
                    8,
                    Some("registered_midwife_hours"),
                    &FeedErrorReason::MissingValue
                ),
            ]
        );
    }

    /// The efficiency measures CQC suggested (cancellations, waiting times, length of stay) are
    /// productivity metric names the feed accepts, within their ranges: a share of pathways is
    /// 0–100 %, cancellations per 100 admissions and days are not negative.
    #[test]
    fn productivity_feed_accepts_the_efficiency_measures() {
        let rows = csv_rows(
            "trust_code,period_end,metric,value\n\
RXX,2018-03-31,cancelled_elective_operations,1.2\n\
RXX,2018-03-31,rtt_incomplete_within_18_weeks_pct,89.4\n\
RXX,2018-03-31,average_length_of_stay_elective,3.1\n\
RXX,2018-03-31,average_length_of_stay_non_elective,6.4\n\
RXX,2018-03-31,rtt_incomplete_within_18_weeks_pct,100.5\n\
RXX,2018-03-31,average_length_of_stay_elective,-0.5\n\
RXX,2018-03-31,cancelled_operations,1.2\n",
        )
        .expect("header");
        let accepted: Vec<(Metric, Decimal)> = rows[..4]
            .iter()
            .map(|r| match r {
                Ok(FeedRow::Productivity(p)) => (p.metric, p.value),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            accepted,
            vec![
                (Metric::CancelledElectiveOperations, d("1.2")),
                (Metric::Rtt18WeekIncompleteWithinPct, d("89.4")),
                (Metric::AverageLengthOfStayElective, d("3.1")),
                (Metric::AverageLengthOfStayNonElective, d("6.4")),
            ]
        );
        assert_eq!(
            rows[4],
            Err(err(
                6,
                Some("value"),
                FeedErrorReason::OutOfRange {
                    value: "100.5".into(),
                    range: "from 0 to 100".into()
                }
            ))
        );
        assert_eq!(
            rows[5],
            Err(err(
                7,
                Some("value"),
                FeedErrorReason::OutOfRange {
                    value: "-0.5".into(),
                    range: "at least 0".into()
                }
            ))
        );
        assert_eq!(
            rows[6],
            Err(err(
                8,
                Some("metric"),
                FeedErrorReason::UnknownMetric("cancelled_operations".into())
            ))
        );
    }

    #[test]
    fn productivity_and_operational_validation() {
        let rows = csv_rows(
            "trust_code,period_end,metric,value\n\
RXX,2017-03-31,sickness_absence_rate,4.2\n\
RXX,2017-03-31,bed_days,4.2\n\
RXX,2017-03-31,sickness_absence_rate,104\n\
RXX,2017-03-31,pay_cost_per_wau,-1\n\
RXX,2017-03-31,liquidity_days,-12\n",
        )
        .expect("header");
        assert!(
            matches!(&rows[0], Ok(FeedRow::Productivity(p)) if p.metric == Metric::SicknessAbsenceRate)
        );
        assert_eq!(
            rows[1],
            Err(err(
                3,
                Some("metric"),
                FeedErrorReason::UnknownMetric("bed_days".into())
            ))
        );
        assert!(matches!(
            &rows[2],
            Err(FeedError {
                line: 4,
                reason: FeedErrorReason::OutOfRange { .. },
                ..
            })
        ));
        assert!(matches!(
            &rows[3],
            Err(FeedError {
                line: 5,
                reason: FeedErrorReason::OutOfRange { .. },
                ..
            })
        ));
        assert!(rows[4].is_ok(), "finance metrics may be negative");

        let rows = csv_rows(
            "trust_code,period_end,standard,value_pct\n\
RXX,2017-03-31,ae_4h,91.5\n\
RXX,2017-03-31,ae_12h,91.5\n\
RXX,2017-03-31,rtt_18w,100.5\n\
RXX,2017-03-31,cancer_62d,-0.1\n",
        )
        .expect("header");
        assert!(
            matches!(&rows[0], Ok(FeedRow::Operational(o)) if o.standard == OperationalStandard::AeFourHours && o.value_pct == d("91.5"))
        );
        assert_eq!(
            rows[1],
            Err(err(
                3,
                Some("standard"),
                FeedErrorReason::UnknownStandard("ae_12h".into())
            ))
        );
        assert_eq!(
            rows[2].as_ref().err().map(ToString::to_string),
            Some(
                "line 4, field value_pct: value 100.5 out of range: must be from 0 to 100"
                    .to_string()
            )
        );
        assert!(rows[3].is_err());
    }

    #[test]
    fn csv_header_errors() {
        assert!(matches!(
            read_csv("".as_bytes()),
            Err(FeedError {
                line: 1,
                reason: FeedErrorReason::UnrecognisedHeader(_),
                ..
            })
        ));
        assert!(matches!(
            read_csv("trust_code,period_end,metric\nRXX,2017-03-31,x\n".as_bytes()),
            Err(FeedError { line: 1, .. })
        ));
        assert_eq!(
            read_csv("trust_code,period_end,metric,value\n".as_bytes()).map(|f| f.count()),
            Ok(0)
        );
    }

    #[test]
    fn ndjson_records_detect_their_kind_and_errors_carry_on() {
        let text = r#"{"trust_code":"RXX","period_end":"2017-03-31","standard":"rtt_18w","value_pct":90.1}

{"trust_code":"RXX","period_end":"2017-03-31","metric":"vacancy_rate","value":"7.25"}
not json
{"trust_code":"RXX","period_end":"2017-03-31","metric":"vacancy_rate"}
[1,2]
{"trust_code":"RXX","ward_code":"W1","date":"2018-04-01","patients_at_midnight":20,"registered_nurse_hours":150,"registered_midwife_hours":0,"allied_health_professional_hours":0,"healthcare_support_worker_hours":null}
{"trust_code":"RXX","period_end":"2017-03-31","capital_service_capacity":"2.6","liquidity_days":-3,"income_expenditure_margin_pct":0.1,"distance_from_plan_pct":0,"agency_spend_vs_ceiling_pct":0}
"#;
        let rows: Vec<_> = read_ndjson(text.as_bytes(), None).collect();
        assert_eq!(rows.len(), 7);
        assert!(matches!(&rows[0], Ok(FeedRow::Operational(o)) if o.value_pct == d("90.1")));
        assert!(matches!(&rows[1], Ok(FeedRow::Productivity(p)) if p.value == d("7.25")));
        assert!(matches!(
            &rows[2],
            Err(FeedError {
                line: 4,
                reason: FeedErrorReason::Malformed(_),
                ..
            })
        ));
        assert_eq!(
            rows[3],
            Err(err(5, Some("value"), FeedErrorReason::MissingColumn))
        );
        assert!(matches!(
            &rows[4],
            Err(FeedError {
                line: 6,
                reason: FeedErrorReason::Malformed(_),
                ..
            })
        ));
        assert_eq!(
            rows[5],
            Err(err(
                7,
                Some("healthcare_support_worker_hours"),
                FeedErrorReason::MissingValue
            ))
        );
        assert!(
            matches!(&rows[6], Ok(FeedRow::Finance(f)) if f.inputs.income_expenditure_margin_pct == d("0.1"))
        );
        // With an expected kind, other records are rejected.
        let rows: Vec<_> = read_ndjson(text.as_bytes(), Some(FeedKind::Operational)).collect();
        assert!(rows[0].is_ok());
        assert!(matches!(
            &rows[1],
            Err(FeedError {
                line: 3,
                reason: FeedErrorReason::MissingColumn,
                ..
            })
        ));
    }

    #[test]
    fn formats_from_file_names() {
        assert_eq!(
            FeedFormat::from_file_name("a/FIN.CSV"),
            Some(FeedFormat::Csv)
        );
        assert_eq!(
            FeedFormat::from_file_name("x.ndjson"),
            Some(FeedFormat::Ndjson)
        );
        assert_eq!(FeedFormat::from_file_name("x.txt"), None);
        let rows: Vec<_> = read_feed(
            "trust_code,period_end,metric,value\nRXX,2017-03-31,vacancy_rate,1\n".as_bytes(),
            FeedFormat::Csv,
        )
        .expect("header")
        .collect();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn oversight_status_records_are_typed_and_bad_ones_name_the_field() {
        let text = "trust_code,kind,from,to,source
RXX,financial_special_measures,2018-01-01,,NHSI board 2018-01
RYY,deficit_support,2018-04-01,2019-04-01,NHSI interim support
RXX,special_measures,2018-01-01,,NHSI
RXX,quality_special_measures,2018-01-01,2017-06-30,CQC
RXX,quality_special_measures,2018-01-01,2018-01-01,CQC
R?X,deficit_support,2018-01-01,,NHSI
RXX,deficit_support,2018-13-01,,NHSI
RXX,deficit_support,2018-01-01,,
";
        let rows = csv_rows(text).expect("header");
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            rows[0],
            Ok(FeedRow::OversightStatus(OversightStatusRow {
                trust: "RXX".parse().unwrap(),
                status: OversightStatus {
                    kind: StatusKind::FinancialSpecialMeasures,
                    from: date("2018-01-01"),
                    to: None,
                    source: "NHSI board 2018-01".into(),
                },
            }))
        );
        assert!(matches!(
            &rows[1],
            Ok(FeedRow::OversightStatus(OversightStatusRow { status, .. }))
                if status.kind == StatusKind::DeficitSupport && status.to == Some(date("2019-04-01"))
        ));
        let errors: Vec<(u64, Option<&str>)> = rows[2..]
            .iter()
            .map(|r| {
                let e = r.as_ref().unwrap_err();
                (e.line, e.field.as_deref())
            })
            .collect();
        assert_eq!(
            errors,
            vec![
                (4, Some("kind")),
                (5, Some("to")),
                (6, Some("to")),
                (7, Some("trust_code")),
                (8, Some("from")),
                (9, Some("source")),
            ]
        );
        assert_eq!(
            rows[2].as_ref().unwrap_err().reason,
            FeedErrorReason::UnknownStatusKind("special_measures".into())
        );
        assert_eq!(
            rows[3].as_ref().unwrap_err().reason,
            FeedErrorReason::EndNotAfterStart {
                from: date("2018-01-01"),
                to: date("2017-06-30"),
            }
        );
        // NDJSON: the same keys, `to` null while the status stands.
        let ndjson = r#"{"trust_code":"RXX","kind":"quality_special_measures","from":"2018-02-01","to":null,"source":"CQC"}"#;
        let rows: Vec<_> = read_ndjson(ndjson.as_bytes(), None).collect();
        assert!(matches!(
            &rows[..],
            [Ok(FeedRow::OversightStatus(OversightStatusRow { status, .. }))]
                if status.kind == StatusKind::QualitySpecialMeasures && status.to.is_none()
        ));
    }
}
