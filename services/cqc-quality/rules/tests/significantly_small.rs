//! "Significantly small" services (DOMAIN.md §2.1: "all services weigh equally except
//! 'significantly small' ones"): a recorded decision leaves the service out of its location's
//! aggregation (and so the trust's) while it stands, and every aggregate it was left out of says
//! so. Expected ratings are worked by hand from §2.1: with n real ratings, X = 1 for n ≤ 3, 2 for
//! 4 ≤ n ≤ 8, 3 for n ≥ 9; Inadequate if at least X are inadequate; else RI if any is inadequate
//! or at least X are RI; else Outstanding if at least X are outstanding and all others good;
//! else Good.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use Rating::{Good as G, Inadequate as I, Outstanding as O};
use chrono::NaiveDate;
use cqc_rules::explain::{LeftOutSmall, Note};
use cqc_rules::*;
use oversight_rating::{KeyQuestion, LocationId, Rating, RatingValue};

const KQ: KeyQuestion = KeyQuestion::Safe;
const REASON: &str = "renal dialysis unit: 6 beds of 900, significantly small";

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn service(id: &str, rs: [Rating; 5]) -> ServiceEvidence {
    ServiceEvidence {
        service: id.parse().expect("service id"),
        ratings: KeyQuestion::ALL
            .into_iter()
            .zip(rs)
            .map(|(key_question, r)| KqServiceRating {
                key_question,
                rating: RatingValue::Rated(r),
                report_date: d("2019-03-01"),
                limiter: None,
                statement_scores: Vec::new(),
            })
            .collect(),
        merged_from: None,
        significantly_small: Vec::new(),
    }
}

/// A service whose safe rating is `safe` and the other four Good.
fn safe_is(id: &str, safe: Rating) -> ServiceEvidence {
    service(id, [safe, G, G, G, G])
}

fn small(from: &str, until: Option<&str>) -> SignificantlySmall {
    SignificantlySmall::new(d(from), until.map(d), REASON, "inspector").expect("valid decision")
}

fn decided(mut s: ServiceEvidence, decisions: Vec<SignificantlySmall>) -> ServiceEvidence {
    s.significantly_small = decisions;
    s
}

fn location(id: &str, services: Vec<ServiceEvidence>) -> LocationEvidence {
    LocationEvidence {
        id: id.parse().expect("location id"),
        name: None,
        services,
    }
}

fn trust(trust_type: TrustType, locations: Vec<LocationEvidence>) -> TrustEvidence {
    TrustEvidence {
        trust: "RXX".parse().expect("trust"),
        trust_type,
        locations,
        well_led: vec![WellLedAssessment {
            rating: RatingValue::Rated(G),
            report_date: d("2019-03-01"),
            statement_scores: Vec::new(),
        }],
    }
}

fn rate(e: &TrustEvidence, as_of: &str) -> TrustQuality {
    rate_trust(e, d(as_of), &RuleSet::cqc_2018())
}

fn kq(r: &oversight_rating::KeyQuestionMap<RatedResult>, k: KeyQuestion) -> Option<Rating> {
    r.get(&k).and_then(|x| x.rating)
}

fn left_out_notes(r: &RatedResult) -> Vec<&LeftOutSmall> {
    r.explanation
        .notes
        .iter()
        .filter_map(|n| match n {
            Note::LeftOutSignificantlySmall(x) => Some(&**x),
            _ => None,
        })
        .collect()
}

fn note(location: Option<&str>, service: &str, from: &str) -> LeftOutSmall {
    LeftOutSmall {
        location: location.map(|l| l.parse::<LocationId>().expect("location")),
        service: service.parse().expect("service"),
        from: d(from),
        until: None,
        reason: REASON.into(),
    }
}

/// One location: urgent and surgery all Good, renal safe Inadequate.
fn one_location(renal_decisions: Vec<SignificantlySmall>) -> TrustEvidence {
    trust(
        TrustType::Acute,
        vec![location(
            "RXX01",
            vec![
                service("urgent", [G; 5]),
                service("surgery", [G; 5]),
                decided(safe_is("renal", I), renal_decisions),
            ],
        )],
    )
}

