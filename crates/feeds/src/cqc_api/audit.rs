//! The records `oversight rate` audits, read from CQC public API JSON (a location or provider
//! object, an array of them, or NDJSON): each object's published ratings, validated and typed
//! for [`cqc_rules::audit`]. A record holding an unknown rating string, an unknown key question or
//! a bad date is reported as an [`AuditError`] (file, record, id, field) and not audited; the
//! other records still are.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use cqc_rules::RulesError;
use cqc_rules::audit::{AuditLocation, AuditProvider, AuditService, Dated, KqDated};
use oversight_rating::{KeyQuestion, RatingValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    CurrentRatings, KeyQuestionRating, Location, Provider, parse_date, parse_key_question,
    parse_rating, service_id_for_name,
};

/// One object to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditRecord {
    /// A location and its services.
    Location(AuditLocation),
    /// A provider (trust).
    Provider(AuditProvider),
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

/// The records of one file and the errors met, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditInput {
    /// The records read whole.
    pub records: Vec<AuditRecord>,
    /// Input problems; the records they concern are left out of `records`.
    pub errors: Vec<AuditError>,
}

/// Reads one file's content: a JSON object, a JSON array of objects, or NDJSON.
pub fn read_audit_records(file_name: &str, content: &str) -> AuditInput {
    let mut out = AuditInput::default();
    for (record, value) in split_records(file_name, content, &mut out.errors) {
        let mut ctx = Ctx {
            file: file_name,
            record,
            id: None,
            errors: Vec::new(),
        };
        let read = audit_record(&value, &mut ctx);
        match read {
            Some(r) if ctx.errors.is_empty() => out.records.push(r),
            _ => out.errors.extend(ctx.errors),
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
                RulesError::UnknownRating { value, .. } => format!(
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

fn audit_record(value: &Value, ctx: &mut Ctx<'_>) -> Option<AuditRecord> {
    let Value::Object(map) = value else {
        ctx.error(None, "expected a JSON object".into());
        return None;
    };
    let id_of = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    if map.contains_key("locationId") {
        ctx.id = id_of("locationId");
        match serde_json::from_value::<Location>(value.clone()) {
            Ok(loc) => read_location(&loc, ctx).map(AuditRecord::Location),
            Err(e) => {
                ctx.error(None, format!("not a CQC location object: {e}"));
                None
            }
        }
    } else if map.contains_key("providerId") {
        ctx.id = id_of("providerId");
        match serde_json::from_value::<Provider>(value.clone()) {
            Ok(p) => read_provider(&p, ctx).map(AuditRecord::Provider),
            Err(e) => {
                ctx.error(None, format!("not a CQC provider object: {e}"));
                None
            }
        }
    } else {
        ctx.error(
            None,
            "neither locationId nor providerId: not a CQC location or provider object".into(),
        );
        None
    }
}

fn parse_kqs(
    at: &str,
    list: &[KeyQuestionRating],
    fallback_date: Option<&str>,
    ctx: &mut Ctx<'_>,
) -> KqDated {
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

fn read_location(loc: &Location, ctx: &mut Ctx<'_>) -> Option<AuditLocation> {
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
        services.push(AuditService {
            id,
            overall,
            key_questions: kqs,
        });
    }
    if !ctx.errors.is_empty() {
        return None;
    }
    Some(AuditLocation {
        id: loc.location_id.clone(),
        overall: loc_overall,
        key_questions: loc_kqs,
        services,
    })
}

fn read_provider(p: &Provider, ctx: &mut Ctx<'_>) -> Option<AuditProvider> {
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
    Some(AuditProvider {
        id: p.provider_id.clone(),
        overall,
        key_questions: kqs,
        use_of_resources: uor_rating,
        use_of_resources_date: uor_date,
        combined: combined_pub,
    })
}
