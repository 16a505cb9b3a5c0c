//! Table-driven tests of the CQC rules (DOMAIN.md §2, §5).

// Tests may panic on broken fixtures; the workspace lints forbid it only in library code.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use Rating::{Good as G, Inadequate as I, Outstanding as O, RequiresImprovement as RI};
use chrono::NaiveDate;
use cqc_rules::*;
use oversight_rating::{KeyQuestion, NonRating, Rating, RatingValue};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn kq_ratings(rs: [RatingValue; 5], date: &str) -> Vec<KqServiceRating> {
    KeyQuestion::ALL
        .into_iter()
        .zip(rs)
        .map(|(key_question, rating)| KqServiceRating {
            key_question,
            rating,
            report_date: d(date),
            limiter: None,
            statement_scores: Vec::new(),
        })
        .collect()
}

fn service(id: &str, rs: [Rating; 5], date: &str) -> ServiceEvidence {
    ServiceEvidence {
        service: id.parse().expect("service id"),
        ratings: kq_ratings(rs.map(RatingValue::Rated), date),
        merged_from: None,
        significantly_small: Vec::new(),
    }
}

fn location(id: &str, services: Vec<ServiceEvidence>) -> LocationEvidence {
    LocationEvidence {
        id: id.parse().expect("location id"),
        name: None,
        services,
    }
}

fn well_led(r: Rating, date: &str) -> WellLedAssessment {
    WellLedAssessment {
        rating: RatingValue::Rated(r),
        report_date: d(date),
        statement_scores: Vec::new(),
    }
}

fn trust(
    trust_type: TrustType,
    locations: Vec<LocationEvidence>,
    wl: Vec<WellLedAssessment>,
) -> TrustEvidence {
    TrustEvidence {
        trust: "RXX".parse().expect("trust"),
        trust_type,
        locations,
        well_led: wl,
    }
}

const AS_OF: &str = "2024-01-01";

fn cqc() -> RuleSet {
    RuleSet::cqc_2018()
}

#[test]
fn service_overall_threshold_rows_n5() {
    // n = 5 → X = 2 (§2.1), one row per rule.
    let cases: &[([Rating; 5], Option<Rating>, &str)] = &[
        (
            [I, I, G, G, G],
            Some(I),
            "2 of 5 ratings inadequate, threshold 2 → Inadequate",
        ),
        (
            [I, G, G, G, O],
            Some(RI),
            "1 of 5 ratings inadequate, below threshold 2, limits to Requires improvement",
        ),
        (
            [RI, RI, G, G, O],
            Some(RI),
            "2 of 5 ratings requires improvement, threshold 2 → Requires improvement",
        ),
        (
            [O, O, G, G, G],
            Some(O),
            "2 of 5 ratings outstanding, threshold 2, the rest good → Outstanding",
        ),
        (
            [RI, O, O, G, G],
            Some(G),
            "2 of 5 outstanding but not all others good (1 requires improvement, 0 inadequate) → Good",
        ),
        (
            [O, G, G, G, G],
            Some(G),
            "0 inadequate, 0 requires improvement (threshold 2), 1 outstanding (threshold 2) of 5 → Good",
        ),
        (
            [G, G, G, G, G],
            Some(G),
            "0 inadequate, 0 requires improvement (threshold 2), 0 outstanding (threshold 2) of 5 → Good",
        ),
    ];
    for (rs, want, rule) in cases {
        let s = rate_service(&service("surgery", *rs, "2020-01-01"), d(AS_OF), &cqc());
        assert_eq!(s.overall.rating, *want, "{rs:?}");
        assert_eq!(s.overall.explanation.text().rule, *rule, "{rs:?}");
        assert_eq!(s.overall.explanation.rule_set, "cqc-2018");
        assert_eq!(s.overall.date, Some(d("2020-01-01")));
        assert_eq!(s.overall.explanation.text().inputs.len(), 5);
    }
}

/// Location key question from `n` services: `bad` of them with `r`, the rest good.
fn location_kq(n: usize, ratings: &[Rating]) -> Option<Rating> {
    let services = (0..n)
        .map(|i| {
            let r = ratings.get(i).copied().unwrap_or(G);
            service(&format!("svc{i}"), [r, G, G, G, G], "2020-01-01")
        })
        .collect();
    let ev = trust(
        TrustType::Acute,
        vec![location("RXX01", services), location("RXX02", vec![])],
        vec![],
    );
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    q.locations[0].key_questions[&KeyQuestion::Safe].rating
}

#[test]
fn location_key_question_threshold_rows_by_size() {
    let cases: &[(usize, &[Rating], Option<Rating>)] = &[
        // n ≤ 3: X = 1
        (1, &[I], Some(I)),
        (3, &[RI], Some(RI)),
        (3, &[O], Some(O)),
        (3, &[], Some(G)),
        // 4 ≤ n ≤ 8: X = 2
        (4, &[I], Some(RI)),
        (8, &[I, I], Some(I)),
        (8, &[RI], Some(G)),
        (8, &[RI, RI], Some(RI)),
        (8, &[O], Some(G)),
        (8, &[O, O], Some(O)),
        // n ≥ 9: X = 3
        (9, &[I, I], Some(RI)),
        (9, &[I, I, I], Some(I)),
        (9, &[RI, RI], Some(G)),
        (9, &[RI, RI, RI], Some(RI)),
        (12, &[O, O], Some(G)),
        (12, &[O, O, O], Some(O)),
        (9, &[O, O, O, RI], Some(G)),
    ];
    for (n, ratings, want) in cases {
        assert_eq!(location_kq(*n, ratings), *want, "n={n} {ratings:?}");
    }
}

