use super::*;
use KeyQuestion::*;
use Rating::*;
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

const KQ_DATE: &str = "2017-06-01";
const UOR_DATE: &str = "2017-11-01";
const AS_OF: &str = "2018-06-01";

/// An acute trust with the five KQs (safe, effective, caring, responsive, well-led) dated
/// 2017-06-01, the overall quality computed from them by cqc-2018, and an approved UoR
/// (2017-11-01, version 2).
fn acute(kqs: [Rating; 5], uor: Rating) -> CombineInput {
    let quality = oversight_rating::aggregate(
        kqs.map(RatingValue::Rated),
        &oversight_rating::Thresholds::cqc_2018(),
    )
    .rating;
    CombineInput {
        trust_type: TrustType::Acute,
        key_questions: KeyQuestion::ALL
            .into_iter()
            .zip(kqs)
            .map(|(kq, r)| (kq, DatedRating::new(r, date(KQ_DATE))))
            .collect(),
        overall_quality: DatedRating {
            rating: quality,
            date: Some(date(KQ_DATE)),
        },
        uor: Some(ApprovedUor {
            rating: uor,
            date: date(UOR_DATE),
            version: 2,
        }),
        sources: InputSources::default(),
    }
}

fn run(input: &CombineInput) -> CombinedOutcome {
    combine(input, date(AS_OF), &CombinedRuleSet::default())
}

fn codes(o: &CombinedOutcome) -> Vec<&'static str> {
    o.flags.iter().map(|f| f.code()).collect()
}

#[test]
fn hand_example_quality_good_combined_good() {
    // DOMAIN.md §3: S=RI, E=G, C=G, R=G, W=G, UoR=RI → quality Good, combined Good.
    let input = acute(
        [RequiresImprovement, Good, Good, Good, Good],
        RequiresImprovement,
    );
    assert_eq!(input.overall_quality.rating, Some(Good));
    let out = run(&input);
    assert_eq!(out.mode, Mode::Combined);
    assert_eq!(out.combined, Some(Good));
    assert_eq!(out.no_combined_reason, None);
    assert!(out.flags.is_empty(), "{:?}", out.flags);
}

#[test]
fn every_threshold_row() {
    // (KQs safe..well-led, UoR, combined, why)
    let rows: &[([Rating; 5], Rating, Rating, &str)] = &[
        (
            [Inadequate, Good, Good, Good, Good],
            Inadequate,
            Inadequate,
            "2 of 6 inadequate",
        ),
        (
            [Inadequate, Inadequate, Good, Good, Good],
            Good,
            Inadequate,
            "2 KQs inadequate",
        ),
        (
            [Inadequate, Inadequate, Inadequate, Inadequate, Inadequate],
            Inadequate,
            Inadequate,
            "all inadequate",
        ),
        (
            [Inadequate, Good, Good, Good, Good],
            Good,
            RequiresImprovement,
            "1 inadequate limits to RI",
        ),
        (
            [Good, Good, Good, Good, Good],
            Inadequate,
            RequiresImprovement,
            "UoR inadequate limits to RI",
        ),
        (
            [
                Inadequate,
                Outstanding,
                Outstanding,
                Outstanding,
                Outstanding,
            ],
            Outstanding,
            RequiresImprovement,
            "1 inadequate beats 5 outstanding",
        ),
        (
            [
                RequiresImprovement,
                RequiresImprovement,
                RequiresImprovement,
                Good,
                Good,
            ],
            Good,
            RequiresImprovement,
            "3 RI",
        ),
        (
            [RequiresImprovement, RequiresImprovement, Good, Good, Good],
            RequiresImprovement,
            RequiresImprovement,
            "2 KQ RI + UoR RI = 3 RI",
        ),
        (
            [RequiresImprovement, RequiresImprovement, Good, Good, Good],
            Good,
            Good,
            "2 RI → Good (threshold 3 of 6)",
        ),
        (
            [RequiresImprovement, Good, Good, Good, Good],
            RequiresImprovement,
            Good,
            "hand example",
        ),
        (
            [Outstanding, Outstanding, Good, Good, Good],
            Good,
            Outstanding,
            "2 outstanding, rest good",
        ),
        (
            [Outstanding, Good, Good, Good, Good],
            Outstanding,
            Outstanding,
            "KQ + UoR outstanding, rest good",
        ),
        (
            [
                Outstanding,
                Outstanding,
                Outstanding,
                Outstanding,
                Outstanding,
            ],
            Outstanding,
            Outstanding,
            "all outstanding",
        ),
        (
            [Outstanding, Outstanding, RequiresImprovement, Good, Good],
            Good,
            Good,
            "2 outstanding + 1 RI",
        ),
        (
            [Outstanding, Good, Good, Good, Good],
            Good,
            Good,
            "1 outstanding",
        ),
        ([Good, Good, Good, Good, Good], Good, Good, "all good"),
    ];
    for (kqs, uor, want, why) in rows {
        let out = run(&acute(*kqs, *uor));
        assert_eq!(out.combined, Some(*want), "{why}: {kqs:?} + UoR {uor:?}");
        assert_eq!(out.mode, Mode::Combined, "{why}");
    }
}

