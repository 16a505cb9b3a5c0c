//! CQC public API JSON (`FeedFormat::CQC_JSON`): location and provider objects, as one object, an
//! array of them, or NDJSON. Each object is one record. The JSON model and the location mapping
//! are `cqc_rules::cqc_api`'s.
//!
//! - A **location** (has `locationId`) → `QualityEvidence.service_ratings`: every key question
//!   rating of every service with its date (`location_to_evidence`).
//! - A **provider** (has `providerId`, no `locationId`) → for the trust:
//!   - the provider's `Well-led` key question rating → a `WellLedAssessment`: for an NHS trust
//!     CQC's provider-level well-led rating *is* the published result of the trust-level well-led
//!     assessment (DOMAIN.md §2 level 5), the only input the trust level takes;
//!   - the overall rating, the five key question ratings, the use-of-resources and the combined
//!     rating → `PublishedRating`s (`PublishedLevel` `TRUST_OVERALL`, `TRUST_KEY_QUESTION`,
//!     `USE_OF_RESOURCES`, `COMBINED`), kept for comparison, never used as input;
//!   - a real use-of-resources rating also → `ResourceEvidence.use_of_resources`: a published UoR
//!     rating has been approved by CQC, which is what a feed's UoR rating means.
//!
//! The trust: CQC's `providerId` and `locationId` are not ODS codes, so the trust comes from the
//! object's `odsCode` (a site code's first three characters, or a trust code). An object without
//! one is rejected naming `odsCode`. The trust type is not in CQC's API and travels unspecified.
//! The object's `region` (NHS region, e.g. "London"), when given, travels as the trust's region
//! (trimmed, at most 64 characters, else the record is rejected naming `region`).

use std::io::{BufReader, Read};

use cqc_rules::RulesError;
use cqc_rules::cqc_api::{
    Location, Provider, location_to_evidence, parse_date, parse_key_question, parse_rating,
};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::google_type::Date;
use oversight_rating::{KeyQuestion, SiteCode, TrustCode};
use serde_json::Value;

use super::ratings::{At, region};
use super::split::JsonValues;
use super::{Evidence, MAX_RECORD_BYTES, Parsed, ReadError, Rejection};

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
    type Item = Result<Parsed, ReadError>;

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
            Ok(bytes) => object_evidence(at, &bytes),
            Err(reason) => Err(at.reject("record", reason)),
        };
        Some(Ok(at.outcome(result)))
    }
}

/// One location or provider object as evidence.
pub(crate) fn object_evidence(at: At<'_>, bytes: &[u8]) -> Result<Vec<Evidence>, Rejection> {
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
        location_evidence(at, trust, &location)
    } else if object.contains_key("providerId") {
        let provider: Provider = serde_json::from_value(value)
            .map_err(|e| at.reject("record", format!("not a CQC provider: {e}")))?;
        let trust = trust_of(at, ods.as_ref())?;
        provider_evidence(at, trust, &provider)
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

fn location_evidence(
    at: At<'_>,
    trust: TrustCode,
    location: &Location,
) -> Result<Vec<Evidence>, Rejection> {
    let le = location_to_evidence(location).map_err(|e| rules_rejection(at, &e))?;
    let region = region(at, "region", location.region.as_deref())?;
    let location_id = le.id.to_string();
    let location_name = le.name.clone().unwrap_or_default();
    let service_ratings: Vec<ev::ServiceKeyQuestionRating> = le
        .services
        .iter()
        .flat_map(|s| {
            s.ratings.iter().map(|r| ev::ServiceKeyQuestionRating {
                location_id: location_id.clone(),
                location_name: location_name.clone(),
                service_id: s.service.to_string(),
                key_question: common::KeyQuestion::from(r.key_question) as i32,
                rating: common::Rating::from(r.rating) as i32,
                report_date: Some(convert::date(r.report_date)),
            })
        })
        .collect();
    if service_ratings.is_empty() {
        return Err(at.reject(
            "currentRatings.serviceRatings",
            "no key question ratings of any service to ingest",
        ));
    }
    Ok(vec![Evidence::Quality(ev::QualityEvidence {
        provenance: None,
        trust_code: trust.to_string(),
        trust_name: String::new(),
        trust_type: common::TrustType::Unspecified as i32,
        service_ratings,
        well_led: vec![],
        published: vec![],
        region,
    })])
}

fn dated(
    at: At<'_>,
    field: &str,
    own: Option<&str>,
    fallback: Option<&str>,
) -> Result<Date, Rejection> {
    let raw = own
        .or(fallback)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| at.reject(field, "missing: a rating needs its report date"))?;
    parse_date(field, raw)
        .map(convert::date)
        .map_err(|e| rules_rejection(at, &e))
}