#[test]
fn non_ratings_are_excluded_and_empty_is_no_rating() {
    let mut s = service("surgery", [G, G, G, G, G], "2020-01-01");
    for r in &mut s.ratings {
        r.rating = RatingValue::Unrated(NonRating::InspectedButNotRated);
    }
    let q = rate_service(&s, d(AS_OF), &cqc());
    assert_eq!(q.overall.rating, None);
    assert!(
        q.overall.explanation.text().rule.contains("no rating"),
        "{}",
        q.overall.explanation.text().rule
    );
    // One RI and two good with two non-ratings: n = 3, X = 1 → RI (a non-rating is not good).
    s.ratings[0].rating = RatingValue::Rated(RI);
    s.ratings[1].rating = RatingValue::Rated(G);
    s.ratings[2].rating = RatingValue::Rated(G);
    let q = rate_service(&s, d(AS_OF), &cqc());
    assert_eq!(q.overall.rating, Some(RI));
    let empty = rate_trust(&trust(TrustType::Acute, vec![], vec![]), d(AS_OF), &cqc());
    assert_eq!(empty.key_questions[&KeyQuestion::Safe].rating, None);
}

#[test]
fn limiters_apply_before_aggregation_with_reason() {
    let notice = Limiter::RequirementNotice {
        reason: "Regulation 12 safe care and treatment".into(),
    };
    let warning = Limiter::EnforcementAction {
        action: EnforcementKind::WarningNotice,
        reason: "Section 29A warning notice".into(),
    };
    let condition = Limiter::EnforcementAction {
        action: EnforcementKind::Condition,
        reason: "condition on registration".into(),
    };
    let cases: &[(Rating, &Limiter, Rating, bool)] = &[
        (O, &notice, RI, true),
        (G, &notice, RI, true),
        (RI, &notice, RI, false),
        (I, &notice, I, false),
        (O, &warning, I, true),
        (G, &warning, I, true),
        (RI, &condition, I, true),
        (I, &condition, I, false),
    ];
    for (before, limiter, after, lowered) in cases {
        let mut s = service("urgent", [*before, G, G, G, G], "2020-01-01");
        s.ratings[0].limiter = Some((*limiter).clone());
        let q = rate_service(&s, d(AS_OF), &cqc());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        assert_eq!(safe.rating, Some(*after), "{before:?} {limiter:?}");
        let text = safe.explanation.lines().join("\n");
        let reason = match limiter {
            Limiter::RequirementNotice { reason } | Limiter::EnforcementAction { reason, .. } => {
                reason
            }
        };
        assert!(text.contains(reason.as_str()), "{text}");
        assert_eq!(
            safe.explanation.text().rule.contains("limiter applied"),
            *lowered,
            "{text}"
        );
    }
    // The limited rating is what aggregates: two warning notices make the service inadequate.
    let mut s = service("urgent", [G, G, G, G, G], "2020-01-01");
    s.ratings[0].limiter = Some(warning.clone());
    s.ratings[1].limiter = Some(warning);
    assert_eq!(rate_service(&s, d(AS_OF), &cqc()).overall.rating, Some(I));
    // A limiter on a non-rating leaves it a non-rating, noted.
    let mut s = service("urgent", [G, G, G, G, G], "2020-01-01");
    s.ratings[0].rating = RatingValue::Unrated(NonRating::NotRated);
    s.ratings[0].limiter = Some(notice);
    let q = rate_service(&s, d(AS_OF), &cqc());
    assert_eq!(q.key_questions[&KeyQuestion::Safe].rating, None);
    assert!(
        q.key_questions[&KeyQuestion::Safe].explanation.text().notes[0]
            .contains("nothing to limit")
    );
}

#[test]
fn carry_forward_latest_stands_and_dates_the_aggregate() {
    let mut s = service("surgery", [G, G, G, G, G], "2016-03-01");
    // A later safe rating replaces the earlier one; a future one (after as_of) is ignored.
    s.ratings.push(KqServiceRating {
        key_question: KeyQuestion::Safe,
        rating: RatingValue::Rated(I),
        report_date: d("2019-05-01"),
        limiter: None,
        statement_scores: Vec::new(),
    });
    s.ratings.push(KqServiceRating {
        key_question: KeyQuestion::Safe,
        rating: RatingValue::Rated(O),
        report_date: d("2025-01-01"),
        limiter: None,
        statement_scores: Vec::new(),
    });
    let q = rate_service(&s, d(AS_OF), &cqc());
    let safe = &q.key_questions[&KeyQuestion::Safe];
    assert_eq!(safe.rating, Some(I));
    assert_eq!(safe.date, Some(d("2019-05-01")));
    assert!(
        safe.explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("Good (2016-03-01)")),
        "{:?}",
        safe.explanation
    );
    // Overall dated by the latest inspection beneath it; 1 inadequate of 5 → RI.
    assert_eq!(q.overall.rating, Some(RI));
    assert_eq!(q.overall.date, Some(d("2019-05-01")));
    assert!(
        q.overall
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.starts_with("carry-forward"))
    );
    // As of an earlier date the earlier rating stands.
    let then = rate_service(&s, d("2018-01-01"), &cqc());
    assert_eq!(then.key_questions[&KeyQuestion::Safe].rating, Some(G));
    // Same date, conflicting ratings: the lower stands whatever the order.
    let mut tie = service("surgery", [G, G, G, G, G], "2020-01-01");
    tie.ratings.insert(
        0,
        kq_ratings([RatingValue::Rated(RI); 5], "2020-01-01").remove(0),
    );
    assert_eq!(
        rate_service(&tie, d(AS_OF), &cqc()).key_questions[&KeyQuestion::Safe].rating,
        Some(RI)
    );
    tie.ratings.reverse();
    assert_eq!(
        rate_service(&tie, d(AS_OF), &cqc()).key_questions[&KeyQuestion::Safe].rating,
        Some(RI)
    );
}

