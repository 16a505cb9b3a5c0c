//! Rating a trust at every level of DOMAIN.md §2:
//! key question × service (limiters first) → service overall → location key questions →
//! location overall → trust key questions → trust overall.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{
    Explanation, KeyQuestion, LocationId, NonRating, Rating, RatingValue, ServiceId, TrustCode,
    aggregate,
};
use serde::{Deserialize, Serialize};

use crate::evidence::{
    KqServiceRating, LocationEvidence, ServiceEvidence, TrustEvidence, TrustType, WellLedAssessment,
};
use crate::rule_set::{RuleSet, SafBands, newest_area, saf_percent};
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
    pub explanation: Explanation,
}

/// A service's key questions and overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceQuality {
    /// The inspection area it is counted as (the newest successor of a superseded area).
    pub service: ServiceId,
    /// Key question × service, after limiters and carry-forward.
    pub key_questions: BTreeMap<KeyQuestion, RatedResult>,
    /// The aggregate of the five key questions.
    pub overall: RatedResult,
    /// Why this service is left out of trust-level aggregation, if it is (merger, §2.3).
    pub excluded_from_trust: Option<String>,
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
    pub key_questions: BTreeMap<KeyQuestion, RatedResult>,
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
        /// Why, in words.
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
    pub key_questions: BTreeMap<KeyQuestion, RatedResult>,
    /// The trust overall quality rating.
    pub overall: RatedResult,
    /// Whether `overall` was re-rated or the previous trust rating stands.
    pub overall_basis: OverallBasis,
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
    let mut levels = rate_levels(evidence, as_of, rules);
    let (overall, overall_basis) = match latest_well_led(&evidence.well_led, as_of) {
        None => {
            let reason = "no trust-level well-led assessment: the trust overall is only re-rated after one, so the previous trust rating stands".to_string();
            let mut e = Explanation::new(rules.name(), format!("{reason} → no rating"));
            e.notes.push(
                "well-led is never aggregated from services or locations (DOMAIN §2 level 5)"
                    .into(),
            );
            (
                RatedResult {
                    rating: None,
                    date: None,
                    percent: None,
                    explanation: e,
                },
                OverallBasis::PreviousStands { reason },
            )
        }
        Some(wl) => {
            let later = later_report_dates(evidence, wl.report_date, as_of);
            let mut overall = if later == 0 {
                overall_of(&levels.key_questions, rules)
            } else {
                let then = rate_levels(evidence, wl.report_date, rules);
                overall_of(&then.key_questions, rules)
            };
            overall.explanation.notes.push(format!(
                "re-rated on the trust-level well-led assessment of {}",
                wl.report_date
            ));
            if later > 0 {
                overall.explanation.notes.push(format!(
                    "{later} service rating(s) dated after {} are not reflected: the trust overall is only re-rated after a trust-level well-led assessment, so the rating of {} stands",
                    wl.report_date, wl.report_date
                ));
            }
            (
                overall,
                OverallBasis::Rerated {
                    well_led_date: wl.report_date,
                },
            )
        }
    };
    if let [only] = levels.locations.as_mut_slice() {
        single_location(only, &levels.key_questions, &overall);
    }
    TrustQuality {
        trust: evidence.trust.clone(),
        trust_type: evidence.trust_type,
        rule_set: rules.name().to_string(),
        as_of,
        key_questions: levels.key_questions,
        overall,
        overall_basis,
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
    rate_service_group(service, &[], as_of, rules)
}

