//! The counting rule behind CQC's aggregation principles (DOMAIN.md §2.1) and the combined rating
//! (§3): count the real ratings underneath, compare the counts with thresholds that may depend on
//! how many there are, and say which rule fired.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Rating, RatingValue};

/// One size band of a threshold: for `n <= max_n` (or any larger `n` when `max_n` is `None`) the
/// threshold is `x`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeBand {
    pub max_n: Option<usize>,
    pub x: usize,
}

/// How many ratings of one kind trigger a rule, possibly depending on how many real ratings there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CountThreshold {
    Fixed(usize),
    /// Bands in increasing `max_n`; the last should have `max_n: None`.
    BySize(Vec<SizeBand>),
}

impl CountThreshold {
    /// CQC's X (§2.1): 1 for n ≤ 3, 2 for 4 ≤ n ≤ 8, 3 for n ≥ 9.
    pub fn cqc_2018() -> Self {
        CountThreshold::BySize(vec![
            SizeBand {
                max_n: Some(3),
                x: 1,
            },
            SizeBand {
                max_n: Some(8),
                x: 2,
            },
            SizeBand { max_n: None, x: 3 },
        ])
    }

    #[inline]
    pub fn for_n(&self, n: usize) -> usize {
        match self {
            CountThreshold::Fixed(x) => *x,
            CountThreshold::BySize(bands) => bands
                .iter()
                .find(|b| b.max_n.is_none_or(|m| n <= m))
                .or(bands.last())
                .map_or(1, |b| b.x),
        }
    }
}

/// The parameters of one aggregation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub inadequate: CountThreshold,
    pub requires_improvement: CountThreshold,
    pub outstanding: CountThreshold,
    /// One inadequate below the inadequate threshold still limits the result to at best RI.
    pub any_inadequate_limits_to_ri: bool,
}

impl Thresholds {
    /// CQC's aggregation of KQs and services (rule set `cqc-2018`).
    pub fn cqc_2018() -> Self {
        Thresholds {
            inadequate: CountThreshold::cqc_2018(),
            requires_improvement: CountThreshold::cqc_2018(),
            outstanding: CountThreshold::cqc_2018(),
            any_inadequate_limits_to_ri: true,
        }
    }
}

/// How many of each rating were counted, and how many non-ratings were left out. (`u32`: an
/// explanation at every level carries a copy.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AggregateCounts {
    pub outstanding: u32,
    pub good: u32,
    pub requires_improvement: u32,
    pub inadequate: u32,
    pub excluded_non_ratings: u32,
}

impl AggregateCounts {
    pub fn rated(&self) -> u32 {
        self.outstanding + self.good + self.requires_improvement + self.inadequate
    }
}

/// Which row of the counting rule fired (DOMAIN.md §2.1, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CountingRow {
    /// Nothing real beneath: no rating.
    NoRealRatings,
    /// At least X inadequate.
    Inadequate,
    /// Some inadequate, fewer than X: at best requires improvement.
    InadequateLimitsToRequiresImprovement,
    /// At least X requires improvement.
    RequiresImprovement,
    /// At least X outstanding and all the rest good.
    Outstanding,
    /// At least X outstanding, but not all the rest good: good.
    GoodNotAllOthersGood,
    /// None of the above: good.
    Good,
}

impl CountingRow {
    /// The rating the row gives.
    pub fn rating(self) -> Option<Rating> {
        match self {
            CountingRow::NoRealRatings => None,
            CountingRow::Inadequate => Some(Rating::Inadequate),
            CountingRow::InadequateLimitsToRequiresImprovement
            | CountingRow::RequiresImprovement => Some(Rating::RequiresImprovement),
            CountingRow::Outstanding => Some(Rating::Outstanding),
            CountingRow::GoodNotAllOthersGood | CountingRow::Good => Some(Rating::Good),
        }
    }
}

/// The counting rule as it fired: the counts, the thresholds X for their `n`, and the row. Its
/// `Display` is the rule in words, e.g. "2 of 5 ratings inadequate, threshold 2 → Inadequate".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountingRule {
    pub row: CountingRow,
    pub counts: AggregateCounts,
    /// X for inadequate at this `n`.
    pub inadequate_at: u32,
    /// X for requires improvement at this `n`.
    pub requires_improvement_at: u32,
    /// X for outstanding at this `n`.
    pub outstanding_at: u32,
}

