//! Rating a trust at every level of DOMAIN.md §2:
//! key question × service (limiters first) → service overall → location key questions →
//! location overall → trust key questions → trust overall.

use chrono::NaiveDate;
use std::borrow::Borrow;
use std::cmp::Reverse;
use std::sync::Arc;

use oversight_rating::{
    Aggregate, Items, KeyQuestion, KeyQuestionMap, LocationId, NonRating, Rating, RatingValue,
    ServiceId, TrustCode, aggregate,
};
use serde::{Deserialize, Serialize};

use crate::decided::{Decided, note_computed_beside};
use crate::evidence::{
    KqServiceRating, Limiter, LocationEvidence, ServiceEvidence, SignificantlySmall, TrustEvidence,
    TrustType, WellLedAssessment,
};
use crate::explain::{
    Assessment, Basis, CqcExplanation, ExcludedFromTrust, ExcludedMerged, Input, Label,
    LeftOutSmall, LimiterApplied, LocationLabel, Note, PREVIOUS_STANDS, Percent, Rule,
};
use crate::judgement::{Entity, Judgement};
use crate::rule_set::{QualityStatementScore, RuleSet, SafBands, newest_area, saf_percent};
use crate::saf::SafPercent;

/// One computed rating with its date and the reasons for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatedResult {
    /// The rating, or `None` when nothing real was beneath it (the reason is in the explanation).
    pub rating: Option<Rating>,
    /// The latest report date beneath it (carry-forward: older ratings stand, the aggregate is
    /// dated by the latest inspection).
    pub date: Option<NaiveDate>,
    /// Under `saf-2023`: the exact percentage the rating was banded from.
    pub percent: Option<SafPercent>,
    /// Rule set, inputs counted, the rule that fired, and notes.
    pub explanation: CqcExplanation,
}

/// A service's key questions and overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceQuality {
    /// The inspection area it is counted as (the newest successor of a superseded area).
    pub service: ServiceId,
    /// Key question × service, after limiters and carry-forward.
    pub key_questions: KeyQuestionMap<RatedResult>,
    /// The aggregate of the five key questions.
    pub overall: RatedResult,
    /// Why this service is left out of trust-level aggregation, if it is (merger, §2.3).
    pub excluded_from_trust: Option<ExcludedFromTrust>,
    /// The "significantly small" decision standing on the rating date, if one does (§2.1): the
    /// service is rated and shown, but left out of its location's aggregation (and so the
    /// trust's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significantly_small: Option<SignificantlySmall>,
}

/// A location's key questions, overall and services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationQuality {
    /// The location.
    pub id: LocationId,
    /// Its display name, if known.
    pub name: Option<String>,
    /// Each key question aggregated across the location's services (well-led from the trust-level
    /// assessment for a single-location trust).
    pub key_questions: KeyQuestionMap<RatedResult>,
    /// The aggregate of the five location key questions (the trust overall for a single-location
    /// trust).
    pub overall: RatedResult,
    /// The location's services.
    pub services: Vec<ServiceQuality>,
}

/// Whether the trust overall was re-rated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverallBasis {
    /// Re-rated on the trust-level well-led assessment of this date, from the trust key questions
    /// as they stood on that date.
    Rerated {
        /// Report date of the well-led assessment.
        well_led_date: NaiveDate,
    },
    /// No trust-level well-led assessment on or before the rating date: the rules do not re-rate
    /// the trust, `TrustQuality::overall` has no rating, and the previously published trust
    /// rating (which the service holds) stands.
    PreviousStands {
        /// Why, in words ([`PREVIOUS_STANDS`]).
        reason: String,
    },
}

/// The quality ratings of one trust at every level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustQuality {
    /// The trust.
    pub trust: TrustCode,
    /// Its kind.
    pub trust_type: TrustType,
    /// The rule set version the ratings were computed with.
    pub rule_set: String,
    /// The date the ratings are as of.
    pub as_of: NaiveDate,
    /// Safe, effective, caring, responsive (aggregated) and well-led (trust-level assessment).
    pub key_questions: KeyQuestionMap<RatedResult>,
    /// The trust overall quality rating.
    pub overall: RatedResult,
    /// Whether `overall` was re-rated or the previous trust rating stands.
    pub overall_basis: OverallBasis,
    /// The trust key questions `overall` was aggregated from, when they are not `key_questions`:
    /// as they stood on the date of the well-led assessment that re-rated it, when services were
    /// rated since (§2.3: the overall is only re-rated after a well-led assessment), or those a
    /// carried-forward overall was published with. See [`TrustQuality::overall_key_questions`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall_beneath: Option<KeyQuestionMap<RatedResult>>,
    /// Locations (acute and specialist acute trusts only).
    pub locations: Vec<LocationQuality>,
    /// Trust-wide services (mental health, community and ambulance trusts: no location level).
    pub services: Vec<ServiceQuality>,
}

