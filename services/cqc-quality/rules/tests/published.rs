//! From what a service records to what CQC publishes: which limiter applies to which rating
//! (DOMAIN.md §2.2), merged-organisation exclusions (§2.3), limiters named above the rating they
//! lowered, the previous trust overall carried forward (§2.3) and final decisions (§2.4). Expected
//! values are worked by hand from DOMAIN.md's text.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use Rating::{Good as G, Inadequate as I, Outstanding as O, RequiresImprovement as RI};
use chrono::NaiveDate;
use cqc_rules::explain::{Label, Note, Rule};
use cqc_rules::publish::{self, PublishedOverall, PublishedRating};
use cqc_rules::*;
use oversight_rating::{KeyQuestion, LocationId, Rating, RatingValue, ServiceId, TrustCode};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn loc(s: &str) -> LocationId {
    s.parse().expect("location id")
}

fn svc(s: &str) -> ServiceId {
    s.parse().expect("service id")
}

fn code() -> TrustCode {
    "RXX".parse().expect("trust")
}

/// Five key question ratings of one service at one location, on one date.
fn five(location: Option<&str>, service: &str, rs: [Rating; 5], date: &str) -> Vec<RatingRecord> {
    KeyQuestion::ALL
        .into_iter()
        .zip(rs)
        .map(|(key_question, r)| RatingRecord {
            location: location.map(loc),
            location_name: String::new(),
            service: svc(service),
            rating: KqServiceRating {
                key_question,
                rating: RatingValue::Rated(r),
                report_date: d(date),
                limiter: None,
                statement_scores: vec![],
            },
        })
        .collect()
}

fn action(
    location: Option<&str>,
    service: &str,
    key_question: KeyQuestion,
    kind: ActionKind,
    date: &str,
) -> ActionRecord {
    ActionRecord {
        location: location.map(loc),
        service: svc(service),
        key_question,
        kind,
        reason: "Regulation 12".into(),
        action_date: d(date),
    }
}

fn records(trust_type: TrustType, ratings: Vec<RatingRecord>) -> TrustRecords {
    TrustRecords {
        trust: code(),
        trust_type,
        ratings,
        actions: vec![],
        merged: vec![],
        well_led: vec![],
        significantly_small: vec![],
    }
}

fn well_led(r: Rating, date: &str) -> WellLedAssessment {
    WellLedAssessment {
        rating: RatingValue::Rated(r),
        report_date: d(date),
        statement_scores: vec![],
    }
}

/// The limiter on the rating of `service`'s key question reported on `date`.
fn limiter_on(e: &TrustEvidence, service: &str, kq: KeyQuestion, date: &str) -> Option<Limiter> {
    e.locations
        .iter()
        .flat_map(|l| &l.services)
        .filter(|s| s.service == svc(service))
        .flat_map(|s| &s.ratings)
        .find(|r| r.key_question == kq && r.report_date == d(date))
        .expect("rating")
        .limiter
        .clone()
}

fn safe(q: &TrustQuality) -> Option<Rating> {
    q.key_questions
        .get(&KeyQuestion::Safe)
        .and_then(|r| r.rating)
}

// ---------------------------------------------------------------------------------------------
// §2.2 limiters: which recorded action limits which rating

