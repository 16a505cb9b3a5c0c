//! What-if tests: hand-worked examples from DOMAIN.md §2.1 and §3, and the definition checked
//! against the rules themselves — `combine` for the combined rating, the §2.1 counting rule with
//! cqc-2018's thresholds (what `cqc-rules` rates the trust overall with) for overall quality —
//! by an enumeration written here, independent of the search in `whatif.rs`.

use super::*;
use crate::{ApprovedUor, DatedRating, InputSources, TrustType};
use KeyQuestion::*;
use Rating::*;
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

const KQ_DATE: &str = "2018-06-01";
const UOR_DATE: &str = "2018-07-01";
const AS_OF: &str = "2018-07-01";

/// The ratings in the order `Changeable` sorts them: safe, effective, caring, responsive,
/// well-led, use of resources.
const SIX: [Changeable; 6] = [
    Changeable::KeyQuestion(Safe),
    Changeable::KeyQuestion(Effective),
    Changeable::KeyQuestion(Caring),
    Changeable::KeyQuestion(Responsive),
    Changeable::KeyQuestion(WellLed),
    Changeable::UseOfResources,
];

/// A trust of `trust_type` with these key questions (`None`: a non-rating) and use of resources.
fn trust(trust_type: TrustType, kqs: [Option<Rating>; 5], uor: Option<Rating>) -> CombineInput {
    let quality = oversight_rating::aggregate(
        kqs.iter().flatten().copied().map(RatingValue::Rated),
        &Thresholds::cqc_2018(),
    )
    .rating;
    CombineInput {
        trust_type,
        key_questions: KeyQuestion::ALL
            .into_iter()
            .zip(kqs)
            .map(|(kq, r)| {
                (
                    kq,
                    DatedRating {
                        rating: r,
                        date: Some(date(KQ_DATE)),
                    },
                )
            })
            .collect(),
        overall_quality: DatedRating {
            rating: quality,
            date: Some(date(KQ_DATE)),
        },
        uor: uor.map(|rating| ApprovedUor {
            rating,
            date: date(UOR_DATE),
            version: 1,
        }),
        sources: InputSources::default(),
    }
}

fn acute(kqs: [Rating; 5], uor: Rating) -> CombineInput {
    trust(TrustType::Acute, kqs.map(Some), Some(uor))
}

fn counting() -> QualityAggregation {
    QualityAggregation::Counting(Thresholds::cqc_2018())
}

fn run(input: &CombineInput) -> RatingChanges {
    rating_changes(input, date(AS_OF), &CombinedRuleSet::default(), &counting())
}

fn set(changes: &[(Changeable, Rating, Rating)]) -> ChangeSet {
    ChangeSet {
        changes: changes
            .iter()
            .map(|&(rating, from, to)| Change { rating, from, to })
            .collect(),
    }
}

fn singles(changes: &[(Changeable, Rating, Rating)]) -> Vec<ChangeSet> {
    changes.iter().map(|c| set(&[*c])).collect()
}

const S: Changeable = Changeable::KeyQuestion(Safe);
const E: Changeable = Changeable::KeyQuestion(Effective);
const C: Changeable = Changeable::KeyQuestion(Caring);
const R: Changeable = Changeable::KeyQuestion(Responsive);
const W: Changeable = Changeable::KeyQuestion(WellLed);
const U: Changeable = Changeable::UseOfResources;

fn moves(r: &Result<Moves, Unavailable>) -> &Moves {
    r.as_ref().expect("a what-if")
}