#[test]
fn leaving_out_a_small_services_inadequate_makes_the_location_good() {
    // Counted: location safe over urgent G, surgery G, renal I: n = 3 → X = 1; 1 inadequate ≥ 1
    // → Inadequate. Left out: urgent G, surgery G: n = 2 → X = 1; none inadequate or RI, 0
    // outstanding < 1 → Good.
    let counted = rate(&one_location(vec![]), "2024-01-01");
    let left_out = rate(&one_location(vec![small("2020-01-01", None)]), "2024-01-01");
    let loc = |q: &TrustQuality| q.locations[0].clone();
    assert_eq!(kq(&loc(&counted).key_questions, KQ), Some(I));
    assert_eq!(kq(&loc(&left_out).key_questions, KQ), Some(G));

    // Single-location acute trust: trust safe is the aggregate of the one location safe
    // (n = 1, X = 1): Inadequate → Good. Trust overall over safe, effective, caring,
    // responsive and well-led (the assessment, Good): counted, n = 5 → X = 2, 1 inadequate < 2
    // but one is inadequate → RI; left out, all five Good → Good.
    assert_eq!(kq(&counted.key_questions, KQ), Some(I));
    assert_eq!(kq(&left_out.key_questions, KQ), Some(G));
    assert_eq!(counted.overall.rating, Some(Rating::RequiresImprovement));
    assert_eq!(left_out.overall.rating, Some(G));

    // The service's own ratings are still rated and shown: renal safe Inadequate; renal overall
    // over I, G, G, G, G: n = 5 → X = 2, one inadequate < 2 → RI.
    let renal = loc(&left_out)
        .services
        .into_iter()
        .find(|s| s.service.as_str() == "renal")
        .expect("renal still rated");
    assert_eq!(kq(&renal.key_questions, KQ), Some(I));
    assert_eq!(renal.overall.rating, Some(Rating::RequiresImprovement));
    assert_eq!(
        renal
            .significantly_small
            .as_ref()
            .map(|s| s.reason.as_str()),
        Some(REASON)
    );
    // Renal is not an input of the location safe any more: only urgent and surgery are.
    let safe = loc(&left_out)
        .key_questions
        .get(&KQ)
        .cloned()
        .expect("safe");
    let inputs: Vec<String> = safe
        .explanation
        .inputs
        .iter()
        .map(|i| i.label.to_string())
        .collect();
    assert_eq!(inputs, ["surgery", "urgent"]);

    // Each aggregate it was left out of says so, with the reason and the date: the location's
    // key questions (renal rated all five) and the trust's aggregated ones naming the location.
    // A single-location trust's location well-led is the trust-level assessment, not an
    // aggregate, so nothing was left out of it.
    for k in KeyQuestion::ALL {
        let l = loc(&left_out).key_questions.get(&k).cloned().expect("kq");
        let expected = if k == KeyQuestion::WellLed {
            vec![]
        } else {
            vec![note(None, "renal", "2020-01-01")]
        };
        assert_eq!(
            left_out_notes(&l).into_iter().cloned().collect::<Vec<_>>(),
            expected,
            "{k:?}"
        );
    }
    let trust_safe = left_out.key_questions.get(&KQ).expect("trust safe");
    assert_eq!(
        left_out_notes(trust_safe),
        [&note(Some("RXX01"), "renal", "2020-01-01")]
    );
    let text: Vec<String> = trust_safe.explanation.text().notes;
    assert!(
        text.iter()
            .any(|n| n.contains("renal") && n.contains(REASON) && n.contains("2020-01-01")),
        "{text:?}"
    );
    // Well-led at trust level is never aggregated, so nothing was left out of it.
    let wl = left_out
        .key_questions
        .get(&KeyQuestion::WellLed)
        .expect("wl");
    assert!(left_out_notes(wl).is_empty());
    // Nothing was left out when nothing was decided.
    let counted_safe = loc(&counted).key_questions.get(&KQ).cloned().expect("safe");
    assert!(left_out_notes(&counted_safe).is_empty());
}