impl TrustQuality {
    /// Whether the trust overall was re-rated (a trust-level well-led assessment exists).
    pub fn overall_rerated(&self) -> bool {
        matches!(self.overall_basis, OverallBasis::Rerated { .. })
    }

    /// The trust key questions the overall stands on: what anything rated with the overall (the
    /// combined rating, §3) must use, rather than newer key questions beside an overall that was
    /// not re-rated.
    pub fn overall_key_questions(&self) -> &KeyQuestionMap<RatedResult> {
        self.overall_beneath.as_ref().unwrap_or(&self.key_questions)
    }
}

/// Rates a trust as of `as_of` with `rules`: every rating dated after `as_of` is ignored, and the
/// latest rating of each service and key question on or before it stands.
///
/// Acute trusts go through locations: a location's key questions aggregate its services', and the
/// trust's safe/effective/caring/responsive aggregate the locations' (\[A\] DOMAIN §2 level 5). A
/// single-location trust's location well-led is the trust-level well-led, and its location overall
/// is the trust overall. Mental health, community and ambulance trusts rate services straight into
/// the trust key questions. Well-led at trust level always comes from the latest trust-level
/// assessment, never from aggregation.
///
/// The trust overall is re-rated only on a trust-level well-led assessment: it is the aggregate of
/// the trust key questions as they stood on the date of the latest assessment; later service
/// inspections move the key questions but not the overall until the next assessment (noted). With
/// no assessment the overall has no rating and [`OverallBasis::PreviousStands`].
pub fn rate_trust(evidence: &TrustEvidence, as_of: NaiveDate, rules: &RuleSet) -> TrustQuality {
    rate_trust_with(evidence, as_of, rules, &Decided::none())
}

/// Rates a trust as [`rate_trust`] does, with CQC's final decisions (§2.4) about it decided on or
/// before `decided_by` (all when `None`; `decisions` in the order recorded) laid over the
/// ratings level by level, so that each level above aggregates the published rating, as CQC does
/// (a published service key question counts in its location's key question, a published trust
/// key question in the trust overall). Each decided rating notes the rating computed beneath it
/// ([`Note::PublishedDeparture`]); each level whose rating differs from what the computed ratings
/// give because of a published rating beneath it notes that one ([`Note::PublishedBeneath`]).
///
/// A decision applies while the ratings beneath it are not newer than the decision: a later
/// inspection makes the rules' rating stand again ([`Note::FinalDecisionLapsed`]).
pub fn rate_trust_published(
    evidence: &TrustEvidence,
    as_of: NaiveDate,
    rules: &RuleSet,
    decisions: &[Judgement],
    decided_by: Option<NaiveDate>,
) -> TrustQuality {
    let decided = Decided::new(&evidence.trust, decisions, decided_by);
    if decided.is_empty() {
        return rate_trust(evidence, as_of, rules);
    }
    let mut published = rate_trust_with(evidence, as_of, rules, &decided);
    note_computed_beside(&mut published, &rate_trust(evidence, as_of, rules));
    published
}

