//! Versioned rule sets. Every number and every \[A\] reading of DOMAIN.md is a parameter here, so a
//! changed reading is a new rule set, not an edit to the rating code.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{Rating, RuleSetVersion, ServiceId, Thresholds};
use serde::{Deserialize, Serialize};

use crate::RulesError;
use crate::evidence::MergedExclusion;
use crate::explain::{ExcludedFromTrust, ExclusionCap, SafBand};
use crate::saf::SafPercent;

/// Name of the CQC 2018 rule set (DOMAIN.md §2).
pub const CQC_2018: &str = "cqc-2018";
/// Name of the Single Assessment Framework rule set (DOMAIN.md §5).
pub const SAF_2023: &str = "saf-2023";

/// One versioned rule set: the §2.1 aggregation thresholds, the superseded-area map, the merger
/// exclusion cap, and how a key question × service rating is obtained ([`Scoring`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// The version name recorded on every rating (`cqc-2018`, `saf-2023`).
    pub version: RuleSetVersion,
    /// The §2.1 counting rule (X = 1 / 2 / 3 by size). Under `saf-2023` it supplies the limiters.
    pub thresholds: Thresholds,
    /// Inspection areas replaced by a successor (`maternity` → `npimaternity`). Followed
    /// transitively so a service is never counted twice (see [`RuleSet::successor`]).
    pub superseded_areas: BTreeMap<ServiceId, ServiceId>,
    /// Longest time (in months) a merged organisation's services may be left out of trust
    /// aggregation, counted from the merger date (§2.3: "up to two years" → 24).
    pub merged_exclusion_max_months: u32,
    /// How key question × service ratings are obtained and aggregates are scored.
    pub scoring: Scoring,
}

/// How a rule set scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scoring {
    /// `cqc-2018`: the inspection judgement per key question × service is the input; every level
    /// above is the §2.1 aggregate.
    Ratings,
    /// `saf-2023`: quality-statement scores → percentage → band (see [`SafBands`]).
    QualityStatements(SafBands),
}

/// The SAF score bands (DOMAIN.md §5) and how percentages are formed.
///
/// Percentages are exact ([`SafPercent`]): nothing is rounded before it is banded.
///
/// \[A\] readings, all parameters of `saf-2023`:
/// - a key question × service percentage is the sum of its quality-statement scores ÷ (4 × number
///   of statements), exactly;
/// - the published bands (≥ 88 outstanding, 63–87 good, 39–62 requires improvement, ≤ 38
///   inadequate) are read as their lower bounds: a band starts exactly at its published minimum
///   and runs up to, not including, the next band's minimum. A percentage in a gap between
///   published bands (87 < p < 88, 62 < p < 63, 38 < p < 39) has not reached the higher band's
///   minimum, so it falls in the lower band: 87.5 % is Good, 62.5 % requires improvement, 38.5 %
///   inadequate;
/// - every aggregate (service overall, location and trust key questions, location and trust
///   overall) is the exact mean of the exact percentages beneath it, banded with the same bands,
///   and then limited by the §2.1 rows that lower a rating: at least X inadequate → inadequate;
///   any inadequate or at least X requires improvement → at best requires improvement (X from
///   [`RuleSet::thresholds`]);
/// - a limiter (§2.2) that lowers a scored rating also lowers its percentage to the top of the
///   published band it was limited to (87, 62 or 38), so the aggregates above agree with the
///   limited rating;
/// - if any real rating beneath an aggregate has no score (a rating carried forward from
///   `cqc-2018`), that aggregate falls back to the §2.1 counting rule, and says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafBands {
    /// Lowest percentage rated outstanding (88, exactly: 87.5 is not).
    pub outstanding_min: u32,
    /// Lowest percentage rated good (63).
    pub good_min: u32,
    /// Lowest percentage rated requires improvement (39); below is inadequate.
    pub requires_improvement_min: u32,
}

impl Default for SafBands {
    fn default() -> Self {
        SafBands {
            outstanding_min: 88,
            good_min: 63,
            requires_improvement_min: 39,
        }
    }
}

