//! cqc-quality's tables (see `migrations/`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqc_rules::{
    KqServiceRating, LocationEvidence, ServiceEvidence, TrustEvidence, TrustType, WellLedAssessment,
};
use oversight_rating::{KeyQuestion, RatingValue, TrustCode};
use sqlx::{AnyConnection, AnyPool, Row};

/// One KQ × service rating row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRatingRow {
    pub location_id: String,
    pub location_name: String,
    pub service_id: String,
    pub key_question: KeyQuestion,
    pub rating: RatingValue,
    pub report_date: NaiveDate,
    pub evidence_id: String,
}

pub async fn upsert_trust(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    name: &str,
    trust_type: TrustType,
) -> sqlx::Result<()> {
    // A blank name never overwrites a known one.
    sqlx::query(
        "INSERT INTO cqc_trusts (trust_code, trust_name, trust_type) VALUES ($1, $2, $3)
         ON CONFLICT (trust_code) DO UPDATE SET
            trust_name = CASE WHEN excluded.trust_name = '' THEN cqc_trusts.trust_name ELSE excluded.trust_name END,
            trust_type = excluded.trust_type",
    )
    .bind(trust.as_str())
    .bind(name)
    .bind(trust_type_str(trust_type))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn upsert_service_rating(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    r: &ServiceRatingRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_service_ratings (trust_code, location_id, location_name, service_id, key_question, rating, report_date, evidence_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (trust_code, location_id, service_id, key_question, report_date)
         DO UPDATE SET rating = excluded.rating, location_name = excluded.location_name, evidence_id = excluded.evidence_id",
    )
    .bind(trust.as_str())
    .bind(&r.location_id)
    .bind(&r.location_name)
    .bind(&r.service_id)
    .bind(r.key_question.camel())
    .bind(r.rating.cqc_str())
    .bind(r.report_date.to_string())
    .bind(&r.evidence_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn upsert_well_led(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    rating: RatingValue,
    date: NaiveDate,
    evidence_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_well_led_assessments (trust_code, report_date, rating, evidence_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (trust_code, report_date) DO UPDATE SET rating = excluded.rating, evidence_id = excluded.evidence_id",
    )
    .bind(trust.as_str())
    .bind(date.to_string())
    .bind(rating.cqc_str())
    .bind(evidence_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub fn trust_type_str(t: TrustType) -> &'static str {
    match t {
        TrustType::Acute => "acute",
        TrustType::SpecialistAcute => "specialist_acute",
        TrustType::MentalHealth => "mental_health",
        TrustType::Community => "community",
        TrustType::Ambulance => "ambulance",
    }
}

pub fn parse_trust_type(s: &str) -> Option<TrustType> {
    Some(match s {
        "acute" => TrustType::Acute,
        "specialist_acute" => TrustType::SpecialistAcute,
        "mental_health" => TrustType::MentalHealth,
        "community" => TrustType::Community,
        "ambulance" => TrustType::Ambulance,
        _ => return None,
    })
}

/// A trust's name and type, if known.
pub async fn trust(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<(String, TrustType)>> {
    let row = sqlx::query("SELECT trust_name, trust_type FROM cqc_trusts WHERE trust_code = $1")
        .bind(trust.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let name: String = r.try_get("trust_name")?;
        let t: String = r.try_get("trust_type")?;
        let tt = parse_trust_type(&t)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown trust type {t:?}").into()))?;
        Ok((name, tt))
    })
    .transpose()
}

fn decode<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> sqlx::Result<T> {
    r.map_err(|e| sqlx::Error::Decode(format!("stored {what} is invalid: {e}").into()))
}

/// Everything stored about a trust, as the rules' input.
pub async fn evidence(
    pool: &AnyPool,
    trust: &TrustCode,
    trust_type: TrustType,
) -> sqlx::Result<TrustEvidence> {
    let rows = sqlx::query(
        "SELECT location_id, location_name, service_id, key_question, rating, report_date
         FROM cqc_service_ratings WHERE trust_code = $1 ORDER BY location_id, service_id, key_question, report_date",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    // location → (name, service → ratings)
    let mut locations: BTreeMap<String, (String, BTreeMap<String, Vec<KqServiceRating>>)> =
        BTreeMap::new();
    for r in rows {
        let location_id: String = r.try_get("location_id")?;
        let location_name: String = r.try_get("location_name")?;
        let service_id: String = r.try_get("service_id")?;
        let kq: String = r.try_get("key_question")?;
        let rating: String = r.try_get("rating")?;
        let date: String = r.try_get("report_date")?;
        let entry = locations
            .entry(location_id)
            .or_insert_with(|| (String::new(), BTreeMap::new()));
        if !location_name.is_empty() {
            entry.0 = location_name;
        }
        entry
            .1
            .entry(service_id)
            .or_default()
            .push(KqServiceRating {
                key_question: decode(kq.parse(), "key question")?,
                rating: decode(rating.parse(), "rating")?,
                report_date: decode(NaiveDate::parse_from_str(&date, "%Y-%m-%d"), "date")?,
                limiter: None,
                statement_scores: vec![],
            });
    }
    let mut location_evidence = Vec::new();
    for (id, (name, services)) in locations {
        // Trusts without a location level store services under an empty location id; they still
        // need a location entry for the rules, named after the trust.
        let loc_id = if id.is_empty() {
            format!("{}HQ", trust.as_str())
        } else {
            id
        };
        let mut svc = Vec::new();
        for (service, ratings) in services {
            svc.push(ServiceEvidence {
                service: decode(service.parse(), "service id")?,
                ratings,
                merged_from: None,
            });
        }
        location_evidence.push(LocationEvidence {
            id: decode(loc_id.parse(), "location id")?,
            name: (!name.is_empty()).then_some(name),
            services: svc,
        });
    }
    let wl_rows = sqlx::query("SELECT report_date, rating FROM cqc_well_led_assessments WHERE trust_code = $1 ORDER BY report_date")
        .bind(trust.as_str())
        .fetch_all(pool)
        .await?;
    let mut well_led = Vec::new();
    for r in wl_rows {
        let date: String = r.try_get("report_date")?;
        let rating: String = r.try_get("rating")?;
        well_led.push(WellLedAssessment {
            rating: decode(rating.parse(), "rating")?,
            report_date: decode(NaiveDate::parse_from_str(&date, "%Y-%m-%d"), "date")?,
            statement_scores: vec![],
        });
    }
    Ok(TrustEvidence {
        trust: trust.clone(),
        trust_type,
        locations: location_evidence,
        well_led,
    })
}