impl fmt::Display for CountingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        let n = c.rated();
        let (xi, xr, xo) = (
            self.inadequate_at,
            self.requires_improvement_at,
            self.outstanding_at,
        );
        match self.row {
            CountingRow::NoRealRatings => f.write_str("no real ratings to aggregate")?,
            CountingRow::Inadequate => write!(
                f,
                "{} of {n} ratings inadequate, threshold {xi} → Inadequate",
                c.inadequate
            )?,
            CountingRow::InadequateLimitsToRequiresImprovement => write!(
                f,
                "{} of {n} ratings inadequate, below threshold {xi}, limits to Requires improvement",
                c.inadequate
            )?,
            CountingRow::RequiresImprovement => write!(
                f,
                "{} of {n} ratings requires improvement, threshold {xr} → Requires improvement",
                c.requires_improvement
            )?,
            CountingRow::Outstanding => write!(
                f,
                "{} of {n} ratings outstanding, threshold {xo}, the rest good → Outstanding",
                c.outstanding
            )?,
            CountingRow::GoodNotAllOthersGood => write!(
                f,
                "{} of {n} outstanding but not all others good ({} requires improvement, {} inadequate) → Good",
                c.outstanding, c.requires_improvement, c.inadequate
            )?,
            CountingRow::Good => write!(
                f,
                "{} inadequate, {} requires improvement (threshold {xr}), {} outstanding (threshold {xo}) of {n} → Good",
                c.inadequate, c.requires_improvement, c.outstanding
            )?,
        }
        if c.excluded_non_ratings > 0 {
            write!(f, " ({} non-ratings excluded)", c.excluded_non_ratings)?;
        }
        if self.row == CountingRow::NoRealRatings {
            f.write_str(" → no rating")?;
        }
        Ok(())
    }
}

/// The outcome of one aggregation: the rating (or `None`: nothing real to aggregate) and the rule
/// that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub rating: Option<Rating>,
    pub counts: AggregateCounts,
    pub rule: CountingRule,
}