#[test]
fn hand_example_of_section_3() {
    // DOMAIN.md §3: S=RI, E=G, C=G, R=G, W=G, UoR=RI → quality Good, combined Good.
    let out = run(&acute(
        [RequiresImprovement, Good, Good, Good, Good],
        RequiresImprovement,
    ));

    // Overall quality (§2.1, n = 5 so X = 2): 1 RI + 4 G is Good.
    let q = moves(&out.overall_quality);
    assert_eq!(q.current, Good);
    // Up to Outstanding needs at least 2 outstanding *and all others good*: safe (RI) must move,
    // and to count as one of the two it goes to Outstanding; with one other key question to
    // Outstanding that is 2 O + 3 G. Safe to Good plus one Outstanding is only 1 O (Good), and
    // two Outstanding without safe leave the RI (Good): no other set of 2 does it.
    let up = [E, C, R, W]
        .map(|k| {
            set(&[
                (S, RequiresImprovement, Outstanding),
                (k, Good, Outstanding),
            ])
        })
        .to_vec();
    assert_eq!(
        q.up,
        Step::Changes {
            to: Outstanding,
            sets: up
        }
    );
    // Down to RI needs 2 RI (X = 2) or any inadequate: safe RI → Inadequate (1 inadequate limits
    // to RI), or any good key question to RI (2 RI). A good one to Inadequate would also do, but
    // moving it only to RI does: that is the smaller change.
    assert_eq!(
        q.down,
        Step::Changes {
            to: RequiresImprovement,
            sets: singles(&[
                (S, RequiresImprovement, Inadequate),
                (E, Good, RequiresImprovement),
                (C, Good, RequiresImprovement),
                (R, Good, RequiresImprovement),
                (W, Good, RequiresImprovement),
            ])
        }
    );

    // Combined (§3, six ratings; inadequate 2, RI 3, outstanding 2): 2 RI + 4 G is Good.
    let c = moves(&out.combined);
    assert_eq!(c.current, Good);
    // Up: Outstanding needs no RI left and 2 outstanding: both RIs (safe, use of resources) to
    // Outstanding is the only set of 2.
    assert_eq!(
        c.up,
        Step::Changes {
            to: Outstanding,
            sets: vec![set(&[
                (S, RequiresImprovement, Outstanding),
                (U, RequiresImprovement, Outstanding)
            ])]
        }
    );
    // Down: a third RI (any good key question), or any inadequate (safe or use of resources).
    assert_eq!(
        c.down,
        Step::Changes {
            to: RequiresImprovement,
            sets: singles(&[
                (S, RequiresImprovement, Inadequate),
                (E, Good, RequiresImprovement),
                (C, Good, RequiresImprovement),
                (R, Good, RequiresImprovement),
                (W, Good, RequiresImprovement),
                (U, RequiresImprovement, Inadequate),
            ])
        }
    );
    let Step::Changes { sets, to } = &c.down else {
        unreachable!()
    };
    assert_eq!(
        sentence(&sets[3], Target::Combined, *to),
        "responsive from Good to Requires improvement would make the combined rating Requires improvement"
    );
}

#[test]
fn responsive_from_ri_to_good_would_make_the_combined_rating_good() {
    // The example. S=RI, E=G, C=G, R=RI, W=G, UoR=RI: three RI of six reach the
    // threshold of 3 (§3) → combined RI. Any one of them to Good leaves 2 RI + 4 G → Good.
    // Quality: S and R RI, 3 G: 2 RI of 5 reach X = 2 → RI; either to Good → 1 RI → Good.
    let out = run(&acute(
        [RequiresImprovement, Good, Good, RequiresImprovement, Good],
        RequiresImprovement,
    ));
    let c = moves(&out.combined);
    assert_eq!(c.current, RequiresImprovement);
    assert_eq!(
        c.up,
        Step::Changes {
            to: Good,
            sets: singles(&[
                (S, RequiresImprovement, Good),
                (R, RequiresImprovement, Good),
                (U, RequiresImprovement, Good),
            ])
        }
    );
    let Step::Changes { sets, to } = &c.up else {
        unreachable!()
    };
    assert_eq!(
        sentence(&sets[1], Target::Combined, *to),
        "responsive from Requires improvement to Good would make the combined rating Good"
    );
    let q = moves(&out.overall_quality);
    assert_eq!(q.current, RequiresImprovement);
    assert_eq!(
        q.up,
        Step::Changes {
            to: Good,
            sets: singles(&[
                (S, RequiresImprovement, Good),
                (R, RequiresImprovement, Good)
            ])
        }
    );
    // Down to Inadequate needs 2 inadequate of 5 (X = 2): any two key questions to Inadequate,
    // 10 pairs; one inadequate only limits to RI. In Changeable order, the first is safe and
    // effective.
    let Step::Changes { to, sets } = &q.down else {
        panic!("{:?}", q.down)
    };
    assert_eq!(*to, Inadequate);
    assert_eq!(sets.len(), 10);
    assert_eq!(
        sets[0],
        set(&[(S, RequiresImprovement, Inadequate), (E, Good, Inadequate)])
    );
    assert_eq!(
        sentence(&sets[0], Target::OverallQuality, *to),
        "safe from Requires improvement to Inadequate and effective from Good to Inadequate would make overall quality Inadequate"
    );
}

