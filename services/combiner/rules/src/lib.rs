//! The combined quality + use of resources rating: rule set `cqc-combined-2018` (DOMAIN.md §3).
//!
//! From 5 March 2018 CQC publishes, for non-specialist acute trusts with an approved use of
//! resources (UoR) rating, a **combined** rating: UoR counts as a sixth rating with equal weight
//! beside the five trust key questions, aggregated with their own thresholds (inadequate 2 of 6,
//! requires improvement 3 of 6, outstanding 2 of 6 with the rest good; any inadequate limits to
//! requires improvement). The overall quality rating is still published beside it, and the parts
//! stay visible: every combined rating carries anti-masking [`Flag`]s a reader cannot miss.
//!
//! Everything here is pure: [`combine`] is a function from typed inputs and an `as_of` date to a
//! typed outcome with an [`Explanation`]. The caller supplies the inputs that stand at `as_of`
//! (latest KQ ratings, the overall quality rating, the latest approved UoR); this crate does not
//! select history.

pub mod explain;
mod flags;
pub mod whatif;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use oversight_rating::{
    CountThreshold, Items, KeyQuestion, Rating, RatingValue, RuleSetVersion, Thresholds,
};
use serde::{Deserialize, Serialize};

pub use explain::CombinedExplanation;
use explain::{DatedInput, Input, Note, Part, Publication, Rule};
pub use flags::Flag;
pub use whatif::{QualityAggregation, RatingChanges, rating_changes};

/// The name of this rule set, recorded on every combined rating.
pub const RULE_SET: &str = "cqc-combined-2018";

/// 5 March 2018: the first day CQC published combined ratings [P].
pub const COMBINED_FROM_2018: NaiveDate = match NaiveDate::from_ymd_opt(2018, 3, 5) {
    Some(d) => d,
    None => panic!("2018-03-05 is a valid date"),
};

/// The parameters of the combined rule set. Every [A]/[S] choice of DOMAIN.md §3 is a field here,
/// never a constant in the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombinedRuleSet {
    /// Versioned rule-set name recorded in each explanation, e.g. `cqc-combined-2018`.
    pub version: RuleSetVersion,
    /// Counting thresholds over the six ratings (five KQs + UoR).
    pub thresholds: Thresholds,
    /// First day combined ratings are published; before it UoR is published separately (shadow).
    pub combined_from: NaiveDate,
    /// Stay in shadow mode whatever the date (a deployment or policy decision).
    pub force_shadow: bool,
    /// Flag a combined rating whose UoR and latest quality rating are dated more than this many
    /// months apart [A].
    pub max_months_apart: u32,
}

impl CombinedRuleSet {
    /// CQC's combined rule set as published from 5 March 2018.
    pub fn cqc_combined_2018() -> Self {
        CombinedRuleSet {
            version: RuleSetVersion::from_static(RULE_SET),
            thresholds: Thresholds {
                // [P] ≥ 2 of 6 inadequate → inadequate; any inadequate → at best RI.
                inadequate: CountThreshold::Fixed(2),
                // [S] changed from 2 to 3 for the combined rating: 2 RI + 4 good → good.
                requires_improvement: CountThreshold::Fixed(3),
                // [P] ≥ 2 outstanding and the rest good → outstanding.
                outstanding: CountThreshold::Fixed(2),
                any_inadequate_limits_to_ri: true,
            },
            combined_from: COMBINED_FROM_2018,
            force_shadow: false,
            max_months_apart: 12,
        }
    }
}

impl Default for CombinedRuleSet {
    fn default() -> Self {
        Self::cqc_combined_2018()
    }
}

/// The kind of NHS trust: only non-specialist acute trusts get a combined rating.
pub use oversight_rating::TrustType;

/// A rating with the date of the report that set it; `rating: None` is "no real rating" (absent or
/// a CQC non-rating).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatedRating {
    pub rating: Option<Rating>,
    pub date: Option<NaiveDate>,
}

