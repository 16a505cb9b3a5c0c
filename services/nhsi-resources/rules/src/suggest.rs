//! A suggested use of resources rating from productivity metric positions (DOMAIN.md §4).
//!
//! It is a suggestion only: the UoR rating is the assessor's judgement, proposed by NHSI and
//! approved by CQC ([`crate::workflow`]). The thresholds are in `rulesets/uor-suggest-2017.toml`;
//! per key line of enquiry the share of metrics in the worst and best quartiles decides, and the
//! KLOE suggestions combine into an overall one by the shared counting rule.

use oversight_rating::{ExplanationText, NonRating, Rating, RatingValue, aggregate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::productivity::{Kloe, MetricPosition};
use crate::ruleset::SuggestRuleSet;

/// How many of a KLOE's positioned metrics fell in each quartile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuartileCounts {
    /// Quartile 1 (best).
    pub best: usize,
    /// Quartile 2.
    pub second: usize,
    /// Quartile 3.
    pub third: usize,
    /// Quartile 4 (worst).
    pub worst: usize,
}

impl QuartileCounts {
    /// All positioned metrics.
    pub fn total(&self) -> usize {
        self.best + self.second + self.third + self.worst
    }
}

/// The suggestion for one KLOE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KloeSuggestion {
    /// The KLOE.
    pub kloe: Kloe,
    /// The suggested rating, or "insufficient evidence to rate" with too few metrics.
    pub rating: RatingValue,
    /// Quartile counts.
    pub counts: QuartileCounts,
    /// Why, in words: "4 of 6 people metrics in the worst quartile".
    pub reasons: Vec<String>,
}

/// A suggested UoR rating per KLOE and overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UorSuggestion {
    /// One per KLOE, in [`Kloe::ALL`] order.
    pub kloes: Vec<KloeSuggestion>,
    /// The overall suggestion, or "insufficient evidence to rate" when no KLOE has one.
    pub overall: RatingValue,
    /// The rules that fired.
    pub explanation: ExplanationText,
}

fn share_reached(count: usize, total: usize, share: Decimal) -> bool {
    total > 0 && Decimal::from(count) >= share * Decimal::from(total)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "metric" } else { "metrics" }
}

fn suggest_kloe(
    kloe: Kloe,
    positions: &[&MetricPosition],
    rules: &SuggestRuleSet,
) -> KloeSuggestion {
    let mut counts = QuartileCounts::default();
    for p in positions {
        match p.quartile {
            1 => counts.best += 1,
            2 => counts.second += 1,
            3 => counts.third += 1,
            _ => counts.worst += 1,
        }
    }
    let n = counts.total();
    let k = &rules.kloe;
    let label = kloe.label();
    let worst = format!(
        "{} of {n} {label} {} in the worst quartile",
        counts.worst,
        plural(n)
    );
    let best = format!(
        "{} of {n} {label} {} in the best quartile",
        counts.best,
        plural(n)
    );
    let pct = |s: Decimal| (s * Decimal::ONE_HUNDRED).normalize();
    let (rating, reasons) = if n < k.min_metrics {
        (
            RatingValue::Unrated(NonRating::InsufficientEvidenceToRate),
            vec![format!(
                "{n} {label} {} positioned, fewer than {}",
                plural(n),
                k.min_metrics
            )],
        )
    } else if share_reached(counts.worst, n, k.inadequate_worst_quartile_share) {
        (
            RatingValue::Rated(Rating::Inadequate),
            vec![format!(
                "{worst} (at least {} %)",
                pct(k.inadequate_worst_quartile_share)
            )],
        )
    } else if share_reached(counts.worst, n, k.requires_improvement_worst_quartile_share) {
        (
            RatingValue::Rated(Rating::RequiresImprovement),
            vec![format!(
                "{worst} (at least {} %)",
                pct(k.requires_improvement_worst_quartile_share)
            )],
        )
    } else if counts.worst == 0 && share_reached(counts.best, n, k.outstanding_best_quartile_share)
    {
        (
            RatingValue::Rated(Rating::Outstanding),
            vec![format!(
                "{best} (at least {} %) and none in the worst",
                pct(k.outstanding_best_quartile_share)
            )],
        )
    } else {
        (RatingValue::Rated(Rating::Good), vec![worst, best])
    };
    KloeSuggestion {
        kloe,
        rating,
        counts,
        reasons,
    }
}