#[test]
fn outstanding_goes_down_only_through_a_rating_below_good() {
    // All outstanding: nothing above. Down to Good: one outstanding to Good still leaves ≥ 2
    // outstanding and all the rest good (Outstanding, §2.1 and §3), so the smallest change is one
    // rating to RI: not all others good → Good. To Inadequate would limit to RI: two steps.
    let out = run(&acute([Outstanding; 5], Outstanding));
    for (what, ratings) in [(&out.overall_quality, &SIX[..5]), (&out.combined, &SIX[..])] {
        let m = moves(what);
        assert_eq!(m.current, Outstanding);
        assert_eq!(m.up, Step::AlreadyOutstanding);
        let expected: Vec<_> = ratings
            .iter()
            .map(|&k| (k, Outstanding, RequiresImprovement))
            .collect();
        assert_eq!(
            m.down,
            Step::Changes {
                to: Good,
                sets: singles(&expected)
            }
        );
    }
}

#[test]
fn inadequate_has_nothing_below() {
    // 2 inadequate key questions: quality Inadequate (X = 2 of 5) and combined Inadequate (2 of 6).
    let out = run(&acute([Inadequate, Inadequate, Good, Good, Good], Good));
    for what in [&out.overall_quality, &out.combined] {
        let m = moves(what);
        assert_eq!(m.current, Inadequate);
        assert_eq!(m.down, Step::AlreadyInadequate);
        // Up to RI: either inadequate to RI leaves one inadequate, which limits to RI.
        assert_eq!(
            m.up,
            Step::Changes {
                to: RequiresImprovement,
                sets: singles(&[
                    (S, Inadequate, RequiresImprovement),
                    (E, Inadequate, RequiresImprovement)
                ])
            }
        );
    }
}

#[test]
fn a_rating_may_need_to_move_two_steps() {
    // Safe inadequate, the rest good: one inadequate limits both to RI. Down to Inadequate needs a
    // second inadequate; a good rating moved only to RI is not one, so each good rating to
    // Inadequate is the smallest change (one rating, two steps). Up to Good: with no inadequate
    // left, one RI of 6 is below the RI threshold of 3 → Good, so safe to RI does it.
    let out = run(&acute([Inadequate, Good, Good, Good, Good], Good));
    let c = moves(&out.combined);
    assert_eq!(c.current, RequiresImprovement);
    assert_eq!(
        c.down,
        Step::Changes {
            to: Inadequate,
            sets: singles(&[
                (E, Good, Inadequate),
                (C, Good, Inadequate),
                (R, Good, Inadequate),
                (W, Good, Inadequate),
                (U, Good, Inadequate),
            ])
        }
    );
    assert_eq!(
        c.up,
        Step::Changes {
            to: Good,
            sets: singles(&[(S, Inadequate, RequiresImprovement)])
        }
    );
}

#[test]
fn no_exact_step_when_one_rating_decides() {
    // Only safe (O) and effective (RI) are real ratings; the rest are non-ratings (§1: excluded).
    // n = 2 so X = 1 (§2.1): one RI → RI. Effective to Good gives O + G: 1 outstanding and the
    // rest good → Outstanding, two steps up; safe cannot go up. No set lands on Good.
    let input = trust(
        TrustType::Acute,
        [
            Some(Outstanding),
            Some(RequiresImprovement),
            None,
            None,
            None,
        ],
        Some(Good),
    );
    let out = run(&input);
    let q = moves(&out.overall_quality);
    assert_eq!(q.current, RequiresImprovement);
    assert_eq!(q.up, Step::NoExactStep { to: Good });
    // Incomplete key questions: no combined rating, with the reason from the one eligibility rule.
    assert_eq!(
        out.combined,
        Err(Unavailable::NoCombined {
            reasons: vec![Ineligible::IncompleteKeyQuestions {
                missing: vec![Caring, Responsive, WellLed]
            }]
        })
    );
}