fn rate_trust_with(
    evidence: &TrustEvidence,
    as_of: NaiveDate,
    rules: &RuleSet,
    decided: &Decided,
) -> TrustQuality {
    let mut levels = rate_levels(evidence, as_of, rules, decided);
    let mut overall_beneath = None;
    let (overall, overall_basis) = match latest_well_led(&evidence.well_led, as_of) {
        None => {
            let mut e = CqcExplanation::new(rules.version.clone(), Rule::PreviousOverallStands);
            e.notes.push(Note::OverallWaitsForWellLed);
            (
                RatedResult {
                    rating: None,
                    date: None,
                    percent: None,
                    explanation: e,
                },
                OverallBasis::PreviousStands {
                    reason: PREVIOUS_STANDS.to_string(),
                },
            )
        }
        Some(wl) => {
            let later = later_report_dates(evidence, wl.report_date, as_of);
            let mut overall = if later == 0 {
                overall_of(&levels.key_questions, rules)
            } else {
                // \[A\] The decisions that apply to the key questions as they stood then are
                // those made before the first rating reported after the assessment; later ones
                // are about the newer ratings.
                let next_report = next_report_date(evidence, wl.report_date, as_of);
                let then_decided = decided.made_before(next_report);
                let then = rate_levels(evidence, wl.report_date, rules, &then_decided);
                let overall = overall_of(&then.key_questions, rules);
                overall_beneath = Some(then.key_questions);
                overall
            };
            let well_led_date = wl.report_date;
            overall
                .explanation
                .notes
                .push(Note::ReratedOnWellLed { well_led_date });
            if later > 0 {
                overall
                    .explanation
                    .notes
                    .push(Note::LaterRatingsNotReflected {
                        count: later,
                        well_led_date,
                    });
            }
            (overall, OverallBasis::Rerated { well_led_date })
        }
    };
    let mut overall = overall;
    decided.overall(|| decided.trust(), &mut overall, &levels.key_questions);
    if let [only] = levels.locations.as_mut_slice() {
        single_location(only, &levels.key_questions, &overall);
        // The location's own decisions stand over what it takes from the trust.
        let location = || Some(Entity::Location(only.id.clone()));
        if let Some(wl) = only.key_questions.get_mut(&KeyQuestion::WellLed) {
            decided.key_question(location, KeyQuestion::WellLed, wl);
        }
        decided.overall(location, &mut only.overall, &only.key_questions);
    }
    TrustQuality {
        trust: evidence.trust.clone(),
        trust_type: evidence.trust_type,
        rule_set: rules.name().to_string(),
        as_of,
        key_questions: levels.key_questions,
        overall,
        overall_basis,
        overall_beneath,
        locations: levels.locations,
        services: levels.services,
    }
}

/// Rates one service as of `as_of` (carry-forward and limiters applied), e.g. for a
/// service-level query.
pub fn rate_service(
    service: &ServiceEvidence,
    as_of: NaiveDate,
    rules: &RuleSet,
) -> ServiceQuality {
    rate_service_group(
        service,
        std::iter::empty(),
        as_of,
        rules,
        None,
        &Decided::none(),
    )
}

/// A rated result as an input of the level above.
#[inline]
fn input(label: Label, r: &RatedResult) -> Input {
    Input {
        label,
        value: r.rating.map(RatingValue::Rated),
        percent: r.percent.map(Percent::from),
        date: r.date,
    }
}

/// Aggregates inputs with the rule set: §2.1 counting, or the SAF score bands. An input without
/// a rating counts as a non-rating (excluded).
pub(crate) fn combine(rules: &RuleSet, inputs: Items<Input>) -> RatedResult {
    let agg = aggregate(
        inputs
            .iter()
            .map(|i| i.value.unwrap_or(RatingValue::Unrated(NonRating::NotRated))),
        &rules.thresholds,
    );
    let mut notes = Items::new();
    let (rating, percent, rule) = match rules.saf_bands() {
        None => (agg.rating, None, Rule::Counting(agg.rule)),
        Some(bands) => saf_combine(bands, &inputs, agg, &mut notes),
    };
    let mut dates = inputs.iter().filter_map(|i| i.date);
    let span = dates
        .next()
        .map(|first| dates.fold((first, first), |(lo, hi), d| (lo.min(d), hi.max(d))));
    if let Some((earliest, latest)) = span
        && earliest != latest
    {
        notes.push(Note::CarryForwardSpan { earliest, latest });
    }
    RatedResult {
        rating,
        date: span.map(|(_, latest)| latest),
        percent,
        explanation: CqcExplanation {
            rule_set: rules.version.clone(),
            rule,
            inputs,
            notes,
        },
    }
}

