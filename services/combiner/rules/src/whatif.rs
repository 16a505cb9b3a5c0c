//! "What would change this rating": for a trust's overall quality and its combined rating, the
//! smallest sets of changes to single ratings that would move it one step up or one step down,
//! computed by the rules themselves (issue 14).
//!
//! # Definitions
//!
//! - **The ratings that can change** are the six the combined rule counts: the five trust key
//!   questions and use of resources ([`Changeable`]). Overall quality is moved only through its
//!   key questions; use of resources never moves it.
//! - **A change** moves one of them from the real rating it has to another real rating on the side
//!   of the direction: up, a better rating; down, a worse one ([`Change`]). A key question without
//!   a real rating (absent or a CQC non-rating, DOMAIN.md §1) cannot change: it stays out of the
//!   count, as the rule leaves it out.
//! - **A set of changes** changes distinct ratings, all in the same direction ([`ChangeSet`]). It
//!   **moves the rating one step** when the rule applied to the changed inputs gives exactly the
//!   next rating in that direction (Outstanding > Good > Requires improvement > Inadequate); a set
//!   that jumps two steps does not count.
//! - **Smallest**: a set's size is the number of ratings it changes. The answer is every set of
//!   the smallest size that moves the rating one step, except a set that another such set
//!   *weakens* — changes the same ratings, each no further, one of them less far. So "safe from
//!   Good to Inadequate" is offered when moving safe to requires improvement would not do, but not
//!   beside "safe from Good to Requires improvement" when that does. Sets are deduplicated and
//!   ordered by the ratings they change (safe, effective, caring, responsive, well-led, use of
//!   resources), then by the new ratings, worst first.
//!
//! # The rules
//!
//! - **Overall quality** is the trust overall as CQC aggregates it from the five trust key
//!   questions (DOMAIN.md §2.1, step 6 of §2): the shared counting rule
//!   [`oversight_rating::aggregate`] with the quality rule set's thresholds — `cqc-rules` rates the
//!   trust overall with the same call and `RuleSet::thresholds`. The caller passes those
//!   thresholds ([`QualityAggregation::Counting`]); a rule set that does not count ratings
//!   (`saf-2023` bands percentages, §5) has no what-if here ([`Unavailable::QualityNotCounted`]).
//!   The answer is about the rule: a published overall that departs from it (§2.4) or was carried
//!   forward (§2.3) is not what the changes start from; [`Moves::current`] says what the rule
//!   gives now.
//! - **Combined** is [`crate::combine`] (§3: use of resources as a sixth rating). A trust without a
//!   combined rating has no what-if ([`Unavailable::NoCombined`], with the [`Ineligible`]
//!   reasons): no change to a real rating makes it eligible. The search counts each variant with
//!   the same counting call `combine` makes for an eligible trust (`aggregate` with the rule set's
//!   thresholds); the tests check every answer against `combine` itself.
//!
//! Everything is data; `Display` gives the words the edges show ("responsive from Requires
//! improvement to Good would make the combined rating Good").

use std::fmt;

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, Rating, RatingValue, Thresholds};
use serde::{Deserialize, Serialize};

use crate::{CombineInput, CombinedRuleSet, Ineligible, combine};

/// A rating a change can move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "key_question", rename_all = "snake_case")]
pub enum Changeable {
    /// One of the five trust key questions.
    KeyQuestion(KeyQuestion),
    /// The approved use of resources rating (the combined rating's sixth rating).
    UseOfResources,
}

impl fmt::Display for Changeable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Changeable::KeyQuestion(kq) => f.write_str(&kq.cqc_str().to_lowercase()),
            Changeable::UseOfResources => f.write_str("use of resources"),
        }
    }
}

/// One rating moved from the real rating it has to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Change {
    pub rating: Changeable,
    pub from: Rating,
    pub to: Rating,
}

impl fmt::Display for Change {
    /// "responsive from Requires improvement to Good".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {} to {}", self.rating, self.from, self.to)
    }
}

/// Changes to distinct ratings, in the order of [`Changeable`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
}

impl fmt::Display for ChangeSet {
    /// "safe from Good to Outstanding and caring from Good to Outstanding".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.changes.len();
        for (i, c) in self.changes.iter().enumerate() {
            match i {
                0 => {}
                i if i + 1 == n => f.write_str(" and ")?,
                _ => f.write_str(", ")?,
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

/// Up (a better rating) or down (a worse one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// The rating one step from `r` this way, if there is one.
    pub fn next(self, r: Rating) -> Option<Rating> {
        let i = r as usize;
        match self {
            Direction::Up => Rating::ALL.get(i + 1).copied(),
            Direction::Down => i.checked_sub(1).and_then(|i| Rating::ALL.get(i).copied()),
        }
    }

    /// The ratings beyond `r` this way, nearest first.
    fn beyond(self, r: Rating) -> Vec<Rating> {
        std::iter::successors(self.next(r), |&x| self.next(x)).collect()
    }
}

/// Which rating a what-if is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    OverallQuality,
    Combined,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::OverallQuality => "overall quality",
            Target::Combined => "the combined rating",
        })
    }
}

