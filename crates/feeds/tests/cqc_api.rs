//! CQC public API JSON: service names both ways and the mapping to rules evidence.

// Tests may panic on broken fixtures; the workspace lints forbid it only in library code.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::NaiveDate;
use cqc_rules::{RuleSet, RulesError, TrustEvidence, TrustType, rate_trust};
use oversight_feeds::cqc_api::{
    ACUTE_CORE_SERVICES, Location, MAX_SERVICE_NAME_CHARS, Provider, display_name,
    location_to_evidence, service_id_for_name,
};
use oversight_rating::{KeyQuestion, Rating, RatingValue, ServiceId};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn service_names_map_both_ways() {
    // CQC's current names: see `every_cqc_core_service_name_is_accepted_whatever_its_length`.
    let cases = [
        // Ids pass through; older display names and other names map too.
        ("urgent", "urgent"),
        ("npimaternity", "npimaternity"),
        ("Maternity and gynaecology", "maternity"),
        ("Outpatients and diagnostic imaging", "outpatients"),
        ("Community dental services", "community-dental-services"),
    ];
    for (name, id) in cases {
        assert_eq!(
            service_id_for_name(name).map(String::from),
            Ok(id.to_string()),
            "{name}"
        );
    }
    for (id, name) in ACUTE_CORE_SERVICES {
        let sid: ServiceId = id.parse().unwrap();
        assert_eq!(display_name(&sid), Some(name));
        assert_eq!(service_id_for_name(name), Ok(sid));
    }
    assert!(
        matches!(service_id_for_name("  "), Err(RulesError::InvalidValue { field, .. }) if field == "name")
    );
}

/// CQC's published core services for NHS trusts, by kind of provider, as CQC names them, with
/// the inspection-area id each becomes (acute: CQC's API ids; the rest: the slug of the name).
/// Several are longer than 64 characters, which used to reject the whole location.
const CQC_CORE_SERVICES: &[(&str, &str)] = &[
    // Acute (and diagnostic imaging, sometimes rated separately).
    ("Urgent and emergency services", "urgent"),
    ("Medical care (including older people's care)", "care"),
    ("Surgery", "surgery"),
    ("Critical care", "critical"),
    ("Maternity", "maternity"),
    ("Services for children and young people", "childrens"),
    ("End of life care", "life"),
    ("Outpatients", "outpatients"),
    ("Diagnostic imaging", "diagnostic"),
    // Mental health.
    (
        "Acute wards for adults of working age and psychiatric intensive care units",
        "acute-wards-for-adults-of-working-age-and-psychiatric-intensive-care-units",
    ),
    (
        "Long stay or rehabilitation mental health wards for working age adults",
        "long-stay-or-rehabilitation-mental-health-wards-for-working-age-adults",
    ),
    (
        "Forensic inpatient or secure wards",
        "forensic-inpatient-or-secure-wards",
    ),
    (
        "Child and adolescent mental health wards",
        "child-and-adolescent-mental-health-wards",
    ),
    (
        "Wards for older people with mental health problems",
        "wards-for-older-people-with-mental-health-problems",
    ),
    (
        "Wards for people with a learning disability or autism",
        "wards-for-people-with-a-learning-disability-or-autism",
    ),
    (
        "Community-based mental health services for adults of working age",
        "community-based-mental-health-services-for-adults-of-working-age",
    ),
    (
        "Mental health crisis services and health-based places of safety",
        "mental-health-crisis-services-and-health-based-places-of-safety",
    ),
    (
        "Specialist community mental health services for children and young people",
        "specialist-community-mental-health-services-for-children-and-young-people",
    ),
    (
        "Community-based mental health services for older people",
        "community-based-mental-health-services-for-older-people",
    ),
    (
        "Community mental health services for people with a learning disability or autism",
        "community-mental-health-services-for-people-with-a-learning-disability-or-autism",
    ),
    // Community health.
    (
        "Community health services for adults",
        "community-health-services-for-adults",
    ),
    (
        "Community health services for children, young people and families",
        "community-health-services-for-children-young-people-and-families",
    ),
    (
        "Community health inpatient services",
        "community-health-inpatient-services",
    ),
    ("Community end of life care", "community-end-of-life-care"),
    (
        "Community urgent care service",
        "community-urgent-care-service",
    ),
    ("Community dental services", "community-dental-services"),
    // Ambulance.
    ("Emergency and urgent care", "emergency-and-urgent-care"),
    (
        "Emergency operations centre (EOC)",
        "emergency-operations-centre-eoc",
    ),
    ("Patient transport services", "patient-transport-services"),
    ("Resilience", "resilience"),
    ("NHS 111", "nhs-111"),
];

#[test]
fn every_cqc_core_service_name_is_accepted_whatever_its_length() {
    // The reason for the test: real names longer than the old 64-character limit.
    let longest = CQC_CORE_SERVICES
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap();
    assert!(longest > 64, "{longest}");
    for (name, id) in CQC_CORE_SERVICES {
        assert_eq!(
            service_id_for_name(name).map(String::from),
            Ok(id.to_string()),
            "{name}"
        );
        // The id is itself a valid id, and maps to itself.
        assert_eq!(
            service_id_for_name(id).map(String::from),
            Ok(id.to_string())
        );
    }
    // A location listing every one of them becomes evidence: nothing is rejected.
    let services: Vec<serde_json::Value> = CQC_CORE_SERVICES
        .iter()
        .map(|(name, _)| {
            serde_json::json!({
                "name": name,
                "rating": "Good",
                "reportDate": "2019-06-05",
                "keyQuestionRatings": [{"name": "Safe", "rating": "Good"}]
            })
        })
        .collect();
    let loc: Location = serde_json::from_value(serde_json::json!({
        "locationId": "1-1000000009",
        "currentRatings": {"serviceRatings": services}
    }))
    .unwrap();
    let ev = location_to_evidence(&loc).expect("every real name is accepted");
    let ids: Vec<&str> = ev.services.iter().map(|s| s.service.as_str()).collect();
    let want: Vec<&str> = CQC_CORE_SERVICES.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids, want);
}

