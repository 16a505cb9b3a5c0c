//! Versioned rule sets. Every number and every \[A\] reading of DOMAIN.md is a parameter here, so a
//! changed reading is a new rule set, not an edit to the rating code.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{Rating, RuleSetVersion, ServiceId, Thresholds};
use serde::{Deserialize, Serialize};

use crate::RulesError;
use crate::explain::SafBand;

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
/// \[A\] readings, all parameters of `saf-2023`:
/// - a key question × service percentage is the sum of its quality-statement scores ÷ (4 × number
///   of statements), rounded half up to a whole percent, then banded;
/// - every aggregate (service overall, location and trust key questions, location and trust
///   overall) is the mean of the whole percentages beneath it, rounded half up, banded with the
///   same bands, and then limited by the §2.1 rows that lower a rating: at least X inadequate →
///   inadequate; any inadequate or at least X requires improvement → at best requires
///   improvement (X from [`RuleSet::thresholds`]);
/// - a limiter (§2.2) that lowers a scored rating also lowers its percentage to the top of the
///   band it was limited to, so the aggregates above agree with the limited rating;
/// - if any real rating beneath an aggregate has no score (a rating carried forward from
///   `cqc-2018`), that aggregate falls back to the §2.1 counting rule, and says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafBands {
    /// Lowest whole percentage rated outstanding (88).
    pub outstanding_min: u32,
    /// Lowest whole percentage rated good (63).
    pub good_min: u32,
    /// Lowest whole percentage rated requires improvement (39); below is inadequate.
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
    /// The band of a whole percentage.
    pub fn band(&self, percent: u32) -> Rating {
        if percent >= self.outstanding_min {
            Rating::Outstanding
        } else if percent >= self.good_min {
            Rating::Good
        } else if percent >= self.requires_improvement_min {
            Rating::RequiresImprovement
        } else {
            Rating::Inadequate
        }
    }

    /// The highest percentage in a rating's band (used when a limiter lowers a scored rating).
    pub fn top_of(&self, rating: Rating) -> u32 {
        match rating {
            Rating::Outstanding => 100,
            Rating::Good => self.outstanding_min.saturating_sub(1),
            Rating::RequiresImprovement => self.good_min.saturating_sub(1),
            Rating::Inadequate => self.requires_improvement_min.saturating_sub(1),
        }
    }

    /// The band of a rating with the percentages it covers.
    pub fn band_of(&self, rating: Rating) -> SafBand {
        let min = match rating {
            Rating::Outstanding => self.outstanding_min,
            Rating::Good => self.good_min,
            Rating::RequiresImprovement => self.requires_improvement_min,
            Rating::Inadequate => 0,
        };
        SafBand {
            rating,
            min,
            max: self.top_of(rating),
        }
    }

    /// "63–87" style text for explanations.
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

/// The whole percentage of a set of quality-statement scores: sum ÷ (4 × n), rounded half up.
/// `None` for no scores.
pub fn saf_percent(scores: &[QualityStatementScore]) -> Option<u32> {
    let n = u32::try_from(scores.len()).ok().filter(|n| *n > 0)?;
    let sum: u32 = scores.iter().map(|s| u32::from(s.get())).sum();
    Some(round_div(sum * 100, 4 * n))
}

/// Integer division rounded half up.
pub(crate) fn round_div(num: u32, den: u32) -> u32 {
    if den == 0 {
        0
    } else {
        (2 * num + den) / (2 * den)
    }
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

    /// The last day a merged organisation's service may be left out: `until`, capped at
    /// `merged_exclusion_max_months` after the merger date when that is known.
    pub fn exclusion_end(&self, until: NaiveDate, merged_on: Option<NaiveDate>) -> NaiveDate {
        merged_on
            .and_then(|m| {
                m.checked_add_months(chrono::Months::new(self.merged_exclusion_max_months))
            })
            .map_or(until, |cap| until.min(cap))
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
