//! What a combined rating's explanation is made of, as data: the rule ([`Rule`]), the six inputs
//! ([`Input`]) and the notes ([`Note`]). `Display` gives the sentences of DOMAIN.md §3 that the
//! wire and the report show.

use std::fmt;

use chrono::NaiveDate;
use oversight_rating::{CountingRule, KeyQuestion, Rating};
use serde::{Deserialize, Serialize};

use crate::{Flag, Ineligible};

/// The explanation of a combined rating.
pub type CombinedExplanation = oversight_rating::Explanation<Rule, Input, Note>;

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// The counting rule over the six ratings.
    Counting(CountingRule),
    /// No combined rating, and why ([`crate::eligibility`]).
    NoCombined(Vec<Ineligible>),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Counting(c) => c.fmt(f),
            Rule::NoCombined(why) => write!(f, "no combined rating: {}", Reasons(why)),
        }
    }
}

/// Why a trust has no combined rating, in words: the [`Ineligible`] reasons joined by `; `.
pub fn reasons(ineligible: &[Ineligible]) -> String {
    Reasons(ineligible).to_string()
}

struct Reasons<'a>(&'a [Ineligible]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            r.fmt(f)?;
        }
        Ok(())
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
    /// The combined rating differs from overall quality, but not because of use of resources:
    /// had use of resources been rated the same as overall quality (`quality`), the combined rule
    /// would give `would_be` (the key questions it counts differ from those the overall was rated
    /// on, or the published overall departs from them). See [`crate::Flag`].
    DiffersNotByUor { quality: Rating, would_be: Rating },
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
            Note::DiffersNotByUor { quality, would_be } => write!(
                f,
                "differs from overall quality ({quality}) for a reason other than use of resources: \
                 with use of resources rated {quality} the combined rating would be {would_be}"
            ),
        }
    }
}

/// A key question as the combined explanation names it: "safe", "well-led".
fn lower(kq: KeyQuestion) -> String {
    kq.cqc_str().to_lowercase()
}
