//! Timestamps and dates at the edges: RFC 3339 for instants, ISO 8601 for report dates.

use chrono::{NaiveDate, SecondsFormat, Utc};

/// Now, as RFC 3339 with milliseconds in UTC.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Today in UTC.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Parse an ISO 8601 date (`YYYY-MM-DD`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}
