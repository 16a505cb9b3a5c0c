//! CQC's public API JSON (DOMAIN.md §6): location and provider objects as CQC serves them, in
//! lowerCamelCase, tolerating fields we do not use. Ratings and dates are kept as the strings CQC
//! sent so that a bad value can be reported with its field instead of failing the whole object;
//! [`parse_rating`], [`parse_date`] and [`location_to_evidence`] turn them into typed values.
//!
//! - [`records`]: the records of a `CQC_JSON` feed (ingestion).
//! - [`audit`]: the records `oversight rate` audits.

pub mod audit;
pub mod records;

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, LocationId, RatingValue, ServiceId};
use serde::{Deserialize, Serialize};

use cqc_rules::{KqServiceRating, LocationEvidence, RulesError, ServiceEvidence};

pub use records::{LocationRecord, ProviderRecord, PublishedLevel, PublishedRating};

/// A CQC location (`GET /locations/{locationId}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// `1-123456789`.
    pub location_id: String,
    /// The provider (for NHS trusts, the trust's ODS code).
    #[serde(default)]
    pub provider_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. "NHS Healthcare Organisation".
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The ODS site code, when CQC has one.
    #[serde(default)]
    pub ods_code: Option<String>,
    /// The NHS region CQC files the location under, e.g. "London".
    #[serde(default)]
    pub region: Option<String>,
    /// The current ratings.
    #[serde(default)]
    pub current_ratings: Option<CurrentRatings>,
}

/// A CQC provider (`GET /providers/{providerId}`); for an NHS trust, the trust.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    /// The provider id (for NHS trusts, the ODS code such as `RXX`).
    pub provider_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. "NHS Healthcare Organisation".
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The NHS region CQC files the provider under, e.g. "London".
    #[serde(default)]
    pub region: Option<String>,
    /// The current ratings.
    #[serde(default)]
    pub current_ratings: Option<CurrentRatings>,
}

/// `currentRatings`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentRatings {
    /// `currentRatings.overall`.
    #[serde(default)]
    pub overall: Option<OverallRating>,
    /// `currentRatings.serviceRatings` (locations).
    #[serde(default)]
    pub service_ratings: Vec<ServiceRating>,
    /// `currentRatings.reportDate`.
    #[serde(default)]
    pub report_date: Option<String>,
}

/// `currentRatings.overall`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverallRating {
    /// The overall rating string.
    #[serde(default)]
    pub rating: Option<String>,
    /// Its report date.
    #[serde(default)]
    pub report_date: Option<String>,
    /// The five key question ratings.
    #[serde(default)]
    pub key_question_ratings: Vec<KeyQuestionRating>,
    /// Providers with a use-of-resources assessment.
    #[serde(default)]
    pub use_of_resources: Option<UseOfResources>,
}

/// One entry of `keyQuestionRatings`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyQuestionRating {
    /// "Safe", "Effective", "Caring", "Responsive", "Well-led".
    pub name: String,
    /// The rating string.
    #[serde(default)]
    pub rating: Option<String>,
    /// Its report date.
    #[serde(default)]
    pub report_date: Option<String>,
}

/// One entry of `currentRatings.serviceRatings`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRating {
    /// A display name ("Urgent and emergency services") or an inspection-area id (`urgent`).
    pub name: String,
    /// The service overall rating string.
    #[serde(default)]
    pub rating: Option<String>,
    /// Its report date.
    #[serde(default)]
    pub report_date: Option<String>,
    /// The service's key question ratings.
    #[serde(default)]
    pub key_question_ratings: Vec<KeyQuestionRating>,
}

/// `currentRatings.overall.useOfResources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UseOfResources {
    /// The use-of-resources rating string.
    #[serde(default)]
    pub use_of_resources_rating: Option<String>,
    /// The combined quality and use-of-resources rating string.
    #[serde(default)]
    pub combined_quality_rating: Option<String>,
    /// Its report date.
    #[serde(default)]
    pub report_date: Option<String>,
}

/// The acute core services (DOMAIN.md §2) plus diagnostic imaging: inspection-area id and CQC's
/// display name.
pub const ACUTE_CORE_SERVICES: [(&str, &str); 9] = [
    ("urgent", "Urgent and emergency services"),
    ("care", "Medical care (including older people's care)"),
    ("surgery", "Surgery"),
    ("critical", "Critical care"),
    ("maternity", "Maternity"),
    ("childrens", "Services for children and young people"),
    ("life", "End of life care"),
    ("outpatients", "Outpatients"),
    ("diagnostic", "Diagnostic imaging"),
];

/// Other display names seen for the same areas (older reports).
const ALIASES: [(&str, &str); 7] = [
    ("urgent", "Urgent & emergency services"),
    ("care", "Medical care"),
    ("maternity", "Maternity and gynaecology"),
    ("childrens", "Children and young people"),
    ("childrens", "Children and young people's services"),
    ("outpatients", "Outpatients and diagnostic imaging"),
    ("life", "End of life"),
];

