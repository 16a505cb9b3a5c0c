//! Explanations are data, rendered only at the edges (STYLE.md): each kind of rule, input and
//! note renders as the sentence CQC's explanations have always used (the wording of DOMAIN.md §2
//! and §5 and of the rules' own tests), and a hand-worked trust renders line for line as before.

// Tests may panic on broken fixtures; the workspace lints forbid it only in library code.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use Rating::{Good as G, Inadequate as I, Outstanding as O, RequiresImprovement as RI};
use chrono::NaiveDate;
use cqc_rules::explain::*;
use cqc_rules::*;
use oversight_rating::{
    AggregateCounts, CountingRow, CountingRule, KeyQuestion, NonRating, Rating, RatingValue,
    RuleSetVersion,
};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn notice() -> Limiter {
    Limiter::RequirementNotice {
        reason: "Regulation 12 safe care and treatment".into(),
    }
}

fn warning() -> Limiter {
    Limiter::EnforcementAction {
        action: EnforcementKind::WarningNotice,
        reason: "Section 29A warning notice".into(),
    }
}

fn location(name: Option<&str>) -> Arc<LocationLabel> {
    Arc::new(LocationLabel {
        id: "RYY01".parse().expect("location"),
        name: name.map(Into::into),
    })
}

fn excluded(cap: ExclusionCap) -> ExcludedFromTrust {
    ExcludedFromTrust {
        organisation: "Old Neighbour NHS Trust".into(),
        until: d("2024-01-01"),
        cap,
        reason: "acquired 2021; services being integrated".into(),
    }
}

fn two_of_five_inadequate() -> CountingRule {
    CountingRule {
        row: CountingRow::Inadequate,
        counts: AggregateCounts {
            outstanding: 0,
            good: 3,
            requires_improvement: 0,
            inadequate: 2,
            excluded_non_ratings: 0,
        },
        inadequate_at: 2,
        requires_improvement_at: 2,
        outstanding_at: 2,
    }
}

