//! The versioned rule sets, shipped as TOML files in `rulesets/` and embedded at compile time.
//!
//! Every threshold that DOMAIN.md marks as an assumption lives in one of these files, not in code;
//! a new rule set is a new file (and a line in [`SHIPPED`]). Parsing validates the values a rule
//! relies on (band order, scores in range, shares between 0 and 1), so a loaded rule set is
//! usable as is.

use std::collections::{BTreeMap, BTreeSet};

use oversight_rating::{CountThreshold, Rating, Thresholds};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::nof::NofPeerGroup;
use crate::segment::OperationalStandard;
use crate::{Direction, TrustType};

/// The rule-set files shipped in this crate: name and TOML text.
pub const SHIPPED: &[(&str, &str)] = &[
    ("sof-2017", include_str!("../rulesets/sof-2017.toml")),
    (
        "uor-suggest-2017",
        include_str!("../rulesets/uor-suggest-2017.toml"),
    ),
    ("nof-2025", include_str!("../rulesets/nof-2025.toml")),
];

/// Why a rule set could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    /// No shipped rule set has this name.
    #[error("unknown rule set {name:?} (shipped: {shipped})")]
    Unknown { name: String, shipped: String },
    /// The file is not valid TOML for this kind of rule set.
    #[error("rule set {name}: {message}")]
    Parse { name: String, message: String },
    /// The file parses but a value breaks a rule's assumptions.
    #[error("rule set {name}: {reason}")]
    Invalid { name: String, reason: String },
}

fn shipped_text(name: &str) -> Result<&'static str, RuleSetError> {
    SHIPPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| RuleSetError::Unknown {
            name: name.to_string(),
            shipped: SHIPPED
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn parse<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, RuleSetError> {
    toml::from_str(text).map_err(|e| RuleSetError::Parse {
        name: name.to_string(),
        message: e.to_string(),
    })
}

fn invalid(name: &str, reason: impl Into<String>) -> RuleSetError {
    RuleSetError::Invalid {
        name: name.to_string(),
        reason: reason.into(),
    }
}

fn rating_from_str<'de, D: Deserializer<'de>>(d: D) -> Result<Rating, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn rating_to_str<S: serde::Serializer>(r: &Rating, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.cqc_str())
}

/// How a value exactly halfway between two whole scores is rounded. Scores run 1 (best) to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MidpointRounding {
    /// Towards the larger, worse score: 2.5 → 3.
    Up,
    /// Towards the smaller, better score: 2.5 → 2.
    Down,
    /// To the even score: 2.5 → 2, 3.5 → 4.
    Even,
}

impl MidpointRounding {
    /// Rounds a non-negative value to a whole number with this midpoint rule.
    pub fn round(self, value: Decimal) -> Decimal {
        let strategy = match self {
            MidpointRounding::Up => RoundingStrategy::MidpointAwayFromZero,
            MidpointRounding::Down => RoundingStrategy::MidpointTowardZero,
            MidpointRounding::Even => RoundingStrategy::MidpointNearestEven,
        };
        value.round_dp_with_strategy(0, strategy)
    }

    /// `"half up"` etc., for explanations.
    pub fn describe(self) -> &'static str {
        match self {
            MidpointRounding::Up => "halves rounded up",
            MidpointRounding::Down => "halves rounded down",
            MidpointRounding::Even => "halves rounded to even",
        }
    }
}

/// One band of a metric's scoring table: values passing `bound` score `score`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The score a value in this band earns (1, 2 or 3; 4 is "passes no band").
    pub score: u8,
    /// The band's edge.
    pub bound: Decimal,
    /// Whether a value equal to the bound is in the band (≥ / ≤) or not (> / <).
    pub inclusive: bool,
}

impl Band {
    /// Whether `value` is in this band for a metric with this direction.
    pub fn passes(&self, direction: Direction, value: Decimal) -> bool {
        match (direction, self.inclusive) {
            (Direction::HigherIsBetter, true) => value >= self.bound,
            (Direction::HigherIsBetter, false) => value > self.bound,
            (Direction::LowerIsBetter, true) => value <= self.bound,
            (Direction::LowerIsBetter, false) => value < self.bound,
        }
    }

