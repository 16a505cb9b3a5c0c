//! The NHS Oversight Framework 2025/26 (DOMAIN.md §5, rule set `nof-2025`).
//!
//! Providers are compared only within their peer group ([`NofPeerGroup`]): the framework's
//! acute, non-acute (mental health and community) and ambulance trusts, not the five trust types.
//!
//! Each metric is scored 1.00 (best) to 4.00 across the providers of one peer group:
//! - with a standard, providers meeting it score 1.00 and the rest are spread from 2.00 to 4.00 by
//!   percentile rank among themselves: `2 + 2·r/(m−1)`;
//! - without one, all are spread from 1.00 to 4.00: `1 + 3·r/(n−1)`;
//!
//! where `r` is how many of the group are strictly better (so ties take the best score of the tie)
//! and a group of one scores the bottom of its range. A provider with no value for a metric is
//! left out of it. Scores are rounded to the rule set's decimal places (2).
//!
//! The delivery score is the mean of a provider's metric scores (rounded the same way). Providers
//! are quartiled on it within their peer group (quartile 1 = lowest mean = best, by the rank
//! method of [`crate::productivity::quartile_from_rank`]) and the quartile is the segment.
//! A provider in segment 1 or 2 that reports a deficit or receives deficit support moves to
//! segment 3. Segment 5 (the Provider Improvement Programme) is only ever a recorded regional
//! decision on a segment 4 provider ([`record_segment_5`]). The league table ranks each peer group
//! by (segment, delivery score).

use std::collections::{BTreeMap, BTreeSet};

use oversight_rating::{ExplanationText, TrustCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::TrustType;
use crate::productivity::quartile_from_rank;
use crate::ruleset::{NofMetricDef, NofRuleSet};
use crate::segment::segment_name;

/// The peer groups of NOF 2025/26: NHS England scores, segments and publishes league tables for
/// acute, non-acute hospital and ambulance trusts. Which trust types fall in which group is a
/// parameter of the rule set ([`NofRuleSet::peer_groups`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NofPeerGroup {
    /// Acute trusts, specialist acute trusts among them.
    Acute,
    /// Non-acute hospital trusts: mental health and community trusts.
    NonAcute,
    /// Ambulance trusts.
    Ambulance,
}

impl NofPeerGroup {
    /// Every peer group, in the order the framework lists them.
    pub const ALL: [NofPeerGroup; 3] = [
        NofPeerGroup::Acute,
        NofPeerGroup::NonAcute,
        NofPeerGroup::Ambulance,
    ];

    /// The framework's grouping of trust types (as shipped in `nof-2025.toml`).
    pub fn published(trust_type: TrustType) -> Self {
        match trust_type {
            TrustType::Acute | TrustType::SpecialistAcute => NofPeerGroup::Acute,
            TrustType::MentalHealth | TrustType::Community => NofPeerGroup::NonAcute,
            TrustType::Ambulance => NofPeerGroup::Ambulance,
        }
    }

    /// `acute`, `non-acute`, `ambulance`: the names in explanations.
    pub fn name(self) -> &'static str {
        match self {
            NofPeerGroup::Acute => "acute",
            NofPeerGroup::NonAcute => "non-acute",
            NofPeerGroup::Ambulance => "ambulance",
        }
    }
}

