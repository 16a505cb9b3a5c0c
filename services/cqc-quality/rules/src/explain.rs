//! What a CQC rating's explanation is made of, as data: the rule that fired ([`Rule`]), the
//! inputs counted ([`Input`]) and the notes ([`Note`]). The rules build these values and never
//! format while rating; `Display` turns each into the sentence that the wire, the report and the
//! CLI show (the wording of DOMAIN.md §2 and §5), and code that needs to know, say, which limiter
//! lowered a rating matches on [`LimiterApplied`] instead of searching a sentence.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use oversight_rating::{
    CountingRule, KeyQuestion, LocationId, Rating, RatingValue, RuleSetVersion, ServiceId,
    TrustType,
};
use serde::{Deserialize, Serialize};

use crate::evidence::Limiter;
use crate::saf::SafPercent;

/// The explanation of a CQC rating.
pub type CqcExplanation = oversight_rating::Explanation<Rule, Input, Note>;

/// The reason, in words, the trust overall is not re-rated without a trust-level well-led
/// assessment ([`crate::OverallBasis::PreviousStands`]).
pub const PREVIOUS_STANDS: &str = "no trust-level well-led assessment: the trust overall is only re-rated after one, so the previous trust rating stands";

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// The §2.1 counting rule.
    Counting(CountingRule),
    /// `saf-2023`: the mean of the percentages beneath, banded, possibly limited by the §2.1 rows
    /// that lower a rating.
    SafMean {
        /// The exact mean.
        mean: Percent,
        /// How many percentages.
        n: usize,
        /// The band of the mean.
        band: SafBand,
        /// The §2.1 row that lowered the banded rating, if one did.
        limited_by: Option<Box<CountingRule>>,
    },
    /// A key question × service judgement or the trust-level well-led assessment, and the
    /// limiter that lowered it, if one did.
    Judged {
        /// The judgement or the quality-statement score.
        basis: Basis,
        /// A limiter (§2.2) that lowered the rating.
        limiter: Option<Box<LimiterApplied>>,
    },
    /// No trust-level well-led assessment, so no trust well-led rating.
    NoWellLedAssessment,
    /// The trust overall is not re-rated: [`PREVIOUS_STANDS`].
    PreviousOverallStands,
    /// A published decision about a rating that has nothing rated beneath it.
    NothingRatedBeneath,
    /// The trust overall is not re-rated and the one published before stands (§2.3).
    CarriedForward {
        /// The trust overall published before.
        published: Rating,
    },
    /// A trust key question as published beneath a trust overall that is carried forward (§2.3):
    /// what the overall stands on.
    PublishedBeneathCarried {
        /// As published (`None`: no rating).
        published: Option<Rating>,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Counting(c) => c.fmt(f),
            Rule::SafMean {
                mean,
                n,
                band,
                limited_by,
            } => {
                write!(
                    f,
                    "mean score {mean}% of {n} → {} (band {}%)",
                    band.rating, band
                )?;
                match limited_by {
                    Some(rule) => write!(f, "; limited by §2.1: {rule}"),
                    None => Ok(()),
                }
            }
            Rule::Judged { basis, limiter } => {
                basis.fmt(f)?;
                match limiter {
                    Some(l) => write!(f, "; limiter applied: {l}"),
                    None => Ok(()),
                }
            }
            Rule::NoWellLedAssessment => {
                f.write_str("no trust-level well-led assessment → no rating")
            }
            Rule::PreviousOverallStands => write!(f, "{PREVIOUS_STANDS} → no rating"),
            Rule::NothingRatedBeneath => f.write_str("nothing rated beneath → no rating"),
            Rule::CarriedForward { published } => {
                write!(f, "the trust overall published before stands → {published}")
            }
            Rule::PublishedBeneathCarried { published } => write!(
                f,
                "as published beneath the trust overall that stands → {}",
                published.map_or("no rating", Rating::cqc_str)
            ),
        }
    }
}

/// What a key question × service rating (or the trust well-led) rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Basis {
    /// The judgement as recorded.
    Recorded {
        /// What recorded it.
        source: Assessment,
        /// The judgement.
        value: RatingValue,
    },
    /// `saf-2023`: the quality-statement scores; their percentage is `sum ÷ (4 × statements)`
    /// ([`Basis::percent`]).
    Scored {
        /// How many statements were scored.
        statements: u32,
        /// The sum of their scores (each 1–4).
        sum: u32,
        /// The band of their percentage.
        band: SafBand,
    },
}