    /// The band's condition as written in DOMAIN.md: `> 2.5`, `≤ 0`.
    pub fn describe(&self, direction: Direction) -> String {
        let op = match (direction, self.inclusive) {
            (Direction::HigherIsBetter, true) => "≥",
            (Direction::HigherIsBetter, false) => ">",
            (Direction::LowerIsBetter, true) => "≤",
            (Direction::LowerIsBetter, false) => "<",
        };
        format!("{op} {}", self.bound)
    }

    /// The condition of failing this band (the worst score's condition when this is the last band).
    pub fn describe_failing(&self, direction: Direction) -> String {
        let op = match (direction, self.inclusive) {
            (Direction::HigherIsBetter, true) => "<",
            (Direction::HigherIsBetter, false) => "≤",
            (Direction::LowerIsBetter, true) => ">",
            (Direction::LowerIsBetter, false) => "≥",
        };
        format!("{op} {}", self.bound)
    }
}

/// The scoring table of one SOF finance metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricBands {
    /// The metric's name in explanations ("capital service capacity").
    pub label: String,
    /// The unit appended to values in explanations (`×`, `%`, ` days`).
    pub unit: String,
    /// Which way the metric improves.
    pub direction: Direction,
    /// The bands for scores 1, 2 and 3, in that order.
    pub bands: Vec<Band>,
}

/// The score of one value, with the condition that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BandScore {
    /// 1 (best) to 4.
    pub score: u8,
    /// The condition the value met, e.g. `> 2.5` or `< 1.25`.
    pub condition: String,
}

impl MetricBands {
    /// Scores a value: the first band it passes, else 4.
    pub fn score(&self, value: Decimal) -> BandScore {
        if let Some(band) = self.bands.iter().find(|b| b.passes(self.direction, value)) {
            return BandScore {
                score: band.score,
                condition: band.describe(self.direction),
            };
        }
        BandScore {
            score: 4,
            condition: self
                .bands
                .last()
                .map(|b| b.describe_failing(self.direction))
                .unwrap_or_default(),
        }
    }