impl std::fmt::Display for NofPeerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Scores one metric across a group of providers (normally one peer group). Providers with no
/// value are left out. The result is in input order.
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
    /// Its trust type; scoring and quartiles are within its peer group
    /// ([`NofRuleSet::peer_group`]).
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
    /// Its trust type.
    pub org_type: TrustType,
    /// The peer group it was scored, quartiled and ranked in.
    pub peer_group: NofPeerGroup,
    /// Its score on each metric it has data for.
    pub metric_scores: BTreeMap<String, Decimal>,
    /// The mean of its metric scores (none without any).
    pub delivery_score: Option<Decimal>,
    /// Its quartile within its peer group.
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
/// of their peer group. The result is ordered by trust code.
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
    let mut by_group: BTreeMap<NofPeerGroup, Vec<&NofProvider>> = BTreeMap::new();
    for p in providers {
        by_group
            .entry(rules.peer_group(p.org_type))
            .or_default()
            .push(p);
    }
    let mut out = Vec::with_capacity(providers.len());
    for (peer_group, group) in by_group {
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
                    "delivery score {d} (mean of {} metric scores), quartile {q} of {n_scored} {peer_group} providers → segment {s} ({})",
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
                org_type: p.org_type,
                peer_group,
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
    /// 1-based within the peer group; providers equal on (segment, delivery score) share a rank.
    pub rank: usize,
    /// The provider.
    pub trust: TrustCode,
    /// Its trust type.
    pub org_type: TrustType,
    /// The peer group whose table it is ranked in.
    pub peer_group: NofPeerGroup,
    /// Its segment.
    pub segment: u8,
    /// Its delivery score.
    pub delivery_score: Decimal,
}

