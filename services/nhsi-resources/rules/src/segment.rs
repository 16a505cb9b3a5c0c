//! SOF segmentation (DOMAIN.md §4.4): the data triggers that suggest a support need, and the
//! suggested segment. Segmentation is a judgement across five themes; the software only suggests,
//! and the decided segment with its rationale is an input ([`SegmentDecision`]).
//!
//! The mapping from triggers to a suggested segment is our assumption (DOMAIN.md tag \[A\]) and lives in the rule
//! set (`[segmentation]` in `rulesets/sof-2017.toml`). A trigger is *serious* when it is a CQC
//! overall rating at or below `serious_cqc_rating` (Inadequate), a finance score at or above
//! `serious_finance_score` (4), an approved use of resources rating at or below
//! `serious_uor_rating` (Inadequate) or special measures. Segment 4 *is* special measures (§4.4): a
//! trust in special measures — quality or financial, our reading \[A\] — has segment 4 suggested
//! whatever else fired. Otherwise the suggestion is the highest segment whose condition holds:
//!
//! | segment | condition (sof-2017 values) |
//! | --- | --- |
//! | 4 special measures | in special measures (quality or financial), or ≥ 2 serious triggers (e.g. CQC inadequate *and* finance score 4) |
//! | 3 mandated support | ≥ 1 serious trigger, or ≥ 3 triggers of any kind |
//! | 2 targeted support | ≥ 1 trigger |
//! | 1 maximum autonomy | no triggers |
//!
//! # The approved use of resources rating
//! Our reading \[A\]: the latest approved (CQC-approved) use of resources rating is a data
//! trigger of the *finance and use of resources* theme (one of §4.4's five themes). NHSI and CQC
//! wrote that the UoR assessments "will help us identify your support needs, as part of the Single
//! Oversight Framework" (seed 004), and that the UoR assessment "will become part of NHSI's own
//! single oversight framework assessment" (seed 003). A rating at or below `uor_trigger_rating`
//! (RI and inadequate, as for CQC's overall rating) fires it; at or below `serious_uor_rating`
//! (inadequate) it is serious. It counts like the other triggers; with the finance score it can
//! fire a second trigger of the same theme.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use oversight_rating::{ExplanationText, Rating, RatingValue};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ruleset::SofRuleSet;
use crate::status::{OversightStatus, StatusKind};

/// The four operational standards of the SOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum OperationalStandard {
    /// A&E: seen within 4 hours (`ae_4h`).
    AeFourHours,
    /// Referral to treatment: incomplete pathways under 18 weeks (`rtt_18w`).
    Rtt18Weeks,
    /// Cancer: treated within 62 days (`cancer_62d`).
    Cancer62Days,
    /// Diagnostics: waiting under 6 weeks (`diagnostics_6w`).
    Diagnostics6Weeks,
}

impl OperationalStandard {
    /// All four, in the order DOMAIN.md lists them.
    pub const ALL: [OperationalStandard; 4] = [
        OperationalStandard::AeFourHours,
        OperationalStandard::Rtt18Weeks,
        OperationalStandard::Cancer62Days,
        OperationalStandard::Diagnostics6Weeks,
    ];

    /// The stable name used in feeds and rule sets: `ae_4h`, `rtt_18w`, `cancer_62d`, `diagnostics_6w`.
    pub fn name(self) -> &'static str {
        match self {
            OperationalStandard::AeFourHours => "ae_4h",
            OperationalStandard::Rtt18Weeks => "rtt_18w",
            OperationalStandard::Cancer62Days => "cancer_62d",
            OperationalStandard::Diagnostics6Weeks => "diagnostics_6w",
        }
    }

    /// A label for explanations.
    pub fn label(self) -> &'static str {
        match self {
            OperationalStandard::AeFourHours => "A&E 4-hour",
            OperationalStandard::Rtt18Weeks => "RTT 18-week incomplete",
            OperationalStandard::Cancer62Days => "cancer 62-day",
            OperationalStandard::Diagnostics6Weeks => "diagnostics 6-week",
        }
    }
}

impl fmt::Display for OperationalStandard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the four operational standards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown operational standard {0:?} (expected ae_4h, rtt_18w, cancer_62d or diagnostics_6w)"
)]
pub struct UnknownStandard(pub String);