    fn validate(&self, key: &str) -> Result<(), String> {
        let scores: Vec<u8> = self.bands.iter().map(|b| b.score).collect();
        if scores != [1, 2, 3] {
            return Err(format!(
                "finance.{key}: bands must be for scores 1, 2 and 3 in that order, found {scores:?}"
            ));
        }
        for pair in self.bands.windows(2) {
            if let [better, worse] = pair {
                // A worse band's bound must not sit on the better side of the better band's bound.
                if self.direction.is_better(worse.bound, better.bound) {
                    return Err(format!(
                        "finance.{key}: band {} bound {} is better than band {} bound {}",
                        worse.score, worse.bound, better.score, better.bound
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The SOF finance and use of resources score's parameters (DOMAIN.md §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinanceRules {
    /// How a mean ending in .5 is rounded.
    pub midpoint_rounding: MidpointRounding,
    /// Any metric scoring 4 limits the overall score to this at best.
    pub any_metric_4_limits_overall_to: u8,
    /// The overall score of a trust in financial special measures.
    pub special_measures_overall: u8,
    /// Capital service capacity (×).
    pub capital_service_capacity: MetricBands,
    /// Liquidity (days).
    pub liquidity_days: MetricBands,
    /// Income and expenditure margin (%).
    pub income_expenditure_margin_pct: MetricBands,
    /// Distance from financial plan (percentage points).
    pub distance_from_plan_pct: MetricBands,
    /// Agency spend above the ceiling (%).
    pub agency_spend_vs_ceiling_pct: MetricBands,
}

/// The operational standards (DOMAIN.md §4.4): the share of patients, in per cent, that must be
/// seen within each standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationalStandards {
    /// A&E: seen within 4 hours.
    pub ae_4h: Decimal,
    /// Referral to treatment: incomplete pathways under 18 weeks.
    pub rtt_18w: Decimal,
    /// Cancer: treated within 62 days of urgent referral.
    pub cancer_62d: Decimal,
    /// Diagnostics: waiting under 6 weeks.
    pub diagnostics_6w: Decimal,
}

impl OperationalStandards {
    /// The standard, in per cent, for one operational standard.
    pub fn threshold_pct(&self, standard: OperationalStandard) -> Decimal {
        match standard {
            OperationalStandard::AeFourHours => self.ae_4h,
            OperationalStandard::Rtt18Weeks => self.rtt_18w,
            OperationalStandard::Cancer62Days => self.cancer_62d,
            OperationalStandard::Diagnostics6Weeks => self.diagnostics_6w,
        }
    }
}

/// From SOF triggers to a suggested segment (see `rulesets/sof-2017.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentationRules {
    /// CQC overall ratings at or below this fire a trigger.
    #[serde(deserialize_with = "rating_from_str", serialize_with = "rating_to_str")]
    pub cqc_trigger_rating: Rating,
    /// Finance scores at or above this fire a trigger.
    pub finance_trigger_score: u8,
    /// CQC overall ratings at or below this make the trigger serious.
    #[serde(deserialize_with = "rating_from_str", serialize_with = "rating_to_str")]
    pub serious_cqc_rating: Rating,
    /// Finance scores at or above this make the trigger serious.
    pub serious_finance_score: u8,
    /// Approved use of resources ratings at or below this fire a finance and use of resources
    /// support-need trigger \[A\].
    #[serde(deserialize_with = "rating_from_str", serialize_with = "rating_to_str")]
    pub uor_trigger_rating: Rating,
    /// Approved use of resources ratings at or below this make that trigger serious \[A\].
    #[serde(deserialize_with = "rating_from_str", serialize_with = "rating_to_str")]
    pub serious_uor_rating: Rating,
    /// Triggers (of any kind) that suggest segment 2.
    pub targeted_support_min_triggers: usize,
    /// Triggers (of any kind) that suggest segment 3.
    pub mandated_support_min_triggers: usize,
    /// Serious triggers that suggest segment 3.
    pub mandated_support_min_serious: usize,
    /// Serious triggers that suggest segment 4.
    pub special_measures_min_serious: usize,
}

/// The SOF rule set (`sof-2017`): finance score, operational standards and segmentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SofRuleSet {
    /// The rule set's name, recorded on every score (`sof-2017`).
    pub name: String,
    /// The finance score.
    pub finance: FinanceRules,
    /// The operational standards.
    pub operational_standards: OperationalStandards,
    /// Triggers to segment.
    pub segmentation: SegmentationRules,
}

impl SofRuleSet {
    /// Loads a shipped SOF rule set by name (`sof-2017`).
    pub fn load(name: &str) -> Result<Self, RuleSetError> {
        Self::from_toml(name, shipped_text(name)?)
    }

    /// The SOF rule set of November 2017.
    pub fn default_2017() -> Result<Self, RuleSetError> {
        Self::load("sof-2017")
    }

    /// Parses and validates a SOF rule set from TOML text; `name` labels errors.
    pub fn from_toml(name: &str, text: &str) -> Result<Self, RuleSetError> {
        let rules: SofRuleSet = parse(name, text)?;
        rules.validate().map_err(|reason| invalid(name, reason))?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), String> {
        let f = &self.finance;
        for (key, bands) in [
            ("capital_service_capacity", &f.capital_service_capacity),
            ("liquidity_days", &f.liquidity_days),
            (
                "income_expenditure_margin_pct",
                &f.income_expenditure_margin_pct,
            ),
            ("distance_from_plan_pct", &f.distance_from_plan_pct),
            (
                "agency_spend_vs_ceiling_pct",
                &f.agency_spend_vs_ceiling_pct,
            ),
        ] {
            bands.validate(key)?;
        }
        for (key, v) in [
            (
                "finance.any_metric_4_limits_overall_to",
                f.any_metric_4_limits_overall_to,
            ),
            (
                "finance.special_measures_overall",
                f.special_measures_overall,
            ),
            (
                "segmentation.finance_trigger_score",
                self.segmentation.finance_trigger_score,
            ),
            (
                "segmentation.serious_finance_score",
                self.segmentation.serious_finance_score,
            ),
        ] {
            if !(1..=4).contains(&v) {
                return Err(format!("{key} must be a score from 1 to 4, found {v}"));
            }
        }
        for standard in OperationalStandard::ALL {
            let v = self.operational_standards.threshold_pct(standard);
            if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED {
                return Err(format!(
                    "operational_standards.{}: must be a percentage from 0 to 100, found {v}",
                    standard.name()
                ));
            }
        }
        Ok(())
    }
}

/// Per-KLOE thresholds of the suggested UoR rating (see `rulesets/uor-suggest-2017.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KloeThresholds {
    /// Fewer positioned metrics than this: no suggestion for the KLOE.
    pub min_metrics: usize,
    /// Share of metrics in the worst quartile that suggests Inadequate.
    pub inadequate_worst_quartile_share: Decimal,
    /// Share of metrics in the worst quartile that suggests Requires improvement.
    pub requires_improvement_worst_quartile_share: Decimal,
    /// Share of metrics in the best quartile (and none in the worst) that suggests Outstanding.
    pub outstanding_best_quartile_share: Decimal,
}

/// How the KLOE suggestions combine into the overall suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverallThresholds {
    /// Inadequate KLOEs that make the overall suggestion Inadequate.
    pub inadequate_kloes: usize,
    /// RI KLOEs that make it RI.
    pub requires_improvement_kloes: usize,
    /// Outstanding KLOEs (the rest good) that make it Outstanding.
    pub outstanding_kloes: usize,
    /// One inadequate KLOE below the threshold still limits it to RI.
    pub any_inadequate_limits_to_ri: bool,
}

impl OverallThresholds {
    /// As the shared counting rule's thresholds.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            inadequate: CountThreshold::Fixed(self.inadequate_kloes),
            requires_improvement: CountThreshold::Fixed(self.requires_improvement_kloes),
            outstanding: CountThreshold::Fixed(self.outstanding_kloes),
            any_inadequate_limits_to_ri: self.any_inadequate_limits_to_ri,
        }
    }
}

