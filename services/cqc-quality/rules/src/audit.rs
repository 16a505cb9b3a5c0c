//! The rules of the ratings auditor behind `oversight rate FILE... [--format table|json]`.
//!
//! Given the ratings one CQC public API object publishes (read and validated from CQC's JSON by
//! `oversight_feeds::cqc_api::audit`), it recomputes every rating derivable from the ratings
//! beneath it in the same object and compares with what the object publishes:
//! - each service's overall from its key questions (§2.1);
//! - each location key question from its services' ratings of that key question (superseded areas
//!   followed so no service counts twice), and the location overall from the published location
//!   key questions (from the computed ones when none are published);
//! - for a provider: the overall from its five key questions, and with a use-of-resources rating
//!   the combined rating (§3: UoR as a sixth rating, [`AuditRules::combined`]) — only where
//!   [`combined_rules::eligibility`], the combiner's own rule, gives one: a non-specialist acute
//!   trust, not before 5 March 2018, six real ratings.
//!
//! A location's well-led is derived from its services like the other key questions. For a
//! single-location trust CQC sets the location well-led from the trust-level well-led assessment,
//! so a well-led disagreement there is expected, not an error; the explanation says so.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use combined_rules::CombinedRuleSet;
use oversight_rating::{
    KeyQuestion, Rating, RatingValue, ServiceId, Thresholds, TrustType, aggregate,
};
use serde::{Deserialize, Serialize};

use crate::RuleSet;
use crate::rule_set::newest_area;
use crate::serde_cqc::opt_rating;

/// The parameters of the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRules {
    /// Name of the quality rule set, in explanations (`cqc-2018`).
    pub quality_rule_set: String,
    /// §2.1 thresholds for service, location and provider quality ratings.
    pub quality: Thresholds,
    /// The §3 combined rule set (`cqc-combined-2018`): thresholds over the five provider key
    /// questions + use of resources, and the first day of combined ratings.
    pub combined: CombinedRuleSet,
    /// The trust type of the providers audited, for the combined rating's eligibility.
    ///
    /// \[A\] CQC's API does not say a provider's trust type. Only non-specialist acute trusts
    /// had use-of-resources ratings (§3), so a provider is taken as `acute` unless the caller
    /// knows better (`oversight rate --trust-type`); the explanation says which type was used.
    pub provider_trust_type: TrustType,
    /// Superseded inspection areas (old → new), as in [`RuleSet::superseded_areas`].
    pub superseded_areas: BTreeMap<ServiceId, ServiceId>,
}

impl AuditRules {
    /// `cqc-2018` quality thresholds and the `cqc-combined-2018` rule set (inadequate at 2, any
    /// inadequate limits to requires improvement, requires improvement at 3 of 6, outstanding at
    /// 2 with the rest good; combined from 5 March 2018), providers taken as acute trusts.
    pub fn cqc_2018() -> Self {
        let quality = RuleSet::cqc_2018();
        AuditRules {
            quality_rule_set: quality.version.to_string(),
            quality: quality.thresholds,
            combined: CombinedRuleSet::cqc_combined_2018(),
            provider_trust_type: TrustType::Acute,
            superseded_areas: quality.superseded_areas,
        }
    }

    /// Replacements still ahead of an area, and its newest successor.
    fn newest<'a>(&'a self, service: &'a ServiceId) -> (&'a ServiceId, usize) {
        newest_area(&self.superseded_areas, service)
    }
}

impl Default for AuditRules {
    fn default() -> Self {
        AuditRules::cqc_2018()
    }
}

/// Which kind of entity a row rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// A service at a location.
    Service,
    /// A location.
    Location,
    /// A provider (trust).
    Provider,
}

/// The five key questions' ratings (`null` where not derivable or not published).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KqRatings {
    /// Safe.
    #[serde(with = "opt_rating")]
    pub safe: Option<Rating>,
    /// Effective.
    #[serde(with = "opt_rating")]
    pub effective: Option<Rating>,
    /// Caring.
    #[serde(with = "opt_rating")]
    pub caring: Option<Rating>,
    /// Responsive.
    #[serde(with = "opt_rating")]
    pub responsive: Option<Rating>,
    /// Well-led.
    #[serde(rename = "wellLed", with = "opt_rating")]
    pub well_led: Option<Rating>,
}

impl KqRatings {
    /// The rating of one key question.
    pub fn get(&self, kq: KeyQuestion) -> Option<Rating> {
        match kq {
            KeyQuestion::Safe => self.safe,
            KeyQuestion::Effective => self.effective,
            KeyQuestion::Caring => self.caring,
            KeyQuestion::Responsive => self.responsive,
            KeyQuestion::WellLed => self.well_led,
        }
    }

