//! The SOF finance and use of resources score (DOMAIN.md §4.1, rule set `sof-2017`).
//!
//! Five metrics are each scored 1 (best) to 4 against the bands of the rule set; the overall score
//! is their mean, rounded (the rounding of .5 is a parameter); any metric scoring 4 limits the
//! overall score to 3 at best; a trust in financial special measures scores 4 (the score the
//! metrics give is kept beside it, [`FinanceScore::computed`]).

use oversight_rating::ExplanationText;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ruleset::{MetricBands, MidpointRounding, SofRuleSet};
use crate::status::OversightStatus;

/// The five finance metrics of one trust and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceInputs {
    /// (surplus + depreciation + interest + PDC dividend) ÷ capital servicing obligations, ×.
    pub capital_service_capacity: Decimal,
    /// Net current assets ÷ daily operating costs, days.
    pub liquidity_days: Decimal,
    /// Surplus ÷ operating income, %.
    pub income_expenditure_margin_pct: Decimal,
    /// Year-to-date actual margin − planned margin, percentage points.
    pub distance_from_plan_pct: Decimal,
    /// Year-to-date agency spend above the ceiling, %.
    pub agency_spend_vs_ceiling_pct: Decimal,
}

/// The score, 1 (best) to 4, of each finance metric. Serialises with lowerCamelCase names
/// (`capitalServiceCapacity`, `liquidity`, `incomeExpenditureMargin`, `distanceFromPlan`,
/// `agencySpend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinanceMetricScores {
    /// Capital service capacity.
    pub capital_service_capacity: u8,
    /// Liquidity.
    pub liquidity: u8,
    /// Income and expenditure margin.
    pub income_expenditure_margin: u8,
    /// Distance from financial plan.
    pub distance_from_plan: u8,
    /// Agency spend against the ceiling.
    pub agency_spend: u8,
}

impl FinanceMetricScores {
    /// The five scores in the table's order.
    pub fn as_array(&self) -> [u8; 5] {
        [
            self.capital_service_capacity,
            self.liquidity,
            self.income_expenditure_margin,
            self.distance_from_plan,
            self.agency_spend,
        ]
    }
}

/// A trust's finance and use of resources score with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceScore {
    /// Each metric's score.
    pub scores: FinanceMetricScores,
    /// The overall score, 1 (best) to 4.
    pub overall: u8,
    /// The overall score the metrics give (mean and cap), before financial special measures;
    /// `overall` when none stand.
    pub computed: u8,
    /// Which rules fired, with each input and the band it fell in.
    pub explanation: ExplanationText,
}

/// Rounds the mean of whole scores to a whole score with the given midpoint rule. An empty slice
/// has no mean and gives `None`.
pub fn rounded_mean(scores: &[u8], rounding: MidpointRounding) -> Option<(Decimal, u8)> {
    if scores.is_empty() {
        return None;
    }
    let sum: u32 = scores.iter().map(|&s| u32::from(s)).sum();
    let mean = Decimal::from(sum) / Decimal::from(scores.len());
    let rounded = rounding.round(mean);
    // The mean of scores 1..=4 rounds to 1..=4; clamp anyway so the narrowing cannot wrap.
    let whole = if rounded >= Decimal::from(4) {
        4
    } else if rounded <= Decimal::ONE {
        1
    } else if rounded == Decimal::TWO {
        2
    } else {
        3
    };
    Some((mean.normalize(), whole))
}