#[test]
fn ineligible_trusts_and_other_rule_sets_are_typed_not_computed() {
    let kqs = [Some(Good); 5];
    let mental_health = run(&trust(TrustType::MentalHealth, kqs, Some(Good)));
    assert_eq!(
        mental_health.combined,
        Err(Unavailable::NoCombined {
            reasons: vec![Ineligible::NotAcute {
                trust_type: TrustType::MentalHealth
            }]
        })
    );
    // Its overall quality still has a what-if: quality ratings do not depend on the trust type.
    assert_eq!(moves(&mental_health.overall_quality).current, Good);

    let no_uor = run(&trust(TrustType::Acute, kqs, None));
    assert_eq!(
        no_uor.combined,
        Err(Unavailable::NoCombined {
            reasons: vec![Ineligible::NoApprovedUor]
        })
    );

    // Shadow: before 5 March 2018 there is no combined rating.
    let shadow = rating_changes(
        &acute([Good; 5], Good),
        date("2018-01-01"),
        &CombinedRuleSet::default(),
        &counting(),
    );
    assert!(matches!(
        &shadow.combined,
        Err(Unavailable::NoCombined { reasons }) if matches!(reasons[..], [Ineligible::Shadow { forced: false, .. }])
    ));

    let nothing = run(&trust(TrustType::Acute, [None; 5], Some(Good)));
    assert_eq!(
        nothing.overall_quality,
        Err(Unavailable::NoKeyQuestionRatings)
    );

    let saf = rating_changes(
        &acute([Good; 5], Good),
        date(AS_OF),
        &CombinedRuleSet::default(),
        &QualityAggregation::NotCounting {
            rule_set: "saf-2023".into(),
        },
    );
    assert_eq!(
        saf.overall_quality,
        Err(Unavailable::QualityNotCounted {
            rule_set: "saf-2023".into()
        })
    );
    assert_eq!(moves(&saf.combined).current, Good);
}

#[test]
fn latest_part_date_is_the_latest_of_every_part() {
    let input = acute([Good; 5], Good);
    assert_eq!(input.latest_part_date(), Some(date(UOR_DATE)));
    let mut later_kq = input.clone();
    later_kq
        .key_questions
        .insert(Caring, DatedRating::new(Good, date("2019-01-02")));
    assert_eq!(later_kq.latest_part_date(), Some(date("2019-01-02")));
}

// ---- The definition, checked against the rules by an independent enumeration. ----

/// The rating the rule gives for a trust whose changeable ratings are `values` (one per entry of
/// `slots`): `combine` itself for the combined rating; the §2.1 counting rule with cqc-2018's
/// thresholds over the real key question ratings for overall quality.
fn rule_gives(
    target: Target,
    input: &CombineInput,
    as_of: NaiveDate,
    slots: &[Changeable],
    values: &[Rating],
) -> Option<Rating> {
    let mut changed = input.clone();
    for (slot, v) in slots.iter().zip(values) {
        match slot {
            Changeable::KeyQuestion(kq) => {
                if let Some(d) = changed.key_questions.get_mut(kq) {
                    d.rating = Some(*v);
                }
            }
            Changeable::UseOfResources => {
                if let Some(u) = changed.uor.as_mut() {
                    u.rating = *v;
                }
            }
        }
    }
    match target {
        Target::Combined => combine(&changed, as_of, &CombinedRuleSet::default()).combined,
        Target::OverallQuality => {
            oversight_rating::aggregate(
                changed
                    .key_questions
                    .values()
                    .filter_map(|d| d.rating)
                    .map(RatingValue::Rated),
                &Thresholds::cqc_2018(),
            )
            .rating
        }
    }
}

/// The ratings of `input` a change can move for `target`, with their ratings now.
fn slots(target: Target, input: &CombineInput) -> Vec<(Changeable, Rating)> {
    let mut out: Vec<(Changeable, Rating)> = KeyQuestion::ALL
        .into_iter()
        .filter_map(|kq| {
            Some((
                Changeable::KeyQuestion(kq),
                input.key_questions.get(&kq)?.rating?,
            ))
        })
        .collect();
    if target == Target::Combined
        && let Some(u) = input.uor
    {
        out.push((Changeable::UseOfResources, u.rating));
    }
    out
}

/// Every assignment of real ratings to `n` slots (4ⁿ of them).
fn every_assignment(n: usize) -> Vec<Vec<Rating>> {
    (0..4usize.pow(n as u32))
        .map(|mut code| {
            (0..n)
                .map(|_| {
                    let r = Rating::ALL[code % 4];
                    code /= 4;
                    r
                })
                .collect()
        })
        .collect()
}