/// The suggested UoR rating's rule set (`uor-suggest-2017`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestRuleSet {
    /// The rule set's name.
    pub name: String,
    /// Per KLOE.
    pub kloe: KloeThresholds,
    /// Overall.
    pub overall: OverallThresholds,
}

impl SuggestRuleSet {
    /// Loads a shipped suggestion rule set by name (`uor-suggest-2017`).
    pub fn load(name: &str) -> Result<Self, RuleSetError> {
        Self::from_toml(name, shipped_text(name)?)
    }

    /// The 2017 suggestion rule set.
    pub fn default_2017() -> Result<Self, RuleSetError> {
        Self::load("uor-suggest-2017")
    }

    /// Parses and validates a suggestion rule set from TOML text.
    pub fn from_toml(name: &str, text: &str) -> Result<Self, RuleSetError> {
        let rules: SuggestRuleSet = parse(name, text)?;
        let k = &rules.kloe;
        for (key, v) in [
            (
                "inadequate_worst_quartile_share",
                k.inadequate_worst_quartile_share,
            ),
            (
                "requires_improvement_worst_quartile_share",
                k.requires_improvement_worst_quartile_share,
            ),
            (
                "outstanding_best_quartile_share",
                k.outstanding_best_quartile_share,
            ),
        ] {
            if v <= Decimal::ZERO || v > Decimal::ONE {
                return Err(invalid(
                    name,
                    format!("kloe.{key} must be a share above 0 and at most 1, found {v}"),
                ));
            }
        }
        if k.requires_improvement_worst_quartile_share > k.inadequate_worst_quartile_share {
            return Err(invalid(
                name,
                "kloe.requires_improvement_worst_quartile_share must not exceed inadequate_worst_quartile_share",
            ));
        }
        if k.min_metrics == 0 {
            return Err(invalid(name, "kloe.min_metrics must be at least 1"));
        }
        Ok(rules)
    }
}