fn saf_combine(
    bands: &SafBands,
    inputs: &[Input],
    agg: Aggregate,
    notes: &mut Items<Note>,
) -> (Option<Rating>, Option<SafPercent>, Rule) {
    let rated: Vec<Option<SafPercent>> = inputs
        .iter()
        .filter(|i| i.value.and_then(RatingValue::rating).is_some())
        .map(|i| i.percent.as_ref().map(Percent::get))
        .collect();
    if rated.is_empty() {
        return (None, None, Rule::Counting(agg.rule));
    }
    let Some(percents) = rated.into_iter().collect::<Option<Vec<SafPercent>>>() else {
        notes.push(Note::UnscoredBeneath);
        return (agg.rating, None, Rule::Counting(agg.rule));
    };
    let n = percents.len();
    let Some(mean) = SafPercent::mean(&percents) else {
        return (agg.rating, None, Rule::Counting(agg.rule));
    };
    let band = bands.band(mean);
    let banded = |limited_by| Rule::SafMean {
        mean: mean.into(),
        n,
        band: bands.band_of(band),
        limited_by,
    };
    match agg.rating.filter(|r| *r <= Rating::RequiresImprovement) {
        Some(limit) if limit < band => (
            Some(limit),
            Some(mean.min(bands.top_of(limit))),
            banded(Some(Box::new(agg.rule))),
        ),
        _ => (Some(band), Some(mean), banded(None)),
    }
}

/// Everything below the trust overall, as of one date.
struct Levels {
    key_questions: KeyQuestionMap<RatedResult>,
    locations: Vec<LocationQuality>,
    services: Vec<ServiceQuality>,
}

fn rate_levels(
    evidence: &TrustEvidence,
    as_of: NaiveDate,
    rules: &RuleSet,
    decided: &Decided,
) -> Levels {
    let mut key_questions = KeyQuestionMap::new();
    let (locations, services) = if evidence.trust_type.has_location_level() {
        let locations: Vec<LocationQuality> = evidence
            .locations
            .iter()
            .map(|l| rate_location(l, as_of, rules, decided))
            .collect();
        let labels: Vec<Arc<LocationLabel>> = locations.iter().map(location_label).collect();
        for kq in aggregated_trust_kqs() {
            let mut inputs = Items::from(Vec::with_capacity(locations.len()));
            let mut notes = Vec::new();
            for (loc, label) in locations.iter().zip(&labels) {
                let mut excluded = loc
                    .services
                    .iter()
                    .filter_map(|s| Some((s, s.excluded_from_trust.as_ref()?)))
                    .peekable();
                if excluded.peek().is_none() {
                    if let Some(r) = loc.key_questions.get(&kq) {
                        inputs.push(input(Label::Location(label.clone()), r));
                    }
                    continue;
                }
                for (s, why) in excluded {
                    notes.push(Note::ExcludedMerged(Box::new(ExcludedMerged {
                        location: Some(label.clone()),
                        service: s.service.clone(),
                        why: why.clone(),
                    })));
                }
                let kept: Items<Input> = loc
                    .services
                    .iter()
                    .filter(|s| s.excluded_from_trust.is_none() && s.significantly_small.is_none())
                    .filter_map(|s| {
                        Some(input(
                            Label::Service(s.service.clone()),
                            s.key_questions.get(&kq)?,
                        ))
                    })
                    .collect();
                if kept.is_empty() {
                    notes.push(Note::LocationAllExcluded {
                        location: label.clone(),
                    });
                } else {
                    inputs.push(input(
                        Label::LocationWithoutMerged(label.clone()),
                        &combine(rules, kept),
                    ));
                }
            }
            let mut result = combine(rules, inputs);
            result.explanation.notes.extend(notes);
            for loc in &locations {
                result
                    .explanation
                    .notes
                    .extend(left_out_small(&loc.services, kq, Some(&loc.id)));
            }
            key_questions.insert(kq, result);
        }
        (locations, Vec::new())
    } else {
        let all: Vec<&ServiceEvidence> = evidence
            .locations
            .iter()
            .flat_map(|l| &l.services)
            .collect();
        let services = rate_services(&all, as_of, rules, None, decided);
        for kq in aggregated_trust_kqs() {
            let inputs = services
                .iter()
                .filter(|s| s.excluded_from_trust.is_none() && s.significantly_small.is_none())
                .filter_map(|s| {
                    Some(input(
                        Label::Service(s.service.clone()),
                        s.key_questions.get(&kq)?,
                    ))
                })
                .collect();
            let mut result = combine(rules, inputs);
            result.explanation.notes.push(Note::NoLocationLevel {
                trust_type: evidence.trust_type,
            });
            result
                .explanation
                .notes
                .extend(services.iter().filter_map(|s| {
                    Some(Note::ExcludedMerged(Box::new(ExcludedMerged {
                        location: None,
                        service: s.service.clone(),
                        why: s.excluded_from_trust.clone()?,
                    })))
                }));
            result
                .explanation
                .notes
                .extend(left_out_small(&services, kq, None));
            key_questions.insert(kq, result);
        }
        (Vec::new(), services)
    };
    key_questions.insert(
        KeyQuestion::WellLed,
        trust_well_led(&evidence.well_led, as_of, rules),
    );
    decided.key_questions(|| decided.trust(), &mut key_questions, &rules.version);
    Levels {
        key_questions,
        locations,
        services,
    }
}

