//! The counting rule behind CQC's aggregation principles (DOMAIN.md §2.1) and the combined rating
//! (§3): count the real ratings underneath, compare the counts with thresholds that may depend on
//! how many there are, and say which rule fired.

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

/// How many of each rating were counted, and how many non-ratings were left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AggregateCounts {
    pub outstanding: usize,
    pub good: usize,
    pub requires_improvement: usize,
    pub inadequate: usize,
    pub excluded_non_ratings: usize,
}

impl AggregateCounts {
    pub fn rated(&self) -> usize {
        self.outstanding + self.good + self.requires_improvement + self.inadequate
    }
}

/// The outcome of one aggregation: the rating (or `None`: nothing real to aggregate) and the rule
/// that fired, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub rating: Option<Rating>,
    pub counts: AggregateCounts,
    pub rule: String,
}

/// Aggregate ratings with the given thresholds. Non-ratings are excluded from the counts; with no
/// real rating left the result is "no rating", not an error.
pub fn aggregate<I>(inputs: I, t: &Thresholds) -> Aggregate
where
    I: IntoIterator<Item = RatingValue>,
{
    let mut c = AggregateCounts::default();
    for v in inputs {
        match v {
            RatingValue::Rated(Rating::Outstanding) => c.outstanding += 1,
            RatingValue::Rated(Rating::Good) => c.good += 1,
            RatingValue::Rated(Rating::RequiresImprovement) => c.requires_improvement += 1,
            RatingValue::Rated(Rating::Inadequate) => c.inadequate += 1,
            RatingValue::Unrated(_) => c.excluded_non_ratings += 1,
        }
    }
    let n = c.rated();
    let excluded = if c.excluded_non_ratings > 0 {
        format!(" ({} non-ratings excluded)", c.excluded_non_ratings)
    } else {
        String::new()
    };
    if n == 0 {
        return Aggregate {
            rating: None,
            counts: c,
            rule: format!("no real ratings to aggregate{excluded} → no rating"),
        };
    }
    let xi = t.inadequate.for_n(n);
    let xr = t.requires_improvement.for_n(n);
    let xo = t.outstanding.for_n(n);
    let (rating, rule) = if c.inadequate >= xi {
        (
            Rating::Inadequate,
            format!(
                "{} of {n} ratings inadequate, threshold {xi} → Inadequate",
                c.inadequate
            ),
        )
    } else if t.any_inadequate_limits_to_ri && c.inadequate > 0 {
        (
            Rating::RequiresImprovement,
            format!(
                "{} of {n} ratings inadequate, below threshold {xi}, limits to Requires improvement",
                c.inadequate
            ),
        )
    } else if c.requires_improvement >= xr {
        (
            Rating::RequiresImprovement,
            format!(
                "{} of {n} ratings requires improvement, threshold {xr} → Requires improvement",
                c.requires_improvement
            ),
        )
    } else if c.outstanding >= xo && c.outstanding + c.good == n {
        (
            Rating::Outstanding,
            format!(
                "{} of {n} ratings outstanding, threshold {xo}, the rest good → Outstanding",
                c.outstanding
            ),
        )
    } else {
        let why = if c.outstanding >= xo {
            format!(
                "{} of {n} outstanding but not all others good ({} requires improvement, {} inadequate)",
                c.outstanding, c.requires_improvement, c.inadequate
            )
        } else {
            format!(
                "{} inadequate, {} requires improvement (threshold {xr}), {} outstanding (threshold {xo}) of {n}",
                c.inadequate, c.requires_improvement, c.outstanding
            )
        };
        (Rating::Good, format!("{why} → Good"))
    };
    Aggregate {
        rating: Some(rating),
        counts: c,
        rule: format!("{rule}{excluded}"),
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
        assert!(a.rule.contains("no rating"), "{}", a.rule);
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
            a.rule,
            "2 of 5 ratings inadequate, threshold 2 → Inadequate"
        );
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