/// Aggregates labelled results with the rule set: §2.1 counting, or the SAF score bands.
pub(crate) fn combine(rules: &RuleSet, parts: &[(String, &RatedResult)]) -> RatedResult {
    let values = parts.iter().map(|(_, r)| {
        r.rating.map_or(
            RatingValue::Unrated(NonRating::NotRated),
            RatingValue::Rated,
        )
    });
    let agg = aggregate(values, &rules.thresholds);
    let date = parts.iter().filter_map(|(_, r)| r.date).max();
    let inputs = parts
        .iter()
        .map(|(label, r)| input_line(label, r.rating, r.percent, r.date))
        .collect();
    let mut notes = Vec::new();
    let (rating, percent, rule) = match rules.saf_bands() {
        None => (agg.rating, None, agg.rule),
        Some(bands) => saf_combine(bands, parts, agg, &mut notes),
    };
    let dates: Vec<NaiveDate> = parts.iter().filter_map(|(_, r)| r.date).collect();
    if let (Some(min), Some(max)) = (dates.iter().min(), dates.iter().max())
        && min != max
    {
        notes.push(format!(
            "carry-forward: inputs dated {min} to {max}; each stands whatever its date, the aggregate is dated {max}"
        ));
    }
    RatedResult {
        rating,
        date,
        percent,
        explanation: Explanation {
            rule_set: rules.name().to_string(),
            rule,
            inputs,
            notes,
        },
    }
}

fn saf_combine(
    bands: &SafBands,
    parts: &[(String, &RatedResult)],
    agg: oversight_rating::Aggregate,
    notes: &mut Vec<String>,
) -> (Option<Rating>, Option<SafPercent>, String) {
    let rated: Vec<(Rating, Option<SafPercent>)> = parts
        .iter()
        .filter_map(|(_, r)| r.rating.map(|x| (x, r.percent)))
        .collect();
    if rated.is_empty() {
        return (None, None, agg.rule);
    }
    let Some(percents) = rated.iter().map(|(_, p)| *p).collect::<Option<Vec<_>>>() else {
        notes.push(
            "some ratings beneath have no SAF score (carried forward from an earlier rule set): the §2.1 counting rule decides"
                .into(),
        );
        return (agg.rating, None, agg.rule);
    };
    let n = percents.len();
    let Some(mean) = SafPercent::mean(&percents) else {
        return (agg.rating, None, agg.rule);
    };
    let band = bands.band(mean);
    let banded = format!(
        "mean score {mean}% of {n} → {band} (band {}%)",
        bands.describe(band)
    );
    match agg.rating.filter(|r| *r <= Rating::RequiresImprovement) {
        Some(limit) if limit < band => (
            Some(limit),
            Some(mean.min(bands.top_of(limit))),
            format!("{banded}; limited by §2.1: {}", agg.rule),
        ),
        _ => (Some(band), Some(mean), banded),
    }
}

fn input_line(
    label: &str,
    rating: Option<Rating>,
    percent: Option<SafPercent>,
    date: Option<NaiveDate>,
) -> String {
    let r = rating.map_or("no rating", Rating::cqc_str);
    let p = percent.map(|p| format!(", {p}%")).unwrap_or_default();
    match date {
        Some(d) => format!("{label}: {r}{p} ({d})"),
        None => format!("{label}: {r}{p}"),
    }
}

/// Everything below the trust overall, as of one date.
struct Levels {
    key_questions: BTreeMap<KeyQuestion, RatedResult>,
    locations: Vec<LocationQuality>,
    services: Vec<ServiceQuality>,
}

