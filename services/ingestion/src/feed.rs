//! Parsing and validating feeds into canonical evidence. Pure: bytes in, evidence and rejections
//! out. A bad record is rejected with its file, record number, field and reason; the good records
//! of the same batch go on.
//!
//! The oversight ratings feed (CSV with a header row, or NDJSON with the same field names):
//!
//! | field | meaning |
//! | --- | --- |
//! | `record_type` | `service_rating`, `well_led` (trust-level assessment) or `use_of_resources` |
//! | `trust_code` | ODS trust code, e.g. `RXX` |
//! | `trust_name` | optional display name |
//! | `trust_type` | `acute`, `specialist_acute`, `mental_health`, `community`, `ambulance` (default `acute`) |
//! | `location_id` | CQC location id or ODS site code (service ratings of trusts with a location level) |
//! | `location_name` | optional |
//! | `service` | inspection area id, e.g. `urgent`, `surgery` (service ratings) |
//! | `key_question` | `safe`, `effective`, `caring`, `responsive`, `well-led` (service ratings) |
//! | `rating` | CQC rating string, e.g. `Requires improvement`, or a non-rating such as `Not rated` |
//! | `report_date` | ISO date `YYYY-MM-DD` |

use std::collections::BTreeMap;
use std::fmt;

use oversight_proto::common::v1 as common;
use oversight_proto::evidence::v1 as ev;
use oversight_rating::{KeyQuestion, LocationId, RatingValue, ServiceId, TrustCode, TrustType};
use serde::Deserialize;

/// Feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    pub fn from_wire(raw: i32) -> Result<Format, String> {
        use oversight_proto::ingestion::v1::FeedFormat;
        match FeedFormat::try_from(raw) {
            Ok(FeedFormat::Csv) => Ok(Format::Csv),
            Ok(FeedFormat::Ndjson) => Ok(Format::Ndjson),
            Ok(FeedFormat::CqcJson) => {
                Err("format CQC_JSON is not supported by this ingestion build yet".into())
            }
            _ => Err(format!("unknown or unspecified feed format {raw}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// A rejected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file_name: String,
    /// 1-based record number (the header row is not a record).
    pub record_number: u64,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} record {}: {}: {}",
            self.file_name, self.record_number, self.field, self.reason
        )
    }
}

/// One accepted record as canonical evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    Quality(ev::QualityEvidence),
    Resource(ev::ResourceEvidence),
}

impl Evidence {
    pub fn trust_code(&self) -> &str {
        match self {
            Evidence::Quality(q) => &q.trust_code,
            Evidence::Resource(r) => &r.trust_code,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::Quality(_) => "quality",
            Evidence::Resource(_) => "resources",
        }
    }

    pub fn provenance_mut(&mut self) -> &mut Option<ev::Provenance> {
        match self {
            Evidence::Quality(q) => &mut q.provenance,
            Evidence::Resource(r) => &mut r.provenance,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Evidence::Quality(q) => prost::Message::encode_to_vec(q),
            Evidence::Resource(r) => prost::Message::encode_to_vec(r),
        }
    }
}

/// An accepted record with its position in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub record_number: u64,
    pub evidence: Evidence,
}

/// The outcome of parsing one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<Rejection>,
}

impl Parsed {
    pub fn records(&self) -> u64 {
        (self.accepted.len() + self.rejected.len()) as u64
    }
}

#[derive(Debug, Deserialize, Default)]
struct FeedRow {
    record_type: Option<String>,
    trust_code: Option<String>,
    trust_name: Option<String>,
    trust_type: Option<String>,
    location_id: Option<String>,
    location_name: Option<String>,
    service: Option<String>,
    key_question: Option<String>,
    rating: Option<String>,
    report_date: Option<String>,
}

const REQUIRED_COLUMNS: [&str; 4] = ["record_type", "trust_code", "rating", "report_date"];

/// Parse a whole file of the given format.
pub fn parse(format: Format, file_name: &str, content: &[u8]) -> Parsed {
    match format {
        Format::Csv => parse_csv(file_name, content),
        Format::Ndjson => parse_ndjson(file_name, content),
    }
}