#[test]
fn thresholds_are_parameters_of_the_rule_set() {
    // 2 RI + 4 good: Good under the published RI threshold of 3 of 6 …
    let input = acute(
        [RequiresImprovement, Good, Good, Good, Good],
        RequiresImprovement,
    );
    assert_eq!(run(&input).combined, Some(Good));
    // … RI under the single-rating threshold of 2 (DOMAIN.md §3: "changed from 2").
    let mut rules = CombinedRuleSet::default();
    rules.thresholds.requires_improvement = CountThreshold::Fixed(2);
    assert_eq!(
        combine(&input, date(AS_OF), &rules).combined,
        Some(RequiresImprovement)
    );
    // The inadequate threshold: 2 of 6 by default, 3 when configured (1 inadequate limits to RI).
    let two_inadequate = acute([Inadequate, Good, Good, Good, Good], Inadequate);
    assert_eq!(run(&two_inadequate).combined, Some(Inadequate));
    let mut rules = CombinedRuleSet::default();
    rules.thresholds.inadequate = CountThreshold::Fixed(3);
    assert_eq!(
        combine(&two_inadequate, date(AS_OF), &rules).combined,
        Some(RequiresImprovement)
    );
    // The outstanding threshold: 2 of 6 by default, 3 when configured.
    let two_outstanding = acute([Outstanding, Good, Good, Good, Good], Outstanding);
    assert_eq!(run(&two_outstanding).combined, Some(Outstanding));
    let mut rules = CombinedRuleSet::default();
    rules.thresholds.outstanding = CountThreshold::Fixed(3);
    assert_eq!(
        combine(&two_outstanding, date(AS_OF), &rules).combined,
        Some(Good)
    );
}

#[test]
fn rule_text_is_the_aggregate_rule() {
    let out = run(&acute([Inadequate, Good, Good, Good, Good], Inadequate));
    assert_eq!(
        out.explanation.text().rule,
        "2 of 6 ratings inadequate, threshold 2 → Inadequate"
    );
    let out = run(&acute(
        [RequiresImprovement, RequiresImprovement, Good, Good, Good],
        Good,
    ));
    assert!(
        out.explanation.text().rule.contains("threshold 3"),
        "{}",
        out.explanation.text().rule
    );
    assert!(
        out.explanation.text().rule.ends_with("→ Good"),
        "{}",
        out.explanation.text().rule
    );
}

/// Each kind of the combined explanation renders as the sentence it always did (DOMAIN.md §3
/// wording, and the sentences the tests below expect of whole outcomes).
#[test]
fn each_explanation_kind_renders_as_before() {
    use explain::*;
    let from = COMBINED_FROM_2018;
    let as_of = date("2018-01-01");
    let dated = |part, rating, d: Option<&str>, version, source: &str| DatedInput {
        part,
        rating,
        date: d.map(date),
        version,
        source: source.into(),
    };
    let inputs: Vec<(Input, &str)> = vec![
        (
            Input::Dated(dated(
                Part::KeyQuestion(WellLed),
                Some(Good),
                Some(KQ_DATE),
                None,
                "CQC quality rating cqc-2018, version 3",
            )),
            "well-led: Good (2017-06-01) — source: CQC quality rating cqc-2018, version 3",
        ),
        (
            Input::Dated(dated(Part::KeyQuestion(Safe), None, None, None, "")),
            "safe: no rating",
        ),
        (
            Input::Dated(dated(
                Part::UseOfResources,
                Some(RequiresImprovement),
                Some(UOR_DATE),
                Some(2),
                "",
            )),
            "use of resources: Requires improvement (2017-11-01, version 2)",
        ),
        (
            Input::Dated(dated(Part::UseOfResources, Some(Good), None, Some(2), "")),
            "use of resources: Good (version 2)",
        ),
        (
            Input::NoApprovedUseOfResources,
            "use of resources: no approved rating",
        ),
    ];
    for (input, want) in inputs {
        assert_eq!(input.to_string(), want, "{input:?}");
    }
    let would_be = oversight_rating::aggregate(
        [
            RequiresImprovement,
            Good,
            Good,
            Good,
            Good,
            RequiresImprovement,
        ]
        .map(RatingValue::Rated),
        &CombinedRuleSet::default().thresholds,
    );
    let notes: Vec<(Note, &str)> = vec![
        (
            Note::OverallQuality(dated(
                Part::OverallQuality,
                Some(Good),
                Some(KQ_DATE),
                None,
                "",
            )),
            "overall quality, published beside it: Good (2017-06-01)",
        ),
        (
            Note::Mode(Publication::Combined {
                as_of: date(AS_OF),
                from,
            }),
            "mode: combined (as of 2018-06-01; combined ratings published from 2018-03-05)",
        ),
        (
            Note::Mode(Publication::ShadowBefore { as_of, from }),
            "mode: shadow (as of 2018-01-01, before 2018-03-05): use of resources is published separately",
        ),
        (
            Note::Mode(Publication::ShadowConfigured),
            "mode: shadow (configured): use of resources is published separately",
        ),
        (
            Note::ShadowWouldGive {
                rating: Good,
                rule: would_be.rule,
            },
            "shadow: the combined rule would give Good (0 inadequate, 2 requires improvement (threshold 3), 0 outstanding (threshold 2) of 6 → Good); not published",
        ),
        (
            Note::Flag(Flag::PartsFarApart { months: 14 }),
            "flag parts_far_apart: the use of resources and quality ratings are dated 14 months apart",
        ),
    ];
    for (note, want) in notes {
        assert_eq!(note.to_string(), want, "{note:?}");
    }
    // Why there is none ([`eligibility`]'s reasons), in the rule and in the reason field.
    let reasons: Vec<(Vec<Ineligible>, &str)> = vec![
        (
            vec![Ineligible::SpecialistAcute],
            "specialist acute trust: combined ratings apply only to non-specialist acute trusts",
        ),
        (
            vec![
                Ineligible::Shadow {
                    as_of,
                    combined_from: from,
                    forced: false,
                },
                Ineligible::NoApprovedUor,
                Ineligible::IncompleteKeyQuestions {
                    missing: vec![Effective, WellLed],
                },
            ],
            "shadow (as of 2018-01-01, before 2018-03-05): use of resources is published separately, no combined rating; no approved use of resources rating; quality key questions incomplete: no rating for effective, well-led",
        ),
    ];
    for (reason, want) in reasons {
        assert_eq!(explain::reasons(&reason), want, "{reason:?}");
        assert_eq!(
            Rule::NoCombined(reason).to_string(),
            format!("no combined rating: {want}")
        );
    }
}