impl Basis {
    /// The rating it gives (`None`: a non-rating) and, when scored, the percentage.
    pub fn rating(&self) -> (Option<Rating>, Option<SafPercent>) {
        match self {
            Basis::Recorded { value, .. } => (value.rating(), None),
            Basis::Scored { band, .. } => (Some(band.rating), self.percent()),
        }
    }

    /// The percentage of the scores, exactly (`None` for a recorded judgement).
    pub fn percent(&self) -> Option<SafPercent> {
        match self {
            Basis::Recorded { .. } => None,
            Basis::Scored {
                statements, sum, ..
            } => SafPercent::ratio(u128::from(*sum) * 100, 4 * u128::from(*statements)),
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Recorded {
                source,
                value: RatingValue::Rated(r),
            } => write!(f, "{source}: {r}"),
            Basis::Recorded {
                source,
                value: RatingValue::Unrated(n),
            } => write!(f, "{source}: {} (a non-rating) → no rating", n.cqc_str()),
            Basis::Scored {
                statements,
                sum,
                band,
            } => {
                write!(
                    f,
                    "{statements} quality statements scored {sum} of {} = ",
                    statements * 4
                )?;
                if let Some(p) = self.percent() {
                    p.fmt(f)?;
                }
                write!(f, "% → {} (band {band}%)", band.rating)
            }
        }
    }
}

/// Who made a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Assessment {
    /// An inspection of a service.
    InspectionJudgement,
    /// The trust-level well-led assessment.
    TrustWellLedAssessment,
}

impl fmt::Display for Assessment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Assessment::InspectionJudgement => "inspection judgement",
            Assessment::TrustWellLedAssessment => "trust-level well-led assessment",
        })
    }
}

/// An exact SAF percentage as explanations hold it: a fraction of two 32-bit numbers when it fits
/// (every real one does), else the full value boxed. Every input of every aggregate carries one,
/// and [`SafPercent`] is four words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SafPercent", into = "SafPercent")]
pub enum Percent {
    Fraction { num: u32, den: u32 },
    Exact(Box<SafPercent>),
}

impl Percent {
    /// The exact value.
    pub fn get(&self) -> SafPercent {
        match self {
            Percent::Fraction { num, den } => SafPercent::ratio(u128::from(*num), u128::from(*den))
                .unwrap_or_else(|| SafPercent::whole(0)),
            Percent::Exact(p) => **p,
        }
    }
}

impl From<SafPercent> for Percent {
    fn from(p: SafPercent) -> Self {
        let (num, den) = p.parts();
        match (u32::try_from(num), u32::try_from(den)) {
            (Ok(num), Ok(den)) => Percent::Fraction { num, den },
            _ => Percent::Exact(Box::new(p)),
        }
    }
}

impl From<Percent> for SafPercent {
    fn from(p: Percent) -> Self {
        p.get()
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// A SAF score band: the rating, the published minimum it starts at and the next band's minimum
/// it stays below. `Display` is the range as explanations write it: "≥ 88", "63 to < 88",
/// "< 39".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafBand {
    /// The rating of the band.
    pub rating: Rating,
    /// Lowest percentage in the band (none for the bottom band).
    pub min: Option<u32>,
    /// The percentage the band stays below (none for the top band).
    pub below: Option<u32>,
}

impl fmt::Display for SafBand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.below) {
            (Some(min), None) => write!(f, "≥ {min}"),
            (Some(min), Some(below)) => write!(f, "{min} to < {below}"),
            (None, Some(below)) => write!(f, "< {below}"),
            (None, None) => f.write_str("≥ 0"),
        }
    }
}

/// A limiter that lowered a rating, and the rating it lowered it to: "requirement notice
/// (Regulation 12) limits to at best Requires improvement → Requires improvement".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimiterApplied {
    /// The limiter.
    pub limiter: Limiter,
    /// The rating after it.
    pub to: Rating,
}

impl fmt::Display for LimiterApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.limiter, self.to)
    }
}