/// One NOF metric: its name, direction and, where one exists, its standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NofMetricDef {
    /// Stable snake_case name.
    pub name: String,
    /// Human label.
    #[serde(default)]
    pub label: String,
    /// Which way the metric improves.
    pub direction: Direction,
    /// The standard, when the metric has one: meeting it scores 1.00.
    #[serde(default)]
    pub standard: Option<Decimal>,
}

/// The NHS Oversight Framework 2025/26 rule set (`nof-2025`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NofRuleSet {
    /// The rule set's name.
    pub name: String,
    /// Decimal places of metric and delivery scores.
    pub decimal_places: u32,
    /// Providers in this segment or better may be moved by the deficit override.
    pub deficit_override_max_segment: u8,
    /// The segment the deficit override moves them to.
    pub deficit_override_segment: u8,
    /// The peer group of each trust type: providers are scored, quartiled and ranked only
    /// within their peer group. Every trust type has one (checked on load).
    pub peer_groups: BTreeMap<TrustType, NofPeerGroup>,
    /// The metric catalogue.
    pub metrics: Vec<NofMetricDef>,
}

impl NofRuleSet {
    /// Loads a shipped NOF rule set by name (`nof-2025`).
    pub fn load(name: &str) -> Result<Self, RuleSetError> {
        Self::from_toml(name, shipped_text(name)?)
    }

    /// The 2025/26 framework.
    pub fn default_2025() -> Result<Self, RuleSetError> {
        Self::load("nof-2025")
    }

    /// Parses and validates a NOF rule set from TOML text.
    pub fn from_toml(name: &str, text: &str) -> Result<Self, RuleSetError> {
        let rules: NofRuleSet = parse(name, text)?;
        if rules.decimal_places > 10 {
            return Err(invalid(name, "decimal_places must be at most 10"));
        }
        for (key, v) in [
            (
                "deficit_override_max_segment",
                rules.deficit_override_max_segment,
            ),
            ("deficit_override_segment", rules.deficit_override_segment),
        ] {
            if !(1..=4).contains(&v) {
                return Err(invalid(
                    name,
                    format!("{key} must be a segment from 1 to 4, found {v}"),
                ));
            }
        }
        if let Some(t) = TrustType::ALL
            .into_iter()
            .find(|t| !rules.peer_groups.contains_key(t))
        {
            return Err(invalid(
                name,
                format!("peer_groups has no peer group for {}", t.as_str()),
            ));
        }
        let mut seen = BTreeSet::new();
        for m in &rules.metrics {
            if m.name.trim().is_empty() || !seen.insert(m.name.as_str()) {
                return Err(invalid(
                    name,
                    format!("metric names must be unique and non-empty: {:?}", m.name),
                ));
            }
        }
        Ok(rules)
    }