#[test]
fn explanation_lists_rule_set_six_dated_inputs_and_quality_beside() {
    let out = run(&acute([RequiresImprovement, Good, Good, Good, Good], Good));
    assert_eq!(out.explanation.rule_set, "cqc-combined-2018");
    assert_eq!(
        out.explanation.text().inputs,
        vec![
            "safe: Requires improvement (2017-06-01)",
            "effective: Good (2017-06-01)",
            "caring: Good (2017-06-01)",
            "responsive: Good (2017-06-01)",
            "well-led: Good (2017-06-01)",
            "use of resources: Good (2017-11-01, version 2)",
        ]
    );
    assert!(
        out.explanation
            .text()
            .notes
            .contains(&"overall quality, published beside it: Good (2017-06-01)".to_string()),
        "{:?}",
        out.explanation.text().notes
    );
    assert!(
        out.explanation
            .text()
            .notes
            .iter()
            .any(|n| n.starts_with("mode: combined"))
    );
}

#[test]
fn explanation_names_the_source_of_each_input() {
    let mut input = acute([Good; 5], RequiresImprovement);
    input.sources = InputSources {
        quality: "CQC quality rating cqc-2018, version 3".into(),
        use_of_resources: "NHSI use of resources, approved by cqc".into(),
    };
    let out = run(&input);
    assert_eq!(
        out.explanation.text().inputs[0],
        "safe: Good (2017-06-01) — source: CQC quality rating cqc-2018, version 3"
    );
    assert_eq!(
        out.explanation.text().inputs[5],
        "use of resources: Requires improvement (2017-11-01, version 2) — source: NHSI use of resources, approved by cqc"
    );
    assert!(
        out.explanation
            .text()
            .notes
            .iter()
            .any(|n| n.starts_with("overall quality") && n.ends_with("version 3")),
        "{:?}",
        out.explanation.text().notes
    );
    // Sources never change the rating.
    input.sources = InputSources::default();
    assert_eq!(run(&input).combined, out.combined);
}

#[test]
fn only_non_specialist_acute_trusts_are_eligible() {
    let cases = [
        (TrustType::SpecialistAcute, "specialist acute trust"),
        (
            TrustType::MentalHealth,
            "not an acute trust (mental health)",
        ),
        (TrustType::Community, "not an acute trust (community)"),
        (TrustType::Ambulance, "not an acute trust (ambulance)"),
    ];
    for (trust_type, want) in cases {
        let mut input = acute([Good; 5], Good);
        input.trust_type = trust_type;
        let out = run(&input);
        assert_eq!(out.combined, None, "{trust_type}");
        assert!(out.flags.is_empty());
        let reason = out.no_combined_reason.expect("a stated reason").to_string();
        assert!(reason.starts_with(want), "{trust_type}: {reason}");
        assert!(
            out.explanation.text().rule.contains(want),
            "{}",
            out.explanation.text().rule
        );
        // The quality rating is still there beside it.
        assert!(
            out.explanation
                .text()
                .notes
                .iter()
                .any(|n| n.starts_with("overall quality"))
        );
    }
}