/// What would move a rating one step in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// The smallest sets of changes that move it to `to` (never empty).
    Changes { to: Rating, sets: Vec<ChangeSet> },
    /// Already Outstanding: nothing is above it.
    AlreadyOutstanding,
    /// Already Inadequate: nothing is below it.
    AlreadyInadequate,
    /// No set of changes gives exactly `to`: every set that moves the rating jumps past it (this
    /// happens only with few real ratings, where one rating decides a rule).
    NoExactStep { to: Rating },
}

/// A rating as the rule gives it now, and what would move it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moves {
    /// The rating the rule gives from the inputs as they are.
    pub current: Rating,
    pub up: Step,
    pub down: Step,
}

impl Moves {
    pub fn step(&self, direction: Direction) -> &Step {
        match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        }
    }
}

/// Why a rating has no what-if.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Unavailable {
    /// No trust key question has a real rating: the rule gives no overall quality (§2.1).
    NoKeyQuestionRatings,
    /// The quality rule set does not aggregate key question ratings by counting (e.g. `saf-2023`
    /// bands percentages), so a key question's rating alone does not decide the overall.
    QualityNotCounted { rule_set: String },
    /// No combined rating, and why: changing a real rating does not make a trust eligible.
    NoCombined { reasons: Vec<Ineligible> },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::NoKeyQuestionRatings => {
                f.write_str("no trust key question has a rating, so there is no overall quality")
            }
            Unavailable::QualityNotCounted { rule_set } => write!(
                f,
                "the quality rule set {rule_set} does not count key question ratings, so single ratings do not decide overall quality"
            ),
            Unavailable::NoCombined { reasons } => {
                write!(
                    f,
                    "no combined rating: {}",
                    crate::explain::reasons(reasons)
                )
            }
        }
    }
}

/// How the quality rule set aggregates the trust overall from the five key questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum QualityAggregation {
    /// The §2.1 counting rule with these thresholds (`cqc-2018`: `Thresholds::cqc_2018()`).
    Counting(Thresholds),
    /// Not by counting ratings; the rule set's name.
    NotCounting { rule_set: String },
}

/// The what-ifs of one trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingChanges {
    pub overall_quality: Result<Moves, Unavailable>,
    pub combined: Result<Moves, Unavailable>,
}

impl RatingChanges {
    pub fn of(&self, target: Target) -> &Result<Moves, Unavailable> {
        match target {
            Target::OverallQuality => &self.overall_quality,
            Target::Combined => &self.combined,
        }
    }
}

/// One sentence for a set of changes: "responsive from Requires improvement to Good would make
/// the combined rating Good".
pub fn sentence(set: &ChangeSet, target: Target, to: Rating) -> String {
    format!("{set} would make {target} {to}")
}

impl CombineInput {
    /// The date of the latest part (a key question, overall quality or use of resources): the
    /// combiner dates a combination by it, and that is the `as_of` [`combine`] is given.
    pub fn latest_part_date(&self) -> Option<NaiveDate> {
        let uor = self.uor.map(|u| u.date);
        self.key_questions
            .values()
            .filter_map(|d| d.date)
            .chain(self.overall_quality.date)
            .chain(uor)
            .max()
    }
}

/// What would move `input`'s overall quality and combined rating one step up or down (see the
/// module documentation for the definitions). `input`, `as_of` and `rules` are what [`combine`]
/// takes; `quality` is how the quality rule set aggregates the trust overall.
pub fn rating_changes(
    input: &CombineInput,
    as_of: NaiveDate,
    rules: &CombinedRuleSet,
    quality: &QualityAggregation,
) -> RatingChanges {
    let key_questions: Vec<(Changeable, Rating)> = KeyQuestion::ALL
        .into_iter()
        .filter_map(|kq| {
            let rating = input.key_questions.get(&kq)?.rating?;
            Some((Changeable::KeyQuestion(kq), rating))
        })
        .collect();

    let overall_quality = match quality {
        QualityAggregation::NotCounting { rule_set } => Err(Unavailable::QualityNotCounted {
            rule_set: rule_set.clone(),
        }),
        QualityAggregation::Counting(thresholds) => {
            moves(&key_questions, counting(thresholds)).ok_or(Unavailable::NoKeyQuestionRatings)
        }
    };

    let outcome = combine(input, as_of, rules);
    let combined = match (outcome.combined, input.uor) {
        (Some(_), Some(uor)) => {
            let mut six = key_questions;
            six.push((Changeable::UseOfResources, uor.rating));
            // Eligible: all six are real ratings, and `combine` counted them with this call.
            moves(&six, counting(&rules.thresholds)).ok_or(Unavailable::NoCombined {
                reasons: outcome.ineligible,
            })
        }
        _ => Err(Unavailable::NoCombined {
            reasons: outcome.ineligible,
        }),
    };
    RatingChanges {
        overall_quality,
        combined,
    }
}

