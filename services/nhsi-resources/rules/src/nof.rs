//! The NHS Oversight Framework 2025/26 (DOMAIN.md §5, rule set `nof-2025`).
//!
//! Each metric is scored 1.00 (best) to 4.00 across the providers of one organisation type:
//! - with a standard, providers meeting it score 1.00 and the rest are spread from 2.00 to 4.00 by
//!   percentile rank among themselves: `2 + 2·r/(m−1)`;
//! - without one, all are spread from 1.00 to 4.00: `1 + 3·r/(n−1)`;
//!
//! where `r` is how many of the group are strictly better (so ties take the best score of the tie)
//! and a group of one scores the bottom of its range. A provider with no value for a metric is
//! left out of it. Scores are rounded to the rule set's decimal places (2).
//!
//! The delivery score is the mean of a provider's metric scores (rounded the same way). Providers
//! are quartiled on it within their organisation type (quartile 1 = lowest mean = best, by the
//! rank method of [`crate::productivity::quartile_from_rank`]) and the quartile is the segment.
//! A provider in segment 1 or 2 that reports a deficit or receives deficit support moves to
//! segment 3. Segment 5 (the Provider Improvement Programme) is only ever a recorded regional
//! decision on a segment 4 provider ([`record_segment_5`]). The league table ranks by
//! (segment, delivery score).

use std::collections::{BTreeMap, BTreeSet};

use oversight_rating::{ExplanationText, TrustCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::TrustType;
use crate::productivity::quartile_from_rank;
use crate::ruleset::{NofMetricDef, NofRuleSet};
use crate::segment::segment_name;

/// Why an NOF computation or decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NofError {
    /// A field is missing or unusable.
    #[error("invalid argument {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// The provider's state does not allow the decision.
    #[error("failed precondition: {reason}")]
    FailedPrecondition { reason: String },
}

/// One provider's score on one metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NofMetricScore {
    /// The provider.
    pub trust: TrustCode,
    /// Its value.
    pub value: Decimal,
    /// 1.00 (best) to 4.00.
    pub score: Decimal,
}

/// Rounds half away from zero and fixes the scale, so 1 shows as `1.00`.
fn round(value: Decimal, dp: u32) -> Decimal {
    let mut r = value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

/// `low + (high − low) · better / (n − 1)`, or `low` for a group of one.
fn spread(low: Decimal, high: Decimal, better: usize, n: usize) -> Decimal {
    if n <= 1 {
        return low;
    }
    low + (high - low) * Decimal::from(better) / Decimal::from(n - 1)
}

/// Scores one metric across a group of providers (normally one organisation type). Providers
/// with no value are left out. The result is in input order.
pub fn score_metric(
    def: &NofMetricDef,
    values: &[(TrustCode, Option<Decimal>)],
    decimal_places: u32,
) -> Vec<NofMetricScore> {
    let present: Vec<(&TrustCode, Decimal)> = values
        .iter()
        .filter_map(|(t, v)| v.map(|v| (t, v)))
        .collect();
    let meets = |v: Decimal| {
        def.standard
            .is_some_and(|s| v == s || def.direction.is_better(v, s))
    };
    let not_meeting: Vec<Decimal> = present
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| !meets(*v))
        .collect();
    let all: Vec<Decimal> = present.iter().map(|(_, v)| *v).collect();
    present
        .iter()
        .map(|(trust, value)| {
            let score = match def.standard {
                Some(_) if meets(*value) => Decimal::ONE,
                Some(_) => {
                    let better = not_meeting
                        .iter()
                        .filter(|&&o| def.direction.is_better(o, *value))
                        .count();
                    spread(Decimal::TWO, Decimal::from(4), better, not_meeting.len())
                }
                None => {
                    let better = all
                        .iter()
                        .filter(|&&o| def.direction.is_better(o, *value))
                        .count();
                    spread(Decimal::ONE, Decimal::from(4), better, all.len())
                }
            };
            NofMetricScore {
                trust: (*trust).clone(),
                value: *value,
                score: round(score, decimal_places),
            }
        })
        .collect()
}