impl FromStr for OperationalStandard {
    type Err = UnknownStandard;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        OperationalStandard::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| UnknownStandard(s.to_string()))
    }
}

impl TryFrom<String> for OperationalStandard {
    type Error = UnknownStandard;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<OperationalStandard> for String {
    fn from(s: OperationalStandard) -> String {
        s.name().to_string()
    }
}

/// A trust's performance against one operational standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalPerformance {
    /// The standard.
    pub standard: OperationalStandard,
    /// The share of patients seen within it, %.
    pub value_pct: Decimal,
}

/// What the segmentation triggers look at for one trust.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentInputs {
    /// CQC's overall quality rating, if any (a non-rating fires nothing).
    pub cqc_overall: Option<RatingValue>,
    /// The SOF finance and use of resources score, 1–4, if known.
    pub finance_score: Option<u8>,
    /// The latest approved use of resources rating, if any (a non-rating fires nothing).
    #[serde(default)]
    pub uor_rating: Option<ApprovedUorRating>,
    /// Performance against the operational standards (any subset).
    pub operational: Vec<OperationalPerformance>,
    /// The oversight statuses standing on the date of the suggestion ([`crate::status`]); special
    /// measures of either kind fire a trigger, other kinds nothing.
    #[serde(default)]
    pub statuses: Vec<OversightStatus>,
}

/// An approved (CQC-approved) use of resources rating with the date of the report that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedUorRating {
    /// The rating (a non-rating fires nothing).
    pub rating: RatingValue,
    /// The report date.
    pub report_date: NaiveDate,
}

/// What fired a trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// CQC's overall rating is RI or inadequate.
    CqcOverallRating { rating: Rating },
    /// The finance score is 3 or 4.
    FinanceScore { score: u8 },
    /// The approved use of resources rating is RI or inadequate: a finance and use of resources
    /// support need \[A\].
    UseOfResourcesRating {
        rating: Rating,
        report_date: NaiveDate,
    },
    /// An operational standard was missed.
    OperationalStandardMissed {
        standard: OperationalStandard,
        value_pct: Decimal,
        standard_pct: Decimal,
    },
    /// The trust is in special measures (quality or financial) since `since`.
    SpecialMeasures {
        status: StatusKind,
        since: NaiveDate,
    },
}

/// A trigger that fired, with its description ("A&E 4-hour standard missed: 91.2 % against 95 %").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// What fired.
    pub kind: TriggerKind,
    /// Whether it counts as serious in the segment mapping.
    pub serious: bool,
    /// In words.
    pub description: String,
}

/// The suggested segment with the triggers that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSuggestion {
    /// 1 (maximum autonomy) to 4 (special measures).
    pub segment: u8,
    /// The triggers that fired, in the order: special measures, CQC, finance score, use of
    /// resources rating, operational standards.
    pub triggers: Vec<Trigger>,
    /// The mapping rule that decided the segment.
    pub explanation: ExplanationText,
}

/// A segmentation input that is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// A field's value is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SegmentError {
    SegmentError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// The segment names of the SOF.
pub fn segment_name(segment: u8) -> &'static str {
    match segment {
        1 => "maximum autonomy",
        2 => "targeted support",
        3 => "mandated support",
        4 => "special measures",
        5 => "Provider Improvement Programme",
        _ => "unknown segment",
    }
}

