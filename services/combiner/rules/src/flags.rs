//! Anti-masking flags: critics warned that combining could "mask poor performance" (DOMAIN.md §0),
//! so every combined rating says when the whole hides something about its parts.

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, Rating, RatingValue, Thresholds};
use serde::{Deserialize, Serialize};

use crate::{ApprovedUor, CombineInput, DatedRating, months_apart};

/// Something a reader of a combined rating must not miss.
///
/// `UorRaisedResult` / `UorLoweredResult` say that use of resources *moved* the result, and only
/// when it did. The definition, with C the combined rating, Q the overall quality rating published
/// beside it, and C(Q) what the combined rule gives from the same five key questions with use of
/// resources rated Q instead (use of resources agreeing with quality, so it moves nothing):
/// - raised: C > Q and C(Q) < C — the combined rating is above overall quality, and it is above
///   because of the use of resources rating;
/// - lowered: C < Q and C(Q) > C — likewise below.
///
/// When C differs from Q and neither holds, the difference has another cause (the key questions
/// counted differ from those the overall was rated on, or the published overall departs from the
/// rules): no flag, and the explanation says so with C(Q) (`Note::DiffersNotByUor`). With the
/// published thresholds, C(Q) = Q whenever Q is the §2.1 aggregate of the same five key questions,
/// so then every difference is use of resources' doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Flag {
    /// The combined rating is better than the overall quality rating: UoR raised it.
    UorRaisedResult,
    /// The combined rating is worse than the overall quality rating: UoR lowered it.
    UorLoweredResult,
    /// The combined rating is Good or Outstanding while a key question is Inadequate.
    GoodWhileKqInadequate,
    /// The combined rating is Good or Outstanding while use of resources is Inadequate.
    GoodWhileUorInadequate,
    /// The UoR rating and the latest quality rating are dated more than the rule set's
    /// `max_months_apart` apart; `months` counts a part month as a whole one.
    PartsFarApart { months: u32 },
}

impl Flag {
    /// One flag of each kind, for listing the codes (`PartsFarApart`'s months are irrelevant here).
    pub const KINDS: [Flag; 5] = [
        Flag::UorRaisedResult,
        Flag::UorLoweredResult,
        Flag::GoodWhileKqInadequate,
        Flag::GoodWhileUorInadequate,
        Flag::PartsFarApart { months: 0 },
    ];

    /// Stable snake_case code for storage, APIs, filters and CSS classes.
    pub fn code(self) -> &'static str {
        match self {
            Flag::UorRaisedResult => "uor_raised_result",
            Flag::UorLoweredResult => "uor_lowered_result",
            Flag::GoodWhileKqInadequate => "good_while_kq_inadequate",
            Flag::GoodWhileUorInadequate => "good_while_uor_inadequate",
            Flag::PartsFarApart { .. } => "parts_far_apart",
        }
    }

    /// One sentence for people.
    pub fn describe(self) -> String {
        match self {
            Flag::UorRaisedResult => {
                "the use of resources rating raised the combined rating above overall quality"
                    .to_string()
            }
            Flag::UorLoweredResult => {
                "the use of resources rating lowered the combined rating below overall quality"
                    .to_string()
            }
            Flag::GoodWhileKqInadequate => {
                "the combined rating is good or better while a key question is inadequate"
                    .to_string()
            }
            Flag::GoodWhileUorInadequate => {
                "the combined rating is good or better while use of resources is inadequate"
                    .to_string()
            }
            Flag::PartsFarApart { months } => {
                format!("the use of resources and quality ratings are dated {months} months apart")
            }
        }
    }
}

/// What the combined rule gives from `kqs` with use of resources rated `uor` (`None` when a key
/// question has no real rating).
pub(crate) fn combined_with_uor(
    kqs: &[(KeyQuestion, DatedRating)],
    uor: Rating,
    thresholds: &Thresholds,
) -> Option<Rating> {
    let six: Option<Vec<RatingValue>> = kqs
        .iter()
        .map(|(_, dr)| dr.rating.map(RatingValue::Rated))
        .chain(std::iter::once(Some(RatingValue::Rated(uor))))
        .collect();
    oversight_rating::aggregate(six?, thresholds).rating
}

/// What a combined rating `combined` says about its difference from overall quality: the flag, if
/// use of resources moved it, or the note naming another cause (see [`Flag`] for the definition).
pub(crate) enum Difference {
    Same,
    ByUor(Flag),
    NotByUor { quality: Rating, would_be: Rating },
}

pub(crate) fn difference(
    combined: Rating,
    input: &CombineInput,
    kqs: &[(KeyQuestion, DatedRating)],
    thresholds: &Thresholds,
) -> Difference {
    let Some(quality) = input.overall_quality.rating else {
        return Difference::Same;
    };
    if combined == quality {
        return Difference::Same;
    }
    let Some(would_be) = combined_with_uor(kqs, quality, thresholds) else {
        return Difference::Same;
    };
    if combined > quality && would_be < combined {
        Difference::ByUor(Flag::UorRaisedResult)
    } else if combined < quality && would_be > combined {
        Difference::ByUor(Flag::UorLoweredResult)
    } else {
        Difference::NotByUor { quality, would_be }
    }
}

/// The flags a combined rating `combined` carries, given its [`difference`] from overall quality.
pub(crate) fn raise(
    combined: Rating,
    difference: &Difference,
    input: &CombineInput,
    kqs: &[(KeyQuestion, DatedRating)],
    uor: ApprovedUor,
    max_months_apart: u32,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    if let Difference::ByUor(flag) = difference {
        flags.push(*flag);
    }
    let good_or_better = combined >= Rating::Good;
    if good_or_better
        && kqs
            .iter()
            .any(|(_, dr)| dr.rating == Some(Rating::Inadequate))
    {
        flags.push(Flag::GoodWhileKqInadequate);
    }
    if good_or_better && uor.rating == Rating::Inadequate {
        flags.push(Flag::GoodWhileUorInadequate);
    }
    let latest_quality: Option<NaiveDate> = kqs
        .iter()
        .filter_map(|(_, dr)| dr.date)
        .chain(input.overall_quality.date)
        .max();
    if let Some(quality_date) = latest_quality {
        let months = months_apart(uor.date, quality_date);
        if months > max_months_apart {
            flags.push(Flag::PartsFarApart { months });
        }
    }
    flags
}