/// DOMAIN.md §3, the eligibility rule on its own: non-specialist acute trusts only; not before
/// 5 March 2018 (shadow); six real ratings (five trust key questions and an approved UoR).
#[test]
fn eligibility_is_one_rule_with_typed_reasons() {
    let rules = CombinedRuleSet::default();
    let all_five: Vec<(KeyQuestion, Option<Rating>)> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| (kq, Some(Good)))
        .collect();
    let without = |gone: KeyQuestion| -> Vec<(KeyQuestion, Option<Rating>)> {
        all_five
            .iter()
            .map(|(kq, r)| (*kq, if *kq == gone { None } else { *r }))
            .collect()
    };
    let shadow = |as_of: &str| Ineligible::Shadow {
        as_of: date(as_of),
        combined_from: date("2018-03-05"),
        forced: false,
    };
    type Case = (
        TrustType,
        Vec<(KeyQuestion, Option<Rating>)>,
        Option<Rating>,
        &'static str,
        Result<(), Vec<Ineligible>>,
    );
    let cases: Vec<Case> = vec![
        // Eligible from the first day of combined ratings.
        (
            TrustType::Acute,
            all_five.clone(),
            Some(Good),
            "2018-03-05",
            Ok(()),
        ),
        (
            TrustType::Acute,
            all_five.clone(),
            Some(Inadequate),
            "2024-01-01",
            Ok(()),
        ),
        // The day before: shadow.
        (
            TrustType::Acute,
            all_five.clone(),
            Some(Good),
            "2018-03-04",
            Err(vec![shadow("2018-03-04")]),
        ),
        // Five ratings are not six.
        (
            TrustType::Acute,
            all_five.clone(),
            None,
            "2019-01-01",
            Err(vec![Ineligible::NoApprovedUor]),
        ),
        (
            TrustType::Acute,
            without(WellLed),
            Some(Good),
            "2019-01-01",
            Err(vec![Ineligible::IncompleteKeyQuestions {
                missing: vec![WellLed],
            }]),
        ),
        // A key question not given at all is missing too.
        (
            TrustType::Acute,
            all_five[1..].to_vec(),
            Some(Good),
            "2019-01-01",
            Err(vec![Ineligible::IncompleteKeyQuestions {
                missing: vec![Safe],
            }]),
        ),
        // Every reason that applies, in order.
        (
            TrustType::Acute,
            without(Caring),
            None,
            "2017-12-01",
            Err(vec![
                shadow("2017-12-01"),
                Ineligible::NoApprovedUor,
                Ineligible::IncompleteKeyQuestions {
                    missing: vec![Caring],
                },
            ]),
        ),
        // Other trust types: that reason alone, whatever the date and inputs.
        (
            TrustType::SpecialistAcute,
            all_five.clone(),
            Some(Good),
            "2019-01-01",
            Err(vec![Ineligible::SpecialistAcute]),
        ),
        (
            TrustType::MentalHealth,
            vec![],
            None,
            "2017-01-01",
            Err(vec![Ineligible::NotAcute {
                trust_type: TrustType::MentalHealth,
            }]),
        ),
        (
            TrustType::Community,
            all_five.clone(),
            Some(Good),
            "2019-01-01",
            Err(vec![Ineligible::NotAcute {
                trust_type: TrustType::Community,
            }]),
        ),
        (
            TrustType::Ambulance,
            all_five.clone(),
            Some(Good),
            "2019-01-01",
            Err(vec![Ineligible::NotAcute {
                trust_type: TrustType::Ambulance,
            }]),
        ),
    ];
    for (trust_type, kqs, uor, as_of, want) in cases {
        let got = eligibility(trust_type, &kqs, uor, date(as_of), &rules);
        assert_eq!(got, want, "{trust_type:?} {as_of} {uor:?} {kqs:?}");
        // `combine` decides exactly the same way and states the same reasons.
        let mut input = acute([Good; 5], Good);
        input.trust_type = trust_type;
        input.key_questions = kqs
            .iter()
            .map(|(kq, r)| {
                (
                    *kq,
                    DatedRating {
                        rating: *r,
                        date: Some(date(KQ_DATE)),
                    },
                )
            })
            .collect();
        input.uor = uor.map(|rating| ApprovedUor {
            rating,
            date: date(UOR_DATE),
            version: 1,
        });
        let out = combine(&input, date(as_of), &rules);
        assert_eq!(out.combined.is_some(), want.is_ok());
        let reasons = want.err().unwrap_or_default();
        assert_eq!(
            out.no_combined_reason,
            (!reasons.is_empty()).then(|| reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        );
        assert_eq!(out.ineligible, reasons);
    }
    // Shadow by configuration, whatever the date.
    let forced = CombinedRuleSet {
        force_shadow: true,
        ..CombinedRuleSet::default()
    };
    assert_eq!(
        eligibility(
            TrustType::Acute,
            &all_five,
            Some(Good),
            date("2020-01-01"),
            &forced
        ),
        Err(vec![Ineligible::Shadow {
            as_of: date("2020-01-01"),
            combined_from: date("2018-03-05"),
            forced: true
        }])
    );
}

