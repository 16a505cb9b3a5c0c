//! Productivity metrics (DOMAIN.md §4.2) and a trust's position in its peer group.
//!
//! Every metric has a stable snake_case name (used in the productivity feed), a key line of
//! enquiry (KLOE) and a direction. The five finance metrics of the SOF score are listed under the
//! finance KLOE so that finance can be positioned against peers like the rest.
//!
//! Besides DOMAIN.md §4.2's list, the clinical services KLOE carries the efficiency measures CQC
//! suggested (seed 002: "cancellation rates, delayed discharges and waiting times"; seed 003: the
//! UoR assessment looks at "length of stay and readmission rates"): on-the-day cancelled elective
//! operations per 100 elective admissions (lower is better), RTT incomplete pathways within 18
//! weeks, % (the waiting time DOMAIN.md §4.4 names; higher is better) and average length of stay,
//! elective and non-elective, in days (lower is better). Delayed discharges and readmissions were
//! already listed. Their definitions are our reading \[A\].
//!
//! # Quartile method
//! A trust's quartile comes from its rank among the peer values: with `n` peer values of which
//! `b` are strictly better than the trust's value (by the metric's direction),
//! `quartile = min(4, 1 + ⌊4·b / n⌋)`. Quartile 1 is the best. Ties favour the trust (an equal
//! value is not "better"). Peer values normally include the trust's own value; if they do not, a
//! trust worse than every peer lands in quartile 4. The peer median is the middle value (the mean
//! of the two middle values for an even count); `distance_from_median = trust value − median`, so
//! its sign says above or below and the metric's direction says whether that is good.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Direction, TrustType};

/// NHSI's five key lines of enquiry for use of resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kloe {
    /// Clinical services.
    ClinicalServices,
    /// People.
    People,
    /// Clinical support services.
    ClinicalSupportServices,
    /// Corporate services, procurement, estates and facilities.
    CorporateServicesProcurementEstates,
    /// Finance.
    Finance,
}

impl Kloe {
    /// All five, in the order NHSI lists them.
    pub const ALL: [Kloe; 5] = [
        Kloe::ClinicalServices,
        Kloe::People,
        Kloe::ClinicalSupportServices,
        Kloe::CorporateServicesProcurementEstates,
        Kloe::Finance,
    ];

    /// Lower-case words for reasons ("4 of 6 people metrics …").
    pub fn label(self) -> &'static str {
        match self {
            Kloe::ClinicalServices => "clinical services",
            Kloe::People => "people",
            Kloe::ClinicalSupportServices => "clinical support services",
            Kloe::CorporateServicesProcurementEstates => {
                "corporate services, procurement, estates and facilities"
            }
            Kloe::Finance => "finance",
        }
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Kloe::ClinicalServices => "clinical_services",
            Kloe::People => "people",
            Kloe::ClinicalSupportServices => "clinical_support_services",
            Kloe::CorporateServicesProcurementEstates => "corporate_services_procurement_estates",
            Kloe::Finance => "finance",
        }
    }
}

impl fmt::Display for Kloe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A productivity metric. Its stable name is [`Metric::name`]; [`METRICS`] lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Metric {
    PreProcedureElectiveBedDays,
    PreProcedureNonElectiveBedDays,
    EmergencyReadmissions30Days,
    OutpatientDnaRate,
    DelayedTransfersOfCare,
    CancelledElectiveOperations,
    Rtt18WeekIncompleteWithinPct,
    AverageLengthOfStayElective,
    AverageLengthOfStayNonElective,
    StaffRetentionRate,
    SicknessAbsenceRate,
    PayCostPerWau,
    AgencySpendPct,
    VacancyRate,
    CareHoursPerPatientDay,
    PathologyCostPerTest,
    ImagingCostPerExam,
    MedicinesCostPerWau,
    NonPayCostPerWau,
    CorporateServicesCostPctIncome,
    ProcurementEfficiencyScore,
    EstatesCostPerM2,
    CapitalServiceCapacity,
    LiquidityDays,
    IncomeExpenditureMarginPct,
    DistanceFromPlanPct,
    AgencySpendVsCeilingPct,
}

/// A metric's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The metric.
    pub metric: Metric,
    /// Stable snake_case name, as in the productivity feed.
    pub name: &'static str,
    /// What it measures, for people.
    pub label: &'static str,
    /// Its key line of enquiry.
    pub kloe: Kloe,
    /// Which way it improves.
    pub direction: Direction,
    /// Its unit.
    pub unit: &'static str,
}