/// Suggests a UoR rating per KLOE and overall from a trust's metric positions.
pub fn suggest_uor_rating(positions: &[MetricPosition], rules: &SuggestRuleSet) -> UorSuggestion {
    let kloes: Vec<KloeSuggestion> = Kloe::ALL
        .into_iter()
        .map(|kloe| {
            let of_kloe: Vec<&MetricPosition> = positions
                .iter()
                .filter(|p| p.metric.kloe() == kloe)
                .collect();
            suggest_kloe(kloe, &of_kloe, rules)
        })
        .collect();
    let agg = aggregate(kloes.iter().map(|k| k.rating), &rules.overall.thresholds());
    let overall = agg.rating.map_or(
        RatingValue::Unrated(NonRating::InsufficientEvidenceToRate),
        RatingValue::Rated,
    );
    let mut explanation = ExplanationText::new(
        rules.name.clone(),
        format!("overall from the KLOE suggestions: {}", agg.rule),
    );
    explanation.inputs = kloes
        .iter()
        .map(|k| format!("{}: {} — {}", k.kloe, k.rating, k.reasons.join("; ")))
        .collect();
    explanation.notes.push(
        "a suggestion only: the use of resources rating is the assessor's judgement".to_string(),
    );
    UorSuggestion {
        kloes,
        overall,
        explanation,
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::TrustType;
    use crate::productivity::{Metric, PeerGroup};

    fn rules() -> SuggestRuleSet {
        SuggestRuleSet::default_2017().expect("ships")
    }

    fn pos(metric: Metric, quartile: u8) -> MetricPosition {
        MetricPosition {
            metric,
            trust_value: Decimal::ONE,
            quartile,
            peer_median: Decimal::ONE,
            distance_from_median: Decimal::ZERO,
            peer_group: PeerGroup::National {
                trust_type: TrustType::Acute,
            },
            n_peers: 100,
        }
    }

    const PEOPLE: [Metric; 6] = [
        Metric::StaffRetentionRate,
        Metric::SicknessAbsenceRate,
        Metric::PayCostPerWau,
        Metric::AgencySpendPct,
        Metric::VacancyRate,
        Metric::CareHoursPerPatientDay,
    ];

    fn people(quartiles: [u8; 6]) -> Vec<MetricPosition> {
        PEOPLE
            .iter()
            .zip(quartiles)
            .map(|(m, q)| pos(*m, q))
            .collect()
    }

    fn kloe_rating(s: &UorSuggestion, kloe: Kloe) -> Option<RatingValue> {
        s.kloes.iter().find(|k| k.kloe == kloe).map(|k| k.rating)
    }

    #[test]
    fn kloe_thresholds_table() {
        use Rating::*;
        let cases: &[([u8; 6], Rating)] = &[
            ([4, 4, 4, 4, 1, 1], Inadequate),          // 4 of 6 worst
            ([4, 4, 4, 1, 1, 1], Inadequate),          // 3 of 6 = 50 %
            ([4, 4, 1, 1, 1, 1], RequiresImprovement), // 2 of 6 ≥ 25 %
            ([4, 1, 1, 1, 1, 1], Good),                // 1 of 6 < 25 %
            ([1, 1, 1, 2, 2, 3], Outstanding),         // 3 of 6 best, none worst
            ([1, 1, 2, 2, 3, 3], Good),
            ([1, 1, 1, 1, 1, 4], Good), // one worst blocks outstanding
        ];
        for (qs, want) in cases {
            let s = suggest_uor_rating(&people(*qs), &rules());
            assert_eq!(
                kloe_rating(&s, Kloe::People),
                Some(RatingValue::Rated(*want)),
                "{qs:?}"
            );
        }
    }

    #[test]
    fn reasons_count_metrics_in_words() {
        let s = suggest_uor_rating(&people([4, 4, 4, 4, 1, 2]), &rules());
        let people = s
            .kloes
            .iter()
            .find(|k| k.kloe == Kloe::People)
            .expect("people");
        assert_eq!(
            people.reasons,
            vec!["4 of 6 people metrics in the worst quartile (at least 50 %)"]
        );
        assert_eq!(people.counts.worst, 4);
    }

    #[test]
    fn kloes_without_metrics_have_no_suggestion_and_overall_counts_the_rest() {
        let s = suggest_uor_rating(&people([1, 1, 1, 2, 2, 2]), &rules());
        assert_eq!(
            kloe_rating(&s, Kloe::Finance),
            Some(RatingValue::Unrated(NonRating::InsufficientEvidenceToRate))
        );
        assert_eq!(s.overall, RatingValue::Rated(Rating::Good)); // 1 outstanding < 2
        let none = suggest_uor_rating(&[], &rules());
        assert_eq!(
            none.overall,
            RatingValue::Unrated(NonRating::InsufficientEvidenceToRate)
        );
        assert!(
            none.explanation
                .notes
                .iter()
                .any(|n| n.contains("suggestion only"))
        );
    }

    #[test]
    fn overall_from_kloes() {
        use Metric::*;
        let mut ps = people([4, 4, 4, 1, 1, 1]); // people inadequate
        ps.push(pos(PathologyCostPerTest, 4)); // clinical support inadequate
        ps.push(pos(ImagingCostPerExam, 1));
        ps.push(pos(LiquidityDays, 1)); // finance outstanding
        let s = suggest_uor_rating(&ps, &rules());
        assert_eq!(s.overall, RatingValue::Rated(Rating::Inadequate));
        let mut ps = people([4, 4, 4, 1, 1, 1]);
        ps.push(pos(LiquidityDays, 1));
        let s = suggest_uor_rating(&ps, &rules());
        // One inadequate KLOE below the threshold of 2 limits the overall to RI.
        assert_eq!(s.overall, RatingValue::Rated(Rating::RequiresImprovement));
    }
}