#[test]
fn an_action_limits_the_rating_standing_on_its_date() {
    // Safe rated Good in January, Outstanding in June; a requirement notice in March and a
    // warning notice in July. Each limits the rating that stood on its date.
    let mut r = records(
        TrustType::Acute,
        [
            five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
            five(Some("RXX01"), "urgent", [O; 5], "2019-06-01"),
        ]
        .concat(),
    );
    r.actions = vec![
        action(
            Some("RXX01"),
            "urgent",
            KeyQuestion::Safe,
            ActionKind::RequirementNotice,
            "2019-03-01",
        ),
        action(
            Some("RXX01"),
            "urgent",
            KeyQuestion::Safe,
            ActionKind::WarningNotice,
            "2019-07-01",
        ),
    ];
    let e = r.evidence(None).unwrap();
    assert_eq!(
        limiter_on(&e, "urgent", KeyQuestion::Safe, "2019-01-01"),
        Some(Limiter::RequirementNotice {
            reason: "Regulation 12, 2019-03-01".into()
        })
    );
    assert_eq!(
        limiter_on(&e, "urgent", KeyQuestion::Safe, "2019-06-01"),
        Some(Limiter::EnforcementAction {
            action: EnforcementKind::WarningNotice,
            reason: "Regulation 12, 2019-07-01".into()
        })
    );
    // Other key questions are not limited.
    assert_eq!(
        limiter_on(&e, "urgent", KeyQuestion::Caring, "2019-06-01"),
        None
    );
    // "enforcement action → that rating inadequate": the standing safe is Inadequate.
    let q = rate_trust(&e, d("2019-07-01"), &RuleSet::cqc_2018());
    assert_eq!(safe(&q), Some(I));

    // As of a date before the warning notice, it does not apply yet: safe is Outstanding.
    let before = r.evidence(Some(d("2019-06-15"))).unwrap();
    assert_eq!(
        limiter_on(&before, "urgent", KeyQuestion::Safe, "2019-06-01"),
        None
    );
    let q = rate_trust(&before, d("2019-06-15"), &RuleSet::cqc_2018());
    assert_eq!(safe(&q), Some(O));
}

#[test]
fn the_strictest_limiter_stands_whatever_the_order() {
    // A requirement notice caps at RI, enforcement action makes it inadequate: with both on one
    // rating, the rating is inadequate, whichever came first.
    for (first, second) in [
        (ActionKind::RequirementNotice, ActionKind::Condition),
        (ActionKind::Condition, ActionKind::RequirementNotice),
    ] {
        let mut r = records(
            TrustType::Acute,
            five(Some("RXX01"), "surgery", [G; 5], "2019-01-01"),
        );
        r.actions = vec![
            action(
                Some("RXX01"),
                "surgery",
                KeyQuestion::Effective,
                first,
                "2019-02-01",
            ),
            action(
                Some("RXX01"),
                "surgery",
                KeyQuestion::Effective,
                second,
                "2019-03-01",
            ),
        ];
        let e = r.evidence(None).unwrap();
        let limiter = limiter_on(&e, "surgery", KeyQuestion::Effective, "2019-01-01").unwrap();
        assert_eq!(limiter.cap(), I, "{first:?} then {second:?}");
    }
}

#[test]
fn an_action_before_any_rating_limits_nothing() {
    let mut r = records(
        TrustType::Acute,
        five(Some("RXX01"), "urgent", [G; 5], "2019-06-01"),
    );
    r.actions = vec![action(
        Some("RXX01"),
        "urgent",
        KeyQuestion::Safe,
        ActionKind::WarningNotice,
        "2019-01-01",
    )];
    let e = r.evidence(None).unwrap();
    assert_eq!(
        limiter_on(&e, "urgent", KeyQuestion::Safe, "2019-06-01"),
        None
    );
}

#[test]
fn a_trust_wide_action_reaches_a_service_without_location_level_wherever_registered() {
    // A mental health trust has no location level: an action without a location reaches the
    // service at whichever location it was registered.
    let mut r = records(
        TrustType::MentalHealth,
        five(Some("RXX01"), "community", [G; 5], "2019-01-01"),
    );
    r.actions = vec![action(
        None,
        "community",
        KeyQuestion::Responsive,
        ActionKind::RequirementNotice,
        "2019-02-01",
    )];
    let e = r.evidence(None).unwrap();
    assert!(limiter_on(&e, "community", KeyQuestion::Responsive, "2019-01-01").is_some());
    let q = rate_trust(&e, d("2019-02-01"), &RuleSet::cqc_2018());
    assert_eq!(
        q.key_questions[&KeyQuestion::Responsive].rating,
        Some(RI),
        "a requirement notice: at best requires improvement"
    );

    // An acute trust's services are rated at a location: an action without one reaches none.
    r.trust_type = TrustType::Acute;
    let e = r.evidence(None).unwrap();
    assert_eq!(
        limiter_on(&e, "community", KeyQuestion::Responsive, "2019-01-01"),
        None
    );
}

#[test]
fn services_without_a_location_sit_at_the_trust_wide_location() {
    let r = records(
        TrustType::Acute,
        [
            five(None, "urgent", [G; 5], "2019-01-01"),
            five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
        ]
        .concat(),
    );
    let e = r.evidence(None).unwrap();
    let ids: Vec<String> = e.locations.iter().map(|l| l.id.to_string()).collect();
    assert_eq!(ids, ["RXXHQ", "RXX01"]);
    assert_eq!(trust_wide_location_of(&code()), "RXXHQ");
}