#[test]
fn no_approved_uor_means_no_combined_rating() {
    let mut input = acute([Good; 5], Good);
    input.uor = None;
    let out = run(&input);
    assert_eq!(out.combined, None);
    assert_eq!(
        out.no_combined_reason.map(|r| r.to_string()).as_deref(),
        Some("no approved use of resources rating")
    );
    assert!(
        out.explanation
            .text()
            .inputs
            .contains(&"use of resources: no approved rating".to_string())
    );
}

#[test]
fn incomplete_quality_key_questions_mean_no_combined_rating() {
    let mut input = acute([Good; 5], Good);
    input.key_questions.remove(&Effective);
    input.key_questions.insert(
        WellLed,
        DatedRating {
            rating: None,
            date: Some(date(KQ_DATE)),
        },
    );
    let out = run(&input);
    assert_eq!(out.combined, None);
    assert_eq!(
        out.no_combined_reason.map(|r| r.to_string()).as_deref(),
        Some("quality key questions incomplete: no rating for effective, well-led")
    );
    assert!(
        out.explanation
            .text()
            .inputs
            .contains(&"effective: no rating".to_string())
    );
    assert!(
        out.explanation
            .text()
            .inputs
            .contains(&"well-led: no rating (2017-06-01)".to_string())
    );
}

#[test]
fn several_reasons_are_all_stated() {
    let mut input = acute([Good; 5], Good);
    input.uor = None;
    input.key_questions.remove(&Safe);
    let out = combine(&input, date("2018-01-01"), &CombinedRuleSet::default());
    let reason = out.no_combined_reason.expect("reason").to_string();
    assert!(reason.contains("shadow"), "{reason}");
    assert!(
        reason.contains("no approved use of resources rating"),
        "{reason}"
    );
    assert!(reason.contains("no rating for safe"), "{reason}");
}

#[test]
fn shadow_before_5_march_2018_combined_from_that_day() {
    let input = acute(
        [RequiresImprovement, Good, Good, Good, Good],
        RequiresImprovement,
    );
    let rules = CombinedRuleSet::default();

    let before = combine(&input, date("2018-03-04"), &rules);
    assert_eq!(before.mode, Mode::Shadow);
    assert_eq!(before.combined, None);
    assert!(before.flags.is_empty());
    let reason = before
        .no_combined_reason
        .expect("shadow reason")
        .to_string();
    assert!(reason.contains("shadow"), "{reason}");
    assert!(reason.contains("before 2018-03-05"), "{reason}");
    assert!(
        reason.contains("use of resources is published separately"),
        "{reason}"
    );
    // UoR is still shown, and what the rule would have given is kept for comparison.
    assert!(
        before.explanation.text().inputs.contains(
            &"use of resources: Requires improvement (2017-11-01, version 2)".to_string()
        )
    );
    assert!(
        before
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.starts_with("shadow: the combined rule would give Good")),
        "{:?}",
        before.explanation.text().notes
    );

    let on_the_day = combine(&input, date("2018-03-05"), &rules);
    assert_eq!(on_the_day.mode, Mode::Combined);
    assert_eq!(on_the_day.combined, Some(Good));
    assert_eq!(on_the_day.no_combined_reason, None);
}

#[test]
fn forced_shadow_whatever_the_date() {
    let rules = CombinedRuleSet {
        force_shadow: true,
        ..CombinedRuleSet::default()
    };
    let out = combine(&acute([Good; 5], Good), date("2019-01-01"), &rules);
    assert_eq!(out.mode, Mode::Shadow);
    assert_eq!(out.combined, None);
    let reason = out.no_combined_reason.expect("reason").to_string();
    assert!(reason.contains("shadow (configured)"), "{reason}");
}

#[test]
fn mode_is_reported_even_for_ineligible_trusts() {
    let mut input = acute([Good; 5], Good);
    input.trust_type = TrustType::MentalHealth;
    let out = combine(&input, date("2017-01-01"), &CombinedRuleSet::default());
    assert_eq!(out.mode, Mode::Shadow);
    // The trust-type reason alone: the date is not why a mental health trust has no combined rating.
    assert!(
        !out.no_combined_reason
            .expect("reason")
            .to_string()
            .contains("shadow")
    );
}

#[test]
fn flag_uor_raised_result() {
    // Quality RI (2 of 5 RI), combined Good (2 of 6 RI is below 3).
    let input = acute(
        [RequiresImprovement, RequiresImprovement, Good, Good, Good],
        Good,
    );
    assert_eq!(input.overall_quality.rating, Some(RequiresImprovement));
    let out = run(&input);
    assert_eq!(out.combined, Some(Good));
    assert_eq!(codes(&out), vec!["uor_raised_result"]);
    assert!(
        out.explanation
            .text()
            .notes
            .iter()
            .any(|n| n.starts_with("flag uor_raised_result: "))
    );
}