fn reject(file: &str, n: u64, field: &str, reason: impl Into<String>) -> Rejection {
    Rejection {
        file_name: file.to_string(),
        record_number: n,
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn parse_csv(file: &str, content: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(content);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.rejected.push(reject(
                file,
                0,
                "header",
                format!("unreadable header row: {e}"),
            ));
            return out;
        }
    };
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        out.rejected.push(reject(
            file,
            0,
            "header",
            format!("missing required columns: {}", missing.join(", ")),
        ));
        return out;
    }
    for (i, record) in reader.records().enumerate() {
        let n = i as u64 + 1;
        let row = record
            .map_err(|e| reject(file, n, "record", format!("malformed CSV: {e}")))
            .and_then(|r| {
                r.deserialize::<FeedRow>(Some(&headers))
                    .map_err(|e| reject(file, n, "record", format!("malformed CSV: {e}")))
            });
        match row.and_then(|row| validate(file, n, row)) {
            Ok(evidence) => out.accepted.push(Accepted {
                record_number: n,
                evidence,
            }),
            Err(r) => out.rejected.push(r),
        }
    }
    out
}

fn parse_ndjson(file: &str, content: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut n = 0u64;
    for line in content.split(|b| *b == b'\n') {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        n += 1;
        let row = serde_json::from_slice::<FeedRow>(trimmed)
            .map_err(|e| reject(file, n, "record", format!("malformed JSON: {e}")));
        match row.and_then(|row| validate(file, n, row)) {
            Ok(evidence) => out.accepted.push(Accepted {
                record_number: n,
                evidence,
            }),
            Err(r) => out.rejected.push(r),
        }
    }
    out
}

fn required<'a>(
    file: &str,
    n: u64,
    field: &str,
    v: &'a Option<String>,
) -> Result<&'a str, Rejection> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(reject(file, n, field, "required field is empty")),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn validate(file: &str, n: u64, row: FeedRow) -> Result<Evidence, Rejection> {
    let record_type = required(file, n, "record_type", &row.record_type)?;
    let trust: TrustCode = required(file, n, "trust_code", &row.trust_code)?
        .parse()
        .map_err(|e| reject(file, n, "trust_code", format!("{e}")))?;
    let trust_type = match non_empty(&row.trust_type) {
        None => TrustType::Acute,
        Some(s) => s
            .parse()
            .map_err(|e| reject(file, n, "trust_type", format!("{e}")))?,
    };
    let rating: RatingValue = required(file, n, "rating", &row.rating)?
        .parse()
        .map_err(|e| reject(file, n, "rating", format!("{e}")))?;
    let date_raw = required(file, n, "report_date", &row.report_date)?;
    let date = chrono::NaiveDate::parse_from_str(date_raw, "%Y-%m-%d").map_err(|_| {
        reject(
            file,
            n,
            "report_date",
            format!("{date_raw:?} is not an ISO date (YYYY-MM-DD)"),
        )
    })?;
    let report_date = date.to_string();
    let rating_wire = common::Rating::from(rating) as i32;
    let trust_name = non_empty(&row.trust_name).unwrap_or_default().to_string();
    let trust_type_wire = common::TrustType::from(trust_type) as i32;
    match record_type {
        "service_rating" => {
            let service: ServiceId = required(file, n, "service", &row.service)?
                .parse()
                .map_err(|e| reject(file, n, "service", format!("{e}")))?;
            let kq: KeyQuestion = required(file, n, "key_question", &row.key_question)?
                .parse()
                .map_err(|e| reject(file, n, "key_question", format!("{e}")))?;
            let location_id = match non_empty(&row.location_id) {
                Some(l) => l
                    .parse::<LocationId>()
                    .map_err(|e| reject(file, n, "location_id", format!("{e}")))?
                    .to_string(),
                None if trust_type.has_location_level() => {
                    return Err(reject(
                        file,
                        n,
                        "location_id",
                        format!(
                            "required for {trust_type} trusts, which are rated through locations"
                        ),
                    ));
                }
                None => String::new(),
            };
            Ok(Evidence::Quality(ev::QualityEvidence {
                provenance: None,
                trust_code: trust.to_string(),
                trust_name,
                trust_type: trust_type_wire,
                service_ratings: vec![ev::ServiceKeyQuestionRating {
                    location_id,
                    location_name: non_empty(&row.location_name)
                        .unwrap_or_default()
                        .to_string(),
                    service_id: service.to_string(),
                    key_question: common::KeyQuestion::from(kq) as i32,
                    rating: rating_wire,
                    report_date,
                }],
                well_led: vec![],
                published: vec![],
            }))
        }
        "well_led" => Ok(Evidence::Quality(ev::QualityEvidence {
            provenance: None,
            trust_code: trust.to_string(),
            trust_name,
            trust_type: trust_type_wire,
            service_ratings: vec![],
            well_led: vec![ev::WellLedAssessment {
                rating: rating_wire,
                report_date,
            }],
            published: vec![],
        })),
        "use_of_resources" => {
            if rating.rating().is_none() {
                return Err(reject(
                    file,
                    n,
                    "rating",
                    "a use-of-resources rating must be a real rating",
                ));
            }
            Ok(Evidence::Resource(ev::ResourceEvidence {
                provenance: None,
                trust_code: trust.to_string(),
                trust_type: trust_type_wire,
                body: Some(ev::resource_evidence::Body::UseOfResources(
                    ev::UseOfResourcesEvidence {
                        rating: rating_wire,
                        report_date,
                    },
                )),
            }))
        }
        other => Err(reject(
            file,
            n,
            "record_type",
            format!(
                "unknown record type {other:?} (expected service_rating, well_led or use_of_resources)"
            ),
        )),
    }
}