/// One input counted: "label: value, percent% (date)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// What it is.
    pub label: Label,
    /// Its rating (`None`: no rating).
    pub value: Option<RatingValue>,
    /// Under `saf-2023`, its exact percentage.
    pub percent: Option<Percent>,
    /// The date of the report that set it.
    pub date: Option<NaiveDate>,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.label,
            self.value.map_or("no rating", RatingValue::cqc_str)
        )?;
        if let Some(p) = &self.percent {
            write!(f, ", {p}%")?;
        }
        if let Some(d) = self.date {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// What an input is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Label {
    /// A key question of a service: "urgent Safe".
    ServiceKeyQuestion {
        service: ServiceId,
        key_question: KeyQuestion,
    },
    /// A service: "urgent".
    Service(ServiceId),
    /// A location: "RXX01 Royal Hospital". (Shared: a trust's key questions all name it.)
    Location(Arc<LocationLabel>),
    /// A location with its merged organisation's services left out: "RXX01 without merged
    /// services".
    LocationWithoutMerged(Arc<LocationLabel>),
    /// A key question: "Well-led".
    KeyQuestion(KeyQuestion),
    /// The trust-level well-led assessment.
    TrustWellLedAssessment,
    /// The trust overall published before (carried forward, §2.3).
    PublishedTrustOverall,
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::ServiceKeyQuestion {
                service,
                key_question,
            } => write!(f, "{service} {key_question}"),
            Label::Service(s) => s.fmt(f),
            Label::Location(l) => l.fmt(f),
            Label::LocationWithoutMerged(l) => write!(f, "{l} without merged services"),
            Label::KeyQuestion(kq) => kq.fmt(f),
            Label::TrustWellLedAssessment => f.write_str("trust well-led assessment"),
            Label::PublishedTrustOverall => f.write_str("trust overall published before"),
        }
    }
}

/// A location as explanations name it: its id, then its name if known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationLabel {
    pub id: LocationId,
    pub name: Option<String>,
}

impl fmt::Display for LocationLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{} {n}", self.id),
            None => self.id.fmt(f),
        }
    }
}

/// Why a service from a merged organisation is left out of trust-level aggregation (§2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedFromTrust {
    /// The organisation it came from.
    pub organisation: String,
    /// From this date it counts again.
    pub until: NaiveDate,
    /// How `until` relates to the two-year cap.
    pub cap: ExclusionCap,
    /// The reason stated.
    pub reason: String,
}

impl fmt::Display for ExcludedFromTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "from merged organisation {}, left out of trust aggregation until {}",
            self.organisation, self.until
        )?;
        match &self.cap {
            ExclusionCap::Requested { merged_on } => write!(f, " (merged {merged_on})")?,
            ExclusionCap::Capped {
                requested,
                months,
                merged_on,
            } => write!(
                f,
                " (requested until {requested}, capped at {months} months after the merger of {merged_on})"
            )?,
            ExclusionCap::Full { months, merged_on } => {
                write!(f, " ({months} months after the merger of {merged_on})")?;
            }
        }
        write!(f, ": {}", self.reason)
    }
}

/// How the end of a merger exclusion was set (§2.3: "for up to two years").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExclusionCap {
    /// An end was requested within the cap.
    Requested { merged_on: NaiveDate },
    /// The requested end was cut to the cap.
    Capped {
        requested: NaiveDate,
        months: u32,
        merged_on: NaiveDate,
    },
    /// No end requested: the full cap.
    Full { months: u32, merged_on: NaiveDate },
}