    fn set(&mut self, kq: KeyQuestion, r: Option<Rating>) {
        let slot = match kq {
            KeyQuestion::Safe => &mut self.safe,
            KeyQuestion::Effective => &mut self.effective,
            KeyQuestion::Caring => &mut self.caring,
            KeyQuestion::Responsive => &mut self.responsive,
            KeyQuestion::WellLed => &mut self.well_led,
        };
        *slot = r;
    }
}

/// One side of a row: computed or published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RatingSet {
    /// Overall rating.
    #[serde(with = "opt_rating")]
    pub overall: Option<Rating>,
    /// Key question ratings.
    #[serde(rename = "keyQuestions")]
    pub key_questions: KqRatings,
    /// Combined quality and use-of-resources rating (providers).
    #[serde(with = "opt_rating")]
    pub combined: Option<Rating>,
}

/// One audited entity. Serialises to the NDJSON line of `oversight rate --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// service, location or provider.
    pub kind: RowKind,
    /// The `locationId` (service and location rows) or `providerId`.
    pub id: String,
    /// The inspection area id (service rows only; `null` otherwise).
    pub service: Option<String>,
    /// What the rules derive from the ratings beneath.
    pub computed: RatingSet,
    /// What the object publishes.
    pub published: RatingSet,
    /// Every field present on both sides agrees.
    pub agrees: bool,
    /// The rule that fired for each computed field, its inputs, and any differences.
    pub explanation: Vec<String>,
}

/// A published rating with its report date (`None` when the object gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dated {
    pub value: RatingValue,
    pub date: Option<NaiveDate>,
}

impl Dated {
    fn line(&self, label: &str) -> String {
        match self.date {
            Some(d) => format!("{label}: {} ({d})", self.value),
            None => format!("{label}: {}", self.value),
        }
    }
}

fn real(d: Option<&Dated>) -> Option<Rating> {
    d.and_then(|d| d.value.rating())
}

fn kq_set(kqs: &BTreeMap<KeyQuestion, Dated>) -> KqRatings {
    let mut set = KqRatings::default();
    for kq in KeyQuestion::ALL {
        set.set(kq, real(kqs.get(&kq)));
    }
    set
}

/// The key question ratings an object publishes, by key question.
pub type KqDated = BTreeMap<KeyQuestion, Dated>;

/// A service of a location as the object publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditService {
    /// The inspection area.
    pub id: ServiceId,
    /// The published service overall.
    pub overall: Option<Dated>,
    /// The published key questions.
    pub key_questions: KqDated,
}

/// A location object's published ratings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLocation {
    /// The `locationId`.
    pub id: String,
    /// The published location overall.
    pub overall: Option<Dated>,
    /// The published location key questions.
    pub key_questions: KqDated,
    /// Its services, in the object's order.
    pub services: Vec<AuditService>,
}

/// A provider object's published ratings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditProvider {
    /// The `providerId`.
    pub id: String,
    /// The published overall.
    pub overall: Option<Dated>,
    /// The published key questions.
    pub key_questions: KqDated,
    /// The published use-of-resources rating.
    pub use_of_resources: Option<RatingValue>,
    /// Its report date.
    pub use_of_resources_date: Option<NaiveDate>,
    /// The published combined rating.
    pub combined: Option<RatingValue>,
}

/// Audits a location: one row per service (in the object's order), then the location's row.
pub fn audit_location(location: &AuditLocation, rules: &AuditRules) -> Vec<AuditRow> {
    let id = &location.id;
    let mut rows: Vec<AuditRow> = location
        .services
        .iter()
        .map(|s| service_row(id, s, rules))
        .collect();
    rows.push(location_row(
        id,
        &location.services,
        location.overall,
        &location.key_questions,
        rules,
    ));
    rows
}

fn service_row(location_id: &str, s: &AuditService, rules: &AuditRules) -> AuditRow {
    let mut explanation = Vec::new();
    let computed_overall = if s.key_questions.is_empty() {
        explanation.push("overall: no key question ratings published, cannot be derived".into());
        None
    } else {
        let agg = aggregate(s.key_questions.values().map(|d| d.value), &rules.quality);
        explanation.push(format!(
            "[{}] overall: {}",
            rules.quality_rule_set, agg.rule
        ));
        explanation.extend(
            s.key_questions
                .iter()
                .map(|(kq, d)| format!("input: {}", d.line(kq.cqc_str()))),
        );
        agg.rating
    };
    let computed = RatingSet {
        overall: computed_overall,
        ..RatingSet::default()
    };
    let published = RatingSet {
        overall: real(s.overall.as_ref()),
        key_questions: kq_set(&s.key_questions),
        combined: None,
    };
    finish_row(
        RowKind::Service,
        location_id,
        Some(s.id.to_string()),
        computed,
        published,
        explanation,
    )
}