fn two_hospitals(merged: Option<MergedExclusion>) -> TrustEvidence {
    let mut bad = service("urgent", [I, I, I, I, I], "2020-01-01");
    bad.merged_from = merged;
    trust(
        TrustType::Acute,
        vec![
            location(
                "RXX01",
                vec![service("surgery", [G, G, G, G, G], "2020-01-01")],
            ),
            location(
                "RYY01",
                vec![bad, service("care", [G, G, G, G, G], "2020-01-01")],
            ),
        ],
        vec![well_led(G, "2020-02-01")],
    )
}

/// DOMAIN.md §2.3: services of a previously separate organisation "may be left out of trust-level
/// aggregation for up to two years, with the reason stated" — two years from the merger.
#[test]
fn merged_services_left_out_of_trust_for_at_most_two_years_from_the_merger() {
    let merged = |on: &str, until: Option<&str>| {
        MergedExclusion::new(
            "Old Neighbour NHS Trust",
            Some(d(on)),
            until.map(d),
            "acquired 2022; services being integrated",
        )
        .expect("valid exclusion")
    };
    // (merged on, until, as of, left out?)
    let cases: &[(&str, Option<&str>, &str, bool)] = &[
        // No end asked for: two years from 1 January 2022, so up to 31 December 2023.
        ("2022-01-01", None, "2022-01-01", true),
        ("2022-01-01", None, "2023-12-31", true),
        ("2022-01-01", None, "2024-01-01", false),
        ("2022-01-01", None, "2030-01-01", false),
        // An earlier end is kept.
        ("2022-01-01", Some("2023-06-01"), "2023-05-31", true),
        ("2022-01-01", Some("2023-06-01"), "2023-06-01", false),
        // Asked for three years: capped at two after the merger.
        ("2022-01-01", Some("2025-01-01"), "2023-12-31", true),
        ("2022-01-01", Some("2025-01-01"), "2024-01-01", false),
        ("2022-07-15", Some("2099-01-01"), "2024-07-14", true),
        ("2022-07-15", Some("2099-01-01"), "2024-07-15", false),
    ];
    for (on, until, as_of, excluded) in cases {
        let m = merged(on, *until);
        let q = rate_trust(&two_hospitals(Some(m.clone())), d(as_of), &cqc());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        // Location RYY01 itself still counts the service: 1 I of 2 (X = 1) → I.
        assert_eq!(
            q.locations[1].key_questions[&KeyQuestion::Safe].rating,
            Some(I)
        );
        let want = if *excluded { Some(G) } else { Some(I) };
        assert_eq!(safe.rating, want, "{on} {until:?} {as_of}");
        let text = safe.explanation.lines().join("\n");
        assert_eq!(
            text.contains("Old Neighbour NHS Trust"),
            *excluded,
            "{text}"
        );
        if *excluded {
            // The reason is stated.
            assert!(
                text.contains("acquired 2022; services being integrated"),
                "{text}"
            );
            assert!(
                text.contains("RYY01 without merged services: Good"),
                "{text}"
            );
        }
        if *excluded && *on == "2022-01-01" && *until == Some("2025-01-01") {
            assert!(
                text.contains("until 2024-01-01") && text.contains("capped at 24 months"),
                "{text}"
            );
        }
        if *excluded && until.is_none() {
            assert!(
                text.contains("until 2024-01-01 (24 months after the merger of 2022-01-01)"),
                "{text}"
            );
        }
    }
    assert_eq!(cqc().merged_exclusion_max_months, 24);
    assert_eq!(
        cqc().exclusion_end(&merged("2022-01-01", None)),
        d("2024-01-01")
    );
}

#[test]
fn a_merged_service_without_its_merger_date_is_refused() {
    assert_eq!(
        MergedExclusion::new(
            "Old Neighbour NHS Trust",
            None,
            Some(d("2024-01-01")),
            "merger"
        ),
        Err(RulesError::MergerDateMissing {
            field: "merged_on".into()
        })
    );
    let err = RulesError::MergerDateMissing {
        field: "merged_on".into(),
    }
    .to_string();
    assert!(err.starts_with("merged_on: missing"), "{err}");
    assert!(err.contains("two years"), "{err}");
    // An end on or before the merger is refused naming `until`.
    assert!(matches!(
        MergedExclusion::new("Old", Some(d("2022-01-01")), Some(d("2022-01-01")), "merger"),
        Err(RulesError::InvalidValue { field, .. }) if field == "until"
    ));
    // Evidence JSON without the date is refused with the same error, not silently uncapped.
    let json = r#"{"service":"urgent","ratings":[],"merged_from":{"organisation":"Old","until":"2024-01-01","reason":"merger"}}"#;
    let err = serde_json::from_str::<ServiceEvidence>(json).expect_err("no merger date");
    assert!(err.to_string().contains("merged_on: missing"), "{err}");
    let ok = r#"{"service":"urgent","ratings":[],"merged_from":{"organisation":"Old","merged_on":"2022-01-01","reason":"merger"}}"#;
    let svc: ServiceEvidence = serde_json::from_str(ok).expect("valid");
    assert_eq!(
        svc.merged_from.map(|m| (m.merged_on, m.until)),
        Some((d("2022-01-01"), None))
    );
}