fn trust_wide_location_of(t: &TrustCode) -> String {
    records::trust_wide_location(t).unwrap().to_string()
}

#[test]
fn a_location_is_named_by_its_last_record_that_names_it() {
    let mut ratings = five(Some("RXX01"), "urgent", [G; 5], "2019-01-01");
    ratings[0].location_name = "General".into();
    let e = records(TrustType::Acute, ratings).evidence(None).unwrap();
    assert_eq!(e.locations[0].name.as_deref(), Some("General"));
}

// ---------------------------------------------------------------------------------------------
// §2.3 merged-organisation services

#[test]
fn a_merged_service_is_left_out_of_the_trust_for_up_to_two_years() {
    // Two locations: RXX01 urgent safe Good, RXX02 (acquired) urgent safe Inadequate. While the
    // acquired service is excluded, trust safe aggregates RXX01 only: one Good → Good. After the
    // two years it counts: n = 2, X = 1, one inadequate → Inadequate.
    let mut r = records(
        TrustType::Acute,
        [
            five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
            five(Some("RXX02"), "urgent", [I, G, G, G, G], "2019-01-01"),
        ]
        .concat(),
    );
    let exclusion =
        MergedExclusion::new("Old Trust", Some(d("2018-10-01")), None, "acquired").unwrap();
    r.merged = vec![MergedRecord {
        location: Some(loc("RXX02")),
        service: svc("urgent"),
        exclusion: exclusion.clone(),
    }];
    r.well_led = vec![well_led(G, "2019-01-01")];
    let e = r.evidence(None).unwrap();
    let merged_from = |id: &str| {
        e.locations
            .iter()
            .find(|l| l.id == loc(id))
            .unwrap()
            .services[0]
            .merged_from
            .clone()
    };
    assert_eq!(merged_from("RXX02"), Some(exclusion));
    assert_eq!(
        merged_from("RXX01"),
        None,
        "another location's urgent is not merged"
    );
    let rules = RuleSet::cqc_2018();
    assert_eq!(safe(&rate_trust(&e, d("2019-06-01"), &rules)), Some(G));
    assert_eq!(safe(&rate_trust(&e, d("2020-10-01"), &rules)), Some(I));
}

// ---------------------------------------------------------------------------------------------
// Limiters named above the rating they lowered

#[test]
fn a_limiter_is_named_at_the_location_and_the_trust_but_not_on_trust_well_led() {
    let mut r = records(
        TrustType::Acute,
        five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
    );
    r.actions = vec![
        action(
            Some("RXX01"),
            "urgent",
            KeyQuestion::Safe,
            ActionKind::RequirementNotice,
            "2019-02-01",
        ),
        action(
            Some("RXX01"),
            "urgent",
            KeyQuestion::WellLed,
            ActionKind::RequirementNotice,
            "2019-02-01",
        ),
    ];
    r.well_led = vec![well_led(G, "2019-01-01")];
    let e = r.evidence(None).unwrap();
    let mut q = rate_trust(&e, d("2019-02-01"), &RuleSet::cqc_2018());
    publish::note_limiters_beneath(&mut q);
    let beneath = |notes: &[Note]| -> Vec<(Option<LocationId>, KeyQuestion, Rating)> {
        notes
            .iter()
            .filter_map(|n| match n {
                Note::LimiterBeneath(b) => Some((b.location.clone(), b.key_question, b.applied.to)),
                _ => None,
            })
            .collect()
    };
    let location = &q.locations[0];
    assert_eq!(
        beneath(&location.key_questions[&KeyQuestion::Safe].explanation.notes),
        [(None, KeyQuestion::Safe, RI)]
    );
    assert_eq!(
        beneath(&q.key_questions[&KeyQuestion::Safe].explanation.notes),
        [(Some(loc("RXX01")), KeyQuestion::Safe, RI)]
    );
    assert!(
        beneath(&q.key_questions[&KeyQuestion::WellLed].explanation.notes).is_empty(),
        "well-led at trust level is never aggregated, so no service limiter reaches it"
    );
}