fn location_row(
    location_id: &str,
    services: &[AuditService],
    overall: Option<Dated>,
    loc_kqs: &BTreeMap<KeyQuestion, Dated>,
    rules: &AuditRules,
) -> AuditRow {
    let mut explanation = Vec::new();
    let mut computed = RatingSet::default();
    // Superseded areas: one service per successor; per key question the latest report stands
    // (same date: the successor area, then the lower rating), as in `rate_trust`.
    let mut groups: BTreeMap<&ServiceId, Vec<&AuditService>> = BTreeMap::new();
    for s in services {
        groups.entry(rules.newest(&s.id).0).or_default().push(s);
    }
    for members in groups.values() {
        let mut areas: Vec<(usize, &ServiceId)> = members
            .iter()
            .map(|m| (rules.newest(&m.id).1, &m.id))
            .collect();
        areas.sort();
        areas.dedup();
        if let [(_, newest), older @ ..] = areas.as_slice()
            && !older.is_empty()
        {
            let older: Vec<&str> = older.iter().map(|(_, a)| a.as_str()).collect();
            explanation.push(format!(
                "superseded area(s) {} counted as {newest}: per key question the latest report stands",
                older.join(", ")
            ));
        }
    }
    for kq in KeyQuestion::ALL {
        let chosen: Vec<(&ServiceId, Dated)> = groups
            .values()
            .filter_map(|members| {
                members
                    .iter()
                    .filter_map(|m| Some((m.key_questions.get(&kq)?, &m.id)))
                    .max_by_key(|(d, id)| {
                        (
                            d.date,
                            std::cmp::Reverse(rules.newest(id).1),
                            std::cmp::Reverse(d.value.rating().map_or(0, |r| r as u8 + 1)),
                        )
                    })
                    .map(|(d, id)| (id, *d))
            })
            .collect();
        if chosen.is_empty() {
            explanation.push(format!(
                "{}: no service rates it, cannot be derived",
                kq.cqc_str()
            ));
            continue;
        }
        let agg = aggregate(chosen.iter().map(|(_, d)| d.value), &rules.quality);
        explanation.push(format!(
            "[{}] {}: {}",
            rules.quality_rule_set,
            kq.cqc_str(),
            agg.rule
        ));
        explanation.extend(
            chosen
                .iter()
                .map(|(s, d)| format!("input: {} ← {}", kq.cqc_str(), d.line(s.as_str()))),
        );
        computed.key_questions.set(kq, agg.rating);
    }
    let published = RatingSet {
        overall: real(overall.as_ref()),
        key_questions: kq_set(loc_kqs),
        combined: None,
    };
    let (basis, values): (&str, Vec<(KeyQuestion, Dated)>) = if loc_kqs.is_empty() {
        (
            "computed location key questions (none published)",
            KeyQuestion::ALL
                .into_iter()
                .filter_map(|kq| {
                    let value = RatingValue::Rated(computed.key_questions.get(kq)?);
                    Some((kq, Dated { value, date: None }))
                })
                .collect(),
        )
    } else {
        (
            "published location key questions",
            loc_kqs.iter().map(|(kq, d)| (*kq, *d)).collect(),
        )
    };
    if values.is_empty() {
        explanation.push("overall: no key question ratings, cannot be derived".into());
    } else {
        let agg = aggregate(values.iter().map(|(_, d)| d.value), &rules.quality);
        explanation.push(format!(
            "[{}] overall from the {basis}: {}",
            rules.quality_rule_set, agg.rule
        ));
        explanation.extend(
            values
                .iter()
                .map(|(kq, d)| format!("input: {}", d.line(kq.cqc_str()))),
        );
        computed.overall = agg.rating;
    }
    if let (Some(c), Some(p)) = (
        computed.key_questions.well_led,
        published.key_questions.well_led,
    ) && c != p
    {
        explanation.push(
            "note: for a single-location trust CQC sets the location well-led from the trust-level well-led assessment, not from its services; there this difference is expected".into(),
        );
    }
    finish_row(
        RowKind::Location,
        location_id,
        None,
        computed,
        published,
        explanation,
    )
}