#[test]
fn flag_uor_lowered_result() {
    let out = run(&acute(
        [RequiresImprovement, Good, Good, Good, Good],
        Inadequate,
    ));
    assert_eq!(out.combined, Some(RequiresImprovement));
    assert_eq!(codes(&out), vec!["uor_lowered_result"]);

    let out = run(&acute(
        [Outstanding, Outstanding, Good, Good, Good],
        RequiresImprovement,
    ));
    assert_eq!(out.combined, Some(Good));
    assert_eq!(codes(&out), vec!["uor_lowered_result"]);
}

/// Issue 14: a flag may only say use of resources moved the result when it did. Here the overall
/// quality (Outstanding) was rated on an earlier well-led assessment and the key questions have
/// since become all Good; with UoR Good the combined rating is Good. DOMAIN §3: five Good and a
/// sixth rating of Outstanding is still Good (two outstanding are needed), so UoR agreeing with
/// quality would not lift it: the drop is the key questions', not UoR's.
#[test]
fn a_drop_caused_by_newer_key_questions_is_not_blamed_on_uor() {
    let mut input = acute([Good; 5], Good);
    input.overall_quality.rating = Some(Outstanding);
    let out = run(&input);
    assert_eq!(out.combined, Some(Good));
    assert!(codes(&out).is_empty(), "{:?}", codes(&out));
    let text = out.explanation.text().notes.join("\n");
    assert!(
        text.contains(
            "differs from overall quality (Outstanding) for a reason other than use of resources: \
             with use of resources rated Outstanding the combined rating would be Good"
        ),
        "{text}"
    );
}

/// A published overall of RI departing from key questions O, O, G, G, G (§2.4), with UoR RI: the
/// combined rating is Good (one RI of six is below 3; two outstanding but not all others good).
/// UoR is RI — it cannot have raised anything — so no `uor_raised_result`.
#[test]
fn a_rise_uor_did_not_cause_is_not_flagged() {
    let mut input = acute(
        [Outstanding, Outstanding, Good, Good, Good],
        RequiresImprovement,
    );
    input.overall_quality.rating = Some(RequiresImprovement);
    let out = run(&input);
    assert_eq!(out.combined, Some(Good));
    assert!(codes(&out).is_empty(), "{:?}", codes(&out));
}

proptest! {
    /// The definition, checked through `combine` itself: a raised (lowered) flag means the
    /// combined rating is above (below) overall quality and would not be had use of resources
    /// been rated the same as overall quality; without a flag, no such UoR effect exists.
    #[test]
    fn uor_flags_name_exactly_the_differences_uor_makes(
        kqs in proptest::array::uniform5(0usize..4),
        uor in 0usize..4,
        quality in 0usize..4,
    ) {
        let kqs = kqs.map(|i| Rating::ALL[i]);
        let mut input = acute(kqs, Rating::ALL[uor]);
        let q = Rating::ALL[quality];
        input.overall_quality.rating = Some(q);
        let out = run(&input);
        let c = out.combined.expect("six real ratings combine");
        let mut agreeing = input.clone();
        if let Some(u) = agreeing.uor.as_mut() {
            u.rating = q;
        }
        let would_be = run(&agreeing).combined.expect("six real ratings combine");
        let codes = codes(&out);
        prop_assert_eq!(codes.contains(&"uor_raised_result"), c > q && would_be < c);
        prop_assert_eq!(codes.contains(&"uor_lowered_result"), c < q && would_be > c);
    }

    /// With the published thresholds, when overall quality is the §2.1 aggregate of the same key
    /// questions, every difference between combined and overall quality is use of resources'.
    #[test]
    fn with_consistent_quality_every_difference_is_uor(
        kqs in proptest::array::uniform5(0usize..4),
        uor in 0usize..4,
    ) {
        let input = acute(kqs.map(|i| Rating::ALL[i]), Rating::ALL[uor]);
        let q = input.overall_quality.rating.expect("five real ratings aggregate");
        let out = run(&input);
        let c = out.combined.expect("six real ratings combine");
        let codes = codes(&out);
        prop_assert_eq!(codes.contains(&"uor_raised_result"), c > q);
        prop_assert_eq!(codes.contains(&"uor_lowered_result"), c < q);
    }
}

/// The published thresholds never give Good with an inadequate input, so these flags guard
/// against rule sets configured without the "any inadequate → at best RI" limiter.
fn without_limiter() -> CombinedRuleSet {
    let mut rules = CombinedRuleSet::default();
    rules.thresholds.any_inadequate_limits_to_ri = false;
    rules
}

#[test]
fn flag_good_while_kq_inadequate() {
    let mut input = acute([Inadequate, Good, Good, Good, Good], Good);
    input.overall_quality.rating = Some(Good);
    let out = combine(&input, date(AS_OF), &without_limiter());
    assert_eq!(out.combined, Some(Good));
    assert_eq!(codes(&out), vec!["good_while_kq_inadequate"]);
}