/// The mean of metric scores, rounded; `None` with no scores.
pub fn delivery_score(scores: &[Decimal], decimal_places: u32) -> Option<Decimal> {
    if scores.is_empty() {
        return None;
    }
    let sum: Decimal = scores.iter().sum();
    Some(round(sum / Decimal::from(scores.len()), decimal_places))
}

/// One provider's NOF inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NofProvider {
    /// The provider.
    pub trust: TrustCode,
    /// Its organisation type (scoring and quartiles are within a type).
    pub org_type: TrustType,
    /// Metric values by metric name; a missing metric is left out.
    pub metrics: BTreeMap<String, Decimal>,
    /// It reports a deficit.
    pub deficit: bool,
    /// It receives deficit support.
    pub deficit_support: bool,
}

/// One provider's NOF result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NofAssessment {
    /// The provider.
    pub trust: TrustCode,
    /// Its organisation type.
    pub org_type: TrustType,
    /// Its score on each metric it has data for.
    pub metric_scores: BTreeMap<String, Decimal>,
    /// The mean of its metric scores (none without any).
    pub delivery_score: Option<Decimal>,
    /// Its quartile within its organisation type.
    pub quartile: Option<u8>,
    /// Its segment 1–5 (none without a delivery score).
    pub segment: Option<u8>,
    /// Whether the deficit override moved it.
    pub deficit_override: bool,
    /// Set when segment 5 was decided, with the rationale.
    pub segment_5_rationale: Option<String>,
    /// How the segment was reached.
    pub explanation: ExplanationText,
}

/// Scores, quartiles and segments a set of providers. Providers are compared only with others
/// of their organisation type. The result is ordered by trust code.
pub fn assess_providers(
    providers: &[NofProvider],
    rules: &NofRuleSet,
) -> Result<Vec<NofAssessment>, NofError> {
    let mut seen = BTreeSet::new();
    for p in providers {
        if !seen.insert(&p.trust) {
            return Err(NofError::InvalidArgument {
                field: "trust",
                reason: format!("provider {} given more than once", p.trust),
            });
        }
        if let Some(name) = p.metrics.keys().find(|m| rules.metric(m).is_none()) {
            return Err(NofError::InvalidArgument {
                field: "metric",
                reason: format!("unknown metric {name:?} for provider {}", p.trust),
            });
        }
    }
    let dp = rules.decimal_places;
    let mut by_type: BTreeMap<TrustType, Vec<&NofProvider>> = BTreeMap::new();
    for p in providers {
        by_type.entry(p.org_type).or_default().push(p);
    }
    let mut out = Vec::with_capacity(providers.len());
    for (org_type, group) in by_type {
        let mut scores: BTreeMap<&TrustCode, BTreeMap<String, Decimal>> = BTreeMap::new();
        for def in &rules.metrics {
            let values: Vec<(TrustCode, Option<Decimal>)> = group
                .iter()
                .map(|p| (p.trust.clone(), p.metrics.get(&def.name).copied()))
                .collect();
            for s in score_metric(def, &values, dp) {
                if let Some(p) = group.iter().find(|p| p.trust == s.trust) {
                    scores
                        .entry(&p.trust)
                        .or_default()
                        .insert(def.name.clone(), s.score);
                }
            }
        }
        let delivery: BTreeMap<&TrustCode, Decimal> = group
            .iter()
            .filter_map(|p| {
                let s: Vec<Decimal> = scores
                    .get(&p.trust)
                    .map(|m| m.values().copied().collect())
                    .unwrap_or_default();
                delivery_score(&s, dp).map(|d| (&p.trust, d))
            })
            .collect();
        let n_scored = delivery.len();
        for p in &group {
            let metric_scores = scores.get(&p.trust).cloned().unwrap_or_default();
            let own = delivery.get(&p.trust).copied();
            let quartile = own.map(|d| {
                let better = delivery.values().filter(|&&o| o < d).count();
                quartile_from_rank(better, n_scored)
            });
            let mut deficit_override = false;
            let mut notes = Vec::new();
            let segment = quartile.map(|q| {
                if q <= rules.deficit_override_max_segment && (p.deficit || p.deficit_support) {
                    deficit_override = true;
                    let why = match (p.deficit, p.deficit_support) {
                        (true, true) => "reports a deficit and receives deficit support",
                        (true, false) => "reports a deficit",
                        _ => "receives deficit support",
                    };
                    notes.push(format!(
                        "segment {q} but the provider {why} → segment {}",
                        rules.deficit_override_segment
                    ));
                    rules.deficit_override_segment
                } else {
                    q
                }
            });
            let rule = match (own, quartile, segment) {
                (Some(d), Some(q), Some(s)) => format!(
                    "delivery score {d} (mean of {} metric scores), quartile {q} of {n_scored} {org_type} providers → segment {s} ({})",
                    metric_scores.len(),
                    segment_name(s)
                ),
                _ => "no metric data → no delivery score and no segment".to_string(),
            };
            let missing: Vec<&str> = rules
                .metrics
                .iter()
                .filter(|m| !metric_scores.contains_key(&m.name))
                .map(|m| m.name.as_str())
                .collect();
            if !missing.is_empty() {
                notes.push(format!("no data, left out: {}", missing.join(", ")));
            }
            let mut explanation = ExplanationText::new(rules.name.clone(), rule);
            explanation.inputs = metric_scores
                .iter()
                .map(|(name, score)| {
                    let value = p.metrics.get(name).copied().unwrap_or_default();
                    format!("{name}: {} → {score}", value.normalize())
                })
                .collect();
            explanation.notes = notes;
            out.push(NofAssessment {
                trust: p.trust.clone(),
                org_type,
                metric_scores,
                delivery_score: own,
                quartile,
                segment,
                deficit_override,
                segment_5_rationale: None,
                explanation,
            });
        }
    }
    out.sort_by(|a, b| a.trust.cmp(&b.trust));
    Ok(out)
}

