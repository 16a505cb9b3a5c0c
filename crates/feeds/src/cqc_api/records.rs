//! The records of a CQC public API JSON feed (`Format::CqcJson`): location and provider objects,
//! as one object, an array of them, or NDJSON. Each object is one record.
//!
//! - A **location** (has `locationId`) → a [`LocationRecord`]: every key question rating of every
//!   service with its date ([`location_to_evidence`]); one without any is rejected.
//! - A **provider** (has `providerId`, no `locationId`) → a [`ProviderRecord`]: the overall
//!   rating, the five key question ratings, the use-of-resources and the combined rating as
//!   [`PublishedRating`]s (each dated by its own `reportDate`, else the overall's, else
//!   `currentRatings.reportDate`); one without any is rejected.
//!
//! The trust: CQC's `providerId` and `locationId` are not ODS codes, so the trust comes from the
//! object's `odsCode` (a site code's first three characters, or a trust code). An object without
//! one is rejected naming `odsCode`. The trust type is not in CQC's API. The object's `region`
//! (NHS region, e.g. "London"), when given, is the trust's region (trimmed, at most 64
//! characters, else the record is rejected naming `region`).

use std::io::{BufReader, Read};

use chrono::NaiveDate;
use cqc_rules::{LocationEvidence, RulesError};
use oversight_rating::{KeyQuestion, RatingValue, SiteCode, TrustCode};
use serde_json::Value;

use super::{
    Location, Provider, location_to_evidence, parse_date, parse_key_question, parse_rating,
};
use crate::ratings::region;
use crate::split::JsonValues;
use crate::{At, FeedRecord, MAX_RECORD_BYTES, Outcome, ReadError, Rejection};

/// A location object: its trust, region and services' key question ratings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRecord {
    pub trust: TrustCode,
    /// Trimmed; empty when not given.
    pub region: String,
    /// At least one service with at least one key question rating.
    pub location: LocationEvidence,
}

/// Which published rating of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishedLevel {
    /// `currentRatings.overall.rating`.
    TrustOverall,
    /// One of `currentRatings.overall.keyQuestionRatings`.
    TrustKeyQuestion(KeyQuestion),
    /// `currentRatings.overall.useOfResources.useOfResourcesRating`.
    UseOfResources,
    /// `currentRatings.overall.useOfResources.combinedQualityRating`.
    Combined,
}

/// A rating a provider object publishes, with its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedRating {
    pub level: PublishedLevel,
    pub rating: RatingValue,
    pub report_date: NaiveDate,
}

/// A provider object: its trust, name, region and published ratings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    pub trust: TrustCode,
    /// Empty when not given.
    pub name: String,
    /// Trimmed; empty when not given.
    pub region: String,
    /// In the object's order: overall, key questions, use of resources, combined; never empty.
    pub published: Vec<PublishedRating>,
}

/// The records of a CQC JSON file.
pub struct CqcRecords<R: Read> {
    file: String,
    values: JsonValues<BufReader<R>>,
    number: u64,
}

impl<R: Read> CqcRecords<R> {
    pub fn new(file: &str, reader: R) -> Self {
        CqcRecords {
            file: file.to_string(),
            values: JsonValues::new(
                BufReader::with_capacity(64 * 1024, reader),
                MAX_RECORD_BYTES,
            ),
            number: 0,
        }
    }
}

impl<R: Read> Iterator for CqcRecords<R> {
    type Item = Result<Outcome, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let value = match self.values.next()? {
            Ok(v) => v,
            Err(e) => {
                return Some(Err(ReadError {
                    file_name: self.file.clone(),
                    line: 0,
                    reason: e.to_string(),
                }));
            }
        };
        self.number += 1;
        let at = At {
            file: &self.file,
            record: self.number,
            line: value.line,
        };
        let result = match value.bytes {
            Ok(bytes) => object_record(at, &bytes),
            Err(reason) => Err(at.reject("record", reason)),
        };
        Some(Ok(at.outcome(result)))
    }
}

/// One location or provider object as a record.
fn object_record(at: At<'_>, bytes: &[u8]) -> Result<FeedRecord, Rejection> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| at.reject("record", format!("malformed JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(at.reject("record", "expected a CQC location or provider object"));
    };
    let ods = object.get("odsCode").cloned();
    if object.contains_key("locationId") {
        let location: Location = serde_json::from_value(value)
            .map_err(|e| at.reject("record", format!("not a CQC location: {e}")))?;
        let trust = trust_of(at, ods.as_ref())?;
        location_record(at, trust, &location).map(FeedRecord::CqcLocation)
    } else if object.contains_key("providerId") {
        let provider: Provider = serde_json::from_value(value)
            .map_err(|e| at.reject("record", format!("not a CQC provider: {e}")))?;
        let trust = trust_of(at, ods.as_ref())?;
        provider_record(at, trust, &provider).map(FeedRecord::CqcProvider)
    } else {
        Err(at.reject(
            "locationId",
            "neither a location (locationId) nor a provider (providerId)",
        ))
    }
}