/// Every assignment with each rating between `from` and `to` (both included).
fn between(from: &[Rating], to: &[Rating]) -> Vec<Vec<Rating>> {
    from.iter()
        .zip(to)
        .fold(vec![Vec::new()], |partial, (&a, &b)| {
            let range: Vec<Rating> = Rating::ALL
                .into_iter()
                .filter(|r| (a.min(b)..=a.max(b)).contains(r))
                .collect();
            partial
                .iter()
                .flat_map(|p| {
                    range.iter().map(move |r| {
                        let mut next = p.clone();
                        next.push(*r);
                        next
                    })
                })
                .collect()
        })
}

/// Checks one what-if against the rules: every suggested set moves exactly one step in its
/// direction and changes only ratings in that direction; no set of fewer ratings does; nothing
/// that weakens a suggested set (a proper subset, or a smaller move) does; and every set of the
/// smallest size not weakened by another is suggested. `rule` gives the rating for an assignment;
/// `all` is every assignment of as many ratings as `now` has ([`every_assignment`]).
fn check_against_the_rules(
    what: &Moves,
    now: &[(Changeable, Rating)],
    rule: &dyn Fn(&[Rating]) -> Option<Rating>,
    all: &[Vec<Rating>],
) -> Result<(), TestCaseError> {
    let original: Vec<Rating> = now.iter().map(|(_, r)| *r).collect();
    prop_assert_eq!(rule(&original), Some(what.current));
    prop_assert!(all.iter().all(|a| a.len() == now.len()));
    for direction in [Direction::Up, Direction::Down] {
        let step = what.step(direction);
        let Some(to) = direction.next(what.current) else {
            let end = match direction {
                Direction::Up => Step::AlreadyOutstanding,
                Direction::Down => Step::AlreadyInadequate,
            };
            prop_assert_eq!(step, &end);
            continue;
        };
        let toward = |from: Rating, v: Rating| match direction {
            Direction::Up => v >= from,
            Direction::Down => v <= from,
        };
        // Every set of changes in this direction that lands exactly on `to`.
        let hits: Vec<&Vec<Rating>> = all
            .iter()
            .filter(|a| a.iter().zip(&original).all(|(&v, &o)| toward(o, v)))
            .filter(|a| rule(a) == Some(to))
            .collect();
        let size = |a: &[Rating]| a.iter().zip(&original).filter(|(v, o)| v != o).count();
        let fewest = hits.iter().map(|a| size(a)).min();
        match step {
            Step::NoExactStep { to: t } => {
                prop_assert_eq!(*t, to);
                prop_assert!(hits.is_empty(), "{:?} reach {:?}", hits, to);
            }
            Step::Changes { to: t, sets } => {
                prop_assert_eq!(*t, to);
                prop_assert!(!sets.is_empty());
                let mut seen = Vec::new();
                for set in sets {
                    // Apply it.
                    let mut applied = original.clone();
                    for (i, c) in set.changes.iter().enumerate() {
                        let slot = now.iter().position(|(k, _)| *k == c.rating);
                        prop_assert!(slot.is_some(), "{:?} changes a rating not there", c);
                        let slot = slot.unwrap_or_default();
                        prop_assert_eq!(c.from, original[slot]);
                        prop_assert!(c.to != c.from && toward(c.from, c.to), "{:?}", c);
                        if i > 0 {
                            prop_assert!(set.changes[i - 1].rating < c.rating, "order {:?}", set);
                        }
                        applied[slot] = c.to;
                    }
                    prop_assert_eq!(rule(&applied), Some(to), "{} does not move it", set);
                    // No set of fewer ratings does it.
                    prop_assert_eq!(Some(set.changes.len()), fewest);
                    // Nothing weaker does it: each rating between where it is and where the set
                    // puts it, not all the way.
                    for a in between(&original, &applied) {
                        let weaker = a != applied;
                        prop_assert!(
                            !(weaker && rule(&a) == Some(to)),
                            "{:?} is weaker than {} and also moves it",
                            a,
                            set
                        );
                    }
                    seen.push(applied);
                }
                // Complete: every smallest hit that nothing weakens is suggested, once.
                for h in &hits {
                    if Some(size(h)) != fewest {
                        continue;
                    }
                    let weakened = hits.iter().any(|b| {
                        b != h
                            && b.iter()
                                .zip(h.iter())
                                .zip(&original)
                                .all(|((&bv, &hv), &o)| {
                                    (bv == o) == (hv == o) && (o.min(hv)..=o.max(hv)).contains(&bv)
                                })
                    });
                    let listed = seen.iter().filter(|s| s == h).count();
                    prop_assert_eq!(listed, usize::from(!weakened), "{:?}", h);
                }
                let mut sorted = sets.clone();
                sorted.sort_by_key(|s| {
                    s.changes
                        .iter()
                        .map(|c| (c.rating, c.to))
                        .collect::<Vec<_>>()
                });
                prop_assert_eq!(&sorted, sets, "not in the stable order");
            }
            other => prop_assert!(false, "{:?} for {:?} → {:?}", other, what.current, to),
        }
    }
    Ok(())
}

