//! The ratings auditor behind `oversight rate FILE... [--format table|json]`.
//!
//! Given CQC public API JSON (a location or provider object, an array of them, or NDJSON), it
//! recomputes every rating derivable from the ratings beneath it in the same object and compares
//! with what the object publishes:
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
//!
//! A record holding an unknown rating string, an unknown key question or a bad date is reported as
//! an [`AuditError`] (file, record, id, field) and not audited; the other records still are.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use combined_rules::CombinedRuleSet;
use oversight_rating::{
    KeyQuestion, Rating, RatingValue, ServiceId, Thresholds, TrustType, aggregate,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RuleSet;
use crate::cqc_api::{
    CurrentRatings, KeyQuestionRating, Location, Provider, parse_date, parse_key_question,
    parse_rating, service_id_for_name,
};
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

/// Where a record was in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordRef {
    /// Index in a JSON array (0-based).
    Index(usize),
    /// Line of an NDJSON file (1-based).
    Line(usize),
}

/// A problem with the input: the file, and where known the record, its id and the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditError {
    /// The file name as given.
    pub file: String,
    /// The record, when the file holds several.
    pub record: Option<RecordRef>,
    /// The record's `locationId` or `providerId`, when readable.
    pub id: Option<String>,
    /// The offending field, e.g. `currentRatings.serviceRatings[2].keyQuestionRatings[0].rating`.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match self.record {
            Some(RecordRef::Index(i)) => write!(f, ": record {i}")?,
            Some(RecordRef::Line(l)) => write!(f, ": line {l}")?,
            None => {}
        }
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The rows audited and the errors met, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditOutput {
    /// One row per service, location and provider audited.
    pub rows: Vec<AuditRow>,
    /// Input problems; the records they concern are not audited.
    pub errors: Vec<AuditError>,
}

impl AuditOutput {
    /// Appends another file's output (the CLI audits several files).
    pub fn extend(&mut self, other: AuditOutput) {
        self.rows.extend(other.rows);
        self.errors.extend(other.errors);
    }
}

/// Whether the CLI should exit 0: every record could be read and audited (no errors).
/// Disagreements are findings, not failures — CQC may depart from the rules by judgement — so they
/// do not fail the run; see [`all_agree`] to make them fail.
pub fn exit_ok(output: &AuditOutput) -> bool {
    output.errors.is_empty()
}

/// Whether every row agrees.
pub fn all_agree(output: &AuditOutput) -> bool {
    output.rows.iter().all(|r| r.agrees)
}

/// Audits one file's content with [`AuditRules::cqc_2018`].
pub fn audit_document(file_name: &str, content: &str) -> AuditOutput {
    audit_document_with(file_name, content, &AuditRules::cqc_2018())
}

/// Audits one file's content: a JSON object, a JSON array of objects, or NDJSON.
pub fn audit_document_with(file_name: &str, content: &str, rules: &AuditRules) -> AuditOutput {
    let mut out = AuditOutput::default();
    for (record, value) in split_records(file_name, content, &mut out.errors) {
        let mut ctx = Ctx {
            file: file_name,
            record,
            id: None,
            errors: Vec::new(),
        };
        let rows = audit_record(&value, &mut ctx, rules);
        if ctx.errors.is_empty() {
            out.rows.extend(rows);
        } else {
            out.errors.extend(ctx.errors);
        }
    }
    out
}

fn file_error(file: &str, record: Option<RecordRef>, message: String) -> AuditError {
    AuditError {
        file: file.to_string(),
        record,
        id: None,
        field: None,
        message,
    }
}

/// A single object, an array, or NDJSON (chosen when the whole does not parse but at least one
/// line is a JSON object on its own).
fn split_records(
    file: &str,
    content: &str,
    errors: &mut Vec<AuditError>,
) -> Vec<(Option<RecordRef>, Value)> {
    if content.trim().is_empty() {
        errors.push(file_error(file, None, "empty file: no JSON records".into()));
        return Vec::new();
    }
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Some(RecordRef::Index(i)), v))
            .collect(),
        Ok(v @ Value::Object(_)) => vec![(None, v)],
        Ok(_) => {
            errors.push(file_error(
                file,
                None,
                "expected a JSON object, an array of objects, or NDJSON".into(),
            ));
            Vec::new()
        }
        Err(whole) => {
            let lines: Vec<(usize, &str)> = content
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.trim()))
                .filter(|(_, l)| !l.is_empty())
                .collect();
            let is_ndjson = lines.len() > 1
                && lines
                    .iter()
                    .any(|(_, l)| matches!(serde_json::from_str::<Value>(l), Ok(Value::Object(_))));
            if !is_ndjson {
                errors.push(file_error(file, None, format!("malformed JSON: {whole}")));
                return Vec::new();
            }
            let mut records = Vec::new();
            for (n, line) in lines {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => records.push((Some(RecordRef::Line(n)), v)),
                    Err(e) => errors.push(file_error(
                        file,
                        Some(RecordRef::Line(n)),
                        format!("malformed JSON: {e}"),
                    )),
                }
            }
            records
        }
    }
}