const fn def(
    metric: Metric,
    name: &'static str,
    label: &'static str,
    kloe: Kloe,
    direction: Direction,
    unit: &'static str,
) -> MetricDef {
    MetricDef {
        metric,
        name,
        label,
        kloe,
        direction,
        unit,
    }
}

use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower};
use Kloe::*;

/// Every productivity metric, in [`Metric`] declaration order.
pub const METRICS: &[MetricDef] = &[
    def(
        Metric::PreProcedureElectiveBedDays,
        "pre_procedure_elective_bed_days",
        "pre-procedure elective bed days",
        ClinicalServices,
        Lower,
        "days",
    ),
    def(
        Metric::PreProcedureNonElectiveBedDays,
        "pre_procedure_non_elective_bed_days",
        "pre-procedure non-elective bed days",
        ClinicalServices,
        Lower,
        "days",
    ),
    def(
        Metric::EmergencyReadmissions30Days,
        "emergency_readmissions_30_days",
        "emergency readmissions within 30 days",
        ClinicalServices,
        Lower,
        "%",
    ),
    def(
        Metric::OutpatientDnaRate,
        "outpatient_dna_rate",
        "outpatient did-not-attend rate",
        ClinicalServices,
        Lower,
        "%",
    ),
    def(
        Metric::DelayedTransfersOfCare,
        "delayed_transfers_of_care",
        "delayed transfers of care",
        ClinicalServices,
        Lower,
        "% of occupied bed days",
    ),
    // CQC's suggested efficiency measures (issue 14): seed 002 "cancellation rates, delayed
    // discharges and waiting times" (delayed discharges are `delayed_transfers_of_care` above) and
    // seed 003 "length of stay and readmission rates" (readmissions are above). [A] definitions.
    def(
        Metric::CancelledElectiveOperations,
        "cancelled_elective_operations",
        "elective operations cancelled on the day for non-clinical reasons",
        ClinicalServices,
        Lower,
        "per 100 elective admissions",
    ),
    // The waiting time DOMAIN.md §4.4 names: RTT incomplete pathways within 18 weeks. The
    // operational feed's `rtt_18w` checks the same share against the 92 % standard (a segmentation
    // trigger); here it is positioned against peers.
    def(
        Metric::Rtt18WeekIncompleteWithinPct,
        "rtt_incomplete_within_18_weeks_pct",
        "RTT incomplete pathways within 18 weeks",
        ClinicalServices,
        Higher,
        "%",
    ),
    def(
        Metric::AverageLengthOfStayElective,
        "average_length_of_stay_elective",
        "average length of stay, elective",
        ClinicalServices,
        Lower,
        "days",
    ),
    def(
        Metric::AverageLengthOfStayNonElective,
        "average_length_of_stay_non_elective",
        "average length of stay, non-elective",
        ClinicalServices,
        Lower,
        "days",
    ),
    def(
        Metric::StaffRetentionRate,
        "staff_retention_rate",
        "staff retention rate",
        People,
        Higher,
        "%",
    ),
    def(
        Metric::SicknessAbsenceRate,
        "sickness_absence_rate",
        "sickness absence rate",
        People,
        Lower,
        "%",
    ),
    def(
        Metric::PayCostPerWau,
        "pay_cost_per_wau",
        "pay cost per weighted activity unit",
        People,
        Lower,
        "£",
    ),
    def(
        Metric::AgencySpendPct,
        "agency_spend_pct",
        "agency spend",
        People,
        Lower,
        "% of pay bill",
    ),
    def(
        Metric::VacancyRate,
        "vacancy_rate",
        "vacancy rate",
        People,
        Lower,
        "%",
    ),
    def(
        Metric::CareHoursPerPatientDay,
        "care_hours_per_patient_day",
        "care hours per patient day",
        People,
        Higher,
        "hours",
    ),
    def(
        Metric::PathologyCostPerTest,
        "pathology_cost_per_test",
        "pathology cost per test",
        ClinicalSupportServices,
        Lower,
        "£",
    ),
    def(
        Metric::ImagingCostPerExam,
        "imaging_cost_per_exam",
        "imaging cost per exam",
        ClinicalSupportServices,
        Lower,
        "£",
    ),
    def(
        Metric::MedicinesCostPerWau,
        "medicines_cost_per_wau",
        "medicines cost per weighted activity unit",
        ClinicalSupportServices,
        Lower,
        "£",
    ),
    def(
        Metric::NonPayCostPerWau,
        "non_pay_cost_per_wau",
        "non-pay cost per weighted activity unit",
        CorporateServicesProcurementEstates,
        Lower,
        "£",
    ),
    def(
        Metric::CorporateServicesCostPctIncome,
        "corporate_services_cost_pct_income",
        "corporate services cost as % of income",
        CorporateServicesProcurementEstates,
        Lower,
        "%",
    ),
    def(
        Metric::ProcurementEfficiencyScore,
        "procurement_efficiency_score",
        "procurement efficiency score",
        CorporateServicesProcurementEstates,
        Higher,
        "score",
    ),
    def(
        Metric::EstatesCostPerM2,
        "estates_cost_per_m2",
        "estates cost per m²",
        CorporateServicesProcurementEstates,
        Lower,
        "£/m²",
    ),
    def(
        Metric::CapitalServiceCapacity,
        "capital_service_capacity",
        "capital service capacity",
        Finance,
        Higher,
        "×",
    ),
    def(
        Metric::LiquidityDays,
        "liquidity_days",
        "liquidity",
        Finance,
        Higher,
        "days",
    ),
    def(
        Metric::IncomeExpenditureMarginPct,
        "income_expenditure_margin_pct",
        "income and expenditure margin",
        Finance,
        Higher,
        "%",
    ),
    def(
        Metric::DistanceFromPlanPct,
        "distance_from_plan_pct",
        "distance from financial plan",
        Finance,
        Higher,
        "pp",
    ),
    def(
        Metric::AgencySpendVsCeilingPct,
        "agency_spend_vs_ceiling_pct",
        "agency spend above ceiling",
        Finance,
        Lower,
        "%",
    ),
];