// ---------------------------------------------------------------------------------------------
// §2.3 carry-forward of the trust overall

#[test]
fn without_a_well_led_assessment_the_previous_trust_overall_stands() {
    let r = records(
        TrustType::MentalHealth,
        five(None, "community", [RI; 5], "2019-03-01"),
    );
    let e = r.evidence(None).unwrap();
    let mut q = rate_trust(&e, d("2019-03-01"), &RuleSet::cqc_2018());
    assert!(publish::carries_forward(&q));
    // Published before: overall Good, standing on five Good key questions of 2019-01-10.
    let previous = PublishedOverall {
        rating: G,
        date: Some(d("2019-02-01")),
        key_questions: KeyQuestion::ALL
            .into_iter()
            .map(|kq| {
                let published = PublishedRating {
                    rating: Some(G),
                    date: Some(d("2019-01-10")),
                };
                (kq, published)
            })
            .collect(),
    };
    publish::carry_forward(&mut q, Some(previous.clone()));
    assert_eq!(
        q.overall.rating,
        Some(G),
        "the previous trust rating stands"
    );
    assert_eq!(q.overall.date, Some(d("2019-02-01")));
    assert_eq!(
        q.overall.explanation.rule,
        Rule::CarriedForward { published: G }
    );
    assert_eq!(
        q.overall.explanation.inputs[0].label,
        Label::PublishedTrustOverall
    );
    let carried = |q: &TrustQuality| {
        q.overall
            .explanation
            .notes
            .iter()
            .filter(|n| matches!(n, Note::OverallCarriedForward { .. }))
            .count()
    };
    assert_eq!(carried(&q), 1);
    // Carried forward again (the next version): said once, not twice.
    let mut again = rate_trust(&e, d("2019-03-01"), &RuleSet::cqc_2018());
    publish::carry_forward(&mut again, Some(previous));
    assert_eq!(again, q);
    // The trust key questions are re-rated all the same: one RI service → safe RI (n = 1) …
    assert_eq!(safe(&q), Some(RI));
    // … but the overall stands on the key questions it was published with: safe Good.
    let beneath = q.overall_key_questions();
    assert_eq!(beneath[&KeyQuestion::Safe].rating, Some(G));
    assert_eq!(beneath[&KeyQuestion::Safe].date, Some(d("2019-01-10")));
}

#[test]
fn after_a_well_led_assessment_the_trust_overall_is_re_rated_not_carried() {
    let mut r = records(
        TrustType::MentalHealth,
        five(None, "community", [RI; 5], "2019-03-01"),
    );
    r.well_led = vec![well_led(RI, "2019-03-01")];
    let e = r.evidence(None).unwrap();
    let mut q = rate_trust(&e, d("2019-03-01"), &RuleSet::cqc_2018());
    assert!(!publish::carries_forward(&q));
    publish::carry_forward(
        &mut q,
        Some(PublishedOverall {
            rating: O,
            date: Some(d("2018-01-01")),
            key_questions: Default::default(),
        }),
    );
    // Five trust KQs RI: n = 5, X = 2, at least 2 RI → RI (§2.1).
    assert_eq!(q.overall.rating, Some(RI));
    assert_eq!(q.overall_key_questions(), &q.key_questions);
}

// ---------------------------------------------------------------------------------------------
// §2.4 final decisions

fn decision(
    entity: Entity,
    key_question: Option<KeyQuestion>,
    computed: Option<Rating>,
    published: Rating,
    stage: Stage,
    decided_on: &str,
) -> Judgement {
    Judgement::new(
        entity,
        key_question,
        computed,
        published,
        Some("inspectors' judgement".into()),
        stage,
        d(decided_on),
    )
    .unwrap()
}

fn urgent_at_rxx01() -> Entity {
    Entity::Service {
        trust: code(),
        location: Some(loc("RXX01")),
        service: svc("urgent"),
    }
}