#[test]
fn flag_good_while_uor_inadequate() {
    let input = acute([Outstanding, Outstanding, Good, Good, Good], Inadequate);
    let out = combine(&input, date(AS_OF), &without_limiter());
    assert_eq!(out.combined, Some(Good));
    assert_eq!(
        codes(&out),
        vec!["uor_lowered_result", "good_while_uor_inadequate"]
    );
}

#[test]
fn published_thresholds_never_mask_an_inadequate() {
    for (kqs, uor) in [
        (
            [
                Inadequate,
                Outstanding,
                Outstanding,
                Outstanding,
                Outstanding,
            ],
            Outstanding,
        ),
        ([Outstanding; 5], Inadequate),
    ] {
        let out = run(&acute(kqs, uor));
        assert_eq!(out.combined, Some(RequiresImprovement));
        assert!(!codes(&out).contains(&"good_while_kq_inadequate"));
        assert!(!codes(&out).contains(&"good_while_uor_inadequate"));
    }
}

#[test]
fn flag_parts_far_apart() {
    let mut input = acute([Good; 5], Good);
    // Latest quality date 2017-06-01; UoR 2018-06-01 is exactly 12 months later: not flagged.
    input.uor = Some(ApprovedUor {
        rating: Good,
        date: date("2018-06-01"),
        version: 1,
    });
    assert!(run(&input).flags.is_empty());
    // One day more is more than 12 months apart.
    input.uor = Some(ApprovedUor {
        rating: Good,
        date: date("2018-06-02"),
        version: 1,
    });
    let out = combine(&input, date("2018-07-01"), &CombinedRuleSet::default());
    assert_eq!(out.flags, vec![Flag::PartsFarApart { months: 13 }]);
    assert_eq!(
        Flag::PartsFarApart { months: 13 }.describe(),
        "the use of resources and quality ratings are dated 13 months apart"
    );
    // The latest of the quality dates counts: a newer well-led report brings them together.
    input
        .key_questions
        .insert(WellLed, DatedRating::new(Good, date("2018-01-10")));
    assert!(
        combine(&input, date("2018-07-01"), &CombinedRuleSet::default())
            .flags
            .is_empty()
    );
    // The limit is a parameter.
    let strict = CombinedRuleSet {
        max_months_apart: 3,
        ..CombinedRuleSet::default()
    };
    assert_eq!(
        combine(&input, date("2018-07-01"), &strict).flags,
        vec![Flag::PartsFarApart { months: 5 }]
    );
}

#[test]
fn months_apart_counts_part_months_as_whole() {
    let cases = [
        ("2017-06-01", "2017-06-01", 0),
        ("2017-06-01", "2017-06-02", 1),
        ("2017-06-15", "2017-07-01", 1),
        ("2017-06-01", "2018-06-01", 12),
        ("2017-06-01", "2018-06-02", 13),
        ("2018-01-31", "2018-02-28", 1),
        ("2018-01-31", "2018-03-01", 2),
        ("2016-02-29", "2017-02-28", 12),
    ];
    for (a, b, want) in cases {
        assert_eq!(months_apart(date(a), date(b)), want, "{a} → {b}");
        assert_eq!(months_apart(date(b), date(a)), want, "{b} → {a}");
    }
}

#[test]
fn flag_codes_are_stable_and_serde_uses_them() {
    let all = [
        (Flag::UorRaisedResult, "uor_raised_result"),
        (Flag::UorLoweredResult, "uor_lowered_result"),
        (Flag::GoodWhileKqInadequate, "good_while_kq_inadequate"),
        (Flag::GoodWhileUorInadequate, "good_while_uor_inadequate"),
        (Flag::PartsFarApart { months: 14 }, "parts_far_apart"),
    ];
    for (flag, code) in all {
        assert_eq!(flag.code(), code);
        assert!(!flag.describe().is_empty());
        let json = serde_json::to_value(flag).expect("serialise");
        assert_eq!(json["code"], code);
        assert_eq!(
            serde_json::from_value::<Flag>(json).expect("round trip"),
            flag
        );
    }
    assert_eq!(
        serde_json::to_string(&Flag::PartsFarApart { months: 14 }).expect("serialise"),
        r#"{"code":"parts_far_apart","months":14}"#
    );
}

#[test]
fn trust_types_parse_and_serialise_snake_case() {
    for t in TrustType::ALL {
        assert_eq!(t.as_str().parse::<TrustType>(), Ok(t));
        assert_eq!(
            serde_json::to_string(&t).expect("serialise"),
            format!("\"{}\"", t.as_str())
        );
    }
    assert_eq!(
        "Specialist acute".parse::<TrustType>(),
        Ok(TrustType::SpecialistAcute)
    );
    assert_eq!(
        "mental-health".parse::<TrustType>(),
        Ok(TrustType::MentalHealth)
    );
    assert!("hospice".parse::<TrustType>().is_err());
    assert_eq!(
        serde_json::to_string(&Mode::Shadow).expect("serialise"),
        "\"shadow\""
    );
}