#[test]
fn superseded_areas_followed_so_a_service_counts_once() {
    let old = service("maternity", [O, O, O, O, O], "2017-01-01");
    let mut npi = service("npimaternity", [RI, G, G, G, RI], "2023-03-01");
    npi.ratings
        .retain(|r| matches!(r.key_question, KeyQuestion::Safe | KeyQuestion::WellLed));
    let ev = trust(
        TrustType::Acute,
        vec![
            location(
                "RXX01",
                vec![
                    old.clone(),
                    npi.clone(),
                    service("surgery", [G, G, G, G, G], "2023-03-01"),
                ],
            ),
            location("RXX02", vec![old.clone()]),
        ],
        vec![well_led(G, "2023-03-01")],
    );
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    let loc = &q.locations[0];
    let ids: Vec<&str> = loc.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(ids, ["npimaternity", "surgery"]);
    let mat = &loc.services[0];
    // Safe and well-led from the 2023 programme; the others carried forward from 2017.
    let got: Vec<(Option<Rating>, Option<NaiveDate>)> = KeyQuestion::ALL
        .iter()
        .map(|kq| (mat.key_questions[kq].rating, mat.key_questions[kq].date))
        .collect();
    assert_eq!(
        got,
        [
            (Some(RI), Some(d("2023-03-01"))),
            (Some(O), Some(d("2017-01-01"))),
            (Some(O), Some(d("2017-01-01"))),
            (Some(O), Some(d("2017-01-01"))),
            (Some(RI), Some(d("2023-03-01"))),
        ]
    );
    assert!(
        mat.overall
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("maternity counted as npimaternity"))
    );
    // The location counts two services, not three.
    assert_eq!(
        loc.key_questions[&KeyQuestion::Caring]
            .explanation
            .text()
            .inputs
            .len(),
        2
    );
    // A location with only the old area keeps its name.
    assert_eq!(q.locations[1].services[0].service.as_str(), "maternity");
    // The map is a parameter: without it the two areas are separate services.
    let mut rules = cqc();
    rules.superseded_areas.clear();
    let q = rate_trust(&ev, d(AS_OF), &rules);
    assert_eq!(q.locations[0].services.len(), 3);
    // Same date in both areas: the successor wins.
    let same_day_old = service("maternity", [I, I, I, I, I], "2023-03-01");
    let s = rate_trust(
        &trust(
            TrustType::Acute,
            vec![
                location("RXX01", vec![same_day_old, npi]),
                location("RXX02", vec![]),
            ],
            vec![],
        ),
        d(AS_OF),
        &cqc(),
    );
    assert_eq!(
        s.locations[0].services[0].key_questions[&KeyQuestion::Safe].rating,
        Some(RI)
    );
    assert_eq!(
        s.locations[0].services[0].key_questions[&KeyQuestion::Caring].rating,
        Some(I)
    );
}

#[test]
fn trust_well_led_is_never_aggregated() {
    let ev = trust(
        TrustType::Acute,
        vec![
            location(
                "RXX01",
                vec![service("surgery", [G, G, G, G, I], "2020-01-01")],
            ),
            location(
                "RXX02",
                vec![service("urgent", [G, G, G, G, I], "2020-01-01")],
            ),
        ],
        vec![well_led(I, "2018-01-01"), well_led(O, "2020-02-01")],
    );
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    let wl = &q.key_questions[&KeyQuestion::WellLed];
    assert_eq!(wl.rating, Some(O));
    assert_eq!(wl.date, Some(d("2020-02-01")));
    assert!(wl.explanation.text().notes[0].contains("never aggregated"));
    // Multi-location: the location well-led aggregates its services.
    assert_eq!(
        q.locations[0].key_questions[&KeyQuestion::WellLed].rating,
        Some(I)
    );
    // Trust overall: S G, E G, C G, R G, W O → Good (1 O < X = 2).
    assert_eq!(q.overall.rating, Some(G));
    assert!(q.overall_rerated());
    // Explanations name the rule set, the inputs (label: rating (date)) and the rule.
    let safe = &q.key_questions[&KeyQuestion::Safe];
    assert_eq!(safe.explanation.rule_set, "cqc-2018");
    assert_eq!(
        safe.explanation.text().inputs,
        ["RXX01: Good (2020-01-01)", "RXX02: Good (2020-01-01)"]
    );
    assert_eq!(
        safe.explanation.text().rule,
        "0 inadequate, 0 requires improvement (threshold 1), 0 outstanding (threshold 1) of 2 → Good"
    );
}