impl Metric {
    /// The metric's definition.
    pub fn def(self) -> &'static MetricDef {
        // METRICS is in declaration order (checked by a test), so the discriminant indexes it.
        &METRICS[self as usize]
    }

    /// Stable snake_case name.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Its key line of enquiry.
    pub fn kloe(self) -> Kloe {
        self.def().kloe
    }

    /// Which way it improves.
    pub fn direction(self) -> Direction {
        self.def().direction
    }

    /// The values a feed may carry for this metric, as (minimum, maximum), inclusive: rates and
    /// shares are 0–100 %, costs, days, hours and scores are not negative, and the finance
    /// metrics (which can be negative or above 100 %) are unbounded.
    pub fn valid_range(self) -> (Option<Decimal>, Option<Decimal>) {
        let d = self.def();
        if d.kloe == Kloe::Finance {
            (None, None)
        } else if d.unit.starts_with('%') {
            (Some(Decimal::ZERO), Some(Decimal::ONE_HUNDRED))
        } else {
            (Some(Decimal::ZERO), None)
        }
    }

    /// Every metric, in declaration order.
    pub fn all() -> impl Iterator<Item = Metric> {
        METRICS.iter().map(|d| d.metric)
    }
}

/// The stable names of every productivity metric, for documentation and error messages.
pub fn metric_names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|d| d.name)
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a productivity metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown productivity metric {0:?}")]
pub struct UnknownMetric(pub String);

impl FromStr for Metric {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        METRICS
            .iter()
            .find(|d| d.name == t)
            .map(|d| d.metric)
            .ok_or_else(|| UnknownMetric(s.to_string()))
    }
}

impl TryFrom<String> for Metric {
    type Error = UnknownMetric;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Metric> for String {
    fn from(m: Metric) -> String {
        m.name().to_string()
    }
}

/// The peers a trust is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerGroup {
    /// All trusts of a type nationally.
    National { trust_type: TrustType },
    /// A named peer set (e.g. a Model Hospital peer group).
    Named(String),
}

impl fmt::Display for PeerGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerGroup::National { trust_type } => write!(f, "national {trust_type} trusts"),
            PeerGroup::Named(name) => write!(f, "peer group {name}"),
        }
    }
}

/// Where a trust's value of a metric sits in its peer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricPosition {
    /// The metric.
    pub metric: Metric,
    /// The trust's value.
    pub trust_value: Decimal,
    /// 1 (best) to 4 (worst); see the module docs for the method.
    pub quartile: u8,
    /// The peer group's median.
    pub peer_median: Decimal,
    /// Trust value − median.
    pub distance_from_median: Decimal,
    /// Who the peers are.
    pub peer_group: PeerGroup,
    /// How many peer values were compared.
    pub n_peers: usize,
}