/// Counts by trust, for progress output.
pub fn trusts(parsed: &Parsed) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in &parsed.accepted {
        *m.entry(a.evidence.trust_code().to_string()).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n";

    #[test]
    fn csv_good_and_bad_records() {
        let csv = format!(
            "{HEADER}service_rating,RXX,Example,acute,RXX01,General,urgent,safe,Requires improvement,2017-06-01\n\
             service_rating,RX,Example,acute,RXX01,General,urgent,safe,Good,2017-06-01\n\
             well_led,RXX,Example,acute,,,,,Good,2017-07-01\n\
             service_rating,RXX,Example,acute,RXX01,General,urgent,kindness,Good,2017-06-01\n\
             use_of_resources,RXX,Example,acute,,,,,Excellent,2017-07-01\n\
             use_of_resources,RXX,Example,acute,,,,,Good,2017-13-01\n\
             use_of_resources,RXX,Example,acute,,,,,Good,2017-11-01\n"
        );
        let p = parse(Format::Csv, "feed.csv", csv.as_bytes());
        assert_eq!(p.accepted.len(), 3);
        assert_eq!(p.rejected.len(), 4);
        let fields: Vec<(u64, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.record_number, r.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (2, "trust_code"),
                (4, "key_question"),
                (5, "rating"),
                (6, "report_date")
            ]
        );
        assert!(
            p.rejected[0]
                .to_string()
                .starts_with("feed.csv record 2: trust_code:")
        );
    }

    #[test]
    fn csv_missing_columns_fails_the_file() {
        let p = parse(Format::Csv, "x.csv", b"trust_code,rating\nRXX,Good\n");
        assert_eq!(p.accepted.len(), 0);
        assert_eq!(p.rejected.len(), 1);
        assert!(
            p.rejected[0].reason.contains("record_type"),
            "{:?}",
            p.rejected[0]
        );
    }

    #[test]
    fn ndjson_bad_line_does_not_stop_the_rest() {
        let nd = b"{\"record_type\":\"well_led\",\"trust_code\":\"RXX\",\"rating\":\"Good\",\"report_date\":\"2018-01-01\"}\n{not json\n\n{\"record_type\":\"use_of_resources\",\"trust_code\":\"RXX\",\"rating\":\"Inadequate\",\"report_date\":\"2018-01-01\"}\n";
        let p = parse(Format::Ndjson, "x.ndjson", nd);
        assert_eq!(p.accepted.len(), 2);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].record_number, 2);
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
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..1200usize {
            let mut bytes = Vec::with_capacity(len % 300);
            for _ in 0..(len % 300) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(b",\n\"{}:abcRXX0123 -"[(seed % 18) as usize]);
            }
            let _ = parse(Format::Csv, "fuzz.csv", &bytes);
            let _ = parse(Format::Ndjson, "fuzz.ndjson", &bytes);
        }
    }
}