/// The league tables: each peer group ranked separately by (segment, delivery score), then trust
/// code for a stable order; the groups follow one another (acute, non-acute, ambulance).
/// Providers without a segment are left out. Filter by peer group for one table.
pub fn league_table(assessments: &[NofAssessment]) -> Vec<LeagueRow> {
    let mut rows: Vec<LeagueRow> = assessments
        .iter()
        .filter_map(|a| {
            Some(LeagueRow {
                rank: 0,
                trust: a.trust.clone(),
                org_type: a.org_type,
                peer_group: a.peer_group,
                segment: a.segment?,
                delivery_score: a.delivery_score?,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.peer_group, a.segment, a.delivery_score, &a.trust).cmp(&(
            b.peer_group,
            b.segment,
            b.delivery_score,
            &b.trust,
        ))
    });
    let mut previous: Option<(NofPeerGroup, u8, Decimal, usize)> = None;
    let mut position = 0;
    for row in &mut rows {
        position = match previous {
            Some((g, ..)) if g == row.peer_group => position + 1,
            _ => 1,
        };
        row.rank = match previous {
            Some((g, s, d, rank))
                if g == row.peer_group && s == row.segment && d == row.delivery_score =>
            {
                rank
            }
            _ => position,
        };
        previous = Some((row.peer_group, row.segment, row.delivery_score, row.rank));
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

    /// DOMAIN.md §5: "A provider in segment 1 or 2 ... receiving deficit support is moved to
    /// segment 3". Four acute providers as in the test above: A&E 80, 80, 70, 60 % (meeting the
    /// 78 % standard scores 1) and sickness 3, 4, 5, 6 % (no standard: best 1.00 to worst 4.00
    /// evenly) → delivery scores 1.00, 1.50, 2.50, 4.00 → quartiles (segments) 1 to 4. R01, in
    /// segment 2, moves to 3 with deficit support and no deficit reported.
    #[test]
    fn deficit_support_moves_segment_2_to_3() {
        let mut providers = vec![
            provider(0, "80", "3", false),
            provider(1, "80", "4", false),
            provider(2, "70", "5", false),
            provider(3, "60", "6", false),
        ];
        let without = assess_providers(&providers, &rules()).expect("valid");
        assert_eq!(
            (without[1].quartile, without[1].segment),
            (Some(2), Some(2))
        );
        assert!(!without[1].deficit_override);
        providers[1].deficit_support = true;
        let with = assess_providers(&providers, &rules()).expect("valid");
        assert_eq!((with[1].quartile, with[1].segment), (Some(2), Some(3)));
        assert!(with[1].deficit_override);
        assert_eq!(
            with[1].explanation.notes.first().map(String::as_str),
            Some("segment 2 but the provider receives deficit support → segment 3")
        );
        // Segment 1 also moves; segments 3 and 4 do not.
        providers[0].deficit_support = true;
        providers[3].deficit_support = true;
        let all = assess_providers(&providers, &rules()).expect("valid");
        assert_eq!(
            all.iter().map(|a| a.segment).collect::<Vec<_>>(),
            vec![Some(3), Some(3), Some(3), Some(4)]
        );
    }

    fn typed(i: usize, org_type: TrustType, sickness: &str) -> NofProvider {
        NofProvider {
            trust: trust(i),
            org_type,
            metrics: [("sickness_absence_rate".to_string(), d(sickness))]
                .into_iter()
                .collect(),
            deficit: false,
            deficit_support: false,
        }
    }

    /// NOF 2025/26 compares providers within the peer groups NHS England publishes league tables
    /// for — acute, non-acute hospital (mental health and community) and ambulance trusts — not
    /// within each of five trust types.
    #[test]
    fn providers_are_compared_within_the_published_peer_groups() {
        let rules = rules();
        for (t, want) in [
            (TrustType::Acute, NofPeerGroup::Acute),
            (TrustType::SpecialistAcute, NofPeerGroup::Acute),
            (TrustType::MentalHealth, NofPeerGroup::NonAcute),
            (TrustType::Community, NofPeerGroup::NonAcute),
            (TrustType::Ambulance, NofPeerGroup::Ambulance),
        ] {
            assert_eq!(rules.peer_group(t), want, "{t:?}");
            assert_eq!(NofPeerGroup::published(t), want, "{t:?}");
        }
        // Sickness absence, lower is better, no standard: best 1.00 to worst 4.00 in each group.
        let providers = vec![
            typed(0, TrustType::Acute, "3"),
            typed(1, TrustType::SpecialistAcute, "5"),
            typed(2, TrustType::MentalHealth, "3"),
            typed(3, TrustType::Community, "4"),
            typed(4, TrustType::MentalHealth, "5"),
            typed(5, TrustType::Community, "6"),
            typed(6, TrustType::Ambulance, "9"),
        ];
        let a = assess_providers(&providers, &rules).expect("valid");
        let got: Vec<_> = a
            .iter()
            .map(|x| {
                (
                    x.peer_group,
                    x.delivery_score.map(|s| s.to_string()),
                    x.quartile,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // Acute and specialist acute together: 2 providers, 1.00 and 4.00; the specialist
                // trust has 1 of 2 better → quartile 3 (alone by type it would be quartile 1).
                (NofPeerGroup::Acute, Some("1.00".into()), Some(1)),
                (NofPeerGroup::Acute, Some("4.00".into()), Some(3)),
                // Mental health and community together: 4 providers, 1.00, 2.00, 3.00, 4.00.
                (NofPeerGroup::NonAcute, Some("1.00".into()), Some(1)),
                (NofPeerGroup::NonAcute, Some("2.00".into()), Some(2)),
                (NofPeerGroup::NonAcute, Some("3.00".into()), Some(3)),
                (NofPeerGroup::NonAcute, Some("4.00".into()), Some(4)),
                // Ambulance alone: a group of one scores the bottom of the range.
                (NofPeerGroup::Ambulance, Some("1.00".into()), Some(1)),
            ]
        );
        assert_eq!(
            a[3].explanation.rule,
            "delivery score 2.00 (mean of 1 metric scores), quartile 2 of 4 non-acute providers → segment 2 (targeted support)"
        );
        // One league table per peer group: ranks restart in each.
        let table: Vec<_> = league_table(&a)
            .into_iter()
            .map(|r| (r.peer_group, r.rank, r.trust.to_string()))
            .collect();
        assert_eq!(
            table,
            vec![
                (NofPeerGroup::Acute, 1, "R00".into()),
                (NofPeerGroup::Acute, 2, "R01".into()),
                (NofPeerGroup::NonAcute, 1, "R02".into()),
                (NofPeerGroup::NonAcute, 2, "R03".into()),
                (NofPeerGroup::NonAcute, 3, "R04".into()),
                (NofPeerGroup::NonAcute, 4, "R05".into()),
                (NofPeerGroup::Ambulance, 1, "R06".into()),
            ]
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