/// Why a position cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    /// No peer values.
    #[error("no peer values for {metric} in {peer_group}")]
    NoPeers {
        metric: Metric,
        peer_group: PeerGroup,
    },
}

/// The median of a non-empty set of values (mean of the middle two for an even count).
pub fn median(values: &[Decimal]) -> Option<Decimal> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    let upper = *sorted.get(n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = *sorted.get(n / 2 - 1)?;
    Some((lower + upper) / Decimal::TWO)
}

/// The quartile (1 = best) of a trust with `better` of `n` values strictly better than its own.
pub fn quartile_from_rank(better: usize, n: usize) -> u8 {
    if n == 0 {
        return 1;
    }
    match (4 * better) / n {
        0 => 1,
        1 => 2,
        2 => 3,
        _ => 4,
    }
}

/// Positions a trust's value of a metric within its peer group's values.
pub fn position_in_peer_group(
    metric: Metric,
    trust_value: Decimal,
    peer_values: &[Decimal],
    peer_group: PeerGroup,
) -> Result<MetricPosition, PositionError> {
    let Some(peer_median) = median(peer_values) else {
        return Err(PositionError::NoPeers { metric, peer_group });
    };
    let direction = metric.direction();
    let better = peer_values
        .iter()
        .filter(|&&v| direction.is_better(v, trust_value))
        .count();
    Ok(MetricPosition {
        metric,
        trust_value,
        quartile: quartile_from_rank(better, peer_values.len()),
        peer_median,
        distance_from_median: trust_value - peer_median,
        peer_group,
        n_peers: peer_values.len(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::d;
    use proptest::prelude::*;

    fn dec(v: &[i64]) -> Vec<Decimal> {
        v.iter().map(|&x| Decimal::from(x)).collect()
    }

    fn national() -> PeerGroup {
        PeerGroup::National {
            trust_type: TrustType::Acute,
        }
    }

    #[test]
    fn metrics_table_is_in_declaration_order_and_names_are_unique() {
        for (i, d) in METRICS.iter().enumerate() {
            assert_eq!(d.metric as usize, i, "{}", d.name);
            assert_eq!(d.name.parse::<Metric>(), Ok(d.metric));
            assert_eq!(
                serde_json::to_string(&d.metric).ok(),
                Some(format!("\"{}\"", d.name))
            );
            assert!(
                d.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
        }
        let mut names: Vec<_> = metric_names().collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for k in Kloe::ALL {
            assert!(Metric::all().any(|m| m.kloe() == k), "{k} has metrics");
        }
        assert_eq!(
            Metric::all().filter(|m| m.kloe() == Kloe::People).count(),
            6
        );
        assert!("bed_days".parse::<Metric>().is_err());
    }

    #[test]
    fn quartile_by_rank_table() {
        // (better, n, quartile)
        let cases = [
            (0, 4, 1),
            (1, 4, 2),
            (2, 4, 3),
            (3, 4, 4),
            (4, 4, 4),
            (0, 8, 1),
            (1, 8, 1),
            (2, 8, 2),
            (3, 8, 2),
            (4, 8, 3),
            (5, 8, 3),
            (6, 8, 4),
            (7, 8, 4),
            (0, 1, 1),
            (0, 5, 1),
            (1, 5, 1),
            (2, 5, 2),
            (3, 5, 3),
            (4, 5, 4),
        ];
        for (b, n, q) in cases {
            assert_eq!(quartile_from_rank(b, n), q, "{b} of {n}");
        }
    }

    #[test]
    fn positions_respect_direction() {
        let peers = dec(&[10, 20, 30, 40, 50, 60, 70, 80]);
        // Lower is better: sickness absence.
        let low = position_in_peer_group(
            Metric::SicknessAbsenceRate,
            Decimal::from(10),
            &peers,
            national(),
        )
        .expect("peers");
        assert_eq!(low.quartile, 1);
        assert_eq!(low.peer_median, Decimal::from(45));
        assert_eq!(low.distance_from_median, Decimal::from(-35));
        assert_eq!(low.n_peers, 8);
        let high = position_in_peer_group(
            Metric::StaffRetentionRate,
            Decimal::from(10),
            &peers,
            national(),
        )
        .expect("peers");
        assert_eq!(high.quartile, 4);
        let mid = position_in_peer_group(
            Metric::StaffRetentionRate,
            Decimal::from(50),
            &peers,
            national(),
        )
        .expect("peers");
        // 60, 70, 80 are better: 3 of 8 → quartile 2.
        assert_eq!(mid.quartile, 2);
    }

    #[test]
    fn ties_favour_the_trust_and_odd_median() {
        let peers = dec(&[5, 5, 5]);
        let p = position_in_peer_group(
            Metric::VacancyRate,
            Decimal::from(5),
            &peers,
            PeerGroup::Named("north".into()),
        )
        .expect("peers");
        assert_eq!(p.quartile, 1);
        assert_eq!(p.peer_median, Decimal::from(5));
        assert_eq!(median(&dec(&[3, 1, 2])), Some(Decimal::from(2)));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn no_peers_is_an_error() {
        assert_eq!(
            position_in_peer_group(Metric::VacancyRate, Decimal::ONE, &[], national()),
            Err(PositionError::NoPeers {
                metric: Metric::VacancyRate,
                peer_group: national()
            })
        );
    }

    fn decs(v: &[&str]) -> Vec<Decimal> {
        v.iter().map(|s| d(s)).collect()
    }

    /// The efficiency measures CQC suggested (seeds 002, 003) are clinical services metrics with
    /// the direction their meaning gives: fewer cancellations, shorter stays, more patients
    /// within 18 weeks are better. Parsed from their feed names, with the feed's value ranges.
    #[test]
    fn efficiency_measures_are_clinical_with_their_directions() {
        let cases = [
            ("cancelled_elective_operations", Direction::LowerIsBetter),
            (
                "rtt_incomplete_within_18_weeks_pct",
                Direction::HigherIsBetter,
            ),
            ("average_length_of_stay_elective", Direction::LowerIsBetter),
            (
                "average_length_of_stay_non_elective",
                Direction::LowerIsBetter,
            ),
        ];
        for (name, direction) in cases {
            let m: Metric = name.parse().expect(name);
            assert_eq!(m.kloe(), Kloe::ClinicalServices, "{name}");
            assert_eq!(m.direction(), direction, "{name}");
        }
        // A share of pathways is 0–100 %; cancellations per 100 admissions and days are ≥ 0.
        assert_eq!(
            Metric::Rtt18WeekIncompleteWithinPct.valid_range(),
            (Some(Decimal::ZERO), Some(Decimal::ONE_HUNDRED))
        );
        for m in [
            Metric::CancelledElectiveOperations,
            Metric::AverageLengthOfStayElective,
            Metric::AverageLengthOfStayNonElective,
        ] {
            assert_eq!(m.valid_range(), (Some(Decimal::ZERO), None), "{m}");
        }
    }

    /// Hand-worked quartiles (DOMAIN.md §4.2; the method of the module docs: b peer values
    /// strictly better than the trust's of n, quartile = min(4, 1 + ⌊4b/n⌋), 1 best).
    #[test]
    fn efficiency_measures_hand_worked_quartiles() {
        let north = || PeerGroup::Named("north".into());

        // Cancelled elective operations per 100 elective admissions, lower is better.
        // Peers ranked best first: 0.8, 1.2, 1.5, 2.0, 3.1 (n = 5, median 1.5).
        // The trust at 2.0: 0.8, 1.2 and 1.5 are better, b = 3 → ⌊12/5⌋ = 2 → quartile 3;
        // 2.0 − 1.5 = +0.5 from the median. At 0.8: b = 0 → quartile 1. At 3.1: b = 4 →
        // ⌊16/5⌋ = 3 → quartile 4.
        let peers = decs(&["1.5", "3.1", "0.8", "2.0", "1.2"]);
        let p = position_in_peer_group(
            Metric::CancelledElectiveOperations,
            d("2.0"),
            &peers,
            north(),
        )
        .expect("peers");
        assert_eq!(p.quartile, 3);
        assert_eq!(p.peer_median, d("1.5"));
        assert_eq!(p.distance_from_median, d("0.5"));
        assert_eq!(p.n_peers, 5);
        for (v, q) in [("0.8", 1), ("3.1", 4)] {
            let p =
                position_in_peer_group(Metric::CancelledElectiveOperations, d(v), &peers, north())
                    .expect("peers");
            assert_eq!(p.quartile, q, "cancellations {v}");
        }

        // RTT incomplete pathways within 18 weeks, %, higher is better.
        // Peers ranked best first: 95.0, 92.3, 88.1, 84.6 (n = 4, median (92.3 + 88.1) / 2 = 90.2).
        // At 88.1: 95.0 and 92.3 are better, b = 2 → ⌊8/4⌋ = 2 → quartile 3, 2.1 below the
        // median. At 95.0: b = 0 → quartile 1. At 84.6: b = 3 → quartile 4.
        let peers = decs(&["84.6", "92.3", "95.0", "88.1"]);
        let expected = [("88.1", 3), ("95.0", 1), ("84.6", 4)];
        for (v, q) in expected {
            let p =
                position_in_peer_group(Metric::Rtt18WeekIncompleteWithinPct, d(v), &peers, north())
                    .expect("peers");
            assert_eq!(p.quartile, q, "RTT {v}");
            assert_eq!(p.peer_median, d("90.2"));
        }
        // Direction respected: with the same peers and values a lower-is-better metric reverses
        // the order — 84.6 has no lower peer (b = 0, quartile 1), 95.0 has three (quartile 4).
        for (v, q) in [("84.6", 1), ("95.0", 4)] {
            let p =
                position_in_peer_group(Metric::AverageLengthOfStayElective, d(v), &peers, north())
                    .expect("peers");
            assert_eq!(p.quartile, q, "lower is better {v}");
        }

        // Average length of stay, elective, days, lower is better.
        // Peers ranked best first: 2.9, 3.4, 3.4, 4.1, 5.0, 6.2 (n = 6, median (3.4 + 4.1) / 2
        // = 3.75). At 3.4: only 2.9 is better (the other 3.4 ties, and ties favour the trust),
        // b = 1 → ⌊4/6⌋ = 0 → quartile 1. At 5.0: b = 4 → ⌊16/6⌋ = 2 → quartile 3. At 6.2:
        // b = 5 → ⌊20/6⌋ = 3 → quartile 4.
        let peers = decs(&["3.4", "6.2", "2.9", "5.0", "4.1", "3.4"]);
        for (v, q) in [("3.4", 1), ("5.0", 3), ("6.2", 4)] {
            let p =
                position_in_peer_group(Metric::AverageLengthOfStayElective, d(v), &peers, north())
                    .expect("peers");
            assert_eq!(p.quartile, q, "elective ALOS {v}");
            assert_eq!(p.peer_median, d("3.75"));
        }

        // Average length of stay, non-elective, days, lower is better, national peers.
        // Peers ranked best first: 4.5, 5.2, 6.0, 7.3 (n = 4, median 5.6). At 5.2: b = 1 →
        // ⌊4/4⌋ = 1 → quartile 2, 0.4 below the median.
        let p = position_in_peer_group(
            Metric::AverageLengthOfStayNonElective,
            d("5.2"),
            &decs(&["6.0", "4.5", "7.3", "5.2"]),
            national(),
        )
        .expect("peers");
        assert_eq!(
            (p.quartile, p.peer_median, p.distance_from_median),
            (2, d("5.6"), d("-0.4"))
        );
    }

    proptest! {
        #[test]
        fn quartile_in_range_and_order_independent(mut peers in proptest::collection::vec(-1000i64..1000, 1..40), v in -1000i64..1000, seed in any::<usize>()) {
            let a = position_in_peer_group(Metric::PayCostPerWau, Decimal::from(v), &dec(&peers), national()).expect("peers");
            prop_assert!((1..=4).contains(&a.quartile));
            let len = peers.len();
            peers.rotate_left(seed % len);
            peers.reverse();
            let b = position_in_peer_group(Metric::PayCostPerWau, Decimal::from(v), &dec(&peers), national()).expect("peers");
            prop_assert_eq!(a, b);
        }

        #[test]
        fn a_better_value_never_has_a_worse_quartile(peers in proptest::collection::vec(-1000i64..1000, 1..40), v in -1000i64..1000, delta in 0i64..500) {
            let ps = dec(&peers);
            let worse = position_in_peer_group(Metric::PayCostPerWau, Decimal::from(v), &ps, national()).expect("peers");
            let better = position_in_peer_group(Metric::PayCostPerWau, Decimal::from(v - delta), &ps, national()).expect("peers");
            prop_assert!(better.quartile <= worse.quartile);
        }
    }
}