#[test]
fn an_abusively_long_service_name_is_refused_with_its_length() {
    let ok = "x".repeat(MAX_SERVICE_NAME_CHARS);
    assert!(service_id_for_name(&ok).is_ok());
    let long = "Wards ".repeat(50); // 300 characters (299 trimmed)
    match service_id_for_name(&long) {
        Err(RulesError::InvalidValue {
            field,
            value,
            reason,
        }) => {
            assert_eq!(field, "name");
            assert_eq!(
                reason,
                "a service name is at most 256 characters, this one has 299"
            );
            // The value is not echoed back whole.
            assert!(value.chars().count() <= 41, "{value}");
        }
        other => panic!("{other:?}"),
    }
    // In a location, the error names the service's field.
    let loc: Location = serde_json::from_value(serde_json::json!({
        "locationId": "1-1000000009",
        "currentRatings": {"serviceRatings": [
            {"name": "Surgery", "reportDate": "2019-06-05", "keyQuestionRatings": []},
            {"name": long, "reportDate": "2019-06-05", "keyQuestionRatings": []}
        ]}
    }))
    .unwrap();
    assert!(matches!(
        location_to_evidence(&loc),
        Err(RulesError::InvalidValue { field, .. }) if field == "currentRatings.serviceRatings[1].name"
    ));
}

#[test]
fn tolerates_unknown_fields_and_reads_providers() {
    let loc: Location = serde_json::from_str(&fixture("location_six_services.json")).unwrap();
    assert_eq!(loc.location_id, "1-1000000001");
    assert_eq!(loc.provider_id.as_deref(), Some("RXX"));
    assert_eq!(loc.kind.as_deref(), Some("NHS Healthcare Organisation"));
    let p: Provider = serde_json::from_str(&fixture("provider_use_of_resources.json")).unwrap();
    let uor = p
        .current_ratings
        .and_then(|c| c.overall)
        .and_then(|o| o.use_of_resources)
        .unwrap();
    assert_eq!(
        uor.use_of_resources_rating.as_deref(),
        Some("Requires improvement")
    );
    assert_eq!(uor.combined_quality_rating.as_deref(), Some("Good"));
}

#[test]
fn location_object_becomes_evidence_and_rates() {
    let loc: Location = serde_json::from_str(&fixture("location_six_services.json")).unwrap();
    let ev = location_to_evidence(&loc).unwrap();
    assert_eq!(ev.id.as_str(), "1-1000000001");
    assert_eq!(ev.name.as_deref(), Some("Royal Example Hospital"));
    let ids: Vec<&str> = ev.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        ids,
        [
            "urgent",
            "care",
            "surgery",
            "critical",
            "maternity",
            "childrens"
        ]
    );
    let care_safe = &ev.services[1].ratings[0];
    assert_eq!(care_safe.key_question, KeyQuestion::Safe);
    assert_eq!(care_safe.rating, RatingValue::Rated(Rating::Good));
    assert_eq!(
        care_safe.report_date,
        NaiveDate::from_ymd_opt(2016, 3, 10).unwrap()
    );
    // Rated as a single-location acute trust, the location's computed key questions match
    // what CQC published (well-led here comes from the trust assessment, absent → none).
    let trust = TrustEvidence {
        trust: "RXX".parse().unwrap(),
        trust_type: TrustType::Acute,
        locations: vec![ev],
        well_led: vec![],
    };
    let q = rate_trust(
        &trust,
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        &RuleSet::cqc_2018(),
    );
    let got: Vec<Option<Rating>> = [
        KeyQuestion::Safe,
        KeyQuestion::Effective,
        KeyQuestion::Caring,
        KeyQuestion::Responsive,
    ]
    .iter()
    .map(|kq| q.locations[0].key_questions[kq].rating)
    .collect();
    assert_eq!(
        got,
        [
            Some(Rating::RequiresImprovement),
            Some(Rating::Good),
            Some(Rating::Outstanding),
            Some(Rating::Good)
        ]
    );
    // The surgery service computes Good where CQC published Outstanding (a judgement).
    assert_eq!(
        q.locations[0]
            .services
            .iter()
            .find(|s| s.service.as_str() == "surgery")
            .map(|s| s.overall.rating),
        Some(Some(Rating::Good))
    );
}

#[test]
fn mapping_errors_name_the_field() {
    let mut loc: Location = serde_json::from_str(&fixture("location_six_services.json")).unwrap();
    if let Some(c) = loc.current_ratings.as_mut() {
        c.service_ratings[3].key_question_ratings[1].rating = Some("Superb".into());
    }
    assert_eq!(
        location_to_evidence(&loc),
        Err(RulesError::UnknownRating {
            field: "currentRatings.serviceRatings[3].keyQuestionRatings[1].rating".into(),
            value: "Superb".into()
        })
    );
    loc.location_id = "RX".into();
    assert!(
        matches!(location_to_evidence(&loc), Err(RulesError::InvalidValue { field, .. }) if field == "locationId")
    );
}
