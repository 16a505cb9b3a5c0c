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

#[test]
fn merged_services_left_out_of_trust_until_end_capped_at_two_years() {
    let merged = |until: &str, on: Option<&str>| MergedExclusion {
        organisation: "Old Neighbour NHS Trust".into(),
        until: d(until),
        reason: "acquired 2021; services being integrated".into(),
        merged_on: on.map(d),
    };
    // (until, merged on, as of, left out?)
    let cases: &[(&str, Option<&str>, &str, bool)] = &[
        ("2023-06-01", Some("2022-01-01"), "2023-05-31", true),
        ("2023-06-01", Some("2022-01-01"), "2023-06-01", false),
        // Asked for three years: capped at two after the merger.
        ("2025-01-01", Some("2022-01-01"), "2023-12-31", true),
        ("2025-01-01", Some("2022-01-01"), "2024-01-01", false),
        // No merger date: `until` as given, noted.
        ("2025-01-01", None, "2024-06-01", true),
    ];
    for (until, on, as_of, excluded) in cases {
        let q = rate_trust(&two_hospitals(Some(merged(until, *on))), d(as_of), &cqc());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        // Location RYY01 itself still counts the service: 1 I of 2 (X = 1) → I.
        assert_eq!(
            q.locations[1].key_questions[&KeyQuestion::Safe].rating,
            Some(I)
        );
        let want = if *excluded { Some(G) } else { Some(I) };
        assert_eq!(safe.rating, want, "{until} {on:?} {as_of}");
        let text = safe.explanation.lines().join("\n");
        assert_eq!(
            text.contains("Old Neighbour NHS Trust"),
            *excluded,
            "{text}"
        );
        if *excluded {
            assert!(
                text.contains("acquired 2021; services being integrated"),
                "{text}"
            );
            assert!(
                text.contains("RYY01 without merged services: Good"),
                "{text}"
            );
        }
        if *excluded && until.starts_with("2025") && on.is_some() {
            assert!(
                text.contains("until 2024-01-01") && text.contains("capped at 24 months"),
                "{text}"
            );
        }
        if on.is_none() {
            assert!(text.contains("merger date unknown"), "{text}");
        }
    }
    assert_eq!(cqc().merged_exclusion_max_months, 24);
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
        assert_eq!(saf_percent(&s), Some(pct as u32));
        assert_eq!(bands.band(pct as u32), want, "{pct}");
        let mut svc = service("urgent", [G, G, G, G, G], "2024-01-01");
        svc.ratings[0].statement_scores = s;
        let q = rate_service(&svc, d("2024-02-01"), &RuleSet::saf_2023());
        let safe = &q.key_questions[&KeyQuestion::Safe];
        assert_eq!(safe.rating, Some(want), "{pct}");
        assert_eq!(safe.percent, Some(pct as u32));
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
    // Rounding half up: 7 of 8 = 87.5 → 88 → Outstanding.
    assert_eq!(saf_percent(&scores(2, 7)), Some(88));
    assert_eq!(saf_percent(&[]), None);
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
        assert_eq!(q.overall.percent, Some(*pct), "{pcts:?}");
    }
    // A limiter lowers a scored rating and its percentage to the top of the band.
    let mut s = saf_service([95, 95, 95, 95, 95]);
    s.ratings[0].limiter = Some(Limiter::RequirementNotice {
        reason: "Reg 17".into(),
    });
    let q = rate_service(&s, d("2024-02-01"), &RuleSet::saf_2023());
    assert_eq!(q.key_questions[&KeyQuestion::Safe].rating, Some(RI));
    assert_eq!(q.key_questions[&KeyQuestion::Safe].percent, Some(62));
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
        until: d("2024-01-01"),
        reason: "merger".into(),
        merged_on: None,
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