/// Records the regional decision to place a segment 4 provider in segment 5 (the Provider
/// Improvement Programme).
pub fn record_segment_5(assessment: &mut NofAssessment, rationale: &str) -> Result<(), NofError> {
    let rationale = rationale.trim();
    if rationale.is_empty() {
        return Err(NofError::InvalidArgument {
            field: "rationale",
            reason: "a segment 5 decision needs a rationale".to_string(),
        });
    }
    if assessment.segment != Some(4) {
        return Err(NofError::FailedPrecondition {
            reason: format!(
                "provider {} is in segment {}, and only a segment 4 provider can be placed in segment 5",
                assessment.trust,
                assessment
                    .segment
                    .map_or_else(|| "none".to_string(), |s| s.to_string())
            ),
        });
    }
    assessment.segment = Some(5);
    assessment.segment_5_rationale = Some(rationale.to_string());
    assessment
        .explanation
        .notes
        .push(format!("segment 5 by regional decision: {rationale}"));
    Ok(())
}

/// One row of the league table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeagueRow {
    /// 1-based; providers equal on (segment, delivery score) share a rank.
    pub rank: usize,
    /// The provider.
    pub trust: TrustCode,
    /// Its organisation type.
    pub org_type: TrustType,
    /// Its segment.
    pub segment: u8,
    /// Its delivery score.
    pub delivery_score: Decimal,
}