#[test]
fn default_rule_set_is_cqc_combined_2018() {
    let rules = CombinedRuleSet::default();
    assert_eq!(rules, CombinedRuleSet::cqc_combined_2018());
    assert_eq!(rules.version, RULE_SET);
    assert_eq!(rules.combined_from, date("2018-03-05"));
    assert_eq!(rules.max_months_apart, 12);
    assert!(!rules.force_shadow);
    assert!(RULE_SET.parse::<oversight_rating::RuleSetVersion>().is_ok());
}

fn rating() -> impl Strategy<Value = Rating> {
    prop_oneof![
        Just(Inadequate),
        Just(RequiresImprovement),
        Just(Good),
        Just(Outstanding)
    ]
}

fn raise(r: Rating) -> Rating {
    match r {
        Inadequate => RequiresImprovement,
        RequiresImprovement => Good,
        Good | Outstanding => Outstanding,
    }
}

fn kqs_of(input: &CombineInput) -> [Rating; 5] {
    KeyQuestion::ALL.map(|kq| {
        input.key_questions[&kq]
            .rating
            .expect("test inputs are rated")
    })
}

proptest! {
    #[test]
    fn order_of_key_questions_never_matters(
        kqs in proptest::array::uniform5(rating()),
        uor in rating(),
        perm in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let input = acute(kqs, uor);
        let mut permuted = input.clone();
        for (kq, &from) in KeyQuestion::ALL.iter().zip(&perm) {
            permuted.key_questions.insert(*kq, input.key_questions[&KeyQuestion::ALL[from]]);
        }
        let (a, b) = (run(&input), run(&permuted));
        prop_assert_eq!(a.combined, b.combined);
        prop_assert_eq!(a.flags, b.flags);
        prop_assert_eq!(a.explanation.text().rule, b.explanation.text().rule);
    }

    #[test]
    fn raising_uor_or_any_key_question_never_lowers(
        kqs in proptest::array::uniform5(rating()),
        uor in rating(),
        which in 0usize..6,
    ) {
        let input = acute(kqs, uor);
        let before = run(&input).combined;
        let mut raised = input.clone();
        match KeyQuestion::ALL.get(which) {
            Some(kq) => {
                let dr = raised.key_questions.get_mut(kq).expect("all five present");
                dr.rating = dr.rating.map(raise);
            }
            None => {
                if let Some(u) = raised.uor.as_mut() {
                    u.rating = raise(u.rating);
                }
            }
        }
        let after = run(&raised).combined;
        prop_assert!(after >= before, "{:?}+{:?} → {:?}+{:?}: {:?} → {:?}",
            kqs, uor, kqs_of(&raised), raised.uor.map(|u| u.rating), before, after);
    }

    #[test]
    fn never_above_the_best_nor_below_the_worst_of_the_six(
        kqs in proptest::array::uniform5(rating()),
        uor in rating(),
    ) {
        let out = run(&acute(kqs, uor));
        let combined = out.combined.expect("eligible acute trust in combined mode");
        let best = kqs.iter().copied().chain([uor]).max().expect("six");
        let worst = kqs.iter().copied().chain([uor]).min().expect("six");
        prop_assert!(worst <= combined && combined <= best, "{:?} + {:?} → {:?}", kqs, uor, combined);
    }

    #[test]
    fn a_combined_rating_or_a_reason_never_both(
        kqs in proptest::array::uniform5(proptest::option::of(rating())),
        uor in proptest::option::of(rating()),
        trust_type in proptest::sample::select(TrustType::ALL.to_vec()),
        days in 0i64..2000,
        force_shadow in any::<bool>(),
    ) {
        let mut input = acute([Good; 5], Good);
        input.trust_type = trust_type;
        for (kq, r) in KeyQuestion::ALL.iter().zip(kqs) {
            input.key_questions.insert(*kq, DatedRating { rating: r, date: Some(date(KQ_DATE)) });
        }
        input.uor = uor.map(|rating| ApprovedUor { rating, date: date(UOR_DATE), version: 1 });
        let rules = CombinedRuleSet { force_shadow, ..CombinedRuleSet::default() };
        let as_of = date("2016-01-01") + chrono::Days::new(days.unsigned_abs());
        let out = combine(&input, as_of, &rules);
        prop_assert_eq!(out.combined.is_some(), out.no_combined_reason.is_none());
        let eligible = trust_type == TrustType::Acute
            && uor.is_some()
            && kqs.iter().all(Option::is_some)
            && !force_shadow
            && as_of >= rules.combined_from;
        prop_assert_eq!(out.combined.is_some(), eligible);
        prop_assert_eq!(out.mode == Mode::Combined, !force_shadow && as_of >= rules.combined_from);
        if out.combined.is_none() {
            prop_assert!(out.flags.is_empty());
        }
        prop_assert_eq!(out.explanation.text().inputs.len(), 6);
    }
}
