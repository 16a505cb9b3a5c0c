//! Feed and API formats: files (anything [`std::io::Read`]) read into validated, typed records,
//! one at a time, with a typed error per bad record. No IO of its own, no protobuf, no rules beyond
//! validating values; the domain types are the rules crates' (`oversight-rating`, `cqc-rules`,
//! `nhsi-rules`), which never depend on this crate.
//!
//! - [`ratings`]: the oversight ratings feed (CSV with a header row, or NDJSON with the same keys).
//! - [`nhsi`]: NHSI's feeds (finance, ward staffing, productivity, operational, oversight status),
//!   CSV or NDJSON; and the finance and ward staffing files `oversight score` reads.
//! - [`cqc_api`]: CQC's public API JSON (locations and providers): the model, its mapping to
//!   evidence, the records of a `CQC_JSON` feed, and the records `oversight rate` audits.
//! - [`split`]: cutting a byte stream into records (capped lines, top-level JSON values).
//!
//! [`records`] reads a feed file of any [`Format`] in constant memory: a bad record is rejected
//! with its file, record number, line, field and reason ([`Rejection`]), and the good records of
//! the same file go on; a file that cannot be read any further ends with a [`ReadError`].

pub mod cqc_api;
pub mod nhsi;
pub mod ratings;
pub mod split;

use std::fmt;
use std::io::Read;

/// The largest single record (a CSV line, an NDJSON line, one CQC JSON object) read into memory.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header row, then records. The header says which feed it is: the oversight ratings feed
    /// ([`ratings`]) or one of NHSI's feeds ([`nhsi`]).
    Csv,
    /// One JSON object per line with the same keys; each line is recognised on its own (a
    /// `record_type` key means the ratings feed, otherwise the NHSI feed its keys match).
    Ndjson,
    /// CQC public API location and provider objects, as one object, an array of them, or NDJSON
    /// ([`cqc_api::records`]).
    CqcJson,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Csv, Format::Ndjson, Format::CqcJson];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::CqcJson => "cqc_json",
        }
    }

    /// Read a stored name back; `None` for a name this version does not write.
    pub fn from_stored(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A rejected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file_name: String,
    /// 1-based record number (a CSV header is not a record; 0 means the header or the file).
    pub record_number: u64,
    /// 1-based line where the record starts (a CSV header is line 1); 0 when unknown.
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl Rejection {
    pub fn new(
        file_name: &str,
        record_number: u64,
        line: u64,
        field: &str,
        reason: impl Into<String>,
    ) -> Self {
        Rejection {
            file_name: file_name.to_string(),
            record_number,
            line,
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} line {} (record {}): {}: {}",
                self.file_name, self.line, self.record_number, self.field, self.reason
            )
        } else {
            write!(
                f,
                "{} record {}: {}: {}",
                self.file_name, self.record_number, self.field, self.reason
            )
        }
    }
}

/// The file could not be read any further (the sender's stream broke). Not a record's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file_name}: reading stopped at line {line}: {reason}")]
pub struct ReadError {
    pub file_name: String,
    pub line: u64,
    pub reason: String,
}

/// A validated record of any feed.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedRecord {
    /// A record of the oversight ratings feed.
    Rating(ratings::RatingRecord),
    /// A record of one of NHSI's feeds.
    Nhsi(nhsi::FeedRow),
    /// A CQC API location object.
    CqcLocation(cqc_api::LocationRecord),
    /// A CQC API provider object.
    CqcProvider(cqc_api::ProviderRecord),
}

/// A validated record and where it is in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based record number.
    pub record_number: u64,
    /// 1-based line where the record starts; 0 when unknown.
    pub line: u64,
    pub record: FeedRecord,
}

/// The outcome of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Record(Record),
    Rejected(Rejection),
}

/// Records of a file, one at a time.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Outcome, ReadError>> + Send + 'a>;

/// Start reading a file of the given format.
pub fn records<'a, R: Read + Send + 'a>(format: Format, file_name: &str, reader: R) -> Records<'a> {
    match format {
        Format::Csv => csv_records(file_name, reader),
        Format::Ndjson => Box::new(ratings::NdjsonRecords::new(file_name, reader)),
        Format::CqcJson => Box::new(cqc_api::records::CqcRecords::new(file_name, reader)),
    }
}

/// A CSV file: the header row decides between the oversight ratings feed and NHSI's feeds.
fn csv_records<'a, R: Read + Send + 'a>(file_name: &str, reader: R) -> Records<'a> {
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, reader);
    let mut header = Vec::new();
    match split::read_line_capped(&mut reader, &mut header, MAX_RECORD_BYTES) {
        // The line was taken off the reader; give it back its end for the CSV reader.
        Ok(split::Line::Complete | split::Line::TooLong) => header.push(b'\n'),
        Ok(split::Line::Eof) => {}
        Err(e) => {
            return Box::new(std::iter::once(Err(ReadError {
                file_name: file_name.to_string(),
                line: 1,
                reason: e.to_string(),
            })));
        }
    }
    let names = header_names(&header);
    let rest = std::io::Cursor::new(header).chain(reader);
    if ratings::is_ratings_header(&names) {
        Box::new(ratings::CsvRecords::new(file_name, rest))
    } else {
        nhsi::csv_records(file_name, rest)
    }
}

fn header_names(line: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    match r.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_string()
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where a record is, for its rejections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    pub file: &'a str,
    pub record: u64,
    pub line: u64,
}

impl At<'_> {
    pub fn reject(&self, field: &str, reason: impl Into<String>) -> Rejection {
        Rejection::new(self.file, self.record, self.line, field, reason)
    }

    pub fn outcome(&self, result: Result<FeedRecord, Rejection>) -> Outcome {
        match result {
            Ok(record) => Outcome::Record(Record {
                record_number: self.record,
                line: self.line,
                record,
            }),
            Err(r) => Outcome::Rejected(r),
        }
    }
}

#[cfg(test)]
mod tests;