#[test]
fn leaving_out_one_of_four_changes_the_threshold() {
    // Counted: safe over O, O, G, I: n = 4 → X = 2; 1 inadequate < 2, but one is inadequate →
    // RI. Left out (the I): O, O, G: n = 3 → X = 1; 2 outstanding ≥ 1 and the other Good →
    // Outstanding.
    let evidence = |decisions| {
        trust(
            TrustType::Acute,
            vec![location(
                "RXX01",
                vec![
                    safe_is("urgent", O),
                    safe_is("surgery", O),
                    safe_is("maternity", G),
                    decided(safe_is("renal", I), decisions),
                ],
            )],
        )
    };
    let counted = rate(&evidence(vec![]), "2024-01-01");
    let left_out = rate(&evidence(vec![small("2020-01-01", None)]), "2024-01-01");
    assert_eq!(
        kq(&counted.locations[0].key_questions, KQ),
        Some(Rating::RequiresImprovement)
    );
    assert_eq!(kq(&left_out.locations[0].key_questions, KQ), Some(O));
}

#[test]
fn trust_key_questions_follow_the_location_and_name_it() {
    // RXX01: urgent G, renal I (small). RXX02: surgery G.
    // Counted: RXX01 safe over G, I: n = 2 → X = 1 → Inadequate; trust safe over RXX01 I,
    // RXX02 G: n = 2 → X = 1 → Inadequate. Left out: RXX01 safe over G alone → Good; trust
    // safe over G, G → Good.
    let evidence = |decisions| {
        trust(
            TrustType::Acute,
            vec![
                location(
                    "RXX01",
                    vec![
                        safe_is("urgent", G),
                        decided(safe_is("renal", I), decisions),
                    ],
                ),
                location("RXX02", vec![safe_is("surgery", G)]),
            ],
        )
    };
    let counted = rate(&evidence(vec![]), "2024-01-01");
    let left_out = rate(&evidence(vec![small("2020-01-01", None)]), "2024-01-01");
    assert_eq!(kq(&counted.locations[0].key_questions, KQ), Some(I));
    assert_eq!(kq(&counted.key_questions, KQ), Some(I));
    assert_eq!(kq(&left_out.locations[0].key_questions, KQ), Some(G));
    assert_eq!(kq(&left_out.key_questions, KQ), Some(G));
    assert_eq!(
        left_out_notes(left_out.key_questions.get(&KQ).expect("safe")),
        [&note(Some("RXX01"), "renal", "2020-01-01")]
    );
    // The other location's aggregates left nothing out.
    let rxx02 = left_out.locations[1].key_questions.get(&KQ).expect("safe");
    assert!(left_out_notes(rxx02).is_empty());
}

#[test]
fn a_decision_stands_from_its_date_until_its_end() {
    // Ratings are of 2019-03-01; the decision runs from 2020-01-01 to 2021-01-01 (exclusive).
    let e = one_location(vec![small("2020-01-01", Some("2021-01-01"))]);
    let safe = |as_of: &str| kq(&rate(&e, as_of).locations[0].key_questions, KQ);
    // Before it: counted (G, G, I → Inadequate, as worked above).
    assert_eq!(safe("2019-12-31"), Some(I));
    // While it stands: left out (G, G → Good).
    assert_eq!(safe("2020-01-01"), Some(G));
    assert_eq!(safe("2020-12-31"), Some(G));
    // From its end: counted again, so a decision that ended in the past changes nothing.
    assert_eq!(safe("2021-01-01"), Some(I));
    let ended = rate(&e, "2024-01-01");
    assert_eq!(ended, rate(&one_location(vec![]), "2024-01-01"));
    assert!(ended.locations[0].services[0].significantly_small.is_none());
}

