//! Parsing and validating feeds into canonical evidence. Pure and streaming: a reader in, one
//! [`Parsed`] record at a time out, so a file of any size is read in constant memory. A bad record
//! is rejected with its file, record number, line, field and reason; the good records of the same
//! batch go on.
//!
//! Formats (see the service README for the columns):
//! - [`Format::Csv`]: a header row, then records. The header says which feed it is: the oversight
//!   ratings feed ([`ratings`]) or one of NHSI's feeds (finance, ward staffing, productivity,
//!   operational, oversight status; parsed by [`nhsi_rules::feeds`], mapped in [`nhsi`]).
//! - [`Format::Ndjson`]: one JSON object per line with the same keys; each line is recognised on its
//!   own (a `record_type` key means the ratings feed, otherwise the NHSI feed its keys match).
//! - [`Format::CqcJson`]: CQC public API location and provider objects, as one object, an array of
//!   them, or NDJSON ([`cqc`]).

pub mod cqc;
pub mod nhsi;
pub mod ratings;
pub mod split;

use std::fmt;
use std::io::Read;

use oversight_proto::evidence::v1 as ev;

/// The largest single record (a CSV line, an NDJSON line, one CQC JSON object) read into memory.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    CqcJson,
}

impl Format {
    pub fn from_wire(raw: i32) -> Result<Format, String> {
        use oversight_proto::ingestion::v1::FeedFormat;
        match FeedFormat::try_from(raw) {
            Ok(FeedFormat::Csv) => Ok(Format::Csv),
            Ok(FeedFormat::Ndjson) => Ok(Format::Ndjson),
            Ok(FeedFormat::CqcJson) => Ok(Format::CqcJson),
            _ => Err(format!(
                "unknown or unspecified feed format {raw} (expected CSV, NDJSON or CQC_JSON)"
            )),
        }
    }

    /// On the wire (`GetBatchStatus`).
    pub fn wire(self) -> oversight_proto::ingestion::v1::FeedFormat {
        use oversight_proto::ingestion::v1::FeedFormat;
        match self {
            Format::Csv => FeedFormat::Csv,
            Format::Ndjson => FeedFormat::Ndjson,
            Format::CqcJson => FeedFormat::CqcJson,
        }
    }

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
        [Format::Csv, Format::Ndjson, Format::CqcJson]
            .into_iter()
            .find(|f| f.as_str() == s)
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

/// One piece of canonical evidence.
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

/// An accepted record: its position and the evidence it yields (a CQC provider may yield both
/// quality evidence and a use-of-resources rating).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub record_number: u64,
    pub line: u64,
    pub evidence: Vec<Evidence>,
}

/// The outcome of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Accepted(Accepted),
    Rejected(Rejection),
}

/// The file could not be read any further (the sender's stream broke). Not a record's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file_name}: reading stopped at line {line}: {reason}")]
pub struct ReadError {
    pub file_name: String,
    pub line: u64,
    pub reason: String,
}

/// Records of a file, one at a time.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Parsed, ReadError>> + Send + 'a>;

/// Start reading a file of the given format.
pub fn records<'a, R: Read + Send + 'a>(format: Format, file_name: &str, reader: R) -> Records<'a> {
    match format {
        Format::Csv => csv_records(file_name, reader),
        Format::Ndjson => Box::new(ratings::NdjsonRecords::new(file_name, reader)),
        Format::CqcJson => Box::new(cqc::CqcRecords::new(file_name, reader)),
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

/// A whole file parsed at once (tests and small inputs).
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<Rejection>,
    pub read_error: Option<ReadError>,
}

impl ParsedFile {
    pub fn records(&self) -> u64 {
        (self.accepted.len() + self.rejected.len()) as u64
    }
}

/// Parse a whole file in memory.
pub fn parse(format: Format, file_name: &str, content: &[u8]) -> ParsedFile {
    let mut out = ParsedFile::default();
    for item in records(format, file_name, content) {
        match item {
            Ok(Parsed::Accepted(a)) => out.accepted.push(a),
            Ok(Parsed::Rejected(r)) => out.rejected.push(r),
            Err(e) => {
                out.read_error = Some(e);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