fn aggregated_trust_kqs() -> impl Iterator<Item = KeyQuestion> {
    KeyQuestion::ALL
        .into_iter()
        .filter(|kq| *kq != KeyQuestion::WellLed)
}

fn location_label(l: &LocationQuality) -> Arc<LocationLabel> {
    Arc::new(LocationLabel {
        id: l.id.clone(),
        name: l.name.clone(),
    })
}

fn rate_location(
    loc: &LocationEvidence,
    as_of: NaiveDate,
    rules: &RuleSet,
    decided: &Decided,
) -> LocationQuality {
    let services = rate_services(&loc.services, as_of, rules, Some(&loc.id), decided);
    let mut key_questions = KeyQuestionMap::new();
    for kq in KeyQuestion::ALL {
        let mut inputs = Vec::with_capacity(services.len());
        for s in services.iter().filter(|s| s.significantly_small.is_none()) {
            if let Some(r) = s.key_questions.get(&kq) {
                inputs.push(input(Label::Service(s.service.clone()), r));
            }
        }
        let mut result = combine(rules, inputs.into());
        result
            .explanation
            .notes
            .extend(left_out_small(&services, kq, None));
        key_questions.insert(kq, result);
    }
    let location = || Some(Entity::Location(loc.id.clone()));
    decided.key_questions(location, &mut key_questions, &rules.version);
    let mut overall = overall_of(&key_questions, rules);
    decided.overall(location, &mut overall, &key_questions);
    LocationQuality {
        id: loc.id.clone(),
        name: loc.name.clone(),
        key_questions,
        overall,
        services,
    }
}

/// The notes of the services left out of an aggregate of `kq` as significantly small (§2.1):
/// those with a rating of `kq` to leave out. `location` names their location (at trust level).
fn left_out_small<'a>(
    services: &'a [ServiceQuality],
    kq: KeyQuestion,
    location: Option<&'a LocationId>,
) -> impl Iterator<Item = Note> + 'a {
    services
        .iter()
        .filter(move |s| s.key_questions.get(&kq).is_some())
        .filter_map(move |s| {
            let small = s.significantly_small.as_ref()?;
            Some(Note::LeftOutSignificantlySmall(Box::new(LeftOutSmall {
                location: location.cloned(),
                service: s.service.clone(),
                from: small.from,
                until: small.until,
                reason: small.reason.clone(),
            })))
        })
}

fn overall_of(kqs: &KeyQuestionMap<RatedResult>, rules: &RuleSet) -> RatedResult {
    let mut inputs = Vec::with_capacity(KeyQuestion::ALL.len());
    for (kq, r) in kqs {
        inputs.push(input(Label::KeyQuestion(*kq), r));
    }
    combine(rules, inputs.into())
}

/// A single-location acute trust: the location's well-led is the trust's, and its overall is the
/// trust overall (DOMAIN §2 levels 3 and 4).
fn single_location(
    loc: &mut LocationQuality,
    trust_kqs: &KeyQuestionMap<RatedResult>,
    trust_overall: &RatedResult,
) {
    if let Some(wl) = trust_kqs.get(&KeyQuestion::WellLed) {
        let mut wl = wl.clone();
        wl.explanation.notes.push(Note::SingleLocationWellLed);
        loc.key_questions.insert(KeyQuestion::WellLed, wl);
    }
    let mut overall = trust_overall.clone();
    overall.explanation.notes.push(Note::SingleLocationOverall);
    loc.overall = overall;
}