    /// The metric with this name, if the catalogue has it.
    pub fn metric(&self, name: &str) -> Option<&NofMetricDef> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The peer group a trust type is compared in. A loaded rule set maps every type; for one
    /// built by hand without a mapping, the framework's own ([`NofPeerGroup::published`]).
    pub fn peer_group(&self, trust_type: TrustType) -> NofPeerGroup {
        self.peer_groups
            .get(&trust_type)
            .copied()
            .unwrap_or_else(|| NofPeerGroup::published(trust_type))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_rule_set_loads() {
        assert_eq!(
            SofRuleSet::default_2017().map(|r| r.name),
            Ok("sof-2017".into())
        );
        assert_eq!(
            SuggestRuleSet::default_2017().map(|r| r.name),
            Ok("uor-suggest-2017".into())
        );
        let nof = NofRuleSet::default_2025();
        assert_eq!(nof.as_ref().map(|r| r.name.as_str()), Ok("nof-2025"));
        // The framework's three peer groups, every trust type in one of them.
        let groups: BTreeSet<NofPeerGroup> = nof
            .as_ref()
            .map(|n| n.peer_groups.values().copied().collect())
            .unwrap_or_default();
        assert_eq!(groups, NofPeerGroup::ALL.into_iter().collect());
        assert!(nof.is_ok_and(|n| n.metric("ae_4h").is_some_and(|m| m.standard.is_some())));
    }

    #[test]
    fn unknown_and_wrong_kind_rule_sets_are_errors() {
        assert!(matches!(
            SofRuleSet::load("sof-2099"),
            Err(RuleSetError::Unknown { .. })
        ));
        // A NOF file is not a SOF rule set.
        assert!(matches!(
            SofRuleSet::load("nof-2025"),
            Err(RuleSetError::Parse { .. })
        ));
    }

    #[test]
    fn a_nof_rule_set_must_place_every_trust_type_in_a_peer_group() {
        let text = shipped_text("nof-2025").expect("ships");
        let without = text.replace("ambulance = \"ambulance\"\n", "");
        assert_ne!(without, text);
        match NofRuleSet::from_toml("nof-test", &without) {
            Err(RuleSetError::Invalid { reason, .. }) => {
                assert!(reason.contains("no peer group for ambulance"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let unknown = text.replace("ambulance = \"ambulance\"", "ambulance = \"paramedic\"");
        assert!(matches!(
            NofRuleSet::from_toml("nof-test", &unknown),
            Err(RuleSetError::Parse { .. })
        ));
    }

    #[test]
    fn standards_are_read_from_the_file() {
        let r = SofRuleSet::default_2017().expect("ships");
        let s = &r.operational_standards;
        assert_eq!(
            [s.ae_4h, s.rtt_18w, s.cancer_62d, s.diagnostics_6w],
            [95, 92, 85, 99].map(Decimal::from)
        );
    }

    fn sof_text() -> &'static str {
        shipped_text("sof-2017").expect("ships")
    }

    #[test]
    fn bands_out_of_order_are_invalid() {
        let bad = sof_text().replace(
            "{ score = 2, bound = \"1.75\", inclusive = true }",
            "{ score = 2, bound = \"3\", inclusive = true }",
        );
        let err = SofRuleSet::from_toml("bad", &bad);
        assert!(
            matches!(&err, Err(RuleSetError::Invalid { reason, .. }) if reason.contains("capital_service_capacity")),
            "{err:?}"
        );
        let bad = sof_text().replace(
            "{ score = 3, bound = \"1.25\"",
            "{ score = 4, bound = \"1.25\"",
        );
        assert!(matches!(
            SofRuleSet::from_toml("bad", &bad),
            Err(RuleSetError::Invalid { .. })
        ));
    }

    #[test]
    fn out_of_range_values_are_invalid() {
        let bad = sof_text().replace(
            "special_measures_overall = 4",
            "special_measures_overall = 5",
        );
        assert!(matches!(
            SofRuleSet::from_toml("bad", &bad),
            Err(RuleSetError::Invalid { .. })
        ));
        let bad = sof_text().replace("ae_4h = \"95\"", "ae_4h = \"195\"");
        assert!(matches!(
            SofRuleSet::from_toml("bad", &bad),
            Err(RuleSetError::Invalid { .. })
        ));
        let text = shipped_text("uor-suggest-2017").expect("ships");
        let bad = text.replace(
            "requires_improvement_worst_quartile_share = \"0.25\"",
            "requires_improvement_worst_quartile_share = \"0.75\"",
        );
        assert!(matches!(
            SuggestRuleSet::from_toml("bad", &bad),
            Err(RuleSetError::Invalid { .. })
        ));
    }

    #[test]
    fn midpoint_rounding_modes() {
        let half = |n: i64| Decimal::new(n * 10 + 5, 1);
        let cases = [
            (MidpointRounding::Up, [2, 3, 4]),
            (MidpointRounding::Down, [1, 2, 3]),
            (MidpointRounding::Even, [2, 2, 4]),
        ];
        for (mode, want) in cases {
            let got = [1, 2, 3].map(|n| mode.round(half(n)));
            assert_eq!(got, want.map(Decimal::from), "{mode:?}");
        }
        assert_eq!(
            MidpointRounding::Down.round(Decimal::new(26, 1)),
            Decimal::from(3)
        );
    }
}