fn provider_evidence(
    at: At<'_>,
    trust: TrustCode,
    provider: &Provider,
) -> Result<Vec<Evidence>, Rejection> {
    let region = region(at, "region", provider.region.as_deref())?;
    let current = provider.current_ratings.as_ref();
    let overall = current.and_then(|c| c.overall.as_ref());
    let fallback = overall
        .and_then(|o| o.report_date.as_deref())
        .or(current.and_then(|c| c.report_date.as_deref()));
    let mut published = Vec::new();
    let mut well_led = Vec::new();
    let mut resources = Vec::new();
    let rules = |e: RulesError| rules_rejection(at, &e);
    if let Some(o) = overall {
        let field = "currentRatings.overall.rating";
        if let Some(r) = parse_rating(field, o.rating.as_deref()).map_err(rules)? {
            published.push(ev::PublishedRating {
                level: ev::PublishedLevel::TrustOverall as i32,
                key_question: common::KeyQuestion::Unspecified as i32,
                rating: common::Rating::from(r) as i32,
                report_date: Some(dated(
                    at,
                    "currentRatings.overall.reportDate",
                    o.report_date.as_deref(),
                    fallback,
                )?),
            });
        }
        for (j, k) in o.key_question_ratings.iter().enumerate() {
            let kat = format!("currentRatings.overall.keyQuestionRatings[{j}]");
            let kq = parse_key_question(&format!("{kat}.name"), &k.name).map_err(rules)?;
            let Some(r) =
                parse_rating(&format!("{kat}.rating"), k.rating.as_deref()).map_err(rules)?
            else {
                continue;
            };
            let date = Some(dated(
                at,
                &format!("{kat}.reportDate"),
                k.report_date.as_deref(),
                fallback,
            )?);
            let rating = common::Rating::from(r) as i32;
            if kq == KeyQuestion::WellLed {
                well_led.push(ev::WellLedAssessment {
                    rating,
                    report_date: date,
                });
            }
            published.push(ev::PublishedRating {
                level: ev::PublishedLevel::TrustKeyQuestion as i32,
                key_question: common::KeyQuestion::from(kq) as i32,
                rating,
                report_date: date,
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
                let date = Some(dated(
                    at,
                    &format!("{uat}.reportDate"),
                    u.report_date.as_deref(),
                    fallback,
                )?);
                if let Some(r) = uor {
                    published.push(ev::PublishedRating {
                        level: ev::PublishedLevel::UseOfResources as i32,
                        key_question: common::KeyQuestion::Unspecified as i32,
                        rating: common::Rating::from(r) as i32,
                        report_date: date,
                    });
                    if r.rating().is_some() {
                        resources.push(Evidence::Resource(ev::ResourceEvidence {
                            provenance: None,
                            trust_code: trust.to_string(),
                            trust_type: common::TrustType::Unspecified as i32,
                            body: Some(ev::resource_evidence::Body::UseOfResources(
                                ev::UseOfResourcesEvidence {
                                    rating: common::Rating::from(r) as i32,
                                    report_date: date,
                                },
                            )),
                        }));
                    }
                }
                if let Some(r) = combined {
                    published.push(ev::PublishedRating {
                        level: ev::PublishedLevel::Combined as i32,
                        key_question: common::KeyQuestion::Unspecified as i32,
                        rating: common::Rating::from(r) as i32,
                        report_date: date,
                    });
                }
            }
        }
    }
    if published.is_empty() {
        return Err(at.reject("currentRatings.overall", "no ratings to ingest"));
    }
    let mut out = vec![Evidence::Quality(ev::QualityEvidence {
        provenance: None,
        trust_code: trust.to_string(),
        trust_name: provider.name.clone().unwrap_or_default(),
        trust_type: common::TrustType::Unspecified as i32,
        service_ratings: vec![],
        well_led,
        published,
        region,
    })];
    out.extend(resources);
    Ok(out)
}
