//! Oversight statuses (issue 14): financial special measures, quality special measures and
//! deficit support, recorded with their dates and source, and the ones standing on a date.
//!
//! They are inputs the other rules cannot compute: NHSI places a trust in special measures, and a
//! trust receives deficit support, by decision. The rules they change:
//!
//! - **SOF finance score** (DOMAIN.md §4.1, [`crate::sof`]): "financial special measures → 4 \[A\]":
//!   while financial special measures stand on the scored period's date, the overall score is the
//!   rule set's `special_measures_overall`, with the computed score kept beside it.
//! - **SOF segmentation** (§4.4, [`crate::segment`]): segment 4 *is* special measures. Our reading
//!   \[A\]: a trust in special measures, quality or financial, has segment 4 suggested, whatever
//!   the other triggers.
//! - **NOF 2025/26** (§5, [`crate::nof`]): "a provider in segment 1 or 2 reporting a deficit or
//!   receiving deficit support is moved to segment 3": deficit support standing on the date of the
//!   assessment sets `NofProvider::deficit_support`.
//!
//! # Dates \[A\]
//!
//! A status stands from its `from` date up to, not including, its `to` date (the day it ended);
//! without a `to` it still stands. A record is a whole status: recording a status again with the
//! same kind and `from` date (for instance with the `to` date once it ends) replaces the earlier
//! record for the rules ([`standing_on`] takes the latest), while every record is kept.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of oversight status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StatusKind {
    /// NHSI's financial special measures (`financial_special_measures`).
    FinancialSpecialMeasures,
    /// Special measures for quality, on CQC's recommendation (`quality_special_measures`).
    QualitySpecialMeasures,
    /// Interim revenue support for a deficit (`deficit_support`).
    DeficitSupport,
}

impl StatusKind {
    /// All three, in this order.
    pub const ALL: [StatusKind; 3] = [
        StatusKind::FinancialSpecialMeasures,
        StatusKind::QualitySpecialMeasures,
        StatusKind::DeficitSupport,
    ];

    /// The stable name used in feeds, the database and gRPC.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::FinancialSpecialMeasures => "financial_special_measures",
            StatusKind::QualitySpecialMeasures => "quality_special_measures",
            StatusKind::DeficitSupport => "deficit_support",
        }
    }

    /// In words, for explanations.
    pub fn label(self) -> &'static str {
        match self {
            StatusKind::FinancialSpecialMeasures => "financial special measures",
            StatusKind::QualitySpecialMeasures => "quality special measures",
            StatusKind::DeficitSupport => "deficit support",
        }
    }

    /// Whether this kind is special measures (segment 4, §4.4).
    pub fn is_special_measures(self) -> bool {
        matches!(
            self,
            StatusKind::FinancialSpecialMeasures | StatusKind::QualitySpecialMeasures
        )
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the status kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown oversight status kind {0:?} (expected financial_special_measures, quality_special_measures or deficit_support)"
)]
pub struct UnknownStatusKind(pub String);

impl FromStr for StatusKind {
    type Err = UnknownStatusKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        StatusKind::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| UnknownStatusKind(s.to_string()))
    }
}

impl TryFrom<String> for StatusKind {
    type Error = UnknownStatusKind;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<StatusKind> for String {
    fn from(k: StatusKind) -> String {
        k.name().to_string()
    }
}

/// One oversight status of a trust: what, from when, until when, on whose word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OversightStatus {
    /// What.
    pub kind: StatusKind,
    /// The first day it stands.
    pub from: NaiveDate,
    /// The day it ended (it no longer stands on this day); `None` while it still stands.
    pub to: Option<NaiveDate>,
    /// Where it comes from (the decision or publication), e.g. "NHSI board 2018-01".
    pub source: String,
}

/// A status that cannot be recorded, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// A field's value is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
}

impl OversightStatus {
    /// A status, checked: a source is given and it ends after it starts.
    pub fn new(
        kind: StatusKind,
        from: NaiveDate,
        to: Option<NaiveDate>,
        source: &str,
    ) -> Result<Self, StatusError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(StatusError::InvalidArgument {
                field: "source",
                reason: "the source of the status is required".into(),
            });
        }
        if let Some(to) = to
            && to <= from
        {
            return Err(StatusError::InvalidArgument {
                field: "to",
                reason: format!("the status ends on {to}, which is not after it starts ({from})"),
            });
        }
        Ok(OversightStatus {
            kind,
            from,
            to,
            source: source.to_string(),
        })
    }

    /// Whether it stands on `date`: from `from` up to, not including, `to`.
    pub fn stands_on(&self, date: NaiveDate) -> bool {
        self.from <= date && self.to.is_none_or(|to| date < to)
    }

    /// "financial special measures since 2018-01-01 (NHSI board 2018-01)".
    pub fn describe(&self) -> String {
        let until = self.to.map(|t| format!(" until {t}")).unwrap_or_default();
        format!(
            "{} since {}{until} ({})",
            self.kind.label(),
            self.from,
            self.source
        )
    }
}

