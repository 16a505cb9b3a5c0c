//! The oversight ratings feed (CSV with a header row, or NDJSON with the same field names), and the
//! NDJSON reader shared with NHSI's feeds (each line is recognised by its keys).
//!
//! | field | meaning |
//! | --- | --- |
//! | `record_type` | `service_rating`, `well_led` (trust-level assessment) or `use_of_resources` |
//! | `trust_code` | ODS trust code, e.g. `RXX` |
//! | `trust_name` | optional display name |
//! | `trust_type` | `acute`, `specialist_acute`, `mental_health`, `community`, `ambulance` (default `acute`) |
//! | `region` | optional NHS England region, free text, e.g. `London`, `North East and Yorkshire` (at most 64 characters) |
//! | `location_id` | CQC location id or ODS site code (service ratings of trusts with a location level) |
//! | `location_name` | optional |
//! | `service` | inspection area id, e.g. `urgent`, `surgery`, or CQC's name of the service, e.g. `Long stay or rehabilitation mental health wards for working age adults` (mapped as in CQC's API JSON; at most 256 characters) (service ratings) |
//! | `key_question` | `safe`, `effective`, `caring`, `responsive`, `well-led` (service ratings) |
//! | `rating` | CQC rating string, e.g. `Requires improvement`, or a non-rating such as `Not rated` |
//! | `report_date` | ISO date `YYYY-MM-DD` |

use std::io::{BufReader, Read};

use chrono::NaiveDate;
use cqc_rules::RulesError;
use oversight_rating::{KeyQuestion, LocationId, RatingValue, ServiceId, TrustCode, TrustType};
use serde::Deserialize;

use crate::cqc_api::service_id_for_name;
use crate::split::{Line, read_line_capped};
use crate::{At, FeedRecord, MAX_RECORD_BYTES, Outcome, ReadError, Rejection, nhsi};

/// One validated record of the ratings feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRecord {
    pub trust: TrustCode,
    /// The trust's display name; empty when not given.
    pub trust_name: String,
    /// `acute` when not given.
    pub trust_type: TrustType,
    /// The NHS England region, trimmed; empty when not given.
    pub region: String,
    pub rating: RatingValue,
    pub report_date: NaiveDate,
    /// What is rated.
    pub kind: RatingKind,
}

/// What a ratings feed record rates (its `record_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingKind {
    /// `service_rating`: a key question of a service (at a location, for trusts rated through
    /// locations).
    ServiceRating {
        location_id: Option<LocationId>,
        /// Empty when not given.
        location_name: String,
        service: ServiceId,
        key_question: KeyQuestion,
    },
    /// `well_led`: the trust-level well-led assessment.
    WellLed,
    /// `use_of_resources`: an approved use-of-resources rating (always a real rating).
    UseOfResources,
}

#[derive(Debug, Deserialize, Default)]
struct FeedRow {
    record_type: Option<String>,
    trust_code: Option<String>,
    trust_name: Option<String>,
    trust_type: Option<String>,
    region: Option<String>,
    location_id: Option<String>,
    location_name: Option<String>,
    service: Option<String>,
    key_question: Option<String>,
    rating: Option<String>,
    report_date: Option<String>,
}

/// Why a `service` value was refused, without the rules' own field name (the feed's is `service`).
fn service_reason(e: &RulesError) -> String {
    match e {
        RulesError::InvalidValue { value, reason, .. } => format!("{value:?}: {reason}"),
        other => other.to_string(),
    }
}

/// The longest region name accepted (in characters).
pub const MAX_REGION_CHARS: usize = 64;

const REQUIRED_COLUMNS: [&str; 4] = ["record_type", "trust_code", "rating", "report_date"];

/// Whether a CSV header is the ratings feed's (rather than one of NHSI's feeds).
pub fn is_ratings_header(names: &[String]) -> bool {
    names
        .iter()
        .any(|n| matches!(n.as_str(), "record_type" | "rating" | "report_date"))
}

/// The ratings feed as CSV.
pub struct CsvRecords<R: Read> {
    file: String,
    reader: csv::Reader<R>,
    headers: Option<csv::StringRecord>,
    record: csv::StringRecord,
    number: u64,
    done: bool,
}