impl DatedRating {
    pub fn new(rating: Rating, date: NaiveDate) -> Self {
        DatedRating {
            rating: Some(rating),
            date: Some(date),
        }
    }
}

/// A UoR rating NHSI proposed and CQC approved (DOMAIN.md §4). Only approved ratings combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedUor {
    pub rating: Rating,
    /// Date of the approved report.
    pub date: NaiveDate,
    /// Version of the UoR assessment (factual-accuracy changes bump it).
    pub version: u32,
}

/// What the combined rating of one trust is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombineInput {
    pub trust_type: TrustType,
    /// The five trust key-question ratings; a missing key counts as "no rating".
    pub key_questions: BTreeMap<KeyQuestion, DatedRating>,
    /// The overall quality rating (5 KQs, DOMAIN.md §2.1) as published; shown beside the combined
    /// rating and compared with it for the raised/lowered flags.
    pub overall_quality: DatedRating,
    pub uor: Option<ApprovedUor>,
    /// Where the parts came from, named in the explanation beside each input.
    #[serde(default)]
    pub sources: InputSources,
}

/// The sources of a combination's inputs, in words, e.g. "CQC quality rating cqc-2018, version 3"
/// and "NHSI use of resources, approved by cqc". Empty: not stated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InputSources {
    /// The source of the five key-question ratings (and the overall quality rating).
    pub quality: String,
    /// The source of the approved use of resources rating.
    pub use_of_resources: String,
}

/// Publication mode (DOMAIN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// UoR is published separately and there is no combined rating (before 5 March 2018, or by
    /// configuration).
    Shadow,
    /// Combined ratings are published.
    Combined,
}

/// The result of [`combine`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombinedOutcome {
    pub mode: Mode,
    /// The combined rating; `None` exactly when `no_combined_reason` is `Some`.
    pub combined: Option<Rating>,
    /// Why there is no combined rating, in words (the [`Ineligible`] reasons joined by `; `).
    pub no_combined_reason: Option<String>,
    /// The same reasons as data ([`eligibility`]); empty when there is a combined rating.
    #[serde(default)]
    pub ineligible: Vec<Ineligible>,
    /// Anti-masking flags; only a combined rating carries them.
    pub flags: Vec<Flag>,
    pub explanation: CombinedExplanation,
}

/// The publication mode on `as_of`: shadow before `combined_from` (5 March 2018) or when forced.
pub fn mode(as_of: NaiveDate, rules: &CombinedRuleSet) -> Mode {
    if rules.force_shadow || as_of < rules.combined_from {
        Mode::Shadow
    } else {
        Mode::Combined
    }
}

/// Why a trust gets no combined rating (DOMAIN.md §3), as data; [`fmt::Display`] gives the words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ineligible {
    /// A specialist acute trust: combined ratings are for non-specialist acute trusts only.
    SpecialistAcute,
    /// Not an acute trust at all.
    NotAcute {
        /// Its type.
        trust_type: TrustType,
    },
    /// The shadow period: before `combined_from` (5 March 2018), or shadow by configuration. Use
    /// of resources is published separately.
    Shadow {
        /// The date of the combination.
        as_of: NaiveDate,
        /// The first day of combined ratings.
        combined_from: NaiveDate,
        /// Shadow by configuration, whatever the date.
        forced: bool,
    },
    /// No approved use of resources rating that is a real rating.
    NoApprovedUor,
    /// Trust key questions without a real rating: the combination needs all six.
    IncompleteKeyQuestions {
        /// The key questions without one.
        missing: Vec<KeyQuestion>,
    },
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ineligible::SpecialistAcute => f.write_str(
                "specialist acute trust: combined ratings apply only to non-specialist acute trusts",
            ),
            Ineligible::NotAcute { trust_type } => write!(
                f,
                "not an acute trust ({}): combined ratings apply only to non-specialist acute trusts",
                trust_type.describe()
            ),
            Ineligible::Shadow { forced: true, .. } => f.write_str(
                "shadow (configured): use of resources is published separately, no combined rating",
            ),
            Ineligible::Shadow {
                as_of,
                combined_from,
                forced: false,
            } => write!(
                f,
                "shadow (as of {as_of}, before {combined_from}): use of resources is published separately, no combined rating"
            ),
            Ineligible::NoApprovedUor => f.write_str("no approved use of resources rating"),
            Ineligible::IncompleteKeyQuestions { missing } => {
                let names: Vec<String> = missing
                    .iter()
                    .map(|kq| kq.cqc_str().to_lowercase())
                    .collect();
                write!(
                    f,
                    "quality key questions incomplete: no rating for {}",
                    names.join(", ")
                )
            }
        }
    }
}