/// The shared counting rule (`oversight_rating::aggregate`) with `thresholds`, over real ratings.
fn counting(thresholds: &Thresholds) -> impl Fn(&[Rating]) -> Option<Rating> + '_ {
    move |ratings| {
        oversight_rating::aggregate(ratings.iter().copied().map(RatingValue::Rated), thresholds)
            .rating
    }
}

/// Both directions for `ratings` under `rule`; `None` when the rule gives no rating.
fn moves(
    ratings: &[(Changeable, Rating)],
    rule: impl Fn(&[Rating]) -> Option<Rating>,
) -> Option<Moves> {
    let now: Vec<Rating> = ratings.iter().map(|(_, r)| *r).collect();
    let current = rule(&now)?;
    Some(Moves {
        current,
        up: step(ratings, current, Direction::Up, &rule),
        down: step(ratings, current, Direction::Down, &rule),
    })
}

/// The smallest sets of changes in `direction` after which `rule` gives the next rating.
///
/// Every variant is tried: each rating either stays or takes one of the ratings beyond it in
/// `direction`, so at most 4⁶ = 4,096 variants for six ratings.
fn step(
    ratings: &[(Changeable, Rating)],
    current: Rating,
    direction: Direction,
    rule: &impl Fn(&[Rating]) -> Option<Rating>,
) -> Step {
    let Some(to) = direction.next(current) else {
        return match direction {
            Direction::Up => Step::AlreadyOutstanding,
            Direction::Down => Step::AlreadyInadequate,
        };
    };
    // The values each rating may take: itself first, then nearest to furthest.
    let options: Vec<Vec<Rating>> = ratings
        .iter()
        .map(|&(_, r)| std::iter::once(r).chain(direction.beyond(r)).collect())
        .collect();
    // A variant is an index into each rating's options (0: unchanged, k: k steps away).
    let mut hits: Vec<Vec<usize>> = Vec::new();
    let mut choice = vec![0usize; ratings.len()];
    let mut values: Vec<Rating> = ratings.iter().map(|(_, r)| *r).collect();
    loop {
        // Next variant (odometer); the all-unchanged start is the current rating, never a hit.
        let mut i = 0;
        loop {
            let Some(opts) = options.get(i) else {
                return smallest(ratings, direction, to, hits);
            };
            choice[i] += 1;
            if choice[i] < opts.len() {
                values[i] = opts[choice[i]];
                break;
            }
            choice[i] = 0;
            values[i] = opts[0];
            i += 1;
        }
        if rule(&values) == Some(to) {
            hits.push(choice.clone());
        }
    }
}

/// The hits of the fewest changed ratings that no other hit weakens, as sorted change sets.
fn smallest(
    ratings: &[(Changeable, Rating)],
    direction: Direction,
    to: Rating,
    hits: Vec<Vec<usize>>,
) -> Step {
    let size = |c: &[usize]| c.iter().filter(|&&k| k > 0).count();
    let Some(fewest) = hits.iter().map(|c| size(c)).min() else {
        return Step::NoExactStep { to };
    };
    let candidates: Vec<&Vec<usize>> = hits.iter().filter(|c| size(c) == fewest).collect();
    // `b` weakens `a`: the same ratings changed, each no further, and `b` differs from `a`.
    let weakens = |b: &[usize], a: &[usize]| {
        b != a
            && b.iter()
                .zip(a)
                .all(|(&kb, &ka)| (kb == 0) == (ka == 0) && kb <= ka)
    };
    let mut sets: Vec<ChangeSet> = candidates
        .iter()
        .filter(|a| !candidates.iter().any(|b| weakens(b, a)))
        .map(|choice| ChangeSet {
            changes: ratings
                .iter()
                .zip(choice.iter())
                .filter(|&(_, &k)| k > 0)
                .filter_map(|(&(rating, from), &k)| {
                    let new = direction.beyond(from).get(k - 1).copied()?;
                    Some(Change {
                        rating,
                        from,
                        to: new,
                    })
                })
                .collect(),
        })
        .collect();
    sets.sort_by_key(order_key);
    sets.dedup();
    Step::Changes { to, sets }
}

fn order_key(set: &ChangeSet) -> Vec<(Changeable, Rating)> {
    set.changes.iter().map(|c| (c.rating, c.to)).collect()
}

// Tests may panic on a broken expectation; that is how they fail.
#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#[path = "whatif_tests.rs"]
mod tests;