#[test]
fn a_final_decision_replaces_the_computed_rating_with_the_computed_beside_it() {
    let r = records(
        TrustType::Acute,
        five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
    );
    let e = r.evidence(None).unwrap();
    let q = rate_trust(&e, d("2019-02-01"), &RuleSet::cqc_2018());
    assert_eq!(
        q.rating_of(&urgent_at_rxx01(), Some(KeyQuestion::Safe)),
        Some(Some(G))
    );
    assert_eq!(
        q.rating_of(&Entity::Location(loc("RXX09")), None),
        None,
        "not rated"
    );
    let draft = decision(
        urgent_at_rxx01(),
        Some(KeyQuestion::Safe),
        Some(G),
        I,
        Stage::Draft,
        "2019-02-01",
    );
    let fin = decision(
        urgent_at_rxx01(),
        Some(KeyQuestion::Safe),
        Some(G),
        RI,
        Stage::Final,
        "2019-02-01",
    );
    let q = rate_trust_published(
        &e,
        d("2019-02-01"),
        &RuleSet::cqc_2018(),
        &[draft, fin],
        None,
    );
    let safe = &q.locations[0].services[0].key_questions[&KeyQuestion::Safe];
    assert_eq!(safe.rating, Some(RI), "the final decision, not the draft");
    assert!(safe.explanation.notes.contains(&Note::PublishedDeparture {
        decided_on: d("2019-02-01"),
        computed: Some(G),
        published: RI,
        rationale: "inspectors' judgement".into(),
    }));
}

#[test]
fn a_final_decision_lapses_when_a_later_inspection_rates_beneath_it() {
    let r = records(
        TrustType::Acute,
        [
            five(Some("RXX01"), "urgent", [G; 5], "2019-01-01"),
            five(Some("RXX01"), "urgent", [G; 5], "2019-05-01"),
        ]
        .concat(),
    );
    let e = r.evidence(None).unwrap();
    let rules = RuleSet::cqc_2018();
    let fin = decision(
        urgent_at_rxx01(),
        Some(KeyQuestion::Safe),
        Some(G),
        RI,
        Stage::Final,
        "2019-02-01",
    );
    let q = rate_trust_published(
        &e,
        d("2019-05-01"),
        &rules,
        std::slice::from_ref(&fin),
        None,
    );
    let safe = &q.locations[0].services[0].key_questions[&KeyQuestion::Safe];
    assert_eq!(safe.rating, Some(G), "the rules' rating stands again");
    assert!(safe.explanation.notes.contains(&Note::FinalDecisionLapsed {
        decided_on: d("2019-02-01"),
        key_question: Some(KeyQuestion::Safe),
        published: RI,
    }));
    // As of a date before the decision, it does not apply at all.
    let q = rate_trust_published(&e, d("2019-01-15"), &rules, &[fin], Some(d("2019-01-15")));
    assert_eq!(
        q.locations[0].services[0].key_questions[&KeyQuestion::Safe].rating,
        Some(G)
    );
}

#[test]
fn a_carried_forward_overall_in_words() {
    assert_eq!(
        Rule::CarriedForward { published: G }.to_string(),
        "the trust overall published before stands → Good"
    );
    assert_eq!(
        Label::PublishedTrustOverall.to_string(),
        "trust overall published before"
    );
    assert_eq!(
        Note::PublishedBeneath { computed: Some(G) }.to_string(),
        "aggregates the ratings CQC published beneath it (DOMAIN §2.4); from the computed ratings the rules give Good"
    );
}

// ---------------------------------------------------------------------------------------------
// §2.4 published decisions flow upward

/// A mental health trust (no location level): one service, all five key questions Good on
/// 2019-01-10, and a trust-level well-led assessment Good the same day. Trust safe, effective,
/// caring and responsive aggregate the one service (n = 1: Good), well-led is the assessment
/// (Good); the overall of five Good is Good.
fn one_service_trust() -> TrustEvidence {
    let mut r = records(
        TrustType::MentalHealth,
        five(None, "community", [G; 5], "2019-01-10"),
    );
    r.well_led = vec![well_led(G, "2019-01-10")];
    r.evidence(None).unwrap()
}

fn published_beneath(r: &RatedResult) -> Vec<Option<Rating>> {
    r.explanation
        .notes
        .iter()
        .filter_map(|n| match n {
            Note::PublishedBeneath { computed } => Some(*computed),
            _ => None,
        })
        .collect()
}