fn rate_levels(evidence: &TrustEvidence, as_of: NaiveDate, rules: &RuleSet) -> Levels {
    let mut key_questions = BTreeMap::new();
    let (locations, services) = if evidence.trust_type.has_location_level() {
        let locations: Vec<LocationQuality> = evidence
            .locations
            .iter()
            .map(|l| rate_location(l, as_of, rules))
            .collect();
        for kq in aggregated_trust_kqs() {
            let mut parts_owned = Vec::new();
            let mut notes = Vec::new();
            for (loc_ev, loc) in evidence.locations.iter().zip(&locations) {
                let excluded: Vec<&ServiceQuality> = loc
                    .services
                    .iter()
                    .filter(|s| s.excluded_from_trust.is_some())
                    .collect();
                let label = location_label(loc_ev);
                if excluded.is_empty() {
                    parts_owned.push((label, loc.key_questions.get(&kq).cloned()));
                    continue;
                }
                for s in &excluded {
                    if let Some(why) = &s.excluded_from_trust {
                        notes.push(format!("{label} {}: {why}", s.service));
                    }
                }
                let kept: Vec<(String, &RatedResult)> = loc
                    .services
                    .iter()
                    .filter(|s| s.excluded_from_trust.is_none())
                    .filter_map(|s| Some((s.service.to_string(), s.key_questions.get(&kq)?)))
                    .collect();
                if kept.is_empty() {
                    notes.push(format!(
                        "{label} left out: all its services are excluded from trust aggregation"
                    ));
                } else {
                    parts_owned.push((
                        format!("{label} without merged services"),
                        Some(combine(rules, &kept)),
                    ));
                }
            }
            let parts: Vec<(String, &RatedResult)> = parts_owned
                .iter()
                .filter_map(|(l, r)| Some((l.clone(), r.as_ref()?)))
                .collect();
            let mut result = combine(rules, &parts);
            result.explanation.notes.extend(notes);
            key_questions.insert(kq, result);
        }
        (locations, Vec::new())
    } else {
        let all: Vec<&ServiceEvidence> = evidence
            .locations
            .iter()
            .flat_map(|l| &l.services)
            .collect();
        let services = rate_services(&all, as_of, rules);
        for kq in aggregated_trust_kqs() {
            let parts: Vec<(String, &RatedResult)> = services
                .iter()
                .filter(|s| s.excluded_from_trust.is_none())
                .filter_map(|s| Some((s.service.to_string(), s.key_questions.get(&kq)?)))
                .collect();
            let mut result = combine(rules, &parts);
            result.explanation.notes.push(format!(
                "{:?} trust: no location level, services aggregated straight into the trust",
                evidence.trust_type
            ));
            result
                .explanation
                .notes
                .extend(services.iter().filter_map(|s| {
                    Some(format!(
                        "{}: {}",
                        s.service,
                        s.excluded_from_trust.as_ref()?
                    ))
                }));
            key_questions.insert(kq, result);
        }
        (Vec::new(), services)
    };
    key_questions.insert(
        KeyQuestion::WellLed,
        trust_well_led(&evidence.well_led, as_of, rules),
    );
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

fn location_label(l: &LocationEvidence) -> String {
    match &l.name {
        Some(n) => format!("{} {n}", l.id),
        None => l.id.to_string(),
    }
}

fn rate_location(loc: &LocationEvidence, as_of: NaiveDate, rules: &RuleSet) -> LocationQuality {
    let refs: Vec<&ServiceEvidence> = loc.services.iter().collect();
    let services = rate_services(&refs, as_of, rules);
    let key_questions: BTreeMap<KeyQuestion, RatedResult> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| {
            let parts: Vec<(String, &RatedResult)> = services
                .iter()
                .filter_map(|s| Some((s.service.to_string(), s.key_questions.get(&kq)?)))
                .collect();
            (kq, combine(rules, &parts))
        })
        .collect();
    let overall = overall_of(&key_questions, rules);
    LocationQuality {
        id: loc.id.clone(),
        name: loc.name.clone(),
        key_questions,
        overall,
        services,
    }
}

fn overall_of(kqs: &BTreeMap<KeyQuestion, RatedResult>, rules: &RuleSet) -> RatedResult {
    let parts: Vec<(String, &RatedResult)> = kqs
        .iter()
        .map(|(kq, r)| (kq.cqc_str().to_string(), r))
        .collect();
    combine(rules, &parts)
}

/// A single-location acute trust: the location's well-led is the trust's, and its overall is the
/// trust overall (DOMAIN §2 levels 3 and 4).
fn single_location(
    loc: &mut LocationQuality,
    trust_kqs: &BTreeMap<KeyQuestion, RatedResult>,
    trust_overall: &RatedResult,
) {
    if let Some(wl) = trust_kqs.get(&KeyQuestion::WellLed) {
        let mut wl = wl.clone();
        wl.explanation.notes.push(
            "single-location trust: the location well-led is the trust-level well-led, not an aggregate of services".into(),
        );
        loc.key_questions.insert(KeyQuestion::WellLed, wl);
    }
    let mut overall = trust_overall.clone();
    overall
        .explanation
        .notes
        .push("single-location trust: the location overall is the trust overall".into());
    loc.overall = overall;
}