/// Ranks assessed providers by (segment, delivery score), then trust code for a stable order.
/// Providers without a segment are left out. Filter by organisation type first for a table per
/// type.
pub fn league_table(assessments: &[NofAssessment]) -> Vec<LeagueRow> {
    let mut rows: Vec<LeagueRow> = assessments
        .iter()
        .filter_map(|a| {
            Some(LeagueRow {
                rank: 0,
                trust: a.trust.clone(),
                org_type: a.org_type,
                segment: a.segment?,
                delivery_score: a.delivery_score?,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.segment, a.delivery_score, &a.trust).cmp(&(b.segment, b.delivery_score, &b.trust))
    });
    let mut previous: Option<(u8, Decimal, usize)> = None;
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = match previous {
            Some((s, d, rank)) if s == row.segment && d == row.delivery_score => rank,
            _ => i + 1,
        };
        previous = Some((row.segment, row.delivery_score, row.rank));
    }
    rows
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Direction;
    use crate::test_support::d;
    use proptest::prelude::*;

    fn rules() -> NofRuleSet {
        NofRuleSet::default_2025().expect("ships")
    }

    fn trust(i: usize) -> TrustCode {
        format!("R{i:02}").parse().expect("trust")
    }

    fn values(vs: &[Option<&str>]) -> Vec<(TrustCode, Option<Decimal>)> {
        vs.iter()
            .enumerate()
            .map(|(i, v)| (trust(i), v.map(d)))
            .collect()
    }

    fn scores(def: &NofMetricDef, vs: &[Option<&str>]) -> Vec<String> {
        score_metric(def, &values(vs), 2)
            .into_iter()
            .map(|s| s.score.to_string())
            .collect()
    }

    fn metric(direction: Direction, standard: Option<&str>) -> NofMetricDef {
        NofMetricDef {
            name: "m".into(),
            label: String::new(),
            direction,
            standard: standard.map(d),
        }
    }

    #[test]
    fn without_a_standard_best_1_to_worst_4_evenly() {
        let m = metric(Direction::HigherIsBetter, None);
        assert_eq!(
            scores(&m, &[Some("90"), Some("80"), Some("70"), Some("60")]),
            vec!["1.00", "2.00", "3.00", "4.00"]
        );
        let low = metric(Direction::LowerIsBetter, None);
        assert_eq!(
            scores(&low, &[Some("1"), Some("2"), Some("3")]),
            vec!["1.00", "2.50", "4.00"]
        );
        // 1 + 3·1/6 = 1.5, 1 + 3·2/6 = 2.0 … with rounding to 2 dp of thirds
        let m7 = metric(Direction::HigherIsBetter, None);
        assert_eq!(
            scores(&m7, &[Some("7"), Some("6"), Some("5"), Some("4")]),
            vec!["1.00", "2.00", "3.00", "4.00"]
        );
        assert_eq!(
            scores(
                &m7,
                &[
                    Some("9"),
                    Some("8"),
                    Some("7"),
                    Some("6"),
                    Some("5"),
                    Some("4"),
                    Some("3"),
                    Some("2")
                ]
            ),
            vec![
                "1.00", "1.43", "1.86", "2.29", "2.71", "3.14", "3.57", "4.00"
            ]
        );
    }

    #[test]
    fn ties_take_the_best_score_and_missing_data_is_left_out() {
        let m = metric(Direction::HigherIsBetter, None);
        assert_eq!(
            scores(&m, &[Some("90"), Some("80"), Some("80"), None, Some("60")]),
            vec!["1.00", "2.00", "2.00", "4.00"]
        );
        let got = score_metric(&m, &values(&[Some("5"), None]), 2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].score, d("1.00"));
        assert!(score_metric(&m, &values(&[None, None]), 2).is_empty());
    }

    #[test]
    fn with_a_standard_meeting_it_scores_1_and_the_rest_spread_2_to_4() {
        let m = metric(Direction::HigherIsBetter, Some("78"));
        assert_eq!(
            scores(
                &m,
                &[
                    Some("80"),
                    Some("78"),
                    Some("77.99"),
                    Some("70"),
                    Some("60")
                ]
            ),
            vec!["1.00", "1.00", "2.00", "3.00", "4.00"]
        );
        // One provider missing the standard scores 2.00.
        assert_eq!(scores(&m, &[Some("90"), Some("50")]), vec!["1.00", "2.00"]);
        let low = metric(Direction::LowerIsBetter, Some("5"));
        assert_eq!(
            scores(&low, &[Some("5"), Some("6"), Some("7"), Some("7")]),
            vec!["1.00", "2.00", "3.00", "3.00"]
        );
    }

    #[test]
    fn worked_example_mean_of_11_scores_summing_to_16_83_is_1_53() {
        let metric_scores = [
            "1.00", "1.00", "1.00", "1.25", "1.50", "1.58", "1.67", "1.83", "2.00", "2.00", "2.00",
        ]
        .map(d);
        assert_eq!(metric_scores.iter().sum::<Decimal>(), d("16.83"));
        assert_eq!(delivery_score(&metric_scores, 2), Some(d("1.53")));
        assert_eq!(delivery_score(&[], 2), None);
    }

    fn provider(i: usize, ae: &str, sick: &str, deficit: bool) -> NofProvider {
        NofProvider {
            trust: trust(i),
            org_type: TrustType::Acute,
            metrics: [("ae_4h", ae), ("sickness_absence_rate", sick)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), d(v)))
                .collect(),
            deficit,
            deficit_support: false,
        }
    }

    #[test]
    fn quartiles_within_type_become_segments_with_the_deficit_override() {
        let providers = vec![
            provider(0, "80", "3", false), // 1.00, 1.00 → 1.00
            provider(1, "80", "4", true),  // 1.00, 2.00 → 1.50, deficit
            provider(2, "70", "5", false), // 2.00, 3.00 → 2.50
            provider(3, "60", "6", false), // 4.00, 4.00 → 4.00
            NofProvider {
                trust: trust(9),
                org_type: TrustType::MentalHealth,
                metrics: BTreeMap::new(),
                deficit: false,
                deficit_support: true,
            },
        ];
        let a = assess_providers(&providers, &rules()).expect("valid");
        let got: Vec<_> = a
            .iter()
            .map(|x| {
                (
                    x.trust.to_string(),
                    x.delivery_score.map(|s| s.to_string()),
                    x.quartile,
                    x.segment,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("R00".into(), Some("1.00".into()), Some(1), Some(1)),
                ("R01".into(), Some("1.50".into()), Some(2), Some(3)),
                ("R02".into(), Some("2.50".into()), Some(3), Some(3)),
                ("R03".into(), Some("4.00".into()), Some(4), Some(4)),
                ("R09".into(), None, None, None),
            ]
        );
        assert!(a[1].deficit_override);
        assert_eq!(
            a[1].explanation.notes.first().map(String::as_str),
            Some("segment 2 but the provider reports a deficit → segment 3")
        );
        assert_eq!(
            a[0].explanation.rule,
            "delivery score 1.00 (mean of 2 metric scores), quartile 1 of 4 acute providers → segment 1 (maximum autonomy)"
        );
    }

    #[test]
    fn bad_provider_inputs() {
        let mut p = provider(0, "80", "3", false);
        p.metrics.insert("made_up".into(), Decimal::ONE);
        assert!(matches!(
            assess_providers(&[p], &rules()),
            Err(NofError::InvalidArgument {
                field: "metric",
                ..
            })
        ));
        let p = provider(0, "80", "3", false);
        assert!(matches!(
            assess_providers(&[p.clone(), p], &rules()),
            Err(NofError::InvalidArgument { field: "trust", .. })
        ));
    }

    #[test]
    fn segment_5_only_for_segment_4_with_a_rationale() {
        let providers: Vec<_> = (0..4)
            .map(|i| provider(i, &format!("{}", 80 - i * 5), "3", false))
            .collect();
        let mut a = assess_providers(&providers, &rules()).expect("valid");
        assert!(matches!(
            record_segment_5(&mut a[0], "region decided"),
            Err(NofError::FailedPrecondition { .. })
        ));
        assert_eq!(a[3].segment, Some(4));
        assert!(matches!(
            record_segment_5(&mut a[3], " "),
            Err(NofError::InvalidArgument {
                field: "rationale",
                ..
            })
        ));
        record_segment_5(&mut a[3], "regional PIP decision, May 2025").expect("segment 4");
        assert_eq!(a[3].segment, Some(5));
        assert!(matches!(
            record_segment_5(&mut a[3], "again"),
            Err(NofError::FailedPrecondition { .. })
        ));
    }

    #[test]
    fn league_table_orders_by_segment_then_score() {
        let providers = vec![
            provider(0, "80", "3", false),
            provider(1, "80", "4", true), // deficit → segment 3 with 1.50
            provider(2, "70", "5", false),
            provider(3, "60", "6", false),
            provider(4, "80", "3", false), // ties R00
        ];
        let a = assess_providers(&providers, &rules()).expect("valid");
        let table: Vec<_> = league_table(&a)
            .into_iter()
            .map(|r| {
                (
                    r.rank,
                    r.trust.to_string(),
                    r.segment,
                    r.delivery_score.to_string(),
                )
            })
            .collect();
        assert_eq!(
            table,
            vec![
                (1, "R00".into(), 1, "1.00".into()),
                (1, "R04".into(), 1, "1.00".into()),
                (3, "R01".into(), 3, "1.75".into()),
                (4, "R02".into(), 3, "2.63".into()), // (2.00 + 3.25) / 2
                (5, "R03".into(), 4, "4.00".into()),
            ]
        );
    }

    fn arb_values() -> impl Strategy<Value = Vec<Option<i64>>> {
        proptest::collection::vec(proptest::option::weighted(0.8, -500i64..500), 1..30)
    }

    proptest! {
        #[test]
        fn scores_are_within_1_and_4(vs in arb_values(), std in proptest::option::of(-500i64..500), higher in any::<bool>()) {
            let def = NofMetricDef {
                name: "m".into(),
                label: String::new(),
                direction: if higher { Direction::HigherIsBetter } else { Direction::LowerIsBetter },
                standard: std.map(Decimal::from),
            };
            let input: Vec<_> = vs.iter().enumerate().map(|(i, v)| (trust(i), v.map(Decimal::from))).collect();
            let out = score_metric(&def, &input, 2);
            prop_assert_eq!(out.len(), vs.iter().flatten().count());
            for s in &out {
                prop_assert!(s.score >= Decimal::ONE && s.score <= Decimal::from(4), "{}", s.score);
                if let Some(st) = def.standard {
                    let meets = s.value == st || def.direction.is_better(s.value, st);
                    prop_assert_eq!(meets, s.score == Decimal::ONE);
                }
            }
            // A better value never scores worse.
            for a in &out {
                for b in &out {
                    if def.direction.is_better(a.value, b.value) {
                        prop_assert!(a.score <= b.score);
                    }
                    if a.value == b.value {
                        prop_assert_eq!(a.score, b.score);
                    }
                }
            }
        }

        #[test]
        fn provider_order_does_not_matter(aes in proptest::collection::vec(0i64..100, 1..20), seed in any::<usize>()) {
            let mut providers: Vec<_> = aes
                .iter()
                .enumerate()
                .map(|(i, ae)| provider(i, &ae.to_string(), &((ae * 7) % 11).to_string(), i % 3 == 0))
                .collect();
            let a = assess_providers(&providers, &rules()).expect("valid");
            let len = providers.len();
            providers.rotate_left(seed % len);
            providers.reverse();
            let b = assess_providers(&providers, &rules()).expect("valid");
            prop_assert_eq!(&a, &b);
            for x in &a {
                prop_assert!(x.segment.is_some_and(|s| (1..=4).contains(&s)));
                if x.deficit_override { prop_assert_eq!(x.segment, Some(3)); }
            }
        }
    }
}