#[test]
fn a_published_trust_key_question_changes_the_trust_overall_aggregated_from_it() {
    let e = one_service_trust();
    let rules = RuleSet::cqc_2018();
    let computed = rate_trust(&e, d("2019-01-10"), &rules);
    assert_eq!(computed.overall.rating, Some(G));
    // CQC publishes trust safe Inadequate (a departure, with its rationale) on 2019-02-01.
    let safe_inadequate = decision(
        Entity::Trust(code()),
        Some(KeyQuestion::Safe),
        Some(G),
        I,
        Stage::Final,
        "2019-02-01",
    );
    let q = rate_trust_published(&e, d("2019-01-10"), &rules, &[safe_inadequate], None);
    // Trust KQs as published: S = I, E = C = R = W = G. n = 5, X = 2: one inadequate is below X,
    // so "RI if any is inadequate" (§2.1) → Requires improvement.
    assert_eq!(safe(&q), Some(I));
    assert_eq!(
        q.overall.rating,
        Some(RI),
        "the overall aggregates the published safe"
    );
    // The computed one is kept beside it: Good, from the computed key questions.
    assert_eq!(published_beneath(&q.overall), [Some(G)]);
    assert!(
        q.key_questions[&KeyQuestion::Safe]
            .explanation
            .notes
            .iter()
            .any(|n| matches!(
                n,
                Note::PublishedDeparture {
                    computed: Some(G),
                    published: I,
                    ..
                }
            ))
    );
    // The safe the overall counted is the published one.
    let counted: Vec<Option<RatingValue>> = q
        .overall
        .explanation
        .inputs
        .iter()
        .map(|i| i.value)
        .collect();
    assert!(
        counted.contains(&Some(RatingValue::Rated(I))),
        "{counted:?}"
    );

    // A CQC overall of RI agrees with the aggregate of what CQC published: no departure. (What
    // the rules compute for a new overall decision is the aggregate with the other decisions.)
    assert_eq!(q.rating_of(&Entity::Trust(code()), None), Some(Some(RI)));
    let overall_ri = decision(
        Entity::Trust(code()),
        None,
        Some(RI),
        RI,
        Stage::Final,
        "2019-02-01",
    );
    assert_eq!(overall_ri.departure(), Ok(None));
}

#[test]
fn a_published_service_key_question_flows_to_its_location_and_the_trust() {
    // Two locations: RXX01 urgent and RXX02 surgery, all Good on 2019-01-10; well-led Good.
    let mut r = records(
        TrustType::Acute,
        [
            five(Some("RXX01"), "urgent", [G; 5], "2019-01-10"),
            five(Some("RXX02"), "surgery", [G; 5], "2019-01-10"),
        ]
        .concat(),
    );
    r.well_led = vec![well_led(G, "2019-01-10")];
    let e = r.evidence(None).unwrap();
    let urgent_safe_ri = decision(
        urgent_at_rxx01(),
        Some(KeyQuestion::Safe),
        Some(G),
        RI,
        Stage::Final,
        "2019-02-01",
    );
    let q = rate_trust_published(
        &e,
        d("2019-01-10"),
        &RuleSet::cqc_2018(),
        &[urgent_safe_ri],
        None,
    );
    let rxx01 = q.locations.iter().find(|l| l.id == loc("RXX01")).unwrap();
    // RXX01 safe: one service, n = 1, X = 1, one RI → RI; Good from the computed ratings.
    let rxx01_safe = &rxx01.key_questions[&KeyQuestion::Safe];
    assert_eq!(rxx01_safe.rating, Some(RI));
    assert_eq!(published_beneath(rxx01_safe), [Some(G)]);
    // RXX01 overall: S = RI, four Good: n = 5, X = 2, one RI → Good: unchanged, nothing noted.
    assert_eq!(rxx01.overall.rating, Some(G));
    assert!(published_beneath(&rxx01.overall).is_empty());
    // Trust safe: RXX01 RI, RXX02 G: n = 2, X = 1, one RI → RI; Good from the computed ones.
    assert_eq!(safe(&q), Some(RI));
    assert_eq!(
        published_beneath(&q.key_questions[&KeyQuestion::Safe]),
        [Some(G)]
    );
    // Trust overall: S = RI, four Good → Good.
    assert_eq!(q.overall.rating, Some(G));
    // RXX02 is untouched.
    let rxx02 = q.locations.iter().find(|l| l.id == loc("RXX02")).unwrap();
    assert_eq!(rxx02.key_questions[&KeyQuestion::Safe].rating, Some(G));
    assert!(published_beneath(&rxx02.key_questions[&KeyQuestion::Safe]).is_empty());
}