/// Every input of an eligible acute trust (4⁵ key question ratings × 4 use of resources), both
/// what-ifs checked. The rule is evaluated once per assignment of six and then looked up:
/// `combine` of each of the 4,096 assignments, the §2.1 aggregate of each of the 1,024.
#[test]
fn every_eligible_input_against_the_rules() {
    let as_of = date(AS_OF);
    let template = acute([Good; 5], Good);
    let index = |a: &[Rating]| a.iter().rev().fold(0usize, |acc, r| acc * 4 + *r as usize);
    let combined_table: Vec<Option<Rating>> = every_assignment(6)
        .iter()
        .map(|a| rule_gives(Target::Combined, &template, as_of, &SIX, a))
        .collect();
    let quality_table: Vec<Option<Rating>> = every_assignment(5)
        .iter()
        .map(|a| rule_gives(Target::OverallQuality, &template, as_of, &SIX[..5], a))
        .collect();
    let combined_rule = |a: &[Rating]| combined_table[index(a)];
    let quality_rule = |a: &[Rating]| quality_table[index(a)];
    let (all_five, all_six) = (every_assignment(5), every_assignment(6));
    for six in &all_six {
        let kqs: [Rating; 5] = [six[0], six[1], six[2], six[3], six[4]];
        let input = acute(kqs, six[5]);
        let out = run(&input);
        let q = moves(&out.overall_quality);
        check_against_the_rules(
            q,
            &slots(Target::OverallQuality, &input),
            &quality_rule,
            &all_five,
        )
        .unwrap_or_else(|e| panic!("quality of {six:?}: {e}"));
        let c = moves(&out.combined);
        check_against_the_rules(
            c,
            &slots(Target::Combined, &input),
            &combined_rule,
            &all_six,
        )
        .unwrap_or_else(|e| panic!("combined of {six:?}: {e}"));
    }
}

fn maybe_rating() -> impl Strategy<Value = Option<Rating>> {
    prop_oneof![
        3 => (0usize..4).prop_map(|i| Some(Rating::ALL[i])),
        1 => Just(None),
    ]
}

fn trust_type() -> impl Strategy<Value = TrustType> {
    prop_oneof![
        4 => Just(TrustType::Acute),
        1 => (0usize..TrustType::ALL.len()).prop_map(|i| TrustType::ALL[i]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any trust — non-ratings, no use of resources, any type, in or before the combined period:
    /// each what-if is either checked against `combine` and the §2.1 rule directly, or not
    /// computed for exactly the reason the rules give.
    #[test]
    fn any_trust_against_the_rules(
        kqs in proptest::array::uniform5(maybe_rating()),
        uor in maybe_rating(),
        trust_type in trust_type(),
        days_after_2018 in 0i64..365,
    ) {
        let input = trust(trust_type, kqs, uor);
        let as_of = date("2018-01-01") + chrono::Duration::days(days_after_2018);
        let out = rating_changes(&input, as_of, &CombinedRuleSet::default(), &counting());
        for target in [Target::OverallQuality, Target::Combined] {
            let now = slots(target, &input);
            let ks: Vec<Changeable> = now.iter().map(|(k, _)| *k).collect();
            let rule = |a: &[Rating]| rule_gives(target, &input, as_of, &ks, a);
            match (target, out.of(target)) {
                (_, Ok(m)) => check_against_the_rules(m, &now, &rule, &every_assignment(now.len()))?,
                (Target::OverallQuality, Err(why)) => {
                    prop_assert_eq!(why, &Unavailable::NoKeyQuestionRatings);
                    prop_assert!(now.is_empty());
                }
                (Target::Combined, Err(why)) => {
                    let outcome = combine(&input, as_of, &CombinedRuleSet::default());
                    prop_assert_eq!(outcome.combined, None);
                    prop_assert_eq!(why, &Unavailable::NoCombined { reasons: outcome.ineligible });
                }
            }
        }
    }
}