/// Something else a reader of a rating must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Note {
    /// A limiter that did not lower the rating: it was already within it.
    LimiterWithin { limiter: Limiter, rating: Rating },
    /// A limiter on a non-rating: nothing to lower.
    LimiterOnNonRating { limiter: Limiter },
    /// `saf-2023`: the scores replaced a different recorded judgement.
    JudgementReplacedByScore { recorded: RatingValue },
    /// `saf-2023` without scores: the judgement counts as recorded.
    NoStatementScores { source: Assessment },
    /// A rule set that rates by judgement ignored the scores.
    StatementScoresIgnored { rule_set: RuleSetVersion },
    /// `saf-2023`: a rating beneath has no score, so the §2.1 counting rule decided.
    UnscoredBeneath,
    /// The inputs span several dates; each stands, the aggregate takes the latest.
    CarryForwardSpan {
        earliest: NaiveDate,
        latest: NaiveDate,
    },
    /// Earlier ratings of the same key question and service, not used (latest first).
    EarlierRatingsNotUsed {
        earlier: Vec<(RatingValue, NaiveDate)>,
    },
    /// Superseded inspection areas merged into their successor.
    SupersededAreas {
        areas: Box<[ServiceId]>,
        counted_as: ServiceId,
    },
    /// A merged organisation's service left out of this trust-level rating.
    ExcludedMerged(Box<ExcludedMerged>),
    /// A "significantly small" service left out of this aggregate (§2.1), with the reason.
    LeftOutSignificantlySmall(Box<LeftOutSmall>),
    /// Every service of a location is left out.
    LocationAllExcluded { location: Arc<LocationLabel> },
    /// Mental health, community and ambulance trusts: services straight into the trust.
    NoLocationLevel { trust_type: TrustType },
    /// Trust well-led: the latest trust-level assessment, never an aggregate.
    WellLedFromAssessment,
    /// Trust well-led without an assessment: still never an aggregate.
    WellLedNeverAggregated,
    /// The trust overall without a well-led assessment.
    OverallWaitsForWellLed,
    /// Earlier well-led assessments superseded by the latest.
    EarlierAssessmentsSuperseded { count: usize },
    /// The trust overall was re-rated on this well-led assessment.
    ReratedOnWellLed { well_led_date: NaiveDate },
    /// Service ratings after the well-led assessment do not move the trust overall yet.
    LaterRatingsNotReflected {
        count: usize,
        well_led_date: NaiveDate,
    },
    /// Single-location trust: location well-led is the trust's.
    SingleLocationWellLed,
    /// Single-location trust: location overall is the trust's.
    SingleLocationOverall,
    /// A limiter on a service beneath lowered one of the ratings counted here.
    LimiterBeneath(Box<LimiterBeneath>),
    /// The trust overall is not re-rated: the one published before stands (§2.3), and why.
    OverallCarriedForward { reason: String },
    /// CQC's final decision replaced the computed rating (§2.4).
    PublishedDeparture {
        decided_on: NaiveDate,
        computed: Option<Rating>,
        published: Rating,
        /// Empty when the decision agreed with nothing to depart from.
        rationale: String,
    },
    /// This rating aggregates CQC's published ratings beneath it (§2.4: the levels above take
    /// the published rating, as CQC does); from the computed ratings the rules give `computed`.
    PublishedBeneath { computed: Option<Rating> },
    /// A final decision that no longer applies: ratings beneath it are newer.
    FinalDecisionLapsed {
        decided_on: NaiveDate,
        /// `None`: the overall.
        key_question: Option<KeyQuestion>,
        published: Rating,
    },
}

/// [`Note::ExcludedMerged`]: a merged organisation's service left out of a trust-level rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedMerged {
    /// Its location, for trusts with a location level.
    pub location: Option<Arc<LocationLabel>>,
    pub service: ServiceId,
    pub why: ExcludedFromTrust,
}

/// [`Note::LeftOutSignificantlySmall`]: a service decided "significantly small" (§2.1), left out
/// of the aggregate whose explanation carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOutSmall {
    /// Its location, named at trust level for trusts with locations.
    pub location: Option<LocationId>,
    pub service: ServiceId,
    /// The decision's start and (exclusive) end.
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    /// Why, as decided.
    pub reason: String,
}