#[test]
fn a_later_decision_governs_from_its_date() {
    // An open decision from 2020, then a later one from 2022 that ends on 2023-01-01: the later
    // governs from 2022, so from 2023-01-01 the service counts again.
    let e = one_location(vec![
        small("2020-01-01", None),
        small("2022-01-01", Some("2023-01-01")),
    ]);
    let safe = |as_of: &str| kq(&rate(&e, as_of).locations[0].key_questions, KQ);
    assert_eq!(safe("2021-06-01"), Some(G));
    assert_eq!(safe("2022-06-01"), Some(G));
    assert_eq!(safe("2023-01-01"), Some(I));
    let standing = [small("2020-01-01", None), small("2022-01-01", None)];
    assert_eq!(
        SignificantlySmall::standing(&standing, d("2022-06-01")).map(|s| s.from),
        Some(d("2022-01-01"))
    );
    assert_eq!(
        SignificantlySmall::standing(&standing, d("2019-06-01")),
        None
    );
}

#[test]
fn trust_without_locations_leaves_it_out_of_the_trust() {
    // Mental health trust: services straight into the trust. Safe over community G, crisis G,
    // small unit I: n = 3 → X = 1 → Inadequate; left out: G, G → Good.
    let evidence = |decisions| {
        trust(
            TrustType::MentalHealth,
            vec![location(
                "RXX01",
                vec![
                    safe_is("community", G),
                    safe_is("crisis", G),
                    decided(safe_is("forensic", I), decisions),
                ],
            )],
        )
    };
    assert_eq!(
        kq(&rate(&evidence(vec![]), "2024-01-01").key_questions, KQ),
        Some(I)
    );
    let left_out = rate(&evidence(vec![small("2020-01-01", None)]), "2024-01-01");
    assert_eq!(kq(&left_out.key_questions, KQ), Some(G));
    assert_eq!(
        left_out_notes(left_out.key_questions.get(&KQ).expect("safe")),
        [&note(None, "forensic", "2020-01-01")]
    );
    assert!(
        left_out
            .services
            .iter()
            .any(|s| s.service.as_str() == "forensic")
    );
}

#[test]
fn records_reach_the_service_at_their_location_only() {
    let rating = |location: &str, service: &str| RatingRecord {
        location: Some(location.parse().expect("location")),
        location_name: String::new(),
        service: service.parse().expect("service"),
        rating: KqServiceRating {
            key_question: KQ,
            rating: RatingValue::Rated(G),
            report_date: d("2019-03-01"),
            limiter: None,
            statement_scores: Vec::new(),
        },
    };
    let records = TrustRecords {
        trust: "RXX".parse().expect("trust"),
        trust_type: TrustType::Acute,
        ratings: vec![rating("RXX01", "renal"), rating("RXX02", "renal")],
        actions: vec![],
        merged: vec![],
        well_led: vec![],
        significantly_small: vec![SmallServiceRecord {
            location: Some("RXX02".parse().expect("location")),
            service: "renal".parse().expect("service"),
            decision: small("2020-01-01", None),
        }],
    };
    let e = records.evidence(None).expect("evidence");
    let decisions = |i: usize| e.locations[i].services[0].significantly_small.clone();
    assert_eq!(decisions(0), vec![]);
    assert_eq!(decisions(1), vec![small("2020-01-01", None)]);
}

#[test]
fn a_decision_needs_a_reason_and_an_end_after_its_start() {
    assert_eq!(
        SignificantlySmall::new(d("2020-01-01"), None, "  ", "x"),
        Err(RulesError::MissingField {
            field: "reason".into()
        })
    );
    for until in ["2019-12-31", "2020-01-01"] {
        let e = SignificantlySmall::new(d("2020-01-01"), Some(d(until)), REASON, "x")
            .expect_err("an end on or before the start");
        assert_eq!(e.field(), "until", "{e}");
    }
    // Deserialisation refuses the same, with the typed error's message.
    let json = r#"{"from":"2020-01-01","until":"2019-01-01","reason":"small"}"#;
    let e = serde_json::from_str::<SignificantlySmall>(json).expect_err("end before start");
    assert!(e.to_string().contains("until"), "{e}");
    let ok = r#"{"from":"2020-01-01","reason":"small"}"#;
    let s: SignificantlySmall = serde_json::from_str(ok).expect("valid");
    assert_eq!((s.from, s.until), (d("2020-01-01"), None));
}
