//! Feeds into canonical evidence. Reading and validating the formats is `oversight_feeds`'
//! (a reader in, one typed record or [`Rejection`] at a time out, so a file of any size is read
//! in constant memory); this module maps each record to the evidence messages it yields:
//! [`ratings`] (the oversight ratings feed), [`nhsi`] (NHSI's feeds), [`cqc`] (CQC public API
//! JSON). A bad record is rejected with its file, record number, line, field and reason; the good
//! records of the same batch go on.

pub mod cqc;
pub mod nhsi;
pub mod ratings;

use std::io::Read;

use oversight_feeds::{FeedRecord, Outcome};
pub use oversight_feeds::{Format, MAX_RECORD_BYTES, ReadError, Rejection};
use oversight_proto::evidence::v1 as ev;
use oversight_proto::ingestion::v1::FeedFormat;

/// A feed format from the wire; unknown or unspecified is refused.
pub fn format_from_wire(raw: i32) -> Result<Format, String> {
    match FeedFormat::try_from(raw) {
        Ok(FeedFormat::Csv) => Ok(Format::Csv),
        Ok(FeedFormat::Ndjson) => Ok(Format::Ndjson),
        Ok(FeedFormat::CqcJson) => Ok(Format::CqcJson),
        _ => Err(format!(
            "unknown or unspecified feed format {raw} (expected CSV, NDJSON or CQC_JSON)"
        )),
    }
}

/// A feed format on the wire (`GetBatchStatus`).
pub fn wire_format(format: Format) -> FeedFormat {
    match format {
        Format::Csv => FeedFormat::Csv,
        Format::Ndjson => FeedFormat::Ndjson,
        Format::CqcJson => FeedFormat::CqcJson,
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

/// Records of a file, one at a time.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Parsed, ReadError>> + Send + 'a>;

/// The evidence a validated record yields.
fn evidence(record: FeedRecord) -> Vec<Evidence> {
    match record {
        FeedRecord::Rating(r) => vec![ratings::evidence(r)],
        FeedRecord::Nhsi(row) => vec![nhsi::row_evidence(row)],
        FeedRecord::CqcLocation(l) => vec![cqc::location_evidence(l)],
        FeedRecord::CqcProvider(p) => cqc::provider_evidence(p),
    }
}

/// Start reading a file of the given format.
pub fn records<'a, R: Read + Send + 'a>(format: Format, file_name: &str, reader: R) -> Records<'a> {
    Box::new(
        oversight_feeds::records(format, file_name, reader).map(|item| {
            item.map(|outcome| match outcome {
                Outcome::Record(r) => Parsed::Accepted(Accepted {
                    record_number: r.record_number,
                    line: r.line,
                    evidence: evidence(r.record),
                }),
                Outcome::Rejected(r) => Parsed::Rejected(r),
            })
        }),
    )
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