fn trust_of(at: At<'_>, ods: Option<&Value>) -> Result<TrustCode, Rejection> {
    let missing = || {
        at.reject(
            "odsCode",
            "missing: CQC's providerId and locationId are not ODS codes, so the trust is taken from odsCode",
        )
    };
    let raw = match ods {
        None | Some(Value::Null) => return Err(missing()),
        Some(Value::String(s)) if s.trim().is_empty() => return Err(missing()),
        Some(Value::String(s)) => s.trim(),
        Some(other) => {
            return Err(at.reject("odsCode", format!("expected a string, found {other}")));
        }
    };
    if raw.len() == 5 {
        return raw
            .parse::<SiteCode>()
            .map(|s| s.trust())
            .map_err(|e| at.reject("odsCode", e.to_string()));
    }
    raw.parse::<TrustCode>().map_err(|_| {
        at.reject(
            "odsCode",
            format!("{raw:?} is neither an ODS site code (RXX01) nor a trust code (RXX)"),
        )
    })
}

/// A rules error as a rejection naming its field.
fn rules_rejection(at: At<'_>, e: &RulesError) -> Rejection {
    let field = match e {
        RulesError::UnknownRating { field, .. }
        | RulesError::InvalidValue { field, .. }
        | RulesError::MissingField { field } => field.clone(),
        _ => "record".to_string(),
    };
    let text = e.to_string();
    let reason = text
        .strip_prefix(&format!("{field}: "))
        .unwrap_or(&text)
        .to_string();
    at.reject(&field, reason)
}

fn location_record(
    at: At<'_>,
    trust: TrustCode,
    location: &Location,
) -> Result<LocationRecord, Rejection> {
    let evidence = location_to_evidence(location).map_err(|e| rules_rejection(at, &e))?;
    let region = region(at, "region", location.region.as_deref())?;
    if evidence.services.iter().all(|s| s.ratings.is_empty()) {
        return Err(at.reject(
            "currentRatings.serviceRatings",
            "no key question ratings of any service to ingest",
        ));
    }
    Ok(LocationRecord {
        trust,
        region,
        location: evidence,
    })
}

fn dated(
    at: At<'_>,
    field: &str,
    own: Option<&str>,
    fallback: Option<&str>,
) -> Result<NaiveDate, Rejection> {
    let raw = own
        .or(fallback)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| at.reject(field, "missing: a rating needs its report date"))?;
    parse_date(field, raw).map_err(|e| rules_rejection(at, &e))
}

fn provider_record(
    at: At<'_>,
    trust: TrustCode,
    provider: &Provider,
) -> Result<ProviderRecord, Rejection> {
    let region = region(at, "region", provider.region.as_deref())?;
    let current = provider.current_ratings.as_ref();
    let overall = current.and_then(|c| c.overall.as_ref());
    let fallback = overall
        .and_then(|o| o.report_date.as_deref())
        .or(current.and_then(|c| c.report_date.as_deref()));
    let mut published = Vec::new();
    let rules = |e: RulesError| rules_rejection(at, &e);
    if let Some(o) = overall {
        let field = "currentRatings.overall.rating";
        if let Some(rating) = parse_rating(field, o.rating.as_deref()).map_err(rules)? {
            published.push(PublishedRating {
                level: PublishedLevel::TrustOverall,
                rating,
                report_date: dated(
                    at,
                    "currentRatings.overall.reportDate",
                    o.report_date.as_deref(),
                    fallback,
                )?,
            });
        }
        for (j, k) in o.key_question_ratings.iter().enumerate() {
            let kat = format!("currentRatings.overall.keyQuestionRatings[{j}]");
            let kq = parse_key_question(&format!("{kat}.name"), &k.name).map_err(rules)?;
            let Some(rating) =
                parse_rating(&format!("{kat}.rating"), k.rating.as_deref()).map_err(rules)?
            else {
                continue;
            };
            let report_date = dated(
                at,
                &format!("{kat}.reportDate"),
                k.report_date.as_deref(),
                fallback,
            )?;
            published.push(PublishedRating {
                level: PublishedLevel::TrustKeyQuestion(kq),
                rating,
                report_date,
            });
        }
        if let Some(u) = &o.use_of_resources {
            let uat = "currentRatings.overall.useOfResources";
            let uor = parse_rating(
                &format!("{uat}.useOfResourcesRating"),
                u.use_of_resources_rating.as_deref(),
            )
            .map_err(rules)?;
            let combined = parse_rating(
                &format!("{uat}.combinedQualityRating"),
                u.combined_quality_rating.as_deref(),
            )
            .map_err(rules)?;
            if uor.is_some() || combined.is_some() {
                let report_date = dated(
                    at,
                    &format!("{uat}.reportDate"),
                    u.report_date.as_deref(),
                    fallback,
                )?;
                let levels = [
                    (PublishedLevel::UseOfResources, uor),
                    (PublishedLevel::Combined, combined),
                ];
                for (level, rating) in levels {
                    if let Some(rating) = rating {
                        published.push(PublishedRating {
                            level,
                            rating,
                            report_date,
                        });
                    }
                }
            }
        }
    }
    if published.is_empty() {
        return Err(at.reject("currentRatings.overall", "no ratings to ingest"));
    }
    Ok(ProviderRecord {
        trust,
        name: provider.name.clone().unwrap_or_default(),
        region,
        published,
    })
}