/// The statuses standing on one date, one per kind and start date.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StandingStatuses {
    /// The date they stand on.
    pub on: Option<NaiveDate>,
    /// The statuses, ordered by kind then start date.
    pub statuses: Vec<OversightStatus>,
}

impl StandingStatuses {
    /// The standing status of `kind` that started first, if any.
    pub fn of(&self, kind: StatusKind) -> Option<&OversightStatus> {
        self.statuses.iter().find(|s| s.kind == kind)
    }

    /// Financial special measures, if they stand.
    pub fn financial_special_measures(&self) -> Option<&OversightStatus> {
        self.of(StatusKind::FinancialSpecialMeasures)
    }

    /// Deficit support, if it stands.
    pub fn deficit_support(&self) -> Option<&OversightStatus> {
        self.of(StatusKind::DeficitSupport)
    }

    /// Special measures of either kind that stand (financial first).
    pub fn special_measures(&self) -> impl Iterator<Item = &OversightStatus> {
        self.statuses
            .iter()
            .filter(|s| s.kind.is_special_measures())
    }
}

/// The statuses standing on `date` from a trust's records in the order they were recorded: of the
/// records of one status (kind and `from` date) the latest is the one that counts.
pub fn standing_on<'a>(
    records: impl IntoIterator<Item = &'a OversightStatus>,
    date: NaiveDate,
) -> StandingStatuses {
    let mut latest: std::collections::BTreeMap<(StatusKind, NaiveDate), &OversightStatus> =
        std::collections::BTreeMap::new();
    for r in records {
        latest.insert((r.kind, r.from), r);
    }
    StandingStatuses {
        on: Some(date),
        statuses: latest
            .into_values()
            .filter(|s| s.stands_on(date))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn status(kind: StatusKind, from: &str, to: Option<&str>) -> OversightStatus {
        OversightStatus::new(kind, date(from), to.map(date), "NHSI").unwrap()
    }

    #[test]
    fn kinds_round_trip_and_an_unknown_kind_is_named() {
        for k in StatusKind::ALL {
            assert_eq!(k.name().parse::<StatusKind>(), Ok(k));
        }
        assert_eq!(
            "special_measures".parse::<StatusKind>(),
            Err(UnknownStatusKind("special_measures".into()))
        );
    }

    #[test]
    fn a_status_stands_from_its_start_until_the_day_it_ends() {
        let s = status(
            StatusKind::FinancialSpecialMeasures,
            "2018-01-01",
            Some("2018-07-01"),
        );
        assert!(!s.stands_on(date("2017-12-31")));
        assert!(s.stands_on(date("2018-01-01")));
        assert!(s.stands_on(date("2018-06-30")));
        assert!(!s.stands_on(date("2018-07-01")));
        let open = status(StatusKind::DeficitSupport, "2018-01-01", None);
        assert!(open.stands_on(date("2030-01-01")));
    }

    #[test]
    fn a_status_needs_a_source_and_an_end_after_its_start() {
        let from = date("2018-01-01");
        let kind = StatusKind::QualitySpecialMeasures;
        assert!(matches!(
            OversightStatus::new(kind, from, Some(date("2017-12-31")), "CQC"),
            Err(StatusError::InvalidArgument { field: "to", .. })
        ));
        assert!(matches!(
            OversightStatus::new(kind, from, Some(from), "CQC"),
            Err(StatusError::InvalidArgument { field: "to", .. })
        ));
        assert!(matches!(
            OversightStatus::new(kind, from, None, "  "),
            Err(StatusError::InvalidArgument {
                field: "source",
                ..
            })
        ));
    }

    #[test]
    fn the_latest_record_of_a_status_counts() {
        // Recorded open, then recorded again with the day it ended.
        let opened = status(StatusKind::FinancialSpecialMeasures, "2018-01-01", None);
        let ended = status(
            StatusKind::FinancialSpecialMeasures,
            "2018-01-01",
            Some("2018-07-01"),
        );
        let support = status(StatusKind::DeficitSupport, "2018-03-01", None);
        let records = [opened.clone(), support.clone(), ended];
        let in_march = standing_on(&records, date("2018-03-31"));
        assert_eq!(
            in_march.financial_special_measures().map(|s| s.to),
            Some(Some(date("2018-07-01")))
        );
        assert_eq!(in_march.deficit_support(), Some(&support));
        let in_september = standing_on(&records, date("2018-09-30"));
        assert_eq!(in_september.financial_special_measures(), None);
        assert_eq!(in_september.special_measures().count(), 0);
        // Only the first record: still standing in September.
        let first_only = standing_on([&opened], date("2018-09-30"));
        assert_eq!(first_only.financial_special_measures(), Some(&opened));
    }
}