impl SafBands {
    /// The band of an exact percentage: the best band whose minimum it reaches.
    pub fn band(&self, percent: SafPercent) -> Rating {
        if percent.at_least(self.outstanding_min) {
            Rating::Outstanding
        } else if percent.at_least(self.good_min) {
            Rating::Good
        } else if percent.at_least(self.requires_improvement_min) {
            Rating::RequiresImprovement
        } else {
            Rating::Inadequate
        }
    }

    /// The top of a rating's published band, a whole percentage (100, 87, 62, 38): where a
    /// limiter puts the percentage of a scored rating it lowers.
    pub fn top_of(&self, rating: Rating) -> SafPercent {
        SafPercent::whole(match rating {
            Rating::Outstanding => 100,
            Rating::Good => self.outstanding_min.saturating_sub(1),
            Rating::RequiresImprovement => self.good_min.saturating_sub(1),
            Rating::Inadequate => self.requires_improvement_min.saturating_sub(1),
        })
    }

    /// A rating's band: the published minimum it starts at and the next band's minimum it stays
    /// below (none for outstanding's top and inadequate's bottom).
    pub fn band_of(&self, rating: Rating) -> SafBand {
        let (min, below) = match rating {
            Rating::Outstanding => (Some(self.outstanding_min), None),
            Rating::Good => (Some(self.good_min), Some(self.outstanding_min)),
            Rating::RequiresImprovement => {
                (Some(self.requires_improvement_min), Some(self.good_min))
            }
            Rating::Inadequate => (None, Some(self.requires_improvement_min)),
        };
        SafBand { rating, min, below }
    }

    /// The band in words for explanations, with the gaps made explicit: "≥ 88", "63 to < 88",
    /// "39 to < 63", "< 39".
    pub fn describe(&self, rating: Rating) -> String {
        self.band_of(rating).to_string()
    }
}

/// A quality-statement score, 1–4 (SAF). Parsed at the edge so a rule never sees another value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct QualityStatementScore(u8);

impl QualityStatementScore {
    /// Validates a score; `field` names where it came from in the error.
    pub fn new(value: i64, field: &str) -> Result<Self, RulesError> {
        match u8::try_from(value) {
            Ok(v @ 1..=4) => Ok(QualityStatementScore(v)),
            _ => Err(RulesError::SafScoreOutOfRange {
                field: field.to_string(),
                value,
            }),
        }
    }

    /// The score, 1–4.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for QualityStatementScore {
    type Error = RulesError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        QualityStatementScore::new(value, "statement_scores")
    }
}

impl From<QualityStatementScore> for u8 {
    fn from(s: QualityStatementScore) -> u8 {
        s.0
    }
}

/// The exact percentage of a set of quality-statement scores: sum ÷ (4 × n), not rounded.
/// `None` for no scores.
pub fn saf_percent(scores: &[QualityStatementScore]) -> Option<SafPercent> {
    SafPercent::of_scores(scores)
}

fn default_superseded() -> BTreeMap<ServiceId, ServiceId> {
    [
        ("maternity", "npimaternity"),
        ("outpatients", "npioutpatients"),
    ]
    .into_iter()
    .filter_map(|(old, new)| Some((old.parse().ok()?, new.parse().ok()?)))
    .collect()
}

impl RuleSet {
    /// `cqc-2018` (DOMAIN.md §2) with its published thresholds.
    pub fn cqc_2018() -> Self {
        RuleSet {
            version: RuleSetVersion::from_static(CQC_2018),
            thresholds: Thresholds::cqc_2018(),
            superseded_areas: default_superseded(),
            merged_exclusion_max_months: 24,
            scoring: Scoring::Ratings,
        }
    }

    /// `saf-2023` (DOMAIN.md §5) with bands ≥ 88 O, 63–87 G, 39–62 RI, ≤ 38 I.
    pub fn saf_2023() -> Self {
        RuleSet {
            version: RuleSetVersion::from_static(SAF_2023),
            scoring: Scoring::QualityStatements(SafBands::default()),
            ..RuleSet::cqc_2018()
        }
    }

    /// The built-in rule set called `name`.
    pub fn by_name(name: &str) -> Result<Self, RulesError> {
        match name.trim() {
            CQC_2018 => Ok(RuleSet::cqc_2018()),
            SAF_2023 => Ok(RuleSet::saf_2023()),
            other => Err(RulesError::UnknownRuleSet {
                field: "rule_set".into(),
                value: other.to_string(),
            }),
        }
    }

