//! Property tests of the rule invariants at the trust level (issue 4): the aggregate never
//! exceeds the best rating beneath it nor falls below the worst; raising one input never lowers
//! any result; the order of inputs never matters.

// Tests may panic on broken fixtures; the workspace lints forbid it only in library code.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::NaiveDate;
use cqc_rules::*;
use oversight_rating::{KeyQuestion, Rating, RatingValue};
use proptest::prelude::*;

fn rating() -> impl Strategy<Value = Rating> {
    prop_oneof![
        Just(Rating::Inadequate),
        Just(Rating::RequiresImprovement),
        Just(Rating::Good),
        Just(Rating::Outstanding)
    ]
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2015, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(day))))
        .unwrap_or(NaiveDate::MIN)
}

/// Per location, per service: five ratings and a report day.
type Shape = (Vec<Vec<([Rating; 5], u32)>>, Rating, bool);

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::collection::vec(
            prop::collection::vec((prop::array::uniform5(rating()), 0u32..3000), 1..5),
            1..4,
        ),
        rating(),
        any::<bool>(),
    )
}

fn evidence((locations, wl, acute): &Shape) -> TrustEvidence {
    TrustEvidence {
        trust: "RXX".parse().expect("trust"),
        trust_type: if *acute {
            TrustType::Acute
        } else {
            TrustType::MentalHealth
        },
        locations: locations
            .iter()
            .enumerate()
            .map(|(li, services)| LocationEvidence {
                id: format!("RXX{li:02}").parse().expect("site"),
                name: None,
                services: services
                    .iter()
                    .enumerate()
                    .map(|(si, (rs, day))| ServiceEvidence {
                        // Distinct per location so non-location trusts do not merge them.
                        service: format!("svc{li}-{si}").parse().expect("service"),
                        ratings: KeyQuestion::ALL
                            .into_iter()
                            .zip(rs)
                            .map(|(key_question, r)| KqServiceRating {
                                key_question,
                                rating: RatingValue::Rated(*r),
                                report_date: date(*day),
                                limiter: None,
                                statement_scores: Vec::new(),
                            })
                            .collect(),
                        merged_from: None,
                        significantly_small: Vec::new(),
                    })
                    .collect(),
            })
            .collect(),
        well_led: vec![WellLedAssessment {
            rating: RatingValue::Rated(*wl),
            report_date: date(3000),
            statement_scores: Vec::new(),
        }],
    }
}

fn as_of() -> NaiveDate {
    date(4000)
}

/// Trust key questions and overall.
fn trust_ratings(q: &TrustQuality) -> Vec<Option<Rating>> {
    KeyQuestion::ALL
        .iter()
        .map(|kq| q.key_questions.get(kq).and_then(|r| r.rating))
        .chain(std::iter::once(q.overall.rating))
        .collect()
}

fn raise(r: Rating) -> Rating {
    match r {
        Rating::Inadequate => Rating::RequiresImprovement,
        Rating::RequiresImprovement => Rating::Good,
        _ => Rating::Outstanding,
    }
}

proptest! {
    #[test]
    fn trust_ratings_stay_within_the_inputs(s in shape()) {
        let q = rate_trust(&evidence(&s), as_of(), &RuleSet::cqc_2018());
        let leaves: Vec<([Rating; 5], u32)> = s.0.iter().flatten().copied().collect();
        for (i, kq) in KeyQuestion::ALL.iter().enumerate() {
            let got = q.key_questions[kq].rating.expect("rated");
            let (lo, hi) = if *kq == KeyQuestion::WellLed {
                (s.1, s.1)
            } else {
                let col: Vec<Rating> = leaves.iter().map(|(rs, _)| rs[i]).collect();
                (col.iter().copied().min().expect("some"), col.iter().copied().max().expect("some"))
            };
            prop_assert!(lo <= got && got <= hi, "{kq:?}: {got:?} not in {lo:?}..={hi:?}");
        }
        let all: Vec<Rating> = leaves.iter().flat_map(|(rs, _)| rs.iter().copied()).chain([s.1]).collect();
        let overall = q.overall.rating.expect("rated");
        prop_assert!(all.iter().copied().min().expect("some") <= overall);
        prop_assert!(overall <= all.iter().copied().max().expect("some"));
        // The trust KQ is dated by the latest report beneath it.
        let latest = leaves.iter().map(|(_, d)| date(*d)).max();
        prop_assert_eq!(q.key_questions[&KeyQuestion::Safe].date, latest);
    }

    #[test]
    fn raising_one_input_never_lowers_any_trust_rating(
        s in shape(),
        loc in any::<prop::sample::Index>(),
        svc in any::<prop::sample::Index>(),
        kq in 0usize..6,
    ) {
        let before = trust_ratings(&rate_trust(&evidence(&s), as_of(), &RuleSet::cqc_2018()));
        let mut raised = s.clone();
        if kq == 5 {
            raised.1 = raise(raised.1);
        } else {
            let l = loc.index(raised.0.len());
            let v = svc.index(raised.0[l].len());
            raised.0[l][v].0[kq] = raise(raised.0[l][v].0[kq]);
        }
        let after = trust_ratings(&rate_trust(&evidence(&raised), as_of(), &RuleSet::cqc_2018()));
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(a >= b, "{before:?} → {after:?}");
        }
    }

    #[test]
    fn order_of_inputs_never_matters(s in shape(), seed in any::<u64>()) {
        let ev = evidence(&s);
        let mut shuffled = ev.clone();
        let n = shuffled.locations.len();
        shuffled.locations.rotate_left((seed as usize) % n);
        for (i, l) in shuffled.locations.iter_mut().enumerate() {
            l.services.reverse();
            let m = l.services.len();
            l.services.rotate_left((seed as usize).wrapping_add(i) % m);
            for sv in &mut l.services {
                sv.ratings.reverse();
            }
        }
        for rules in [RuleSet::cqc_2018(), RuleSet::saf_2023()] {
            let a = rate_trust(&ev, as_of(), &rules);
            let b = rate_trust(&shuffled, as_of(), &rules);
            prop_assert_eq!(trust_ratings(&a), trust_ratings(&b));
            let by_id = |q: &TrustQuality| {
                let mut v: Vec<(String, Option<Rating>)> =
                    q.locations.iter().map(|l| (l.id.to_string(), l.overall.rating)).collect();
                v.sort();
                v
            };
            prop_assert_eq!(by_id(&a), by_id(&b));
        }
    }

    #[test]
    fn saf_raising_one_score_never_lowers_the_trust(
        base in prop::collection::vec(prop::collection::vec(1i64..=4, 1..6), 5),
        which in 0usize..5,
        pos in any::<prop::sample::Index>(),
    ) {
        let build = |sc: &Vec<Vec<i64>>| {
            let mut ev = evidence(&(vec![vec![([Rating::Good; 5], 1)]], Rating::Good, true));
            for (r, s) in ev.locations[0].services[0].ratings.iter_mut().zip(sc) {
                r.statement_scores = s.iter().map(|v| QualityStatementScore::new(*v, "s").expect("1–4")).collect();
            }
            trust_ratings(&rate_trust(&ev, as_of(), &RuleSet::saf_2023()))
        };
        let before = build(&base);
        let mut raised = base.clone();
        let i = pos.index(raised[which].len());
        raised[which][i] = (raised[which][i] + 1).min(4);
        let after = build(&raised);
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(a >= b, "{before:?} → {after:?}");
        }
    }
}