/// Errors of one record, with where it is.
struct Ctx<'a> {
    file: &'a str,
    record: Option<RecordRef>,
    id: Option<String>,
    errors: Vec<AuditError>,
}

impl Ctx<'_> {
    fn error(&mut self, field: Option<String>, message: String) {
        self.errors.push(AuditError {
            file: self.file.to_string(),
            record: self.record,
            id: self.id.clone(),
            field,
            message,
        });
    }

    fn rating(&mut self, field: &str, value: Option<&str>) -> Option<RatingValue> {
        parse_rating(field, value).unwrap_or_else(|e| {
            let message = match &e {
                crate::RulesError::UnknownRating { value, .. } => format!(
                    "unknown rating {value:?} (expected Outstanding, Good, Requires improvement, Inadequate or a CQC non-rating)"
                ),
                other => other.to_string(),
            };
            self.error(Some(field.to_string()), message);
            None
        })
    }

    fn date(&mut self, field: &str, value: Option<&str>) -> Option<NaiveDate> {
        let v = value?;
        parse_date(field, v)
            .map_err(|e| self.error(Some(field.to_string()), e.to_string()))
            .ok()
    }
}

fn audit_record(value: &Value, ctx: &mut Ctx<'_>, rules: &AuditRules) -> Vec<AuditRow> {
    let Value::Object(map) = value else {
        ctx.error(None, "expected a JSON object".into());
        return Vec::new();
    };
    let id_of = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    if map.contains_key("locationId") {
        ctx.id = id_of("locationId");
        match serde_json::from_value::<Location>(value.clone()) {
            Ok(loc) => audit_location(&loc, ctx, rules),
            Err(e) => {
                ctx.error(None, format!("not a CQC location object: {e}"));
                Vec::new()
            }
        }
    } else if map.contains_key("providerId") {
        ctx.id = id_of("providerId");
        match serde_json::from_value::<Provider>(value.clone()) {
            Ok(p) => audit_provider(&p, ctx, rules).into_iter().collect(),
            Err(e) => {
                ctx.error(None, format!("not a CQC provider object: {e}"));
                Vec::new()
            }
        }
    } else {
        ctx.error(
            None,
            "neither locationId nor providerId: not a CQC location or provider object".into(),
        );
        Vec::new()
    }
}

/// A published rating with its date.
#[derive(Debug, Clone, Copy)]
struct Dated {
    value: RatingValue,
    date: Option<NaiveDate>,
}

impl Dated {
    fn line(&self, label: &str) -> String {
        match self.date {
            Some(d) => format!("{label}: {} ({d})", self.value),
            None => format!("{label}: {}", self.value),
        }
    }
}

