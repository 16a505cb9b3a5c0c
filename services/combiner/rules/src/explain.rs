//! What a combined rating's explanation is made of, as data: the rule ([`Rule`]), the six inputs
//! ([`Input`]) and the notes ([`Note`]), and why a trust has no combined rating
//! ([`NoCombined`]). `Display` gives the sentences of DOMAIN.md §3 that the wire and the report
//! show.

use std::fmt;

use chrono::NaiveDate;
use oversight_rating::{CountingRule, KeyQuestion, Rating, TrustType};
use serde::{Deserialize, Serialize};

use crate::Flag;

/// The explanation of a combined rating.
pub type CombinedExplanation = oversight_rating::Explanation<Rule, Input, Note>;

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// The counting rule over the six ratings.
    Counting(CountingRule),
    /// No combined rating, and why.
    NoCombined(NoCombined),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Counting(c) => c.fmt(f),
            Rule::NoCombined(why) => write!(f, "no combined rating: {why}"),
        }
    }
}

/// Why a trust has no combined rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoCombined {
    /// Combined ratings are for non-specialist acute trusts only.
    WrongTrustType(TrustType),
    /// Every reason that applies, in this order: shadow mode, no approved use of resources, key
    /// questions without a rating.
    Missing(Vec<Missing>),
}

impl fmt::Display for NoCombined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoCombined::WrongTrustType(TrustType::SpecialistAcute) => f.write_str(
                "specialist acute trust: combined ratings apply only to non-specialist acute trusts",
            ),
            NoCombined::WrongTrustType(other) => write!(
                f,
                "not an acute trust ({}): combined ratings apply only to non-specialist acute trusts",
                other.describe()
            ),
            NoCombined::Missing(reasons) => {
                for (i, r) in reasons.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    r.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

/// One reason an acute trust has no combined rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// Shadow mode: use of resources is published on its own.
    Shadow(Publication),
    /// No use of resources rating approved by CQC.
    NoApprovedUseOfResources,
    /// These key questions have no rating.
    KeyQuestionsIncomplete(Vec<KeyQuestion>),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Shadow(p) => write!(f, "{p}, no combined rating"),
            Missing::NoApprovedUseOfResources => f.write_str("no approved use of resources rating"),
            Missing::KeyQuestionsIncomplete(kqs) => {
                f.write_str("quality key questions incomplete: no rating for ")?;
                for (i, kq) in kqs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&lower(*kq))?;
                }
                Ok(())
            }
        }
    }
}

/// How the rating is published on a date (DOMAIN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Publication {
    /// Combined ratings are published (on or after `from`).
    Combined { as_of: NaiveDate, from: NaiveDate },
    /// Shadow mode by configuration.
    ShadowConfigured,
    /// Shadow mode: before combined ratings were published.
    ShadowBefore { as_of: NaiveDate, from: NaiveDate },
}

impl fmt::Display for Publication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Publication::Combined { as_of, from } => write!(
                f,
                "combined (as of {as_of}; combined ratings published from {from})"
            ),
            Publication::ShadowConfigured => {
                f.write_str("shadow (configured): use of resources is published separately")
            }
            Publication::ShadowBefore { as_of, from } => write!(
                f,
                "shadow (as of {as_of}, before {from}): use of resources is published separately"
            ),
        }
    }
}

/// One input: a key question, the use of resources rating, or (in a note) the overall quality
/// rating published beside the combined one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A rating with its date (and version), and where it came from.
    Dated(DatedInput),
    /// No use of resources rating approved by CQC.
    NoApprovedUseOfResources,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Dated(d) => d.fmt(f),
            Input::NoApprovedUseOfResources => f.write_str("use of resources: no approved rating"),
        }
    }
}

/// "safe: Good (2017-06-01) — source: CQC quality rating cqc-2018, version 3",
/// "use of resources: Good (2017-11-01, version 2)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedInput {
    pub part: Part,
    /// `None`: no rating.
    pub rating: Option<Rating>,
    pub date: Option<NaiveDate>,
    /// The version of the use of resources assessment.
    pub version: Option<u32>,
    /// Where the input came from; empty when not stated.
    pub source: String,
}

impl fmt::Display for DatedInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            Part::KeyQuestion(kq) => f.write_str(&lower(kq))?,
            Part::UseOfResources => f.write_str("use of resources")?,
            Part::OverallQuality => f.write_str("overall quality, published beside it")?,
        }
        write!(f, ": {}", self.rating.map_or("no rating", Rating::cqc_str))?;
        match (self.date, self.version) {
            (Some(d), Some(v)) => write!(f, " ({d}, version {v})")?,
            (Some(d), None) => write!(f, " ({d})")?,
            (None, Some(v)) => write!(f, " (version {v})")?,
            (None, None) => {}
        }
        if !self.source.is_empty() {
            write!(f, " — source: {}", self.source)?;
        }
        Ok(())
    }
}

/// Which part of the combination an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    KeyQuestion(KeyQuestion),
    UseOfResources,
    OverallQuality,
}

/// Something else a reader of a combined rating must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Note {
    /// The overall quality rating, published beside the combined rating.
    OverallQuality(DatedInput),
    /// The publication mode.
    Mode(Publication),
    /// Shadow mode: what the combined rule would give, not published.
    ShadowWouldGive { rating: Rating, rule: CountingRule },
    /// An anti-masking flag.
    Flag(Flag),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::OverallQuality(d) => d.fmt(f),
            Note::Mode(p) => write!(f, "mode: {p}"),
            Note::ShadowWouldGive { rating, rule } => write!(
                f,
                "shadow: the combined rule would give {rating} ({rule}); not published"
            ),
            Note::Flag(flag) => write!(f, "flag {}: {}", flag.code(), flag.describe()),
        }
    }
}

/// A key question as the combined explanation names it: "safe", "well-led".
fn lower(kq: KeyQuestion) -> String {
    kq.cqc_str().to_lowercase()
}