/// The one eligibility rule for a combined rating (DOMAIN.md §3), used by the combiner
/// ([`combine`]) and by the ratings auditor (`oversight rate`) alike:
/// - only non-specialist acute trusts have one (a trust of another type gets that reason alone:
///   the date or the inputs are not why it has none);
/// - not in the shadow period (before 5 March 2018, or shadow by configuration);
/// - six real ratings: an approved use of resources rating and all five trust key questions
///   (`key_questions` lists each key question's real rating; one absent or `None` is missing).
///
/// `Ok(())` when a combined rating is published; otherwise every reason that applies.
pub fn eligibility(
    trust_type: TrustType,
    key_questions: &[(KeyQuestion, Option<Rating>)],
    uor: Option<Rating>,
    as_of: NaiveDate,
    rules: &CombinedRuleSet,
) -> Result<(), Vec<Ineligible>> {
    match trust_type {
        TrustType::Acute => {}
        TrustType::SpecialistAcute => return Err(vec![Ineligible::SpecialistAcute]),
        other => return Err(vec![Ineligible::NotAcute { trust_type: other }]),
    }
    let mut reasons = Vec::new();
    if mode(as_of, rules) == Mode::Shadow {
        reasons.push(Ineligible::Shadow {
            as_of,
            combined_from: rules.combined_from,
            forced: rules.force_shadow,
        });
    }
    if uor.is_none() {
        reasons.push(Ineligible::NoApprovedUor);
    }
    let missing: Vec<KeyQuestion> = KeyQuestion::ALL
        .into_iter()
        .filter(|kq| !key_questions.iter().any(|(k, r)| k == kq && r.is_some()))
        .collect();
    if !missing.is_empty() {
        reasons.push(Ineligible::IncompleteKeyQuestions { missing });
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Compute the combined rating of one trust as of `as_of` under `rules`.
pub fn combine(input: &CombineInput, as_of: NaiveDate, rules: &CombinedRuleSet) -> CombinedOutcome {
    let mode = mode(as_of, rules);
    let kqs: Vec<(KeyQuestion, DatedRating)> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| {
            (
                kq,
                input.key_questions.get(&kq).copied().unwrap_or_default(),
            )
        })
        .collect();

    let dated = |part, dr: &DatedRating, source: &str| DatedInput {
        part,
        rating: dr.rating,
        date: dr.date,
        version: None,
        source: source.to_string(),
    };
    let inputs: Items<Input> = kqs
        .iter()
        .map(|(kq, dr)| Input::Dated(dated(Part::KeyQuestion(*kq), dr, &input.sources.quality)))
        .chain(std::iter::once(match &input.uor {
            Some(u) => Input::Dated(DatedInput {
                part: Part::UseOfResources,
                rating: Some(u.rating),
                date: Some(u.date),
                version: Some(u.version),
                source: input.sources.use_of_resources.clone(),
            }),
            None => Input::NoApprovedUseOfResources,
        }))
        .collect();
    let publication = publication(mode, as_of, rules);
    let mut notes = Items::new();
    notes.push(Note::OverallQuality(dated(
        Part::OverallQuality,
        &input.overall_quality,
        &input.sources.quality,
    )));
    notes.push(Note::Mode(publication));

    let kq_ratings: Vec<(KeyQuestion, Option<Rating>)> =
        kqs.iter().map(|(kq, dr)| (*kq, dr.rating)).collect();
    let ineligible = eligibility(
        input.trust_type,
        &kq_ratings,
        input.uor.map(|u| u.rating),
        as_of,
        rules,
    )
    .err()
    .unwrap_or_default();
    // Only a complete set of six real ratings is aggregated; otherwise `six` is `None`.
    let six: Option<Vec<Rating>> = kqs
        .iter()
        .map(|(_, dr)| dr.rating)
        .chain(std::iter::once(input.uor.map(|u| u.rating)))
        .collect();
    let aggregate = six.map(|six| {
        oversight_rating::aggregate(six.into_iter().map(RatingValue::Rated), &rules.thresholds)
    });
    let explanation = |rule, notes| CombinedExplanation {
        rule_set: rules.version.clone(),
        rule,
        inputs,
        notes,
    };

    if !ineligible.is_empty() {
        // Keep what the rule would give, so shadow-period ratings can be compared later.
        if let (Mode::Shadow, Some(agg)) = (mode, &aggregate)
            && let Some(would_be) = agg.rating
        {
            notes.push(Note::ShadowWouldGive {
                rating: would_be,
                rule: agg.rule,
            });
        }
        return CombinedOutcome {
            mode,
            combined: None,
            no_combined_reason: Some(explain::reasons(&ineligible)),
            explanation: explanation(Rule::NoCombined(ineligible.clone()), notes),
            ineligible,
            flags: Vec::new(),
        };
    }

    // Eligible: all six are real ratings, so the aggregate has a rating.
    let agg = aggregate
        .unwrap_or_else(|| oversight_rating::aggregate(std::iter::empty(), &rules.thresholds));
    let combined = agg.rating;
    let difference = combined.map(|c| flags::difference(c, input, &kqs, &rules.thresholds));
    let flags = match (combined, &difference, input.uor) {
        (Some(c), Some(d), Some(uor)) => {
            flags::raise(c, d, input, &kqs, uor, rules.max_months_apart)
        }
        _ => Vec::new(),
    };
    notes.extend(flags.iter().copied().map(Note::Flag));
    if let Some(flags::Difference::NotByUor { quality, would_be }) = difference {
        notes.push(Note::DiffersNotByUor { quality, would_be });
    }
    CombinedOutcome {
        mode,
        combined,
        no_combined_reason: None,
        ineligible: Vec::new(),
        flags,
        explanation: explanation(Rule::Counting(agg.rule), notes),
    }
}

fn publication(mode: Mode, as_of: NaiveDate, rules: &CombinedRuleSet) -> Publication {
    match mode {
        Mode::Combined => Publication::Combined {
            as_of,
            from: rules.combined_from,
        },
        Mode::Shadow if rules.force_shadow => Publication::ShadowConfigured,
        Mode::Shadow => Publication::ShadowBefore {
            as_of,
            from: rules.combined_from,
        },
    }
}

/// Months between two dates, a part month counting as a whole one: the smallest `m` with
/// `earlier + m months >= later`. So `months > n` exactly when the dates are more than `n`
/// calendar months apart.
pub fn months_apart(a: NaiveDate, b: NaiveDate) -> u32 {
    let (early, late) = if a <= b { (a, b) } else { (b, a) };
    let calendar = (late.year() - early.year()) * 12 + late.month() as i32 - early.month() as i32;
    let m = u32::try_from(calendar).unwrap_or(0);
    match early.checked_add_months(Months::new(m)) {
        Some(d) if d < late => m + 1,
        _ => m,
    }
}

// Tests may panic on a broken expectation; that is how they fail.
#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests;