/// Finds the triggers that fire for a trust and suggests its segment.
pub fn suggest_segment(
    inputs: &SegmentInputs,
    rules: &SofRuleSet,
) -> Result<SegmentSuggestion, SegmentError> {
    let seg = &rules.segmentation;
    let mut triggers = Vec::new();
    for s in inputs
        .statuses
        .iter()
        .filter(|s| s.kind.is_special_measures())
    {
        triggers.push(Trigger {
            kind: TriggerKind::SpecialMeasures {
                status: s.kind,
                since: s.from,
            },
            serious: true,
            description: format!("in {}", s.describe()),
        });
    }
    let in_special_measures = triggers.len();
    if let Some(RatingValue::Rated(rating)) = inputs.cqc_overall
        && rating <= seg.cqc_trigger_rating
    {
        triggers.push(Trigger {
            kind: TriggerKind::CqcOverallRating { rating },
            serious: rating <= seg.serious_cqc_rating,
            description: format!("CQC overall rating {rating}"),
        });
    }
    if let Some(score) = inputs.finance_score {
        if !(1..=4).contains(&score) {
            return Err(invalid(
                "finance_score",
                format!("must be from 1 to 4, found {score}"),
            ));
        }
        if score >= seg.finance_trigger_score {
            triggers.push(Trigger {
                kind: TriggerKind::FinanceScore { score },
                serious: score >= seg.serious_finance_score,
                description: format!("finance and use of resources score {score}"),
            });
        }
    }
    if let Some(ApprovedUorRating {
        rating: RatingValue::Rated(rating),
        report_date,
    }) = inputs.uor_rating
        && rating <= seg.uor_trigger_rating
    {
        triggers.push(Trigger {
            kind: TriggerKind::UseOfResourcesRating {
                rating,
                report_date,
            },
            serious: rating <= seg.serious_uor_rating,
            description: format!(
                "approved use of resources rating {rating} ({report_date}): a finance and use of resources support need"
            ),
        });
    }
    let mut operational: Vec<&OperationalPerformance> = inputs.operational.iter().collect();
    operational.sort_by_key(|p| p.standard);
    for (i, p) in operational.iter().enumerate() {
        if operational
            .get(i + 1)
            .is_some_and(|n| n.standard == p.standard)
        {
            return Err(invalid(
                "operational",
                format!("standard {} given more than once", p.standard),
            ));
        }
        if p.value_pct < Decimal::ZERO || p.value_pct > Decimal::ONE_HUNDRED {
            return Err(invalid(
                "value_pct",
                format!(
                    "{} must be a percentage from 0 to 100, found {}",
                    p.standard, p.value_pct
                ),
            ));
        }
        let standard_pct = rules.operational_standards.threshold_pct(p.standard);
        if p.value_pct < standard_pct {
            triggers.push(Trigger {
                kind: TriggerKind::OperationalStandardMissed {
                    standard: p.standard,
                    value_pct: p.value_pct,
                    standard_pct,
                },
                serious: false,
                description: format!(
                    "{} standard missed: {} % against {} %",
                    p.standard.label(),
                    p.value_pct.normalize(),
                    standard_pct.normalize()
                ),
            });
        }
    }

    let n = triggers.len();
    let serious = triggers.iter().filter(|t| t.serious).count();
    let (segment, why) = if in_special_measures > 0 {
        (
            4,
            "in special measures, which is segment 4 (quality or financial [A])".to_string(),
        )
    } else if serious >= seg.special_measures_min_serious {
        (
            4,
            format!(
                "{serious} serious triggers, at least {}",
                seg.special_measures_min_serious
            ),
        )
    } else if serious >= seg.mandated_support_min_serious {
        (
            3,
            format!(
                "{serious} serious trigger(s), at least {}",
                seg.mandated_support_min_serious
            ),
        )
    } else if n >= seg.mandated_support_min_triggers {
        (
            3,
            format!(
                "{n} triggers, at least {}",
                seg.mandated_support_min_triggers
            ),
        )
    } else if n >= seg.targeted_support_min_triggers && n > 0 {
        (
            2,
            format!(
                "{n} trigger(s), at least {}",
                seg.targeted_support_min_triggers
            ),
        )
    } else {
        (1, "no triggers fired".to_string())
    };
    let mut explanation = ExplanationText::new(
        rules.name.clone(),
        format!(
            "{why} → suggested segment {segment} ({})",
            segment_name(segment)
        ),
    );
    explanation.inputs = triggers.iter().map(|t| t.description.clone()).collect();
    explanation.notes.push(
        "a suggestion from data triggers only; the segment is decided by judgement across five themes"
            .to_string(),
    );
    Ok(SegmentSuggestion {
        segment,
        triggers,
        explanation,
    })
}

/// The decided segment: an input, with its rationale, recorded beside the suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentDecision {
    /// The decided segment, 1–4.
    pub segment: u8,
    /// Why (required).
    pub rationale: String,
    /// The suggested segment at the time of the decision.
    pub suggested_segment: u8,
    /// The triggers that had fired.
    pub triggers: Vec<Trigger>,
}