impl<R: Read> CsvRecords<R> {
    pub fn new(file: &str, reader: R) -> Self {
        CsvRecords {
            file: file.to_string(),
            reader: csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .flexible(false)
                .from_reader(reader),
            headers: None,
            record: csv::StringRecord::new(),
            number: 0,
            done: false,
        }
    }

    fn read_error(&mut self, line: u64, e: impl ToString) -> Result<Outcome, ReadError> {
        self.done = true;
        Err(ReadError {
            file_name: self.file.clone(),
            line,
            reason: e.to_string(),
        })
    }

    /// Read and check the header; `Some` ends the file with that outcome.
    fn header(&mut self) -> Option<Result<Outcome, ReadError>> {
        let at = At {
            file: &self.file,
            record: 0,
            line: 1,
        };
        let headers = match self.reader.headers() {
            Ok(h) => h.clone(),
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Some(self.read_error(1, e));
            }
            Err(e) => {
                self.done = true;
                return Some(Ok(Outcome::Rejected(
                    at.reject("header", format!("unreadable header row: {e}")),
                )));
            }
        };
        let cleaned: csv::StringRecord = headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim())
            .collect();
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|c| !cleaned.iter().any(|h| h == *c))
            .collect();
        if !missing.is_empty() {
            self.done = true;
            return Some(Ok(Outcome::Rejected(at.reject(
                "header",
                format!(
                    "missing required columns of the ratings feed: {}",
                    missing.join(", ")
                ),
            ))));
        }
        self.headers = Some(cleaned);
        None
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Outcome, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.headers.is_none()
            && let Some(end) = self.header()
        {
            return Some(end);
        }
        let headers = self.headers.as_ref()?;
        match self.reader.read_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Some(self.read_error(line, e));
                }
                self.number += 1;
                let at = At {
                    file: &self.file,
                    record: self.number,
                    line,
                };
                Some(Ok(Outcome::Rejected(
                    at.reject("record", format!("malformed CSV: {e}")),
                )))
            }
            Ok(true) => {
                self.number += 1;
                let at = At {
                    file: &self.file,
                    record: self.number,
                    line: self.record.position().map_or(0, |p| p.line()),
                };
                let result = self
                    .record
                    .deserialize::<FeedRow>(Some(headers))
                    .map_err(|e| at.reject("record", format!("malformed CSV: {e}")))
                    .and_then(|row| validate(at, row))
                    .map(FeedRecord::Rating);
                Some(Ok(at.outcome(result)))
            }
        }
    }
}

/// NDJSON of the ratings feed and NHSI's feeds: each non-blank line is one record.
pub struct NdjsonRecords<R: Read> {
    file: String,
    reader: BufReader<R>,
    buf: Vec<u8>,
    line: u64,
    number: u64,
    done: bool,
}

impl<R: Read> NdjsonRecords<R> {
    pub fn new(file: &str, reader: R) -> Self {
        NdjsonRecords {
            file: file.to_string(),
            reader: BufReader::with_capacity(64 * 1024, reader),
            buf: Vec::new(),
            line: 0,
            number: 0,
            done: false,
        }
    }
}

impl<R: Read> Iterator for NdjsonRecords<R> {
    type Item = Result<Outcome, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.line += 1;
            let outcome = match read_line_capped(&mut self.reader, &mut self.buf, MAX_RECORD_BYTES)
            {
                Ok(o) => o,
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReadError {
                        file_name: self.file.clone(),
                        line: self.line,
                        reason: e.to_string(),
                    }));
                }
            };
            let text = self.buf.trim_ascii();
            let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            match outcome {
                Line::Eof => {
                    self.done = true;
                    return None;
                }
                Line::Complete if text.is_empty() => continue,
                _ => {}
            }
            self.number += 1;
            let at = At {
                file: &self.file,
                record: self.number,
                line: self.line,
            };
            if outcome == Line::TooLong {
                return Some(Ok(Outcome::Rejected(at.reject(
                    "record",
                    format!("record larger than {MAX_RECORD_BYTES} bytes"),
                ))));
            }
            return Some(Ok(at.outcome(ndjson_record(at, text))));
        }
        None
    }
}