/// Audits a provider: its overall and, with a use-of-resources rating, its combined rating.
pub fn audit_provider(p: &AuditProvider, rules: &AuditRules) -> AuditRow {
    let kqs = &p.key_questions;
    let mut explanation = vec![
        "key questions: a provider's key questions come from its locations, which are not in this object, so they are not recomputed".to_string(),
    ];
    let mut computed = RatingSet::default();
    if kqs.is_empty() {
        explanation.push("overall: no key question ratings published, cannot be derived".into());
    } else {
        let agg = aggregate(kqs.values().map(|d| d.value), &rules.quality);
        explanation.push(format!(
            "[{}] overall: {}",
            rules.quality_rule_set, agg.rule
        ));
        explanation.extend(
            kqs.iter()
                .map(|(kq, d)| format!("input: {}", d.line(kq.cqc_str()))),
        );
        computed.overall = agg.rating;
    }
    match p.use_of_resources {
        None => explanation.push("combined: no use-of-resources rating, not applicable".into()),
        Some(uor_value) => {
            let (lines, combined) = audit_combined(kqs, uor_value, p.use_of_resources_date, rules);
            explanation.extend(lines);
            computed.combined = combined;
        }
    }
    let published = RatingSet {
        overall: real(p.overall.as_ref()),
        key_questions: kq_set(kqs),
        combined: p.combined.and_then(RatingValue::rating),
    };
    finish_row(
        RowKind::Provider,
        &p.id,
        None,
        computed,
        published,
        explanation,
    )
}

/// The combined rating a provider's published parts give, with the explanation lines: the
/// combiner's eligibility rule ([`combined_rules::eligibility`]) decides whether there is one,
/// dated as the combiner dates it (by its latest part); then the §3 thresholds aggregate the six.
fn audit_combined(
    kqs: &BTreeMap<KeyQuestion, Dated>,
    uor: RatingValue,
    uor_date: Option<NaiveDate>,
    rules: &AuditRules,
) -> (Vec<String>, Option<Rating>) {
    let combined = &rules.combined;
    let trust_type = rules.provider_trust_type;
    let mut lines = Vec::new();
    if let RatingValue::Unrated(n) = uor {
        lines.push(format!(
            "note: use of resources is {:?}, not a rating",
            n.cqc_str()
        ));
    }
    let Some(as_of) = kqs.values().filter_map(|d| d.date).chain(uor_date).max() else {
        lines.push(format!(
            "[{}] combined: no report dates, so the shadow period (before {}) cannot be checked; not derived",
            combined.version, combined.combined_from
        ));
        return (lines, None);
    };
    let kq_ratings: Vec<(KeyQuestion, Option<Rating>)> =
        kqs.iter().map(|(kq, d)| (*kq, d.value.rating())).collect();
    let eligible =
        combined_rules::eligibility(trust_type, &kq_ratings, uor.rating(), as_of, combined);
    let about = format!(
        "[{}] combined ({} trust, as of {as_of}",
        combined.version,
        trust_type.describe()
    );
    if let Err(reasons) = eligible {
        let words: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        lines.push(format!(
            "{about}): no combined rating: {}",
            words.join("; ")
        ));
        return (lines, None);
    }
    let values = kqs.values().map(|d| d.value).chain(std::iter::once(uor));
    let agg = aggregate(values, &combined.thresholds);
    lines.push(format!(
        "{about}; five key questions + use of resources as a sixth rating): {}",
        agg.rule
    ));
    lines.push(format!("input: use of resources: {uor}"));
    (lines, agg.rating)
}

/// The fields compared: `(name, computed, published)`.
fn pairs(row_c: &RatingSet, row_p: &RatingSet) -> Vec<(String, Option<Rating>, Option<Rating>)> {
    let mut v = vec![("overall".to_string(), row_c.overall, row_p.overall)];
    v.extend(KeyQuestion::ALL.into_iter().map(|kq| {
        (
            kq.cqc_str().to_string(),
            row_c.key_questions.get(kq),
            row_p.key_questions.get(kq),
        )
    }));
    v.push(("combined".into(), row_c.combined, row_p.combined));
    v
}

fn finish_row(
    kind: RowKind,
    id: &str,
    service: Option<String>,
    computed: RatingSet,
    published: RatingSet,
    mut explanation: Vec<String>,
) -> AuditRow {
    let mut agrees = true;
    for (name, c, p) in pairs(&computed, &published) {
        if let (Some(c), Some(p)) = (c, p)
            && c != p
        {
            agrees = false;
            explanation.push(format!(
                "differs: {name} computed {c}, published {p} (a departure CQC should explain in the report)"
            ));
        }
    }
    AuditRow {
        kind,
        id: id.to_string(),
        service,
        computed,
        published,
        agrees,
        explanation,
    }
}