/// Rates services, merging superseded areas into their successor so none is counted twice.
/// Services come out in the order of the area they are counted as.
fn rate_services<S: Borrow<ServiceEvidence>>(
    services: &[S],
    as_of: NaiveDate,
    rules: &RuleSet,
    at: Option<&LocationId>,
    decided: &Decided,
) -> Vec<ServiceQuality> {
    let n = services.len();
    let services = |i: usize| services[i].borrow();
    // (area counted as, position): sorted, each group's members keep their input order.
    let mut order: Vec<(&ServiceId, usize)> = (0..n)
        .map(|i| (rules.successor(&services(i).service), i))
        .collect();
    order.sort_unstable();
    let mut rated = Vec::with_capacity(order.len());
    for group in order.chunk_by(|a, b| a.0 == b.0) {
        if let Some(((_, head), tail)) = group.split_first() {
            let tail = tail.iter().map(|(_, i)| services(*i));
            rated.push(rate_service_group(
                services(*head),
                tail,
                as_of,
                rules,
                at,
                decided,
            ));
        }
    }
    rated
}

/// One service, possibly made of a superseded area and its successor (or the same area listed
/// twice). Per key question the latest rating on or before `as_of` stands.
///
/// \[A\] Successor rule: ratings of a superseded area (`maternity`) are earlier ratings of its
/// successor (`npimaternity`): per key question the later report date wins, so a key question the
/// newer programme did not rate carries forward from the older area. On the same date the
/// successor area wins; on the same date and area, the lower rating (conservative and independent
/// of input order).
///
/// The service is counted as the newest area present (`npimaternity` if present, else
/// `maternity`).
fn rate_service_group<'a>(
    head: &'a ServiceEvidence,
    tail: impl Iterator<Item = &'a ServiceEvidence> + Clone,
    as_of: NaiveDate,
    rules: &RuleSet,
    at: Option<&LocationId>,
    decided: &Decided,
) -> ServiceQuality {
    let members = std::iter::once(head).chain(tail.clone());
    let several = tail.clone().next().is_some();
    // Replacements still ahead of an area: 0 for the newest area of its chain. Only needed to
    // choose between areas, so a service of one area (most) never looks it up.
    let steps = |id: &ServiceId| {
        if several {
            newest_area(&rules.superseded_areas, id).1
        } else {
            0
        }
    };
    let service: &ServiceId = members
        .clone()
        .map(|m| &m.service)
        .min_by_key(|id| (steps(id), *id))
        .unwrap_or(&head.service);
    let mut group_notes = Vec::new();
    if several {
        let mut areas: Vec<&ServiceId> = members.clone().map(|m| &m.service).collect();
        areas.sort();
        areas.dedup();
        if areas.len() > 1 || areas.first().is_some_and(|a| *a != service) {
            group_notes.push(Note::SupersededAreas {
                areas: areas
                    .into_iter()
                    .filter(|a| *a != service)
                    .cloned()
                    .collect(),
                counted_as: service.clone(),
            });
        }
    }
    // The latest rating of each key question on or before `as_of` (same date: the newer area,
    // then the lower rating), found in one pass; sorting, to list the earlier ones, only where
    // there are several.
    type Candidate<'r> = (&'r KqServiceRating, Reverse<usize>);
    let rank = |(r, newness): &Candidate| (r.report_date, *newness, tie_rank(r, rules));
    let mut latest: [Option<Candidate>; 5] = [None; 5];
    let mut several_ratings = [false; 5];
    for m in members.clone() {
        let newness = Reverse(steps(&m.service));
        for r in m.ratings.iter().filter(|r| r.report_date <= as_of) {
            let k = r.key_question as usize;
            let candidate = (r, newness);
            latest[k] = match latest[k] {
                // Ties go to the later one, as a stable sort would leave it last.
                Some(best) => {
                    several_ratings[k] = true;
                    Some(if rank(&candidate) >= rank(&best) {
                        candidate
                    } else {
                        best
                    })
                }
                None => Some(candidate),
            };
        }
    }
    let mut key_questions = KeyQuestionMap::new();
    for kq in KeyQuestion::ALL {
        let Some((chosen, _)) = latest[kq as usize] else {
            continue;
        };
        let label = Label::ServiceKeyQuestion {
            service: service.clone(),
            key_question: kq,
        };
        let mut result = rate_kq_service(chosen, label, rules);
        if several_ratings[kq as usize] {
            let mut all: Vec<Candidate> = members
                .clone()
                .flat_map(|m| {
                    let newness = Reverse(steps(&m.service));
                    m.ratings
                        .iter()
                        .filter(|r| r.key_question == kq && r.report_date <= as_of)
                        .map(move |r| (r, newness))
                })
                .collect();
            all.sort_by_key(rank);
            all.pop();
            let earlier = all
                .iter()
                .rev()
                .map(|(r, _)| (r.rating, r.report_date))
                .collect();
            result
                .explanation
                .notes
                .push(Note::EarlierRatingsNotUsed { earlier });
        }
        key_questions.insert(kq, result);
    }
    let entity = || decided.service(at, service);
    decided.key_questions(entity, &mut key_questions, &rules.version);
    let mut overall = overall_of(&key_questions, rules);
    decided.overall(entity, &mut overall, &key_questions);
    overall.explanation.notes.extend(group_notes);
    let significantly_small =
        SignificantlySmall::standing(members.clone().flat_map(|m| &m.significantly_small), as_of)
            .cloned();
    let excluded_from_trust = members
        .filter_map(|m| m.merged_from.as_ref())
        .find_map(|m| rules.merged_exclusion(m, as_of));
    ServiceQuality {
        service: service.clone(),
        key_questions,
        overall,
        excluded_from_trust,
        significantly_small,
    }
}