fn normalise(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The longest service name accepted, in characters: CQC's names (mental health core services
/// among the longest, about 80) fit many times over; the bound only keeps abusive input out.
pub const MAX_SERVICE_NAME_CHARS: usize = oversight_rating::MAX_SERVICE_ID_CHARS;

/// The inspection-area id for a service `name` as CQC's API gives it: a known display name maps
/// to its id (`Urgent and emergency services` → `urgent`), an id stays itself (`npimaternity`),
/// and any other name becomes a slug (`Community dental services` → `community-dental-services`,
/// `Emergency operations centre (EOC)` → `emergency-operations-centre-eoc`), whatever its real
/// length. A name longer than [`MAX_SERVICE_NAME_CHARS`] is refused naming `name` and its length.
pub fn service_id_for_name(name: &str) -> Result<ServiceId, RulesError> {
    let chars = name.trim().chars().count();
    if chars > MAX_SERVICE_NAME_CHARS {
        return Err(RulesError::InvalidValue {
            field: "name".into(),
            value: name.trim().chars().take(40).chain("…".chars()).collect(),
            reason: format!(
                "a service name is at most {MAX_SERVICE_NAME_CHARS} characters, this one has {chars}"
            ),
        });
    }
    let key = normalise(name);
    let known = ACUTE_CORE_SERVICES
        .iter()
        .chain(ALIASES.iter())
        .find(|(_, display)| normalise(display) == key)
        .map(|(id, _)| *id);
    let candidate = match known {
        Some(id) => id.to_string(),
        None => {
            let slug: String = name
                .trim()
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            slug.split('-')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        }
    };
    candidate
        .parse()
        .map_err(|e: oversight_rating::IdError| RulesError::InvalidValue {
            field: "name".into(),
            value: name.to_string(),
            reason: e.to_string(),
        })
}

/// CQC's display name of an acute core service or diagnostic imaging id.
pub fn display_name(service: &ServiceId) -> Option<&'static str> {
    ACUTE_CORE_SERVICES
        .iter()
        .find(|(id, _)| *id == service.as_str())
        .map(|(_, name)| *name)
}

/// A rating string at `field`: `Ok(None)` when absent or blank, an error naming `field` when it
/// is neither a CQC rating nor a CQC non-rating.
pub fn parse_rating(field: &str, value: Option<&str>) -> Result<Option<RatingValue>, RulesError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| RulesError::UnknownRating {
            field: field.to_string(),
            value: v.to_string(),
        }),
    }
}

/// An ISO 8601 date (a date-time is cut to its date) at `field`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, RulesError> {
    let v = value.trim();
    v.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| RulesError::InvalidValue {
            field: field.to_string(),
            value: v.to_string(),
            reason: "expected an ISO 8601 date such as 2019-06-05".into(),
        })
}

/// A key question `name` at `field`.
pub fn parse_key_question(field: &str, name: &str) -> Result<KeyQuestion, RulesError> {
    name.parse().map_err(|_| RulesError::InvalidValue {
        field: field.to_string(),
        value: name.to_string(),
        reason: "expected Safe, Effective, Caring, Responsive or Well-led".into(),
    })
}

/// A location object as rules evidence: each service rating becomes a [`ServiceEvidence`] with
/// its key question ratings. A key question's date is its own `reportDate`, else the service's,
/// else `currentRatings.reportDate`. Key questions without a rating are skipped; limiters and
/// merger flags are not in CQC's API and stay empty. Errors name the field.
pub fn location_to_evidence(location: &Location) -> Result<LocationEvidence, RulesError> {
    let id: LocationId = location
        .location_id
        .parse()
        .map_err(|e: oversight_rating::IdError| RulesError::InvalidValue {
            field: "locationId".into(),
            value: location.location_id.clone(),
            reason: e.to_string(),
        })?;
    let current = location.current_ratings.as_ref();
    let fallback_date = current.and_then(|c| c.report_date.as_deref());
    let mut services = Vec::new();
    for (i, s) in current
        .map_or(&[][..], |c| &c.service_ratings)
        .iter()
        .enumerate()
    {
        let at = format!("currentRatings.serviceRatings[{i}]");
        let service =
            service_id_for_name(&s.name).map_err(|e| rename_field(e, &format!("{at}.name")))?;
        let mut ratings = Vec::new();
        for (j, k) in s.key_question_ratings.iter().enumerate() {
            let kat = format!("{at}.keyQuestionRatings[{j}]");
            let key_question = parse_key_question(&format!("{kat}.name"), &k.name)?;
            let Some(rating) = parse_rating(&format!("{kat}.rating"), k.rating.as_deref())? else {
                continue;
            };
            let date_str = k
                .report_date
                .as_deref()
                .or(s.report_date.as_deref())
                .or(fallback_date)
                .ok_or_else(|| RulesError::MissingField {
                    field: format!("{kat}.reportDate"),
                })?;
            ratings.push(KqServiceRating {
                key_question,
                rating,
                report_date: parse_date(&format!("{kat}.reportDate"), date_str)?,
                limiter: None,
                statement_scores: Vec::new(),
            });
        }
        services.push(ServiceEvidence {
            service,
            ratings,
            merged_from: None,
            significantly_small: Vec::new(),
        });
    }
    Ok(LocationEvidence {
        id,
        name: location.name.clone(),
        services,
    })
}

fn rename_field(e: RulesError, field: &str) -> RulesError {
    match e {
        RulesError::InvalidValue { value, reason, .. } => RulesError::InvalidValue {
            field: field.to_string(),
            value,
            reason,
        },
        other => other,
    }
}