/// [`Note::LimiterBeneath`]: a limiter on a service beneath lowered one of the ratings counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimiterBeneath {
    /// The service's location, named at trust level for trusts with locations.
    pub location: Option<LocationId>,
    pub service: ServiceId,
    pub key_question: KeyQuestion,
    pub applied: LimiterApplied,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::LimiterWithin { limiter, rating } => write!(
                f,
                "limiter {limiter}: the rating ({rating}) is already within it"
            ),
            Note::LimiterOnNonRating { limiter } => write!(
                f,
                "limiter {limiter}: nothing to limit, a non-rating is not a rating"
            ),
            Note::JudgementReplacedByScore { recorded } => write!(
                f,
                "recorded judgement {recorded} replaced by the quality-statement score"
            ),
            Note::NoStatementScores { source } => write!(
                f,
                "no quality-statement scores: the {source} counts as recorded"
            ),
            Note::StatementScoresIgnored { rule_set } => write!(
                f,
                "quality-statement scores ignored: {rule_set} rates by judgement"
            ),
            Note::UnscoredBeneath => f.write_str(
                "some ratings beneath have no SAF score (carried forward from an earlier rule set): the §2.1 counting rule decides",
            ),
            Note::CarryForwardSpan { earliest, latest } => write!(
                f,
                "carry-forward: inputs dated {earliest} to {latest}; each stands whatever its date, the aggregate is dated {latest}"
            ),
            Note::EarlierRatingsNotUsed { earlier } => {
                f.write_str("carry-forward: the latest rating stands; earlier ratings not used: ")?;
                for (i, (rating, date)) in earlier.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{rating} ({date})")?;
                }
                Ok(())
            }
            Note::SupersededAreas { areas, counted_as } => {
                f.write_str("superseded area(s) ")?;
                for (i, a) in areas.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                write!(
                    f,
                    " counted as {counted_as}: per key question the latest report stands, so the service is counted once"
                )
            }
            Note::ExcludedMerged(x) => {
                if let Some(l) = &x.location {
                    write!(f, "{l} ")?;
                }
                write!(f, "{}: {}", x.service, x.why)
            }
            Note::LeftOutSignificantlySmall(x) => {
                if let Some(l) = &x.location {
                    write!(f, "{l} ")?;
                }
                write!(
                    f,
                    "{} left out of aggregation as significantly small (DOMAIN §2.1), decided from {}",
                    x.service, x.from
                )?;
                if let Some(u) = x.until {
                    write!(f, " until {u}")?;
                }
                write!(f, ": {}; its own ratings stand", x.reason)
            }
            Note::LocationAllExcluded { location } => write!(
                f,
                "{location} left out: all its services are excluded from trust aggregation"
            ),
            // The trust type as the enum names it ("MentalHealth trust"), as always.
            Note::NoLocationLevel { trust_type } => write!(
                f,
                "{trust_type:?} trust: no location level, services aggregated straight into the trust"
            ),
            Note::WellLedFromAssessment => f.write_str(
                "well-led at trust level is never aggregated: it is the latest trust-level well-led assessment",
            ),
            Note::WellLedNeverAggregated => f.write_str(
                "well-led at trust level is never aggregated from locations or services",
            ),
            Note::OverallWaitsForWellLed => f.write_str(
                "well-led is never aggregated from services or locations (DOMAIN §2 level 5)",
            ),
            Note::EarlierAssessmentsSuperseded { count } => {
                write!(f, "{count} earlier assessment(s) superseded")
            }
            Note::ReratedOnWellLed { well_led_date } => write!(
                f,
                "re-rated on the trust-level well-led assessment of {well_led_date}"
            ),
            Note::LaterRatingsNotReflected {
                count,
                well_led_date,
            } => write!(
                f,
                "{count} service rating(s) dated after {well_led_date} are not reflected: the trust overall is only re-rated after a trust-level well-led assessment, so the rating of {well_led_date} stands"
            ),
            Note::SingleLocationWellLed => f.write_str(
                "single-location trust: the location well-led is the trust-level well-led, not an aggregate of services",
            ),
            Note::SingleLocationOverall => {
                f.write_str("single-location trust: the location overall is the trust overall")
            }
            Note::LimiterBeneath(x) => {
                f.write_str("limiter on ")?;
                if let Some(l) = &x.location {
                    write!(f, "{l} ")?;
                }
                write!(f, "{} {}: {}", x.service, x.key_question, x.applied)
            }
            Note::OverallCarriedForward { reason } => write!(
                f,
                "carry-forward (DOMAIN §2.3): {reason}; the trust overall published before stands"
            ),
            Note::PublishedDeparture {
                decided_on,
                computed,
                published,
                rationale,
            } => {
                write!(
                    f,
                    "published by CQC judgement (final, {decided_on}): the rules computed {}, CQC published {published}",
                    computed.map_or("no rating", Rating::cqc_str)
                )?;
                if rationale.is_empty() {
                    Ok(())
                } else {
                    write!(f, ": {rationale}")
                }
            }
            Note::PublishedBeneath { computed } => write!(
                f,
                "aggregates the ratings CQC published beneath it (DOMAIN §2.4); from the computed ratings the rules give {}",
                computed.map_or("no rating", Rating::cqc_str)
            ),
            Note::FinalDecisionLapsed {
                decided_on,
                key_question,
                published,
            } => write!(
                f,
                "the final decision of {decided_on} ({} {published}) no longer applies: ratings beneath it were reported after it",
                key_question.map_or("overall", KeyQuestion::cqc_str)
            ),
        }
    }
}