#[test]
fn trust_overall_rerated_only_after_well_led_assessment() {
    let mut ev = two_hospitals(None);
    ev.well_led.clear();
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    assert_eq!(q.overall.rating, None);
    assert!(!q.overall_rerated());
    assert!(
        matches!(&q.overall_basis, OverallBasis::PreviousStands { reason } if reason.contains("previous trust rating stands"))
    );
    // Well-led on 2020-02-01; a later (2021) re-inspection moves the trust KQs, not the overall.
    let mut ev = trust(
        TrustType::Acute,
        vec![
            location(
                "RXX01",
                vec![service("surgery", [G, G, G, G, G], "2020-01-01")],
            ),
            location(
                "RXX02",
                vec![service("urgent", [G, G, G, G, G], "2020-01-01")],
            ),
        ],
        vec![well_led(G, "2020-02-01")],
    );
    ev.locations[1].services[0]
        .ratings
        .extend(kq_ratings([RatingValue::Rated(I); 5], "2021-06-01"));
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    assert_eq!(q.key_questions[&KeyQuestion::Safe].rating, Some(I));
    assert_eq!(q.overall.rating, Some(G));
    assert_eq!(
        q.overall_basis,
        OverallBasis::Rerated {
            well_led_date: d("2020-02-01")
        }
    );
    assert!(
        q.overall
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("5 service rating(s) dated after 2020-02-01 are not reflected")),
        "{:?}",
        q.overall.explanation.text().notes
    );
    // A new well-led assessment re-rates: S I, E I, C I, R I, W G → Inadequate.
    ev.well_led.push(well_led(G, "2021-07-01"));
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    assert_eq!(q.overall.rating, Some(I));
    assert_eq!(q.overall.date, Some(d("2021-07-01")));
}

#[test]
fn single_location_trust_location_well_led_and_overall_are_the_trusts() {
    let ev = trust(
        TrustType::Acute,
        vec![location(
            "RXX01",
            vec![
                service("surgery", [G, G, O, G, I], "2020-01-01"),
                service("urgent", [G, G, O, G, I], "2020-01-01"),
            ],
        )],
        vec![well_led(O, "2020-01-15")],
    );
    let q = rate_trust(&ev, d(AS_OF), &cqc());
    let loc = &q.locations[0];
    assert_eq!(loc.key_questions[&KeyQuestion::WellLed].rating, Some(O));
    assert!(
        loc.key_questions[&KeyQuestion::WellLed]
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("single-location"))
    );
    // Trust: S G, E G, C O, R G, W O → Outstanding; the location overall is the same result.
    assert_eq!(q.overall.rating, Some(O));
    assert_eq!(loc.overall.rating, q.overall.rating);
    assert_eq!(loc.overall.date, q.overall.date);
    assert!(
        loc.overall
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("location overall is the trust overall"))
    );
}

#[test]
fn trusts_without_a_location_level_rate_services_into_the_trust() {
    for tt in [
        TrustType::MentalHealth,
        TrustType::Community,
        TrustType::Ambulance,
    ] {
        assert!(!tt.has_location_level());
        let ev = trust(
            tt,
            vec![
                location(
                    "RXX01",
                    vec![service("acute-wards", [RI, G, G, G, G], "2020-01-01")],
                ),
                location(
                    "RXX02",
                    vec![
                        service("community-adults", [RI, G, G, G, G], "2020-01-01"),
                        // The same trust-wide service registered at a second site: counted once, latest stands.
                        service("acute-wards", [G, G, G, G, G], "2021-01-01"),
                    ],
                ),
            ],
            vec![well_led(G, "2021-02-01")],
        );
        let q = rate_trust(&ev, d(AS_OF), &cqc());
        assert!(q.locations.is_empty(), "{tt:?}");
        assert_eq!(q.services.len(), 2);
        let safe = &q.key_questions[&KeyQuestion::Safe];
        // acute-wards G (2021) and community-adults RI: n = 2, X = 1 → RI.
        assert_eq!(safe.rating, Some(RI), "{tt:?}");
        assert_eq!(
            safe.explanation.text().inputs,
            [
                "acute-wards: Good (2021-01-01)",
                "community-adults: Requires improvement (2020-01-01)"
            ]
        );
        assert!(
            safe.explanation
                .text()
                .notes
                .iter()
                .any(|n| n.contains("no location level"))
        );
        // Trust: S RI, E G, C G, R G, W G → n = 5, X = 2 → Good.
        assert_eq!(q.overall.rating, Some(G));
    }
}

// ---- saf-2023 ----

fn scores(n: usize, sum: usize) -> Vec<QualityStatementScore> {
    // n scores of 1–4 adding up to `sum`.
    let mut v = vec![1usize; n];
    let mut extra = sum - n;
    for s in &mut v {
        let add = extra.min(3);
        *s += add;
        extra -= add;
    }
    v.into_iter()
        .enumerate()
        .map(|(i, s)| {
            QualityStatementScore::new(s as i64, &format!("statement_scores[{i}]")).expect("1–4")
        })
        .collect()
}

/// A whole percentage as the exact value the rules compare.
fn pc(p: u32) -> SafPercent {
    SafPercent::whole(p)
}

/// `num / den` percent, exactly.
fn frac(num: u128, den: u128) -> SafPercent {
    SafPercent::ratio(num, den).expect("non-zero denominator")
}

fn scores_of(values: &[i64]) -> Vec<QualityStatementScore> {
    values
        .iter()
        .map(|v| QualityStatementScore::new(*v, "statement_scores").expect("1–4"))
        .collect()
}