/// Among ratings of the same date and area, the lower rating wins (sorted last).
fn tie_rank(r: &KqServiceRating, rules: &RuleSet) -> u8 {
    match limited(r, rules).0 {
        Some(Rating::Inadequate) => 4,
        Some(Rating::RequiresImprovement) => 3,
        Some(Rating::Good) => 2,
        Some(Rating::Outstanding) => 1,
        None => 0,
    }
}

/// The rating (after scores and limiter) and percentage of one key question × service judgement.
fn limited(r: &KqServiceRating, rules: &RuleSet) -> (Option<Rating>, Option<SafPercent>) {
    let (base, percent) = base_rating(r.rating, &r.statement_scores, rules);
    apply_limiter(r.limiter.as_ref(), base, percent, rules)
}

/// A rating and percentage after a limiter: lowered to its cap (a scored percentage to the top
/// of the cap's band) if above it.
#[inline]
fn apply_limiter(
    limiter: Option<&Limiter>,
    base: Option<Rating>,
    percent: Option<SafPercent>,
    rules: &RuleSet,
) -> (Option<Rating>, Option<SafPercent>) {
    match (limiter, base) {
        (Some(l), Some(b)) if l.cap() < b => (
            Some(l.cap()),
            percent.map(|p| {
                rules
                    .saf_bands()
                    .map_or(p, |bands| p.min(bands.top_of(l.cap())))
            }),
        ),
        _ => (base, percent),
    }
}

/// A judgement, or under `saf-2023` the band of its quality-statement scores when it has any.
#[inline]
fn base_rating(
    rating: RatingValue,
    scores: &[QualityStatementScore],
    rules: &RuleSet,
) -> (Option<Rating>, Option<SafPercent>) {
    match (rules.saf_bands(), saf_percent(scores)) {
        (Some(bands), Some(p)) => (Some(bands.band(p)), Some(p)),
        _ => (rating.rating(), None),
    }
}

/// What a judgement rests on under the rule set: the quality-statement scores (`saf-2023`, when
/// there are any) or the judgement as recorded, with the notes that says so.
#[inline]
fn basis(
    rating: RatingValue,
    scores: &[QualityStatementScore],
    rules: &RuleSet,
    source: Assessment,
    notes: &mut Items<Note>,
) -> Basis {
    match (rules.saf_bands(), saf_percent(scores)) {
        (Some(bands), Some(percent)) => {
            let band = bands.band(percent);
            if rating.rating().is_some_and(|r| r != band) {
                notes.push(Note::JudgementReplacedByScore { recorded: rating });
            }
            Basis::Scored {
                statements: u32::try_from(scores.len()).unwrap_or(u32::MAX),
                sum: scores.iter().map(|s| u32::from(s.get())).sum(),
                band: bands.band_of(band),
            }
        }
        (scoring, _) => {
            if scoring.is_some() {
                notes.push(Note::NoStatementScores { source });
            } else if !scores.is_empty() {
                notes.push(Note::StatementScoresIgnored {
                    rule_set: rules.version.clone(),
                });
            }
            Basis::Recorded {
                source,
                value: rating,
            }
        }
    }
}