#[test]
fn each_rule_renders_as_before() {
    let bands = SafBands::default();
    let cases: Vec<(Rule, &str)> = vec![
        (
            Rule::Counting(two_of_five_inadequate()),
            "2 of 5 ratings inadequate, threshold 2 → Inadequate",
        ),
        (
            Rule::SafMean {
                mean: SafPercent::ratio(1755, 20).expect("percent").into(),
                n: 5,
                band: bands.band_of(G),
                limited_by: None,
            },
            "mean score 87.75% of 5 → Good (band 63 to < 88%)",
        ),
        (
            Rule::SafMean {
                mean: SafPercent::whole(58).into(),
                n: 5,
                band: bands.band_of(RI),
                limited_by: Some(Box::new(two_of_five_inadequate())),
            },
            "mean score 58% of 5 → Requires improvement (band 39 to < 63%); limited by §2.1: 2 of 5 ratings inadequate, threshold 2 → Inadequate",
        ),
        (
            Rule::Judged {
                basis: Basis::Recorded {
                    source: Assessment::InspectionJudgement,
                    value: RatingValue::Rated(O),
                },
                limiter: Some(Box::new(LimiterApplied {
                    limiter: notice(),
                    to: RI,
                })),
            },
            "inspection judgement: Outstanding; limiter applied: requirement notice (Regulation 12 safe care and treatment) limits to at best Requires improvement → Requires improvement",
        ),
        (
            Rule::Judged {
                basis: Basis::Recorded {
                    source: Assessment::TrustWellLedAssessment,
                    value: RatingValue::Unrated(NonRating::InspectedButNotRated),
                },
                limiter: None,
            },
            "trust-level well-led assessment: Inspected but not rated (a non-rating) → no rating",
        ),
        (
            Rule::Judged {
                basis: Basis::Scored {
                    statements: 2,
                    sum: 7,
                    band: bands.band_of(G),
                },
                limiter: Some(Box::new(LimiterApplied {
                    limiter: warning(),
                    to: I,
                })),
            },
            "2 quality statements scored 7 of 8 = 87.5% → Good (band 63 to < 88%); limiter applied: enforcement action: warning notice (Section 29A warning notice) → Inadequate → Inadequate",
        ),
        (
            Rule::NoWellLedAssessment,
            "no trust-level well-led assessment → no rating",
        ),
        (
            Rule::PreviousOverallStands,
            "no trust-level well-led assessment: the trust overall is only re-rated after one, so the previous trust rating stands → no rating",
        ),
        (
            Rule::NothingRatedBeneath,
            "nothing rated beneath → no rating",
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(rule.to_string(), want, "{rule:?}");
    }
    // The SAF bands of DOMAIN.md §5, as explanations write them.
    let ranges: Vec<String> = Rating::ALL
        .iter()
        .map(|r| bands.band_of(*r).to_string())
        .collect();
    assert_eq!(ranges, ["< 39", "39 to < 63", "63 to < 88", "≥ 88"]);
}

#[test]
fn explanations_hold_percentages_exactly() {
    // Small fractions in a word, any other exactly; both read back as the same value.
    let small = SafPercent::ratio(175, 2).expect("percent");
    assert!(matches!(Percent::from(small), Percent::Fraction { .. }));
    let big = SafPercent::ratio(u128::from(u32::MAX) + 2, u128::from(u32::MAX) + 1).expect("p");
    assert!(matches!(Percent::from(big), Percent::Exact(_)));
    for p in [small, big, SafPercent::whole(100)] {
        assert_eq!(Percent::from(p).get(), p);
        assert_eq!(Percent::from(p).to_string(), p.to_string());
    }
}

#[test]
fn each_input_renders_as_label_value_date() {
    let input = |label, value, percent, date: Option<&str>| Input {
        label,
        value,
        percent,
        date: date.map(d),
    };
    let surgery: oversight_rating::ServiceId = "surgery".parse().expect("service");
    let cases: Vec<(Input, &str)> = vec![
        (
            input(
                Label::ServiceKeyQuestion {
                    service: surgery.clone(),
                    key_question: KeyQuestion::WellLed,
                },
                Some(RatingValue::Unrated(NonRating::NotRated)),
                None,
                Some("2020-01-01"),
            ),
            "surgery Well-led: Not rated (2020-01-01)",
        ),
        (
            input(
                Label::Service(surgery),
                Some(RatingValue::Rated(RI)),
                Some(SafPercent::ratio(125, 2).expect("percent").into()),
                Some("2024-01-01"),
            ),
            "surgery: Requires improvement, 62.5% (2024-01-01)",
        ),
        (
            input(
                Label::Location(location(Some("Royal Hospital"))),
                Some(RatingValue::Rated(G)),
                None,
                Some("2020-01-01"),
            ),
            "RYY01 Royal Hospital: Good (2020-01-01)",
        ),
        (
            input(
                Label::LocationWithoutMerged(location(None)),
                Some(RatingValue::Rated(G)),
                None,
                None,
            ),
            "RYY01 without merged services: Good",
        ),
        (
            input(Label::KeyQuestion(KeyQuestion::Safe), None, None, None),
            "Safe: no rating",
        ),
        (
            input(
                Label::TrustWellLedAssessment,
                Some(RatingValue::Rated(O)),
                None,
                Some("2020-02-01"),
            ),
            "trust well-led assessment: Outstanding (2020-02-01)",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(input.to_string(), want, "{input:?}");
    }
}

#[test]
fn each_note_renders_as_before() {
    let beneath = |location: Option<&str>| {
        Note::LimiterBeneath(Box::new(LimiterBeneath {
            location: location.map(|l| l.parse().expect("location")),
            service: "urgent".parse().expect("service"),
            key_question: KeyQuestion::Safe,
            applied: LimiterApplied {
                limiter: notice(),
                to: RI,
            },
        }))
    };
    let cases: Vec<(Note, &str)> = vec![
        (
            Note::LimiterWithin {
                limiter: notice(),
                rating: RI,
            },
            "limiter requirement notice (Regulation 12 safe care and treatment) limits to at best Requires improvement: the rating (Requires improvement) is already within it",
        ),
        (
            Note::LimiterOnNonRating { limiter: warning() },
            "limiter enforcement action: warning notice (Section 29A warning notice) → Inadequate: nothing to limit, a non-rating is not a rating",
        ),
        (
            Note::JudgementReplacedByScore {
                recorded: RatingValue::Rated(G),
            },
            "recorded judgement Good replaced by the quality-statement score",
        ),
        (
            Note::NoStatementScores {
                source: Assessment::InspectionJudgement,
            },
            "no quality-statement scores: the inspection judgement counts as recorded",
        ),
        (
            Note::StatementScoresIgnored {
                rule_set: RuleSetVersion::from_static(CQC_2018),
            },
            "quality-statement scores ignored: cqc-2018 rates by judgement",
        ),
        (
            Note::UnscoredBeneath,
            "some ratings beneath have no SAF score (carried forward from an earlier rule set): the §2.1 counting rule decides",
        ),
        (
            Note::CarryForwardSpan {
                earliest: d("2016-03-01"),
                latest: d("2019-05-01"),
            },
            "carry-forward: inputs dated 2016-03-01 to 2019-05-01; each stands whatever its date, the aggregate is dated 2019-05-01",
        ),
        (
            Note::EarlierRatingsNotUsed {
                earlier: vec![
                    (RatingValue::Rated(I), d("2019-05-01")),
                    (RatingValue::Rated(G), d("2016-03-01")),
                ],
            },
            "carry-forward: the latest rating stands; earlier ratings not used: Inadequate (2019-05-01), Good (2016-03-01)",
        ),
        (
            Note::SupersededAreas {
                areas: vec!["maternity".parse().expect("service")].into(),
                counted_as: "npimaternity".parse().expect("service"),
            },
            "superseded area(s) maternity counted as npimaternity: per key question the latest report stands, so the service is counted once",
        ),
        (
            Note::ExcludedMerged(Box::new(ExcludedMerged {
                location: Some(location(None)),
                service: "urgent".parse().expect("service"),
                why: excluded(ExclusionCap::Capped {
                    requested: d("2025-01-01"),
                    months: 24,
                    merged_on: d("2022-01-01"),
                }),
            })),
            "RYY01 urgent: from merged organisation Old Neighbour NHS Trust, left out of trust aggregation until 2024-01-01 (requested until 2025-01-01, capped at 24 months after the merger of 2022-01-01): acquired 2021; services being integrated",
        ),
        (
            Note::ExcludedMerged(Box::new(ExcludedMerged {
                location: None,
                service: "urgent".parse().expect("service"),
                why: excluded(ExclusionCap::Full {
                    months: 24,
                    merged_on: d("2022-01-01"),
                }),
            })),
            "urgent: from merged organisation Old Neighbour NHS Trust, left out of trust aggregation until 2024-01-01 (24 months after the merger of 2022-01-01): acquired 2021; services being integrated",
        ),
        (
            Note::ExcludedMerged(Box::new(ExcludedMerged {
                location: None,
                service: "urgent".parse().expect("service"),
                why: excluded(ExclusionCap::Requested {
                    merged_on: d("2022-01-01"),
                }),
            })),
            "urgent: from merged organisation Old Neighbour NHS Trust, left out of trust aggregation until 2024-01-01 (merged 2022-01-01): acquired 2021; services being integrated",
        ),
        (
            Note::LocationAllExcluded {
                location: location(Some("Old Hospital")),
            },
            "RYY01 Old Hospital left out: all its services are excluded from trust aggregation",
        ),
        (
            Note::NoLocationLevel {
                trust_type: TrustType::MentalHealth,
            },
            "MentalHealth trust: no location level, services aggregated straight into the trust",
        ),
        (
            Note::WellLedFromAssessment,
            "well-led at trust level is never aggregated: it is the latest trust-level well-led assessment",
        ),
        (
            Note::WellLedNeverAggregated,
            "well-led at trust level is never aggregated from locations or services",
        ),
        (
            Note::OverallWaitsForWellLed,
            "well-led is never aggregated from services or locations (DOMAIN §2 level 5)",
        ),
        (
            Note::EarlierAssessmentsSuperseded { count: 1 },
            "1 earlier assessment(s) superseded",
        ),
        (
            Note::ReratedOnWellLed {
                well_led_date: d("2020-02-01"),
            },
            "re-rated on the trust-level well-led assessment of 2020-02-01",
        ),
        (
            Note::LaterRatingsNotReflected {
                count: 5,
                well_led_date: d("2020-02-01"),
            },
            "5 service rating(s) dated after 2020-02-01 are not reflected: the trust overall is only re-rated after a trust-level well-led assessment, so the rating of 2020-02-01 stands",
        ),
        (
            Note::SingleLocationWellLed,
            "single-location trust: the location well-led is the trust-level well-led, not an aggregate of services",
        ),
        (
            Note::SingleLocationOverall,
            "single-location trust: the location overall is the trust overall",
        ),
        (
            beneath(None),
            "limiter on urgent Safe: requirement notice (Regulation 12 safe care and treatment) limits to at best Requires improvement → Requires improvement",
        ),
        (
            beneath(Some("RXX01")),
            "limiter on RXX01 urgent Safe: requirement notice (Regulation 12 safe care and treatment) limits to at best Requires improvement → Requires improvement",
        ),
        (
            Note::OverallCarriedForward {
                reason: PREVIOUS_STANDS.into(),
            },
            "carry-forward (DOMAIN §2.3): no trust-level well-led assessment: the trust overall is only re-rated after one, so the previous trust rating stands; the trust overall published before stands",
        ),
        (
            Note::PublishedDeparture {
                decided_on: d("2020-03-01"),
                computed: Some(RI),
                published: G,
                rationale: "the breach was remedied before publication".into(),
            },
            "published by CQC judgement (final, 2020-03-01): the rules computed Requires improvement, CQC published Good: the breach was remedied before publication",
        ),
        (
            Note::PublishedDeparture {
                decided_on: d("2020-03-01"),
                computed: None,
                published: G,
                rationale: String::new(),
            },
            "published by CQC judgement (final, 2020-03-01): the rules computed no rating, CQC published Good",
        ),
        (
            Note::FinalDecisionLapsed {
                decided_on: d("2020-03-01"),
                key_question: None,
                published: G,
            },
            "the final decision of 2020-03-01 (overall Good) no longer applies: ratings beneath it were reported after it",
        ),
        (
            Note::FinalDecisionLapsed {
                decided_on: d("2020-03-01"),
                key_question: Some(KeyQuestion::WellLed),
                published: O,
            },
            "the final decision of 2020-03-01 (Well-led Outstanding) no longer applies: ratings beneath it were reported after it",
        ),
    ];
    for (note, want) in cases {
        assert_eq!(note.to_string(), want, "{note:?}");
    }
}

fn service(id: &str, rs: [Rating; 5], date: &str) -> ServiceEvidence {
    ServiceEvidence {
        service: id.parse().expect("service id"),
        ratings: KeyQuestion::ALL
            .into_iter()
            .zip(rs)
            .map(|(key_question, r)| KqServiceRating {
                key_question,
                rating: RatingValue::Rated(r),
                report_date: d(date),
                limiter: None,
                statement_scores: Vec::new(),
            })
            .collect(),
        merged_from: None,
        significantly_small: Vec::new(),
    }
}

/// Two hospitals. RXX01 Royal Hospital: urgent (safe Outstanding under a requirement notice) and
/// maternity (2016, all Outstanding) superseded by npimaternity (2019: safe RI, well-led Good).
/// RXX02: surgery (2018 Good; an earlier safe Inadequate) and care from a merged organisation
/// (all Inadequate, left out until 2021 but capped two years after the 2018 merger). Well-led
/// assessments: RI in 2017, Good in July 2019. Rated as of 2019-12-31 under cqc-2018.
fn hand_worked_trust() -> TrustQuality {
    let mut urgent = service("urgent", [O, G, O, RI, G], "2019-03-01");
    urgent.ratings[0].limiter = Some(notice());
    let maternity = service("maternity", [O; 5], "2016-05-01");
    let mut npi = service("npimaternity", [RI, G, G, G, G], "2019-06-01");
    npi.ratings
        .retain(|r| matches!(r.key_question, KeyQuestion::Safe | KeyQuestion::WellLed));
    let mut surgery = service("surgery", [G; 5], "2018-01-10");
    surgery.ratings.push(KqServiceRating {
        key_question: KeyQuestion::Safe,
        rating: RatingValue::Rated(I),
        report_date: d("2016-01-01"),
        limiter: None,
        statement_scores: Vec::new(),
    });
    let mut care = service("care", [I; 5], "2019-02-01");
    care.merged_from = Some(
        MergedExclusion::new(
            "Old Neighbour NHS Trust",
            Some(d("2018-06-01")),
            Some(d("2021-01-01")),
            "acquired 2018; services being integrated",
        )
        .expect("a valid exclusion"),
    );
    let evidence = TrustEvidence {
        trust: "RXX".parse().expect("trust"),
        trust_type: TrustType::Acute,
        locations: vec![
            LocationEvidence {
                id: "RXX01".parse().expect("location"),
                name: Some("Royal Hospital".into()),
                services: vec![urgent, maternity, npi],
            },
            LocationEvidence {
                id: "RXX02".parse().expect("location"),
                name: None,
                services: vec![surgery, care],
            },
        ],
        well_led: vec![
            WellLedAssessment {
                rating: RatingValue::Rated(RI),
                report_date: d("2017-01-01"),
                statement_scores: Vec::new(),
            },
            WellLedAssessment {
                rating: RatingValue::Rated(G),
                report_date: d("2019-07-01"),
                statement_scores: Vec::new(),
            },
        ],
    };
    rate_trust(&evidence, d("2019-12-31"), &RuleSet::cqc_2018())
}

fn service_of<'q>(l: &'q LocationQuality, id: &str) -> &'q ServiceQuality {
    l.services
        .iter()
        .find(|s| s.service.as_str() == id)
        .expect("service")
}