#[test]
fn saf_bands_at_the_boundaries() {
    let bands = SafBands::default();
    // 25 statements, max 100: the sum is the percentage.
    let cases = [
        (100, O),
        (88, O),
        (87, G),
        (63, G),
        (62, RI),
        (39, RI),
        (38, I),
        (25, I),
    ];
    for (pct, want) in cases {
        let s = scores(25, pct);
        assert_eq!(saf_percent(&s), Some(pc(pct as u32)));
        assert_eq!(bands.band(pc(pct as u32)), want, "{pct}");
        let mut svc = service("urgent", [G, G, G, G, G], "2024-01-01");
        svc.ratings[0].statement_scores = s;
        let q = rate_service(&svc, d("2024-02-01"), &RuleSet::saf_2023());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        assert_eq!(safe.rating, Some(want), "{pct}");
        assert_eq!(safe.percent, Some(pc(pct as u32)));
        assert_eq!(safe.explanation.rule_set, "saf-2023");
        assert!(
            safe.explanation
                .text()
                .rule
                .contains(&format!("= {pct}% → {want}")),
            "{}",
            safe.explanation.text().rule
        );
    }
    assert_eq!(saf_percent(&[]), None);
}

/// DOMAIN.md §5: ≥ 88 % outstanding, 63–87 good, 39–62 RI, ≤ 38 inadequate. Nothing is rounded
/// before banding, and a percentage between two published bands has not reached the higher one's
/// minimum: 87.5 % is Good (the brief's own example), 62.5 % RI, 38.5 % inadequate.
#[test]
fn saf_percentages_are_exact_and_gaps_fall_to_the_lower_band() {
    let bands = SafBands::default();
    // (scores, exact percentage, band) — worked by hand: sum ÷ (4 × n) × 100.
    let cases: Vec<(Vec<QualityStatementScore>, SafPercent, Rating)> = vec![
        // 7 of 8 = 87.5 %: Good, not Outstanding (rounding first would have made it 88).
        (scores_of(&[4, 3]), frac(175, 2), G),
        // 28 of 32 = 87.5 % again, from eight statements.
        (scores_of(&[4, 4, 4, 4, 3, 3, 3, 3]), frac(175, 2), G),
        // 5 of 8 = 62.5 %: requires improvement, not Good.
        (scores_of(&[3, 2]), frac(125, 2), RI),
        // 11 of 12 = 91.66… %: Outstanding; 7 of 12 = 58.33… %: RI.
        (scores_of(&[4, 4, 3]), frac(275, 3), O),
        (scores_of(&[3, 2, 2]), frac(175, 3), RI),
        // 15 of 24 = 62.5 %.
        (scores_of(&[3, 3, 3, 2, 2, 2]), frac(125, 2), RI),
        // 77 of 200 = 38.5 % (50 statements): inadequate, not RI.
        (scores(50, 77), frac(77, 2), I),
    ];
    for (s, want_pct, want) in cases {
        let raw: Vec<u8> = s.iter().map(|x| x.get()).collect();
        let got = saf_percent(&s).expect("scores");
        assert_eq!(got, want_pct, "{raw:?}");
        assert_eq!(bands.band(got), want, "{raw:?} = {got}%");
        let mut svc = service("urgent", [G, G, G, G, G], "2024-01-01");
        svc.ratings[0].statement_scores = s;
        let q = rate_service(&svc, d("2024-02-01"), &RuleSet::saf_2023());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        assert_eq!(
            safe.rating,
            Some(want),
            "{raw:?}: {}",
            safe.explanation.text().rule
        );
        assert_eq!(safe.percent, Some(want_pct));
    }
    // The explanation shows the exact value and the band with its gap made explicit.
    let mut svc = service("urgent", [G, G, G, G, G], "2024-01-01");
    svc.ratings[0].statement_scores = scores_of(&[4, 3]);
    let q = rate_service(&svc, d("2024-02-01"), &RuleSet::saf_2023());
    let rule = &q.key_questions[&KeyQuestion::Safe].explanation.text().rule;
    assert!(
        rule.contains("scored 7 of 8 = 87.5% → Good (band 63 to < 88%)"),
        "{rule}"
    );
    // Exactly at the boundaries, and just below them.
    for (p, want) in [
        (pc(88), O),
        (frac(8799, 100), G),
        (pc(63), G),
        (frac(6299, 100), RI),
        (pc(39), RI),
        (frac(3899, 100), I),
    ] {
        assert_eq!(bands.band(p), want, "{p}");
    }
}