impl SegmentDecision {
    /// Records a decision on a suggestion. The segment must be 1–4 and the rationale non-empty.
    pub fn new(
        suggestion: &SegmentSuggestion,
        segment: u8,
        rationale: &str,
    ) -> Result<Self, SegmentError> {
        if !(1..=4).contains(&segment) {
            return Err(invalid(
                "segment",
                format!("must be from 1 to 4, found {segment}"),
            ));
        }
        let rationale = rationale.trim();
        if rationale.is_empty() {
            return Err(invalid("rationale", "a decided segment needs a rationale"));
        }
        Ok(SegmentDecision {
            segment,
            rationale: rationale.to_string(),
            suggested_segment: suggestion.segment,
            triggers: suggestion.triggers.clone(),
        })
    }

    /// Whether the decision departs from the suggestion.
    pub fn departs_from_suggestion(&self) -> bool {
        self.segment != self.suggested_segment
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::d;
    use Rating::*;
    use oversight_rating::NonRating;

    fn rules() -> SofRuleSet {
        SofRuleSet::default_2017().expect("ships")
    }

    fn perf(standard: OperationalStandard, v: &str) -> OperationalPerformance {
        OperationalPerformance {
            standard,
            value_pct: d(v),
        }
    }

    #[test]
    fn standard_names_round_trip() {
        for s in OperationalStandard::ALL {
            assert_eq!(s.name().parse::<OperationalStandard>(), Ok(s));
        }
        assert!("ae_12h".parse::<OperationalStandard>().is_err());
    }

    #[test]
    fn operational_standard_boundaries() {
        use OperationalStandard::*;
        let cases = [
            (AeFourHours, "95", false),
            (AeFourHours, "94.99", true),
            (Rtt18Weeks, "92", false),
            (Rtt18Weeks, "91.9", true),
            (Cancer62Days, "85", false),
            (Cancer62Days, "84.99", true),
            (Diagnostics6Weeks, "99", false),
            (Diagnostics6Weeks, "98.99", true),
            (Diagnostics6Weeks, "100", false),
        ];
        for (s, v, fires) in cases {
            let got = suggest_segment(
                &SegmentInputs {
                    operational: vec![perf(s, v)],
                    ..Default::default()
                },
                &rules(),
            )
            .expect("valid");
            assert_eq!(got.triggers.len() == 1, fires, "{s} {v}");
            assert_eq!(got.segment, if fires { 2 } else { 1 }, "{s} {v}");
        }
    }

    #[test]
    fn cqc_and_finance_triggers() {
        let cases: &[(Option<RatingValue>, Option<u8>, usize, u8)] = &[
            (None, None, 0, 1),
            (Some(RatingValue::Rated(Outstanding)), Some(1), 0, 1),
            (Some(RatingValue::Rated(Good)), Some(2), 0, 1),
            (Some(RatingValue::Unrated(NonRating::NotRated)), None, 0, 1),
            (Some(RatingValue::Rated(RequiresImprovement)), None, 1, 2),
            (None, Some(3), 1, 2),
            (Some(RatingValue::Rated(RequiresImprovement)), Some(3), 2, 2),
            (Some(RatingValue::Rated(Inadequate)), None, 1, 3),
            (None, Some(4), 1, 3),
            (Some(RatingValue::Rated(Inadequate)), Some(3), 2, 3),
            (Some(RatingValue::Rated(Inadequate)), Some(4), 2, 4),
        ];
        for (cqc, fin, n, seg) in cases {
            let got = suggest_segment(
                &SegmentInputs {
                    cqc_overall: *cqc,
                    finance_score: *fin,
                    uor_rating: None,
                    operational: vec![],
                    statuses: vec![],
                },
                &rules(),
            )
            .expect("valid");
            assert_eq!(
                (got.triggers.len(), got.segment),
                (*n, *seg),
                "{cqc:?} {fin:?}"
            );
        }
    }

    #[test]
    fn three_ordinary_triggers_suggest_mandated_support() {
        use OperationalStandard::*;
        let got = suggest_segment(
            &SegmentInputs {
                cqc_overall: Some(RatingValue::Rated(RequiresImprovement)),
                finance_score: Some(2),
                uor_rating: None,
                operational: vec![
                    perf(AeFourHours, "88.5"),
                    perf(Cancer62Days, "80"),
                    perf(Rtt18Weeks, "93"),
                ],
                statuses: vec![],
            },
            &rules(),
        )
        .expect("valid");
        assert_eq!(got.segment, 3);
        let descriptions: Vec<&str> = got
            .triggers
            .iter()
            .map(|t| t.description.as_str())
            .collect();
        assert_eq!(
            descriptions,
            vec![
                "CQC overall rating Requires improvement",
                "A&E 4-hour standard missed: 88.5 % against 95 %",
                "cancer 62-day standard missed: 80 % against 85 %",
            ]
        );
        assert_eq!(
            got.explanation.rule,
            "3 triggers, at least 3 → suggested segment 3 (mandated support)"
        );
    }

    fn uor(rating: RatingValue) -> Option<ApprovedUorRating> {
        Some(ApprovedUorRating {
            rating,
            report_date: "2018-06-01".parse().unwrap(),
        })
    }

    /// The approved UoR rating as a finance and use of resources trigger (our reading [A] of
    /// seed 004: the assessments "help us identify your support needs, as part of the Single
    /// Oversight Framework"; DOMAIN.md §4.4's themes). Worked with sof-2017's mapping (targeted
    /// support from 1 trigger; mandated support from 1 serious or 3 of any kind; special measures
    /// from 2 serious; UoR at or below RI fires, at or below inadequate is serious):
    /// - UoR Good, nothing else: no trigger → segment 1.
    /// - UoR Outstanding, or a non-rating: no trigger → segment 1.
    /// - UoR RI alone: 1 trigger, 0 serious → not 4 (0 < 2), not 3 (0 < 1 serious, 1 < 3
    ///   triggers), 2 (1 ≥ 1) → segment 2.
    /// - UoR RI with CQC RI and finance score 3: 3 triggers, 0 serious → 3 ≥ 3 → segment 3.
    /// - UoR inadequate alone: 1 serious → segment 3.
    /// - UoR inadequate with CQC inadequate: 2 serious → segment 4.
    #[test]
    fn approved_uor_rating_is_a_finance_and_use_of_resources_trigger() {
        // (UoR, CQC overall, finance score, triggers, segment)
        type Case = (
            Option<ApprovedUorRating>,
            Option<RatingValue>,
            Option<u8>,
            usize,
            u8,
        );
        let cases: &[Case] = &[
            (uor(RatingValue::Rated(Good)), None, None, 0, 1),
            (uor(RatingValue::Rated(Outstanding)), None, None, 0, 1),
            (
                uor(RatingValue::Unrated(NonRating::NotRated)),
                None,
                None,
                0,
                1,
            ),
            (
                uor(RatingValue::Rated(RequiresImprovement)),
                None,
                None,
                1,
                2,
            ),
            (
                uor(RatingValue::Rated(RequiresImprovement)),
                Some(RatingValue::Rated(RequiresImprovement)),
                Some(3),
                3,
                3,
            ),
            (uor(RatingValue::Rated(Inadequate)), None, None, 1, 3),
            (
                uor(RatingValue::Rated(Inadequate)),
                Some(RatingValue::Rated(Inadequate)),
                None,
                2,
                4,
            ),
        ];
        for (uor_rating, cqc, fin, n, seg) in cases {
            let got = suggest_segment(
                &SegmentInputs {
                    cqc_overall: *cqc,
                    finance_score: *fin,
                    uor_rating: *uor_rating,
                    ..Default::default()
                },
                &rules(),
            )
            .expect("valid");
            assert_eq!(
                (got.triggers.len(), got.segment),
                (*n, *seg),
                "{uor_rating:?} {cqc:?} {fin:?}"
            );
        }

        // UoR RI alone: the trigger, named in the explanation, and segment 2.
        let got = suggest_segment(
            &SegmentInputs {
                cqc_overall: Some(RatingValue::Rated(Good)),
                finance_score: Some(2),
                uor_rating: uor(RatingValue::Rated(RequiresImprovement)),
                ..Default::default()
            },
            &rules(),
        )
        .expect("valid");
        let description = "approved use of resources rating Requires improvement (2018-06-01): a finance and use of resources support need";
        assert_eq!(
            got.triggers,
            vec![Trigger {
                kind: TriggerKind::UseOfResourcesRating {
                    rating: RequiresImprovement,
                    report_date: "2018-06-01".parse().unwrap(),
                },
                serious: false,
                description: description.to_string(),
            }]
        );
        assert_eq!(got.segment, 2);
        assert_eq!(
            got.explanation.rule,
            "1 trigger(s), at least 1 → suggested segment 2 (targeted support)"
        );
        assert_eq!(got.explanation.inputs, vec![description.to_string()]);

        // In order after the finance score and before the operational standards.
        let got = suggest_segment(
            &SegmentInputs {
                finance_score: Some(3),
                uor_rating: uor(RatingValue::Rated(RequiresImprovement)),
                operational: vec![perf(OperationalStandard::AeFourHours, "90")],
                ..Default::default()
            },
            &rules(),
        )
        .expect("valid");
        let kinds: Vec<&str> = got
            .triggers
            .iter()
            .map(|t| match t.kind {
                TriggerKind::FinanceScore { .. } => "finance",
                TriggerKind::UseOfResourcesRating { .. } => "uor",
                TriggerKind::OperationalStandardMissed { .. } => "operational",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, vec!["finance", "uor", "operational"]);
        assert_eq!(got.segment, 3, "3 triggers, at least 3");
    }

    fn status(kind: StatusKind) -> OversightStatus {
        OversightStatus::new(kind, "2018-01-01".parse().unwrap(), None, "NHSI").unwrap()
    }

    /// DOMAIN.md §4.4: segment 4 is special measures. A trust with no other trigger (CQC Good,
    /// finance score 1) in quality special measures, or in financial special measures, has
    /// segment 4 suggested; deficit support alone fires no SOF trigger.
    #[test]
    fn special_measures_suggest_segment_4() {
        for kind in [
            StatusKind::QualitySpecialMeasures,
            StatusKind::FinancialSpecialMeasures,
        ] {
            let got = suggest_segment(
                &SegmentInputs {
                    cqc_overall: Some(RatingValue::Rated(Good)),
                    finance_score: Some(1),
                    statuses: vec![status(kind)],
                    ..Default::default()
                },
                &rules(),
            )
            .expect("valid");
            assert_eq!(got.segment, 4, "{kind}");
            assert_eq!(
                got.triggers,
                vec![Trigger {
                    kind: TriggerKind::SpecialMeasures {
                        status: kind,
                        since: "2018-01-01".parse().unwrap(),
                    },
                    serious: true,
                    description: format!("in {} since 2018-01-01 (NHSI)", kind.label()),
                }]
            );
            assert_eq!(
                got.explanation.rule,
                "in special measures, which is segment 4 (quality or financial [A]) → suggested segment 4 (special measures)"
            );
        }
        let support = suggest_segment(
            &SegmentInputs {
                statuses: vec![status(StatusKind::DeficitSupport)],
                ..Default::default()
            },
            &rules(),
        )
        .expect("valid");
        assert_eq!((support.segment, support.triggers.len()), (1, 0));
    }

    #[test]
    fn bad_inputs_are_invalid_arguments() {
        let bad_score = SegmentInputs {
            finance_score: Some(5),
            ..Default::default()
        };
        assert!(matches!(
            suggest_segment(&bad_score, &rules()),
            Err(SegmentError::InvalidArgument {
                field: "finance_score",
                ..
            })
        ));
        let bad_pct = SegmentInputs {
            operational: vec![perf(OperationalStandard::AeFourHours, "101")],
            ..Default::default()
        };
        assert!(matches!(
            suggest_segment(&bad_pct, &rules()),
            Err(SegmentError::InvalidArgument {
                field: "value_pct",
                ..
            })
        ));
        let twice = SegmentInputs {
            operational: vec![
                perf(OperationalStandard::AeFourHours, "90"),
                perf(OperationalStandard::AeFourHours, "96"),
            ],
            ..Default::default()
        };
        assert!(matches!(
            suggest_segment(&twice, &rules()),
            Err(SegmentError::InvalidArgument {
                field: "operational",
                ..
            })
        ));
    }

    #[test]
    fn decisions_need_a_rationale_and_a_segment_in_range() {
        let s = suggest_segment(&SegmentInputs::default(), &rules()).expect("valid");
        assert!(matches!(
            SegmentDecision::new(&s, 2, "  "),
            Err(SegmentError::InvalidArgument {
                field: "rationale",
                ..
            })
        ));
        assert!(matches!(
            SegmentDecision::new(&s, 0, "why"),
            Err(SegmentError::InvalidArgument {
                field: "segment",
                ..
            })
        ));
        let d = SegmentDecision::new(&s, 2, "governance concerns found at review").expect("valid");
        assert!(d.departs_from_suggestion());
        assert_eq!(d.suggested_segment, 1);
    }
}