fn ndjson_record(at: At<'_>, text: &[u8]) -> Result<FeedRecord, Rejection> {
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| at.reject("record", format!("malformed JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(at.reject("record", "expected a JSON object"));
    };
    if object.contains_key("record_type") {
        let row: FeedRow = serde_json::from_value(value)
            .map_err(|e| at.reject("record", format!("malformed record: {e}")))?;
        return validate(at, row).map(FeedRecord::Rating);
    }
    nhsi::ndjson_record(at, text).map(FeedRecord::Nhsi)
}

fn required<'a>(at: At<'_>, field: &str, v: &'a Option<String>) -> Result<&'a str, Rejection> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(at.reject(field, "required field is empty")),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An optional NHS England region: trimmed, empty when absent, at most [`MAX_REGION_CHARS`].
pub(crate) fn region(at: At<'_>, field: &str, v: Option<&str>) -> Result<String, Rejection> {
    let region = v.map(str::trim).unwrap_or_default();
    let chars = region.chars().count();
    if chars > MAX_REGION_CHARS {
        return Err(at.reject(
            field,
            format!("{chars} characters; a region is at most {MAX_REGION_CHARS}"),
        ));
    }
    Ok(region.to_string())
}

fn validate(at: At<'_>, row: FeedRow) -> Result<RatingRecord, Rejection> {
    let record_type = required(at, "record_type", &row.record_type)?;
    let trust: TrustCode = required(at, "trust_code", &row.trust_code)?
        .parse()
        .map_err(|e| at.reject("trust_code", format!("{e}")))?;
    let trust_type = match non_empty(&row.trust_type) {
        None => TrustType::Acute,
        Some(s) => s
            .parse()
            .map_err(|e| at.reject("trust_type", format!("{e}")))?,
    };
    let rating: RatingValue = required(at, "rating", &row.rating)?
        .parse()
        .map_err(|e| at.reject("rating", format!("{e}")))?;
    let date_raw = required(at, "report_date", &row.report_date)?;
    let report_date = NaiveDate::parse_from_str(date_raw, "%Y-%m-%d").map_err(|_| {
        at.reject(
            "report_date",
            format!("{date_raw:?} is not an ISO date (YYYY-MM-DD)"),
        )
    })?;
    let trust_name = non_empty(&row.trust_name).unwrap_or_default().to_string();
    let region = region(at, "region", row.region.as_deref())?;
    let kind = match record_type {
        "service_rating" => {
            // An id or CQC's display name, mapped exactly as the CQC API JSON door maps it.
            let service: ServiceId = service_id_for_name(required(at, "service", &row.service)?)
                .map_err(|e| at.reject("service", service_reason(&e)))?;
            let key_question: KeyQuestion = required(at, "key_question", &row.key_question)?
                .parse()
                .map_err(|e| at.reject("key_question", format!("{e}")))?;
            let location_id = match non_empty(&row.location_id) {
                Some(l) => Some(
                    l.parse::<LocationId>()
                        .map_err(|e| at.reject("location_id", format!("{e}")))?,
                ),
                None if trust_type.has_location_level() => {
                    return Err(at.reject(
                        "location_id",
                        format!(
                            "required for {trust_type} trusts, which are rated through locations"
                        ),
                    ));
                }
                None => None,
            };
            RatingKind::ServiceRating {
                location_id,
                location_name: non_empty(&row.location_name)
                    .unwrap_or_default()
                    .to_string(),
                service,
                key_question,
            }
        }
        "well_led" => RatingKind::WellLed,
        "use_of_resources" => {
            if rating.rating().is_none() {
                return Err(at.reject("rating", "a use-of-resources rating must be a real rating"));
            }
            RatingKind::UseOfResources
        }
        other => {
            return Err(at.reject(
                "record_type",
                format!(
                    "unknown record type {other:?} (expected service_rating, well_led or use_of_resources)"
                ),
            ));
        }
    };
    Ok(RatingRecord {
        trust,
        trust_name,
        trust_type,
        region,
        rating,
        report_date,
        kind,
    })
}