/// Rates services, merging superseded areas into their successor so none is counted twice.
fn rate_services(
    services: &[&ServiceEvidence],
    as_of: NaiveDate,
    rules: &RuleSet,
) -> Vec<ServiceQuality> {
    let mut groups: BTreeMap<&ServiceId, Vec<&ServiceEvidence>> = BTreeMap::new();
    for s in services {
        groups
            .entry(rules.successor(&s.service))
            .or_default()
            .push(s);
    }
    groups
        .into_values()
        .filter_map(|members| {
            let (head, tail) = members.split_first()?;
            Some(rate_service_group(head, tail, as_of, rules))
        })
        .collect()
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
fn rate_service_group(
    head: &ServiceEvidence,
    tail: &[&ServiceEvidence],
    as_of: NaiveDate,
    rules: &RuleSet,
) -> ServiceQuality {
    let members: Vec<&ServiceEvidence> =
        std::iter::once(head).chain(tail.iter().copied()).collect();
    // Replacements still ahead of an area: 0 for the newest area of its chain.
    let steps = |id: &ServiceId| newest_area(&rules.superseded_areas, id).1;
    let service = members
        .iter()
        .map(|m| &m.service)
        .min_by_key(|id| (steps(id), *id))
        .unwrap_or(&head.service)
        .clone();
    let mut group_notes = Vec::new();
    let mut areas: Vec<&ServiceId> = members.iter().map(|m| &m.service).collect();
    areas.sort();
    areas.dedup();
    if areas.len() > 1 || areas.first().is_some_and(|a| **a != service) {
        let old: Vec<String> = areas
            .iter()
            .filter(|a| ***a != service)
            .map(ToString::to_string)
            .collect();
        group_notes.push(format!(
            "superseded area(s) {} counted as {service}: per key question the latest report stands, so the service is counted once",
            old.join(", ")
        ));
    }
    let mut key_questions = BTreeMap::new();
    for kq in KeyQuestion::ALL {
        let mut candidates: Vec<(&KqServiceRating, std::cmp::Reverse<usize>)> = members
            .iter()
            .flat_map(|m| {
                let newness = std::cmp::Reverse(steps(&m.service));
                m.ratings
                    .iter()
                    .filter(move |r| r.key_question == kq && r.report_date <= as_of)
                    .map(move |r| (r, newness))
            })
            .collect();
        candidates.sort_by_key(|(r, newness)| (r.report_date, *newness, tie_rank(r, rules)));
        let Some((chosen, _)) = candidates.pop() else {
            continue;
        };
        let label = format!("{service} {}", kq.cqc_str());
        let mut result = rate_kq_service(chosen, &label, rules);
        let older: Vec<String> = candidates
            .iter()
            .rev()
            .map(|(r, _)| format!("{} ({})", r.rating, r.report_date))
            .collect();
        if !older.is_empty() {
            result.explanation.notes.push(format!(
                "carry-forward: the latest rating stands; earlier ratings not used: {}",
                older.join(", ")
            ));
        }
        key_questions.insert(kq, result);
    }
    let mut overall = overall_of(&key_questions, rules);
    overall.explanation.notes.extend(group_notes);
    let excluded_from_trust = members
        .iter()
        .filter_map(|m| m.merged_from.as_ref())
        .filter_map(|m| rules.merged_exclusion(m, as_of))
        .next();
    ServiceQuality {
        service,
        key_questions,
        overall,
        excluded_from_trust,
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
    match (&r.limiter, base) {
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
fn base_rating(
    rating: RatingValue,
    scores: &[crate::rule_set::QualityStatementScore],
    rules: &RuleSet,
) -> (Option<Rating>, Option<SafPercent>) {
    match (rules.saf_bands(), saf_percent(scores)) {
        (Some(bands), Some(p)) => (Some(bands.band(p)), Some(p)),
        _ => (rating.rating(), None),
    }
}

fn scored_rule(
    rating: RatingValue,
    scores: &[crate::rule_set::QualityStatementScore],
    rules: &RuleSet,
    what: &str,
    notes: &mut Vec<String>,
) -> String {
    match (rules.saf_bands(), saf_percent(scores)) {
        (Some(bands), Some(p)) => {
            let band = bands.band(p);
            let sum: u32 = scores.iter().map(|s| u32::from(s.get())).sum();
            if rating.rating().is_some_and(|r| r != band) {
                notes.push(format!(
                    "recorded judgement {rating} replaced by the quality-statement score"
                ));
            }
            format!(
                "{} quality statements scored {sum} of {} = {p}% → {band} (band {}%)",
                scores.len(),
                scores.len() * 4,
                bands.describe(band)
            )
        }
        (scoring, _) => {
            if scoring.is_some() {
                notes.push(format!(
                    "no quality-statement scores: the {what} counts as recorded"
                ));
            } else if !scores.is_empty() {
                notes.push(format!(
                    "quality-statement scores ignored: {} rates by judgement",
                    rules.name()
                ));
            }
            match rating {
                RatingValue::Rated(r) => format!("{what}: {r}"),
                RatingValue::Unrated(n) => {
                    format!("{what}: {} (a non-rating) → no rating", n.cqc_str())
                }
            }
        }
    }
}

fn rate_kq_service(r: &KqServiceRating, label: &str, rules: &RuleSet) -> RatedResult {
    let mut notes = Vec::new();
    let mut rule = scored_rule(
        r.rating,
        &r.statement_scores,
        rules,
        "inspection judgement",
        &mut notes,
    );
    let (base, _) = base_rating(r.rating, &r.statement_scores, rules);
    let (rating, percent) = limited(r, rules);
    if let Some(l) = &r.limiter {
        match (base, rating) {
            (Some(b), Some(after)) if after < b => {
                rule = format!("{rule}; limiter applied: {} → {after}", l.describe());
            }
            (Some(b), _) => notes.push(format!(
                "limiter {}: the rating ({b}) is already within it",
                l.describe()
            )),
            (None, _) => notes.push(format!(
                "limiter {}: nothing to limit, a non-rating is not a rating",
                l.describe()
            )),
        }
    }
    RatedResult {
        rating,
        date: Some(r.report_date),
        percent,
        explanation: Explanation {
            rule_set: rules.name().to_string(),
            rule,
            inputs: vec![format!("{label}: {} ({})", r.rating, r.report_date)],
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
                std::cmp::Reverse(w.rating.rating().map_or(0, |r| r as u8 + 1)),
            )
        })
}

fn trust_well_led(all: &[WellLedAssessment], as_of: NaiveDate, rules: &RuleSet) -> RatedResult {
    let Some(wl) = latest_well_led(all, as_of) else {
        let mut e = Explanation::new(
            rules.name(),
            "no trust-level well-led assessment → no rating",
        );
        e.notes
            .push("well-led at trust level is never aggregated from locations or services".into());
        return RatedResult {
            rating: None,
            date: None,
            percent: None,
            explanation: e,
        };
    };
    let mut notes = vec!["well-led at trust level is never aggregated: it is the latest trust-level well-led assessment".to_string()];
    let rule = scored_rule(
        wl.rating,
        &wl.statement_scores,
        rules,
        "trust-level well-led assessment",
        &mut notes,
    );
    let (rating, percent) = base_rating(wl.rating, &wl.statement_scores, rules);
    let earlier = all
        .iter()
        .filter(|w| w.report_date < wl.report_date)
        .count();
    if earlier > 0 {
        notes.push(format!("{earlier} earlier assessment(s) superseded"));
    }
    RatedResult {
        rating,
        date: Some(wl.report_date),
        percent,
        explanation: Explanation {
            rule_set: rules.name().to_string(),
            rule,
            inputs: vec![format!(
                "trust well-led assessment: {} ({})",
                wl.rating, wl.report_date
            )],
            notes,
        },
    }
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