#[inline]
fn rate_kq_service(r: &KqServiceRating, label: Label, rules: &RuleSet) -> RatedResult {
    let mut notes = Items::new();
    let basis = basis(
        r.rating,
        &r.statement_scores,
        rules,
        Assessment::InspectionJudgement,
        &mut notes,
    );
    let (base, base_percent) = basis.rating();
    let (rating, percent) = apply_limiter(r.limiter.as_ref(), base, base_percent, rules);
    let mut applied = None;
    if let Some(l) = &r.limiter {
        match (base, rating) {
            (Some(b), Some(to)) if to < b => {
                applied = Some(Box::new(LimiterApplied {
                    limiter: l.clone(),
                    to,
                }));
            }
            (Some(b), _) => notes.push(Note::LimiterWithin {
                limiter: l.clone(),
                rating: b,
            }),
            (None, _) => notes.push(Note::LimiterOnNonRating { limiter: l.clone() }),
        }
    }
    RatedResult {
        rating,
        date: Some(r.report_date),
        percent,
        explanation: CqcExplanation {
            rule_set: rules.version.clone(),
            rule: Rule::Judged {
                basis,
                limiter: applied,
            },
            inputs: Items::one(Input {
                label,
                value: Some(r.rating),
                percent: None,
                date: Some(r.report_date),
            }),
            notes,
        },
    }
}

/// The latest trust-level well-led assessment on or before `as_of`; on the same date the lower
/// rating (\[A\], independent of input order).
fn latest_well_led(all: &[WellLedAssessment], as_of: NaiveDate) -> Option<&WellLedAssessment> {
    all.iter()
        .filter(|w| w.report_date <= as_of)
        .max_by_key(|w| {
            (
                w.report_date,
                Reverse(w.rating.rating().map_or(0, |r| r as u8 + 1)),
            )
        })
}

fn trust_well_led(all: &[WellLedAssessment], as_of: NaiveDate, rules: &RuleSet) -> RatedResult {
    let Some(wl) = latest_well_led(all, as_of) else {
        let mut e = CqcExplanation::new(rules.version.clone(), Rule::NoWellLedAssessment);
        e.notes.push(Note::WellLedNeverAggregated);
        return RatedResult {
            rating: None,
            date: None,
            percent: None,
            explanation: e,
        };
    };
    let mut notes = Items::one(Note::WellLedFromAssessment);
    let basis = basis(
        wl.rating,
        &wl.statement_scores,
        rules,
        Assessment::TrustWellLedAssessment,
        &mut notes,
    );
    let (rating, percent) = basis.rating();
    let count = all
        .iter()
        .filter(|w| w.report_date < wl.report_date)
        .count();
    if count > 0 {
        notes.push(Note::EarlierAssessmentsSuperseded { count });
    }
    RatedResult {
        rating,
        date: Some(wl.report_date),
        percent,
        explanation: CqcExplanation {
            rule_set: rules.version.clone(),
            rule: Rule::Judged {
                basis,
                limiter: None,
            },
            inputs: Items::one(Input {
                label: Label::TrustWellLedAssessment,
                value: Some(wl.rating),
                percent: None,
                date: Some(wl.report_date),
            }),
            notes,
        },
    }
}

/// The first report date of a service rating after `from` and on or before `to`.
fn next_report_date(evidence: &TrustEvidence, from: NaiveDate, to: NaiveDate) -> Option<NaiveDate> {
    evidence
        .locations
        .iter()
        .flat_map(|l| &l.services)
        .flat_map(|s| &s.ratings)
        .map(|r| r.report_date)
        .filter(|d| *d > from && *d <= to)
        .min()
}

/// How many service ratings are dated after `from` and on or before `to`.
fn later_report_dates(evidence: &TrustEvidence, from: NaiveDate, to: NaiveDate) -> usize {
    evidence
        .locations
        .iter()
        .flat_map(|l| &l.services)
        .flat_map(|s| &s.ratings)
        .filter(|r| r.report_date > from && r.report_date <= to)
        .count()
}