/// Aggregates average the exact percentages beneath them; the mean is not rounded either.
#[test]
fn saf_aggregates_average_exact_percentages() {
    let rules = RuleSet::saf_2023();
    let svc = |kq_scores: [Vec<QualityStatementScore>; 5]| {
        let mut s = service("urgent", [G, G, G, G, G], "2024-01-01");
        for (r, scores) in s.ratings.iter_mut().zip(kq_scores) {
            r.statement_scores = scores;
        }
        s
    };
    let seven_of_eight = || scores_of(&[4, 3]);
    // 25 statements adding up to 88.
    let eighty_eight = || scores(25, 88);
    // Five key questions at 87.5 % each: mean 87.5 % → Good. (Rounded first: 88 → Outstanding.)
    let q = rate_service(
        &svc(std::array::from_fn(|_| seven_of_eight())),
        d("2024-02-01"),
        &rules,
    );
    assert_eq!(
        q.overall.rating,
        Some(G),
        "{}",
        q.overall.explanation.text().rule
    );
    assert_eq!(q.overall.percent, Some(frac(175, 2)));
    // 88, 88, 88, 88 and 87.5: mean 87.9 % → Good, although four key questions are Outstanding
    // (the §2.1 rows only ever lower a banded rating).
    assert_eq!(saf_percent(&eighty_eight()), Some(pc(88)));
    let q = rate_service(
        &svc([
            eighty_eight(),
            eighty_eight(),
            eighty_eight(),
            eighty_eight(),
            seven_of_eight(),
        ]),
        d("2024-02-01"),
        &rules,
    );
    assert_eq!(q.overall.percent, Some(frac(879, 10)));
    assert_eq!(
        q.overall.rating,
        Some(G),
        "{}",
        q.overall.explanation.text().rule
    );
    assert!(
        q.overall
            .explanation
            .text()
            .rule
            .starts_with("mean score 87.9% of 5 → Good"),
        "{}",
        q.overall.explanation.text().rule
    );
    // 11/12, 7/8, 7/8, 7/8, 7/8: (91.66… + 4 × 87.5) / 5 = 88.33… % → Outstanding, exactly 265/3.
    let q = rate_service(
        &svc([
            scores_of(&[4, 4, 3]),
            seven_of_eight(),
            seven_of_eight(),
            seven_of_eight(),
            seven_of_eight(),
        ]),
        d("2024-02-01"),
        &rules,
    );
    assert_eq!(q.overall.percent, Some(frac(265, 3)));
    assert_eq!(q.overall.rating, Some(O));
    // A location key question averages its services' exact percentages: 87.5 % and 88 % → 87.75 %
    // → Good (rounded first, both were 88 → Outstanding).
    let a = svc(std::array::from_fn(|_| seven_of_eight()));
    let mut b = svc(std::array::from_fn(|_| eighty_eight()));
    b.service = "surgery".parse().expect("service id");
    let ev = trust(
        TrustType::Acute,
        vec![location("RXX01", vec![a, b])],
        vec![well_led(G, "2024-01-01")],
    );
    let t = rate_trust(&ev, d("2024-02-01"), &rules);
    let safe = &t.locations[0].key_questions[&KeyQuestion::Safe];
    assert_eq!(safe.percent, Some(frac(351, 4)));
    assert_eq!(safe.rating, Some(G), "{}", safe.explanation.text().rule);
}

#[test]
fn saf_scores_outside_one_to_four_are_rejected_naming_the_field() {
    for bad in [0, 5, -1] {
        assert_eq!(
            QualityStatementScore::new(bad, "ratings[2].statement_scores[7]"),
            Err(RulesError::SafScoreOutOfRange {
                field: "ratings[2].statement_scores[7]".into(),
                value: bad
            })
        );
    }
    let err = serde_json::from_str::<KqServiceRating>(
        r#"{"key_question":"Safe","rating":"Good","report_date":"2024-01-01","statement_scores":[4,5]}"#,
    );
    assert!(err.is_err_and(|e| e.to_string().contains("outside 1–4")));
    let ok: KqServiceRating = serde_json::from_str(
        r#"{"key_question":"Safe","rating":"Requires improvement","report_date":"2024-01-01","statement_scores":[4,3]}"#,
    )
    .expect("valid");
    assert_eq!(ok.rating, RatingValue::Rated(RI));
    assert_eq!(ok.statement_scores.len(), 2);
}

fn saf_service(pcts: [usize; 5]) -> ServiceEvidence {
    let mut s = service("urgent", [G, G, G, G, G], "2024-01-01");
    for (r, pct) in s.ratings.iter_mut().zip(pcts) {
        r.statement_scores = scores(25, pct);
    }
    s
}

#[test]
fn saf_overall_bands_the_mean_with_section_2_1_limiters() {
    let cases: &[([usize; 5], Rating, u32)] = &[
        ([90, 90, 90, 90, 90], O, 90),
        ([90, 90, 90, 90, 80], O, 88),
        ([90, 90, 90, 90, 70], G, 86),
        // Mean 78 → Good, but one inadequate key question limits to RI.
        ([90, 90, 90, 90, 30], RI, 62),
        // Two inadequate → Inadequate even with a mean of 58.
        ([90, 90, 90, 30, 30], I, 38),
        // Two RI (X = 2) → at best RI.
        ([90, 90, 90, 60, 60], RI, 62),
        ([50, 50, 50, 50, 50], RI, 50),
    ];
    for (pcts, want, pct) in cases {
        let q = rate_service(&saf_service(*pcts), d("2024-02-01"), &RuleSet::saf_2023());
        assert_eq!(
            q.overall.rating,
            Some(*want),
            "{pcts:?}: {}",
            q.overall.explanation.text().rule
        );
        assert_eq!(q.overall.percent, Some(pc(*pct)), "{pcts:?}");
    }
    // A limiter lowers a scored rating and its percentage to the top of the band.
    let mut s = saf_service([95, 95, 95, 95, 95]);
    s.ratings[0].limiter = Some(Limiter::RequirementNotice {
        reason: "Reg 17".into(),
    });
    let q = rate_service(&s, d("2024-02-01"), &RuleSet::saf_2023());
    assert_eq!(q.key_questions[&KeyQuestion::Safe].rating, Some(RI));
    assert_eq!(q.key_questions[&KeyQuestion::Safe].percent, Some(pc(62)));
    // Without scores, a judgement carried from cqc-2018 falls back to §2.1 counting.
    let mut s = saf_service([95, 95, 95, 95, 95]);
    s.ratings[4].statement_scores.clear();
    s.ratings[4].rating = RatingValue::Rated(G);
    let q = rate_service(&s, d("2024-02-01"), &RuleSet::saf_2023());
    assert_eq!(q.overall.rating, Some(O));
    assert_eq!(q.overall.percent, None);
    assert!(
        q.overall
            .explanation
            .text()
            .notes
            .iter()
            .any(|n| n.contains("§2.1 counting rule"))
    );
}