#[test]
fn drafts_and_decisions_after_the_date_do_not_flow() {
    let e = one_service_trust();
    let rules = RuleSet::cqc_2018();
    let draft = decision(
        Entity::Trust(code()),
        Some(KeyQuestion::Safe),
        Some(G),
        I,
        Stage::Draft,
        "2019-02-01",
    );
    let q = rate_trust_published(
        &e,
        d("2019-01-10"),
        &rules,
        std::slice::from_ref(&draft),
        None,
    );
    assert_eq!(
        q,
        rate_trust(&e, d("2019-01-10"), &rules),
        "a draft is not published"
    );
    let fin = Judgement {
        stage: Stage::Final,
        ..draft
    };
    let q = rate_trust_published(&e, d("2019-01-10"), &rules, &[fin], Some(d("2019-01-31")));
    assert_eq!(
        q.overall.rating,
        Some(G),
        "decided after the date asked for"
    );
}

// ---------------------------------------------------------------------------------------------
// §2.3 the trust overall stands on the key questions of its well-led assessment

/// A mental health trust: community all Good and well-led Good on 2019-04-01 (overall Good); a
/// focused inspection on 2019-09-01 rates community safe Requires improvement, without a
/// well-led assessment.
fn focused_after_well_led() -> TrustEvidence {
    let mut r = records(
        TrustType::MentalHealth,
        five(None, "community", [G; 5], "2019-04-01"),
    );
    r.ratings.push(RatingRecord {
        location: None,
        location_name: String::new(),
        service: svc("community"),
        rating: KqServiceRating {
            key_question: KeyQuestion::Safe,
            rating: RatingValue::Rated(RI),
            report_date: d("2019-09-01"),
            limiter: None,
            statement_scores: vec![],
        },
    });
    r.well_led = vec![well_led(G, "2019-04-01")];
    r.evidence(None).unwrap()
}

#[test]
fn a_focused_inspection_moves_the_key_question_not_what_the_overall_stands_on() {
    let e = focused_after_well_led();
    let q = rate_trust(&e, d("2019-09-01"), &RuleSet::cqc_2018());
    // Trust safe now: the one service's safe, Requires improvement (n = 1, X = 1).
    assert_eq!(safe(&q), Some(RI));
    // "The trust overall is only re-rated after a trust-level well-led assessment": Good, from
    // the key questions of 2019-04-01 (five Good), which are what it stands on.
    assert_eq!(q.overall.rating, Some(G));
    let beneath = q.overall_key_questions();
    assert_eq!(beneath[&KeyQuestion::Safe].rating, Some(G));
    assert_eq!(beneath[&KeyQuestion::Safe].date, Some(d("2019-04-01")));
    assert!(
        KeyQuestion::ALL
            .iter()
            .all(|kq| beneath[kq].rating == Some(G)),
        "{beneath:?}"
    );

    // Before the focused inspection there is nothing newer: the overall stands on the key
    // questions themselves.
    let before = rate_trust(&e, d("2019-08-31"), &RuleSet::cqc_2018());
    assert!(before.overall_beneath.is_none());
    assert_eq!(before.overall_key_questions(), &before.key_questions);
}

#[test]
fn a_decision_about_a_newer_key_question_does_not_move_the_overall_it_was_not_part_of() {
    let e = focused_after_well_led();
    // CQC publishes trust safe Inadequate on 2019-10-01, about the focused inspection's RI.
    let safe_inadequate = decision(
        Entity::Trust(code()),
        Some(KeyQuestion::Safe),
        Some(RI),
        I,
        Stage::Final,
        "2019-10-01",
    );
    let q = rate_trust_published(
        &e,
        d("2019-09-01"),
        &RuleSet::cqc_2018(),
        &[safe_inadequate],
        None,
    );
    assert_eq!(safe(&q), Some(I), "the published safe is shown");
    // Laid over the safe of 2019-04-01 it would give one inadequate of five → RI; the overall is
    // not re-rated, so it stays Good on the key questions of 2019-04-01.
    assert_eq!(q.overall.rating, Some(G), "the overall is not re-rated");
    assert_eq!(
        q.overall_key_questions()[&KeyQuestion::Safe].rating,
        Some(G)
    );
}