/// The lines each explanation rendered before explanations were data (the text-building rules
/// gave exactly these), worked by hand against DOMAIN.md §2.
#[test]
fn a_hand_worked_trust_renders_line_for_line_as_before() {
    let q = hand_worked_trust();
    let cases: Vec<(&RatedResult, Option<Rating>, &[&str])> = vec![
        // §2.2: the requirement notice limits Outstanding to Requires improvement.
        (
            &service_of(&q.locations[0], "urgent").key_questions[&KeyQuestion::Safe],
            Some(RI),
            &[
                "[cqc-2018] inspection judgement: Outstanding; limiter applied: requirement notice (Regulation 12 safe care and treatment) limits to at best Requires improvement → Requires improvement",
                "input: urgent Safe: Outstanding (2019-03-01)",
            ],
        ),
        // §2.3: the latest safe rating stands.
        (
            &service_of(&q.locations[1], "surgery").key_questions[&KeyQuestion::Safe],
            Some(G),
            &[
                "[cqc-2018] inspection judgement: Good",
                "input: surgery Safe: Good (2018-01-10)",
                "note: carry-forward: the latest rating stands; earlier ratings not used: Inadequate (2016-01-01)",
            ],
        ),
        // maternity's 2016 ratings carry into npimaternity; n = 5, X = 2: 3 Outstanding but an RI.
        (
            &service_of(&q.locations[0], "npimaternity").overall,
            Some(G),
            &[
                "[cqc-2018] 3 of 5 outstanding but not all others good (1 requires improvement, 0 inadequate) → Good",
                "input: Safe: Requires improvement (2019-06-01)",
                "input: Effective: Outstanding (2016-05-01)",
                "input: Caring: Outstanding (2016-05-01)",
                "input: Responsive: Outstanding (2016-05-01)",
                "input: Well-led: Good (2019-06-01)",
                "note: carry-forward: inputs dated 2016-05-01 to 2019-06-01; each stands whatever its date, the aggregate is dated 2019-06-01",
                "note: superseded area(s) maternity counted as npimaternity: per key question the latest report stands, so the service is counted once",
            ],
        ),
        // Location safe: two services, both RI; n = 2, X = 1.
        (
            &q.locations[0].key_questions[&KeyQuestion::Safe],
            Some(RI),
            &[
                "[cqc-2018] 2 of 2 ratings requires improvement, threshold 1 → Requires improvement",
                "input: npimaternity: Requires improvement (2019-06-01)",
                "input: urgent: Requires improvement (2019-03-01)",
                "note: carry-forward: inputs dated 2019-03-01 to 2019-06-01; each stands whatever its date, the aggregate is dated 2019-06-01",
            ],
        ),
        // Trust safe: care is left out until 2020-06-01 (two years after the merger).
        (
            &q.key_questions[&KeyQuestion::Safe],
            Some(RI),
            &[
                "[cqc-2018] 1 of 2 ratings requires improvement, threshold 1 → Requires improvement",
                "input: RXX01 Royal Hospital: Requires improvement (2019-06-01)",
                "input: RXX02 without merged services: Good (2018-01-10)",
                "note: carry-forward: inputs dated 2018-01-10 to 2019-06-01; each stands whatever its date, the aggregate is dated 2019-06-01",
                "note: RXX02 care: from merged organisation Old Neighbour NHS Trust, left out of trust aggregation until 2020-06-01 (requested until 2021-01-01, capped at 24 months after the merger of 2018-06-01): acquired 2018; services being integrated",
            ],
        ),
        // Well-led: the latest assessment, never an aggregate.
        (
            &q.key_questions[&KeyQuestion::WellLed],
            Some(G),
            &[
                "[cqc-2018] trust-level well-led assessment: Good",
                "input: trust well-led assessment: Good (2019-07-01)",
                "note: well-led at trust level is never aggregated: it is the latest trust-level well-led assessment",
                "note: 1 earlier assessment(s) superseded",
            ],
        ),
        // Trust overall: S RI, E O, C O, R RI, W G; n = 5, X = 2 → RI.
        (
            &q.overall,
            Some(RI),
            &[
                "[cqc-2018] 2 of 5 ratings requires improvement, threshold 2 → Requires improvement",
                "input: Safe: Requires improvement (2019-06-01)",
                "input: Effective: Outstanding (2019-03-01)",
                "input: Caring: Outstanding (2019-03-01)",
                "input: Responsive: Requires improvement (2019-03-01)",
                "input: Well-led: Good (2019-07-01)",
                "note: carry-forward: inputs dated 2019-03-01 to 2019-07-01; each stands whatever its date, the aggregate is dated 2019-07-01",
                "note: re-rated on the trust-level well-led assessment of 2019-07-01",
            ],
        ),
    ];
    for (result, rating, lines) in cases {
        assert_eq!(result.rating, rating, "{lines:?}");
        assert_eq!(result.explanation.lines(), lines);
        // The same words on the wire.
        let text = result.explanation.text();
        assert_eq!(text.lines(), lines);
    }
}

/// What a service needs to know is read from the data, never from a sentence.
#[test]
fn a_limiter_is_read_from_the_rule_not_from_its_words() {
    let q = hand_worked_trust();
    let urgent = &service_of(&q.locations[0], "urgent").key_questions[&KeyQuestion::Safe];
    match &urgent.explanation.rule {
        Rule::Judged {
            basis,
            limiter: Some(applied),
        } => {
            assert_eq!(basis.rating(), (Some(O), None));
            assert_eq!(applied.limiter, notice());
            assert_eq!(applied.to, RI);
        }
        other => panic!("expected a limited judgement, got {other:?}"),
    }
    let excluded = service_of(&q.locations[1], "care")
        .excluded_from_trust
        .as_ref()
        .expect("care is left out");
    assert_eq!(excluded.until, d("2020-06-01"));
    assert_eq!(
        excluded.cap,
        ExclusionCap::Capped {
            requested: d("2021-01-01"),
            months: 24,
            merged_on: d("2018-06-01"),
        }
    );
}