#[test]
fn rule_set_selected_by_date_or_configuration() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("2023-10-31", None, "cqc-2018"),
        ("2023-11-01", None, "saf-2023"),
        ("2019-01-01", Some("saf-2023"), "saf-2023"),
        ("2024-01-01", Some("cqc-2018"), "cqc-2018"),
        ("2024-01-01", Some(" "), "saf-2023"),
    ];
    for (date, configured, want) in cases {
        let rs = RuleSet::select(d(date), *configured).expect("known");
        assert_eq!(rs.name(), *want, "{date} {configured:?}");
        let q = rate_trust(&trust(TrustType::Acute, vec![], vec![]), d(date), &rs);
        assert_eq!(q.rule_set, *want);
        assert_eq!(q.overall.explanation.rule_set, *want);
    }
    assert_eq!(
        RuleSet::select(d("2024-01-01"), Some("saf-2030")),
        Err(RulesError::UnknownRuleSet {
            field: "rule_set".into(),
            value: "saf-2030".into()
        })
    );
    let later = Selection {
        saf_from: d("2025-01-01"),
    };
    assert_eq!(
        later
            .select(d("2024-06-01"), None)
            .map(|r| r.version.to_string()),
        Ok("cqc-2018".to_string())
    );
    assert!(
        "cqc-2018"
            .parse::<oversight_rating::RuleSetVersion>()
            .is_ok()
    );
    assert!(
        "saf-2023"
            .parse::<oversight_rating::RuleSetVersion>()
            .is_ok()
    );
}

#[test]
fn evidence_round_trips_through_json_with_cqc_strings() {
    let mut ev = two_hospitals(Some(MergedExclusion {
        organisation: "Old".into(),
        merged_on: d("2022-03-01"),
        until: Some(d("2024-01-01")),
        reason: "merger".into(),
    }));
    ev.locations[0].services[0].ratings[0].limiter = Some(Limiter::EnforcementAction {
        action: EnforcementKind::Condition,
        reason: "condition".into(),
    });
    let text = serde_json::to_string(&ev).expect("serialise");
    assert!(text.contains(r#""rating":"Inadequate""#), "{text}");
    assert!(
        text.contains(r#""kind":"enforcement_action","action":"condition""#),
        "{text}"
    );
    let back: TrustEvidence = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(back, ev);
}

// ---- judgement ----

#[test]
fn departures_need_a_rationale() {
    /// (computed, published, rationale, `Some(is a departure)` or `None`: rejected)
    type Case<'a> = (Option<Rating>, Rating, Option<&'a str>, Option<bool>);
    let cases: &[Case] = &[
        (Some(G), G, None, Some(false)),
        (Some(G), G, Some("agreed"), Some(false)),
        (
            Some(G),
            RI,
            Some("serious concerns in maternity outweigh the count"),
            Some(true),
        ),
        (Some(G), RI, None, None),
        (Some(G), RI, Some("   "), None),
        (
            None,
            G,
            Some("rated on the whole-trust evidence"),
            Some(true),
        ),
        (None, G, None, None),
    ];
    for (computed, published, rationale, want) in cases {
        let got = check_departure(*computed, *published, *rationale);
        match want {
            Some(dep) => assert_eq!(
                got.as_ref().map(Option::is_some),
                Ok(*dep),
                "{computed:?} {published:?} {rationale:?}"
            ),
            None => assert_eq!(
                got,
                Err(RulesError::MissingRationale {
                    field: "rationale".into(),
                    computed: *computed,
                    published: *published
                })
            ),
        }
    }
}

#[test]
fn judgements_list_departures_and_keep_draft_to_final_history() {
    let entity = judgement::Entity::Trust("RXX".parse().expect("trust"));
    let j = |computed, published, rationale: Option<&str>, stage| {
        Judgement::new(
            entity.clone(),
            Some(KeyQuestion::Safe),
            computed,
            published,
            rationale.map(String::from),
            stage,
            d("2024-01-01"),
        )
    };
    assert!(j(Some(G), RI, None, Stage::Draft).is_err());
    let draft = j(Some(G), RI, Some("never events in theatres"), Stage::Draft).expect("valid");
    let final_ = j(Some(G), G, None, Stage::Final).expect("valid");
    let same = j(Some(O), O, None, Stage::Final).expect("valid");
    let list = [draft.clone(), same, final_.clone()];
    let deps = departures(&list).expect("all valid");
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].1.rationale, "never events in theatres");
    assert_eq!(deps[0].1.published, RI);

    let mut h = JudgementHistory::new(draft).expect("valid");
    let mut other = final_.clone();
    other.key_question = Some(KeyQuestion::Caring);
    assert!(
        matches!(h.record(other), Err(RulesError::JudgementMismatch { field, .. }) if field == "key_question")
    );
    h.record(final_.clone()).expect("draft → final");
    assert_eq!(h.current(), &final_);
    assert_eq!(h.final_decision(), Some(&final_));
    assert_eq!(h.changes().len(), 1);
    assert_eq!(h.entries().count(), 2);
    assert_eq!(
        h.record(final_),
        Err(RulesError::JudgementAlreadyFinal {
            field: "stage".into()
        })
    );
}