fn parse_kqs(
    at: &str,
    list: &[KeyQuestionRating],
    fallback_date: Option<&str>,
    ctx: &mut Ctx<'_>,
) -> BTreeMap<KeyQuestion, Dated> {
    let mut out = BTreeMap::new();
    for (j, k) in list.iter().enumerate() {
        let field = format!("{at}.keyQuestionRatings[{j}]");
        let Ok(kq) = parse_key_question(&format!("{field}.name"), &k.name) else {
            ctx.error(
                Some(format!("{field}.name")),
                format!("unknown key question {:?}", k.name),
            );
            continue;
        };
        let value = ctx.rating(&format!("{field}.rating"), k.rating.as_deref());
        let date = ctx.date(
            &format!("{field}.reportDate"),
            k.report_date.as_deref().or(fallback_date),
        );
        if let Some(value) = value {
            out.insert(kq, Dated { value, date });
        }
    }
    out
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

/// `currentRatings.overall`: the published overall and key questions (dates default to
/// `currentRatings.reportDate`).
fn published_overall(
    current: &CurrentRatings,
    ctx: &mut Ctx<'_>,
) -> (Option<Dated>, BTreeMap<KeyQuestion, Dated>) {
    let Some(o) = current.overall.as_ref() else {
        return (None, BTreeMap::new());
    };
    let date_str = o.report_date.as_deref().or(current.report_date.as_deref());
    let overall = ctx
        .rating("currentRatings.overall.rating", o.rating.as_deref())
        .map(|value| Dated { value, date: None });
    let date = ctx.date("currentRatings.overall.reportDate", date_str);
    let overall = overall.map(|d| Dated { date, ..d });
    let kqs = parse_kqs(
        "currentRatings.overall",
        &o.key_question_ratings,
        date_str,
        ctx,
    );
    (overall, kqs)
}

struct ParsedService {
    id: ServiceId,
    overall: Option<Dated>,
    kqs: BTreeMap<KeyQuestion, Dated>,
}

fn audit_location(loc: &Location, ctx: &mut Ctx<'_>, rules: &AuditRules) -> Vec<AuditRow> {
    let empty = CurrentRatings::default();
    let current = loc.current_ratings.as_ref().unwrap_or(&empty);
    let top_date = current.report_date.as_deref();
    let (loc_overall, loc_kqs) = published_overall(current, ctx);
    let mut services = Vec::new();
    for (i, s) in current.service_ratings.iter().enumerate() {
        let at = format!("currentRatings.serviceRatings[{i}]");
        let id = match service_id_for_name(&s.name) {
            Ok(id) => id,
            Err(e) => {
                ctx.error(Some(format!("{at}.name")), e.to_string());
                continue;
            }
        };
        let date_str = s.report_date.as_deref().or(top_date);
        let overall = ctx
            .rating(&format!("{at}.rating"), s.rating.as_deref())
            .map(|value| Dated { value, date: None });
        let date = ctx.date(&format!("{at}.reportDate"), date_str);
        let overall = overall.map(|o| Dated { date, ..o });
        let kqs = parse_kqs(&at, &s.key_question_ratings, date_str, ctx);
        services.push(ParsedService { id, overall, kqs });
    }
    if !ctx.errors.is_empty() {
        return Vec::new();
    }
    let id = loc.location_id.clone();
    let mut rows: Vec<AuditRow> = services
        .iter()
        .map(|s| service_row(&id, s, rules))
        .collect();
    rows.push(location_row(&id, &services, loc_overall, &loc_kqs, rules));
    rows
}

fn service_row(location_id: &str, s: &ParsedService, rules: &AuditRules) -> AuditRow {
    let mut explanation = Vec::new();
    let computed_overall = if s.kqs.is_empty() {
        explanation.push("overall: no key question ratings published, cannot be derived".into());
        None
    } else {
        let agg = aggregate(s.kqs.values().map(|d| d.value), &rules.quality);
        explanation.push(format!(
            "[{}] overall: {}",
            rules.quality_rule_set, agg.rule
        ));
        explanation.extend(
            s.kqs
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
        key_questions: kq_set(&s.kqs),
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
    services: &[ParsedService],
    overall: Option<Dated>,
    loc_kqs: &BTreeMap<KeyQuestion, Dated>,
    rules: &AuditRules,
) -> AuditRow {
    let mut explanation = Vec::new();
    let mut computed = RatingSet::default();
    // Superseded areas: one service per successor; per key question the latest report stands
    // (same date: the successor area, then the lower rating), as in `rate_trust`.
    let mut groups: BTreeMap<&ServiceId, Vec<&ParsedService>> = BTreeMap::new();
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
                    .filter_map(|m| Some((m.kqs.get(&kq)?, &m.id)))
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

fn audit_provider(p: &Provider, ctx: &mut Ctx<'_>, rules: &AuditRules) -> Option<AuditRow> {
    let empty = CurrentRatings::default();
    let current = p.current_ratings.as_ref().unwrap_or(&empty);
    let (overall, kqs) = published_overall(current, ctx);
    let uor = current
        .overall
        .as_ref()
        .and_then(|o| o.use_of_resources.as_ref());
    let uor_field = "currentRatings.overall.useOfResources";
    let uor_rating = uor.and_then(|u| {
        ctx.rating(
            &format!("{uor_field}.useOfResourcesRating"),
            u.use_of_resources_rating.as_deref(),
        )
    });
    let combined_pub = uor.and_then(|u| {
        ctx.rating(
            &format!("{uor_field}.combinedQualityRating"),
            u.combined_quality_rating.as_deref(),
        )
    });
    let uor_date =
        uor.and_then(|u| ctx.date(&format!("{uor_field}.reportDate"), u.report_date.as_deref()));
    if !ctx.errors.is_empty() {
        return None;
    }
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
    match uor_rating {
        None => explanation.push("combined: no use-of-resources rating, not applicable".into()),
        Some(uor_value) => {
            let (lines, combined) = audit_combined(&kqs, uor_value, uor_date, rules);
            explanation.extend(lines);
            computed.combined = combined;
        }
    }
    let published = RatingSet {
        overall: real(overall.as_ref()),
        key_questions: kq_set(&kqs),
        combined: combined_pub.and_then(RatingValue::rating),
    };
    Some(finish_row(
        RowKind::Provider,
        &p.provider_id,
        None,
        computed,
        published,
        explanation,
    ))
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

/// Agreement counts by category, for the table summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Service overall (agreeing, compared).
    pub service_overall: (usize, usize),
    /// Location key questions.
    pub location_key_questions: (usize, usize),
    /// Location overall.
    pub location_overall: (usize, usize),
    /// Provider overall.
    pub provider_overall: (usize, usize),
    /// Provider combined.
    pub provider_combined: (usize, usize),
    /// Input errors.
    pub errors: usize,
}

fn tally(slot: &mut (usize, usize), c: Option<Rating>, p: Option<Rating>) {
    if let (Some(c), Some(p)) = (c, p) {
        slot.1 += 1;
        if c == p {
            slot.0 += 1;
        }
    }
}

/// Counts agreements by category (only fields present on both sides are compared).
pub fn summarise(output: &AuditOutput) -> AuditSummary {
    let mut s = AuditSummary {
        errors: output.errors.len(),
        ..AuditSummary::default()
    };
    for r in &output.rows {
        let (c, p) = (&r.computed, &r.published);
        match r.kind {
            RowKind::Service => tally(&mut s.service_overall, c.overall, p.overall),
            RowKind::Location => {
                tally(&mut s.location_overall, c.overall, p.overall);
                for kq in KeyQuestion::ALL {
                    tally(
                        &mut s.location_key_questions,
                        c.key_questions.get(kq),
                        p.key_questions.get(kq),
                    );
                }
            }
            RowKind::Provider => {
                tally(&mut s.provider_overall, c.overall, p.overall);
                tally(&mut s.provider_combined, c.combined, p.combined);
            }
        }
    }
    s
}

impl fmt::Display for AuditSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("service overall", self.service_overall),
            ("location key questions", self.location_key_questions),
            ("location overall", self.location_overall),
            ("provider overall", self.provider_overall),
            ("provider combined", self.provider_combined),
        ];
        let text: Vec<String> = parts
            .iter()
            .map(|(name, (agree, of))| format!("{name} {agree}/{of} agree"))
            .collect();
        write!(f, "{}", text.join(", "))?;
        match self.errors {
            0 => Ok(()),
            1 => write!(f, "; 1 error"),
            n => write!(f, "; {n} errors"),
        }
    }
}

/// NDJSON: one [`AuditRow`] per line (errors are not included; print them with
/// [`render_errors`]).
pub fn render_json_lines(output: &AuditOutput) -> String {
    let mut s = String::new();
    for row in &output.rows {
        match serde_json::to_string(row) {
            Ok(line) => s.push_str(&line),
            // Not reachable for these plain types; keep the line count honest if it ever is.
            Err(e) => s.push_str(&serde_json::json!({ "error": e.to_string() }).to_string()),
        }
        s.push('\n');
    }
    s
}

/// One line per error: `file: line 3 (1-123): field: message`.
pub fn render_errors(output: &AuditOutput) -> String {
    output
        .errors
        .iter()
        .map(|e| format!("error: {e}\n"))
        .collect()
}

fn cell(c: Option<Rating>, p: Option<Rating>) -> String {
    let s = |r: Option<Rating>| r.map_or("-", Rating::short);
    match (c, p) {
        (None, None) => "-".into(),
        (Some(c), Some(p)) if c != p => format!("{}/{} ≠", c.short(), p.short()),
        _ => format!("{}/{}", s(c), s(p)),
    }
}

/// An aligned table (cells are computed/published, `≠` marks a difference), the summary line,
/// and the errors.
pub fn render_table(output: &AuditOutput) -> String {
    let mut table: Vec<Vec<String>> = vec![
        [
            "KIND",
            "ID",
            "SERVICE",
            "OVERALL",
            "SAFE",
            "EFFECTIVE",
            "CARING",
            "RESPONSIVE",
            "WELL-LED",
            "COMBINED",
            "AGREES",
        ]
        .iter()
        .map(ToString::to_string)
        .collect(),
    ];
    for r in &output.rows {
        let kind = match r.kind {
            RowKind::Service => "service",
            RowKind::Location => "location",
            RowKind::Provider => "provider",
        };
        let mut line = vec![
            kind.to_string(),
            r.id.clone(),
            r.service.clone().unwrap_or_else(|| "-".into()),
            cell(r.computed.overall, r.published.overall),
        ];
        line.extend(KeyQuestion::ALL.into_iter().map(|kq| {
            cell(
                r.computed.key_questions.get(kq),
                r.published.key_questions.get(kq),
            )
        }));
        line.push(cell(r.computed.combined, r.published.combined));
        line.push(if r.agrees { "yes" } else { "NO" }.to_string());
        table.push(line);
    }
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .iter()
                .filter_map(|row| row.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
    }
    s.push('\n');
    s.push_str(&summarise(output).to_string());
    s.push('\n');
    s.push_str(&render_errors(output));
    s
}