/// Aggregate ratings with the given thresholds. Non-ratings are excluded from the counts; with no
/// real rating left the result is "no rating", not an error.
pub fn aggregate<I>(inputs: I, t: &Thresholds) -> Aggregate
where
    I: IntoIterator<Item = RatingValue>,
{
    // Counted by index rather than by branch: ratings come in no predictable order.
    let mut by_kind = [0u32; 5];
    for v in inputs {
        let kind = match v {
            RatingValue::Rated(r) => r as usize,
            RatingValue::Unrated(_) => 4,
        };
        by_kind[kind] += 1;
    }
    let [
        inadequate,
        requires_improvement,
        good,
        outstanding,
        excluded_non_ratings,
    ] = by_kind;
    let c = AggregateCounts {
        outstanding,
        good,
        requires_improvement,
        inadequate,
        excluded_non_ratings,
    };
    let n = c.rated();
    let x =
        |threshold: &CountThreshold| u32::try_from(threshold.for_n(n as usize)).unwrap_or(u32::MAX);
    let (xi, xr, xo) = (
        x(&t.inadequate),
        x(&t.requires_improvement),
        x(&t.outstanding),
    );
    let row = if n == 0 {
        CountingRow::NoRealRatings
    } else if c.inadequate >= xi {
        CountingRow::Inadequate
    } else if t.any_inadequate_limits_to_ri && c.inadequate > 0 {
        CountingRow::InadequateLimitsToRequiresImprovement
    } else if c.requires_improvement >= xr {
        CountingRow::RequiresImprovement
    } else if c.outstanding >= xo && c.outstanding + c.good == n {
        CountingRow::Outstanding
    } else if c.outstanding >= xo {
        CountingRow::GoodNotAllOthersGood
    } else {
        CountingRow::Good
    };
    Aggregate {
        rating: row.rating(),
        counts: c,
        rule: CountingRule {
            row,
            counts: c,
            inadequate_at: xi,
            requires_improvement_at: xr,
            outstanding_at: xo,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NonRating;
    use Rating::*;
    use proptest::prelude::*;

    fn agg(rs: &[Rating]) -> Option<Rating> {
        aggregate(
            rs.iter().map(|r| RatingValue::Rated(*r)),
            &Thresholds::cqc_2018(),
        )
        .rating
    }

    #[test]
    fn domain_example_one_ri_with_outstandings_is_good() {
        // safe RI, well-led O, caring O, responsive G, effective G → Good
        assert_eq!(
            agg(&[RequiresImprovement, Outstanding, Outstanding, Good, Good]),
            Some(Good)
        );
    }

    #[test]
    fn threshold_x_by_size() {
        let x = CountThreshold::cqc_2018();
        let got: Vec<usize> = (1..=12).map(|n| x.for_n(n)).collect();
        assert_eq!(got, vec![1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3]);
    }

    #[test]
    fn table_of_rule_rows() {
        let cases: &[(&[Rating], Rating)] = &[
            // n ≤ 3, X = 1
            (&[Inadequate], Inadequate),
            (&[Good, Good, Inadequate], Inadequate),
            (&[Good, RequiresImprovement], RequiresImprovement),
            (&[Outstanding, Good, Good], Outstanding),
            (&[Good, Good, Good], Good),
            // 4 ≤ n ≤ 8, X = 2
            (&[Inadequate, Inadequate, Good, Good, Good], Inadequate),
            (&[Inadequate, Good, Good, Good, Good], RequiresImprovement),
            (
                &[RequiresImprovement, RequiresImprovement, Good, Good, Good],
                RequiresImprovement,
            ),
            (&[RequiresImprovement, Good, Good, Good, Good], Good),
            (&[Outstanding, Outstanding, Good, Good, Good], Outstanding),
            (&[Outstanding, Good, Good, Good, Good], Good),
            (
                &[Outstanding, Outstanding, RequiresImprovement, Good, Good],
                Good,
            ),
            // n ≥ 9, X = 3
            (
                &[
                    Inadequate, Inadequate, Good, Good, Good, Good, Good, Good, Good,
                ],
                RequiresImprovement,
            ),
            (
                &[
                    Inadequate, Inadequate, Inadequate, Good, Good, Good, Good, Good, Good,
                ],
                Inadequate,
            ),
            (
                &[
                    RequiresImprovement,
                    RequiresImprovement,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                ],
                Good,
            ),
            (
                &[
                    RequiresImprovement,
                    RequiresImprovement,
                    RequiresImprovement,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                ],
                RequiresImprovement,
            ),
            (
                &[
                    Outstanding,
                    Outstanding,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                ],
                Good,
            ),
            (
                &[
                    Outstanding,
                    Outstanding,
                    Outstanding,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                    Good,
                ],
                Outstanding,
            ),
        ];
        for (inputs, want) in cases {
            assert_eq!(agg(inputs), Some(*want), "{inputs:?}");
        }
    }

    #[test]
    fn non_ratings_are_excluded_and_empty_gives_no_rating() {
        let t = Thresholds::cqc_2018();
        let a = aggregate(
            [
                RatingValue::Unrated(NonRating::NotRated),
                RatingValue::Unrated(NonRating::InspectedButNotRated),
            ],
            &t,
        );
        assert_eq!(a.rating, None);
        assert_eq!(a.counts.excluded_non_ratings, 2);
        assert!(a.rule.to_string().contains("no rating"), "{}", a.rule);
        let empty = aggregate(std::iter::empty(), &t);
        assert_eq!(empty.rating, None);
        // A non-rating must not count as good: with it excluded, 1 RI of 3 is RI (X = 1), not Good.
        let a = aggregate(
            [
                RatingValue::Rated(RequiresImprovement),
                RatingValue::Rated(Good),
                RatingValue::Rated(Good),
                RatingValue::Unrated(NonRating::NotRated),
            ],
            &t,
        );
        assert_eq!(a.rating, Some(RequiresImprovement));
    }

    #[test]
    fn rule_text_names_counts_and_threshold() {
        let a = aggregate(
            [Inadequate, Inadequate, Good, Good, Good].map(RatingValue::Rated),
            &Thresholds::cqc_2018(),
        );
        assert_eq!(
            a.rule.to_string(),
            "2 of 5 ratings inadequate, threshold 2 → Inadequate"
        );
    }

    #[test]
    fn each_row_renders_as_domain_words() {
        // The sentences of every row, as the rules have always worded them.
        let t = Thresholds::cqc_2018();
        let cases: &[(&[RatingValue], &str)] = &[
            (&[], "no real ratings to aggregate → no rating"),
            (
                &[RatingValue::Unrated(NonRating::NotRated)],
                "no real ratings to aggregate (1 non-ratings excluded) → no rating",
            ),
            (
                &[Inadequate, Inadequate, Good, Good, Good].map(RatingValue::Rated),
                "2 of 5 ratings inadequate, threshold 2 → Inadequate",
            ),
            (
                &[Inadequate, Good, Good, Good, Outstanding].map(RatingValue::Rated),
                "1 of 5 ratings inadequate, below threshold 2, limits to Requires improvement",
            ),
            (
                &[
                    RequiresImprovement,
                    RequiresImprovement,
                    Good,
                    Good,
                    Outstanding,
                ]
                .map(RatingValue::Rated),
                "2 of 5 ratings requires improvement, threshold 2 → Requires improvement",
            ),
            (
                &[Outstanding, Outstanding, Good, Good, Good].map(RatingValue::Rated),
                "2 of 5 ratings outstanding, threshold 2, the rest good → Outstanding",
            ),
            (
                &[RequiresImprovement, Outstanding, Outstanding, Good, Good]
                    .map(RatingValue::Rated),
                "2 of 5 outstanding but not all others good (1 requires improvement, 0 inadequate) → Good",
            ),
            (
                &[Outstanding, Good, Good, Good, Good].map(RatingValue::Rated),
                "0 inadequate, 0 requires improvement (threshold 2), 1 outstanding (threshold 2) of 5 → Good",
            ),
            (
                &[
                    RatingValue::Rated(Good),
                    RatingValue::Rated(Inadequate),
                    RatingValue::Unrated(NonRating::InspectedButNotRated),
                ],
                "1 of 2 ratings inadequate, threshold 1 → Inadequate (1 non-ratings excluded)",
            ),
        ];
        for (inputs, want) in cases {
            let a = aggregate(inputs.iter().copied(), &t);
            assert_eq!(a.rule.to_string(), *want, "{inputs:?}");
            assert_eq!(a.rule.row.rating(), a.rating);
        }
    }

    fn rating() -> impl Strategy<Value = Rating> {
        prop_oneof![
            Just(Inadequate),
            Just(RequiresImprovement),
            Just(Good),
            Just(Outstanding)
        ]
    }

    proptest! {
        #[test]
        fn never_above_best_nor_below_worst(rs in proptest::collection::vec(rating(), 1..20)) {
            let got = agg(&rs).expect("non-empty");
            let best = rs.iter().copied().max().expect("non-empty");
            let worst = rs.iter().copied().min().expect("non-empty");
            prop_assert!(got <= best && got >= worst, "{rs:?} → {got:?}");
        }

        #[test]
        fn raising_one_input_never_lowers(rs in proptest::collection::vec(rating(), 1..20), idx in any::<proptest::sample::Index>()) {
            let i = idx.index(rs.len());
            let before = agg(&rs);
            let mut raised = rs.clone();
            raised[i] = match raised[i] { Inadequate => RequiresImprovement, RequiresImprovement => Good, _ => Outstanding };
            prop_assert!(agg(&raised) >= before, "{rs:?} → {raised:?}");
        }

        #[test]
        fn order_never_matters(mut rs in proptest::collection::vec(rating(), 1..20), seed in any::<u64>()) {
            let before = agg(&rs);
            let len = rs.len();
            rs.rotate_left((seed as usize) % len);
            rs.reverse();
            prop_assert_eq!(agg(&rs), before);
        }
    }
}