    /// The rule set for a rating dated `date`: `configured` (a rule set name) if given, else by
    /// date with [`Selection::default`] (`saf-2023` from 2023-11-01).
    pub fn select(date: NaiveDate, configured: Option<&str>) -> Result<Self, RulesError> {
        Selection::default().select(date, configured)
    }

    /// The version name, as recorded on every result.
    pub fn name(&self) -> &str {
        self.version.as_str()
    }

    /// The SAF bands, if this rule set scores quality statements.
    pub fn saf_bands(&self) -> Option<&SafBands> {
        match &self.scoring {
            Scoring::QualityStatements(b) => Some(b),
            Scoring::Ratings => None,
        }
    }

    /// The newest successor of a service's area (see [`newest_area`]).
    pub fn successor<'a>(&'a self, service: &'a ServiceId) -> &'a ServiceId {
        newest_area(&self.superseded_areas, service).0
    }

    /// The end (exclusive) of a merged organisation's service's exclusion from trust
    /// aggregation: `merged_on` + `merged_exclusion_max_months`, or `until` when that is earlier.
    pub fn exclusion_end(&self, m: &MergedExclusion) -> NaiveDate {
        let cap = m
            .merged_on
            .checked_add_months(chrono::Months::new(self.merged_exclusion_max_months))
            .unwrap_or(NaiveDate::MAX);
        m.until.map_or(cap, |until| until.min(cap))
    }

    /// Why a merged organisation's service is left out of trust aggregation as of `as_of`, or
    /// `None` once its exclusion has ended (§2.3: "for up to two years, with the reason stated").
    pub fn merged_exclusion(
        &self,
        m: &MergedExclusion,
        as_of: NaiveDate,
    ) -> Option<ExcludedFromTrust> {
        let end = self.exclusion_end(m);
        if as_of >= end {
            return None;
        }
        let (months, merged_on) = (self.merged_exclusion_max_months, m.merged_on);
        let cap = match m.until {
            Some(requested) if end < requested => ExclusionCap::Capped {
                requested,
                months,
                merged_on,
            },
            Some(_) => ExclusionCap::Requested { merged_on },
            None => ExclusionCap::Full { months, merged_on },
        };
        Some(ExcludedFromTrust {
            organisation: m.organisation.clone(),
            until: end,
            cap,
            reason: m.reason.clone(),
        })
    }
}

/// Follows a superseded-area map (old → new) from `service` to its newest successor, returning it
/// and how many replacements lead there (0: `service` is the newest). A cycle stops at the first
/// repeat.
pub fn newest_area<'a>(
    map: &'a BTreeMap<ServiceId, ServiceId>,
    service: &'a ServiceId,
) -> (&'a ServiceId, usize) {
    let mut current = service;
    let mut steps = 0;
    while let Some(next) = map.get(current) {
        // Chains are short: look for `next` among the areas already visited by walking them
        // again, rather than collecting them (this runs for every service rated).
        let mut visited = service;
        let mut repeat = *visited == *next;
        for _ in 0..steps {
            if repeat {
                break;
            }
            match map.get(visited) {
                Some(v) => visited = v,
                None => break,
            }
            repeat = *visited == *next;
        }
        if repeat {
            break;
        }
        current = next;
        steps += 1;
    }
    (current, steps)
}

/// How the rule set is chosen when none is configured.
///
/// \[A\] `saf-2023` applies to ratings dated on or after 2023-11-01 (CQC began assessing NHS
/// providers under the SAF in late 2023); earlier dates use `cqc-2018`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// First date rated under `saf-2023`.
    pub saf_from: NaiveDate,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            saf_from: NaiveDate::from_ymd_opt(2023, 11, 1).unwrap_or(NaiveDate::MIN),
        }
    }
}

impl Selection {
    /// `configured` if given (an unknown name is an error naming `rule_set`), else by date.
    pub fn select(&self, date: NaiveDate, configured: Option<&str>) -> Result<RuleSet, RulesError> {
        match configured.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => RuleSet::by_name(name),
            None if date >= self.saf_from => Ok(RuleSet::saf_2023()),
            None => Ok(RuleSet::cqc_2018()),
        }
    }
}