/// Scores a trust's finance metrics with a SOF rule set; `financial_special_measures` is the
/// status standing on the scored period's date, if any (see [`crate::status`]).
pub fn score_finance(
    inputs: &FinanceInputs,
    rules: &SofRuleSet,
    financial_special_measures: Option<&OversightStatus>,
) -> FinanceScore {
    let f = &rules.finance;
    let metrics: [(&MetricBands, Decimal); 5] = [
        (&f.capital_service_capacity, inputs.capital_service_capacity),
        (&f.liquidity_days, inputs.liquidity_days),
        (
            &f.income_expenditure_margin_pct,
            inputs.income_expenditure_margin_pct,
        ),
        (&f.distance_from_plan_pct, inputs.distance_from_plan_pct),
        (
            &f.agency_spend_vs_ceiling_pct,
            inputs.agency_spend_vs_ceiling_pct,
        ),
    ];
    let mut explanation_inputs = Vec::with_capacity(5);
    let mut raw = [0u8; 5];
    let mut worst_metrics = Vec::new();
    for (i, (bands, value)) in metrics.iter().enumerate() {
        let scored = bands.score(*value);
        explanation_inputs.push(format!(
            "{}: {}{} → {} ({})",
            bands.label,
            value.normalize(),
            bands.unit,
            scored.score,
            scored.condition
        ));
        if scored.score == 4 {
            worst_metrics.push(bands.label.clone());
        }
        if let Some(slot) = raw.get_mut(i) {
            *slot = scored.score;
        }
    }
    let [csc, liq, ie, plan, agency] = raw;
    let scores = FinanceMetricScores {
        capital_service_capacity: csc,
        liquidity: liq,
        income_expenditure_margin: ie,
        distance_from_plan: plan,
        agency_spend: agency,
    };

    let (mean, mut overall) = rounded_mean(&raw, f.midpoint_rounding).unwrap_or((Decimal::ONE, 1));
    let mut rule = format!(
        "mean of the 5 metric scores {mean} ({}) → {overall}",
        f.midpoint_rounding.describe()
    );
    let mut notes = Vec::new();
    if !worst_metrics.is_empty() {
        let cap = f.any_metric_4_limits_overall_to;
        if overall < cap {
            overall = cap;
            rule.push_str(&format!(
                "; {} scored 4, which limits the overall score to {cap} at best → {cap}",
                worst_metrics.join(", ")
            ));
        } else {
            notes.push(format!(
                "{} scored 4, which limits the overall score to {cap} at best; the mean is already no better",
                worst_metrics.join(", ")
            ));
        }
    }
    let computed = overall;
    if let Some(status) = financial_special_measures {
        overall = f.special_measures_overall;
        rule.push_str(&format!(
            "; the trust is in {} → {overall}",
            status.describe()
        ));
        notes.push(format!(
            "computed score {computed} from the metrics, replaced by {overall} while financial special measures stand"
        ));
    }
    let mut explanation = ExplanationText::new(rules.name.clone(), rule);
    explanation.inputs = explanation_inputs;
    explanation.notes = notes;
    FinanceScore {
        scores,
        overall,
        computed,
        explanation,
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::d;
    use proptest::prelude::*;

    fn rules() -> SofRuleSet {
        SofRuleSet::default_2017().expect("ships")
    }

    /// Inputs scoring 1 on every metric, to vary one at a time.
    fn all_best() -> FinanceInputs {
        FinanceInputs {
            capital_service_capacity: d("3"),
            liquidity_days: d("5"),
            income_expenditure_margin_pct: d("2"),
            distance_from_plan_pct: d("0.5"),
            agency_spend_vs_ceiling_pct: d("-5"),
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum M {
        Csc,
        Liq,
        Ie,
        Plan,
        Agency,
    }

    fn score_one(m: M, v: &str) -> u8 {
        let mut i = all_best();
        match m {
            M::Csc => i.capital_service_capacity = d(v),
            M::Liq => i.liquidity_days = d(v),
            M::Ie => i.income_expenditure_margin_pct = d(v),
            M::Plan => i.distance_from_plan_pct = d(v),
            M::Agency => i.agency_spend_vs_ceiling_pct = d(v),
        }
        let s = score_finance(&i, &rules(), None).scores;
        match m {
            M::Csc => s.capital_service_capacity,
            M::Liq => s.liquidity,
            M::Ie => s.income_expenditure_margin,
            M::Plan => s.distance_from_plan,
            M::Agency => s.agency_spend,
        }
    }

    /// Every edge of the DOMAIN.md §4.1 table, with the values either side of it.
    #[test]
    fn every_band_boundary() {
        let cases: &[(M, &str, u8)] = &[
            // capital service capacity: > 2.5 → 1, 1.75–2.5 → 2, 1.25–1.75 → 3, < 1.25 → 4
            (M::Csc, "2.51", 1),
            (M::Csc, "2.5", 2),
            (M::Csc, "2.49", 2),
            (M::Csc, "1.76", 2),
            (M::Csc, "1.75", 2),
            (M::Csc, "1.74", 3),
            (M::Csc, "1.26", 3),
            (M::Csc, "1.25", 3),
            (M::Csc, "1.24", 4),
            (M::Csc, "-1", 4),
            // liquidity: > 0 → 1, −7–0 → 2, −14–−7 → 3, < −14 → 4
            (M::Liq, "0.01", 1),
            (M::Liq, "0", 2),
            (M::Liq, "-6.99", 2),
            (M::Liq, "-7", 2),
            (M::Liq, "-7.01", 3),
            (M::Liq, "-14", 3),
            (M::Liq, "-14.01", 4),
            // I&E margin: > 1 → 1, 0–1 → 2, −1–0 → 3, ≤ −1 → 4
            (M::Ie, "1.01", 1),
            (M::Ie, "1", 2),
            (M::Ie, "0.5", 2),
            (M::Ie, "0", 2),
            (M::Ie, "-0.01", 3),
            (M::Ie, "-0.99", 3),
            (M::Ie, "-1", 4),
            (M::Ie, "-1.01", 4),
            // distance from plan: ≥ 0 → 1, −1–0 → 2, −2–−1 → 3, ≤ −2 → 4
            (M::Plan, "0.01", 1),
            (M::Plan, "0", 1),
            (M::Plan, "-0.01", 2),
            (M::Plan, "-1", 2),
            (M::Plan, "-1.01", 3),
            (M::Plan, "-1.99", 3),
            (M::Plan, "-2", 4),
            (M::Plan, "-2.01", 4),
            // agency spend vs ceiling: ≤ 0 → 1, 0–25 → 2, 25–50 → 3, > 50 → 4
            (M::Agency, "-0.01", 1),
            (M::Agency, "0", 1),
            (M::Agency, "0.01", 2),
            (M::Agency, "25", 2),
            (M::Agency, "25.01", 3),
            (M::Agency, "50", 3),
            (M::Agency, "50.01", 4),
            (M::Agency, "400", 4),
        ];
        for (m, v, want) in cases {
            assert_eq!(score_one(*m, v), *want, "{m:?} = {v}");
        }
    }

    #[test]
    fn inclusivity_is_a_parameter() {
        let mut r = rules();
        // Make the capital service capacity top band inclusive: 2.5 now scores 1.
        if let Some(b) = r.finance.capital_service_capacity.bands.first_mut() {
            b.inclusive = true;
        }
        let mut i = all_best();
        i.capital_service_capacity = d("2.5");
        assert_eq!(
            score_finance(&i, &r, None).scores.capital_service_capacity,
            1
        );
    }

    fn with_scores(csc: &str, liq: &str, ie: &str, plan: &str, agency: &str) -> FinanceInputs {
        FinanceInputs {
            capital_service_capacity: d(csc),
            liquidity_days: d(liq),
            income_expenditure_margin_pct: d(ie),
            distance_from_plan_pct: d(plan),
            agency_spend_vs_ceiling_pct: d(agency),
        }
    }

    #[test]
    fn overall_mean_cap_and_special_measures() {
        // Values for scores 1..=4 per metric.
        let csc = ["3", "2", "1.5", "1"];
        let liq = ["1", "-3", "-10", "-20"];
        let ie = ["2", "0.5", "-0.5", "-2"];
        let plan = ["0", "-0.5", "-1.5", "-3"];
        let agency = ["0", "10", "30", "60"];
        let mk = |s: [usize; 5]| {
            with_scores(
                csc[s[0] - 1],
                liq[s[1] - 1],
                ie[s[2] - 1],
                plan[s[3] - 1],
                agency[s[4] - 1],
            )
        };
        // (metric scores, special measures, overall)
        let cases: &[([usize; 5], bool, u8)] = &[
            ([1, 1, 1, 1, 1], false, 1),
            ([1, 1, 1, 1, 2], false, 1), // 1.2
            ([1, 1, 1, 2, 2], false, 1), // 1.4
            ([1, 1, 2, 2, 2], false, 2), // 1.6
            ([2, 2, 2, 2, 2], false, 2),
            ([2, 2, 2, 3, 3], false, 2), // 2.4
            ([2, 2, 3, 3, 3], false, 3), // 2.6
            ([1, 1, 1, 1, 4], false, 3), // mean 1.6 → 2, capped to 3
            ([1, 2, 3, 1, 4], false, 3), // 2.2 → 2, capped
            ([3, 3, 4, 4, 4], false, 4), // 3.6 → 4, cap doesn't improve
            ([4, 4, 4, 4, 4], false, 4),
            ([1, 1, 1, 1, 1], true, 4), // special measures
            ([2, 2, 2, 2, 2], true, 4),
        ];
        for (s, sm, want) in cases {
            let fsm = sm.then(financial_special_measures);
            let got = score_finance(&mk(*s), &rules(), fsm.as_ref());
            assert_eq!(got.scores.as_array().map(usize::from), *s, "{s:?}");
            assert_eq!(got.overall, *want, "{s:?} special measures {sm}");
        }
    }

    fn financial_special_measures() -> OversightStatus {
        OversightStatus::new(
            crate::status::StatusKind::FinancialSpecialMeasures,
            "2018-01-01".parse().unwrap(),
            None,
            "NHSI board 2018-01",
        )
        .unwrap()
    }

    /// DOMAIN.md §4.1: "financial special measures → 4". Metrics scoring 1, 1, 2, 1, 1: mean 1.2,
    /// rounded → 1; in financial special measures the overall is 4, and the 1 is kept beside it.
    #[test]
    fn financial_special_measures_score_4_with_the_computed_score_beside() {
        // capital service capacity 3× → 1, liquidity 5 days → 1, I&E margin 0.5 % → 2 (0–1),
        // distance from plan 0.5 pp → 1, agency −5 % → 1.
        let i = with_scores("3", "5", "0.5", "0.5", "-5");
        let plain = score_finance(&i, &rules(), None);
        assert_eq!(plain.scores.as_array(), [1, 1, 2, 1, 1]);
        assert_eq!((plain.overall, plain.computed), (1, 1));

        let fsm = financial_special_measures();
        let got = score_finance(&i, &rules(), Some(&fsm));
        assert_eq!(got.scores.as_array(), [1, 1, 2, 1, 1]);
        assert_eq!((got.overall, got.computed), (4, 1));
        assert_eq!(
            got.explanation.rule,
            "mean of the 5 metric scores 1.2 (halves rounded up) → 1; the trust is in financial special measures since 2018-01-01 (NHSI board 2018-01) → 4"
        );
        assert_eq!(
            got.explanation.notes,
            vec![
                "computed score 1 from the metrics, replaced by 4 while financial special measures stand"
            ]
        );
    }

    #[test]
    fn explanation_names_rules_and_inputs() {
        let i = with_scores("2.6", "-3", "0.5", "-1.5", "60");
        let got = score_finance(&i, &rules(), None);
        assert_eq!(got.scores.as_array(), [1, 2, 2, 3, 4]);
        assert_eq!(got.overall, 3);
        assert_eq!(got.explanation.rule_set, "sof-2017");
        assert_eq!(
            got.explanation.rule,
            "mean of the 5 metric scores 2.4 (halves rounded up) → 2; agency spend vs ceiling scored 4, which limits the overall score to 3 at best → 3"
        );
        assert_eq!(
            got.explanation.inputs,
            vec![
                "capital service capacity: 2.6× → 1 (> 2.5)",
                "liquidity: -3 days → 2 (≥ -7)",
                "I&E margin: 0.5% → 2 (≥ 0)",
                "distance from financial plan: -1.5 pp → 3 (> -2)",
                "agency spend vs ceiling: 60% → 4 (> 50)",
            ]
        );
    }

    #[test]
    fn rounding_of_halves_is_a_parameter() {
        // Four metrics (a rule set with a different count) can produce .5.
        assert_eq!(
            rounded_mean(&[1, 2, 2, 3, 1, 3], MidpointRounding::Up).map(|m| m.1),
            Some(2)
        );
        assert_eq!(
            rounded_mean(&[2, 3], MidpointRounding::Up).map(|m| m.1),
            Some(3)
        );
        assert_eq!(
            rounded_mean(&[2, 3], MidpointRounding::Down).map(|m| m.1),
            Some(2)
        );
        assert_eq!(
            rounded_mean(&[2, 3], MidpointRounding::Even).map(|m| m.1),
            Some(2)
        );
        assert_eq!(
            rounded_mean(&[3, 4], MidpointRounding::Even).map(|m| m.1),
            Some(4)
        );
        assert_eq!(rounded_mean(&[], MidpointRounding::Up), None);
    }

    fn metric_value() -> impl Strategy<Value = Decimal> {
        (-10_000i64..10_000).prop_map(|n| Decimal::new(n, 2))
    }

    proptest! {
        #[test]
        fn overall_is_within_scale_and_no_better_than_3_with_a_4(
            a in metric_value(), b in metric_value(), c in metric_value(), e in metric_value(), g in metric_value(), sm in any::<bool>()
        ) {
            let i = FinanceInputs { capital_service_capacity: a, liquidity_days: b, income_expenditure_margin_pct: c, distance_from_plan_pct: e, agency_spend_vs_ceiling_pct: g };
            let fsm = sm.then(financial_special_measures);
            let s = score_finance(&i, &rules(), fsm.as_ref());
            prop_assert!((1..=4).contains(&s.computed));
            if !sm { prop_assert_eq!(s.overall, s.computed); }
            prop_assert!((1..=4).contains(&s.overall));
            prop_assert!(s.scores.as_array().iter().all(|x| (1..=4).contains(x)));
            if s.scores.as_array().contains(&4) { prop_assert!(s.overall >= 3); }
            if sm { prop_assert_eq!(s.overall, 4); }
        }

        #[test]
        fn improving_a_metric_never_worsens_its_score(v in metric_value(), delta in 0i64..1000) {
            let r = rules();
            let better = v + Decimal::new(delta, 2);
            prop_assert!(r.finance.capital_service_capacity.score(better).score <= r.finance.capital_service_capacity.score(v).score);
            let lower = v - Decimal::new(delta, 2);
            prop_assert!(r.finance.agency_spend_vs_ceiling_pct.score(lower).score <= r.finance.agency_spend_vs_ceiling_pct.score(v).score);
        }
    }
}
