#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use oversight_proto::common::v1 as common;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::evidence::v1::metric_observation::Feed;
use oversight_proto::google_type::Date;

use super::*;

const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n";

fn fields(p: &ParsedFile) -> Vec<(u64, &str)> {
    p.rejected
        .iter()
        .map(|r| (r.record_number, r.field.as_str()))
        .collect()
}

fn metric(e: &Evidence) -> (&str, &ev::MetricObservation) {
    match e {
        Evidence::Resource(ev::ResourceEvidence {
            trust_code,
            body: Some(ev::resource_evidence::Body::Metric(m)),
            ..
        }) => (trust_code.as_str(), m),
        other => panic!("not a metric observation: {other:?}"),
    }
}

/// A wire date from an ISO date.
fn d(iso: &str) -> Option<Date> {
    let date = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").unwrap();
    Some(oversight_proto::convert::date(date))
}

#[test]
fn ratings_csv_good_and_bad_records() {
    let csv = format!(
        "{HEADER}service_rating,RXX,Example,acute,RXX01,General,urgent,safe,Requires improvement,2017-06-01\n\
         service_rating,RX,Example,acute,RXX01,General,urgent,safe,Good,2017-06-01\n\
         well_led,RXX,Example,acute,,,,,Good,2017-07-01\n\
         service_rating,RXX,Example,acute,RXX01,General,urgent,kindness,Good,2017-06-01\n\
         use_of_resources,RXX,Example,acute,,,,,Excellent,2017-07-01\n\
         use_of_resources,RXX,Example,acute,,,,,Good,2017-13-01\n\
         use_of_resources,RXX,Example,acute,,,,,Good,2017-11-01\n\
         use_of_resources,RXX,Example\n"
    );
    let p = parse(Format::Csv, "feed.csv", csv.as_bytes());
    assert_eq!(p.accepted.len(), 3);
    assert_eq!(
        fields(&p),
        vec![
            (2, "trust_code"),
            (4, "key_question"),
            (5, "rating"),
            (6, "report_date"),
            (8, "record"),
        ]
    );
    assert_eq!(
        p.rejected[0].to_string(),
        "feed.csv line 3 (record 2): trust_code: invalid trust code \"RX\": an ODS trust code is 3 letters or digits starting with a letter, e.g. RXX"
    );
    assert_eq!(p.rejected[4].line, 9);
}

/// CQC's mental health, community and ambulance core services include names over 64
/// characters; each is accepted by its name or its id, in either door.
const LONG_CQC_SERVICE_NAMES: [(&str, &str); 4] = [
    (
        "Community mental health services for people with a learning disability or autism",
        "community-mental-health-services-for-people-with-a-learning-disability-or-autism",
    ),
    (
        "Acute wards for adults of working age and psychiatric intensive care units",
        "acute-wards-for-adults-of-working-age-and-psychiatric-intensive-care-units",
    ),
    (
        "Long stay or rehabilitation mental health wards for working age adults",
        "long-stay-or-rehabilitation-mental-health-wards-for-working-age-adults",
    ),
    (
        "Emergency operations centre (EOC)",
        "emergency-operations-centre-eoc",
    ),
];

#[test]
fn long_real_service_names_are_accepted_and_abusive_ones_refused() {
    let mut csv = HEADER.to_string();
    for (name, id) in LONG_CQC_SERVICE_NAMES {
        csv.push_str(&format!(
            "service_rating,RYY,,mental_health,,,\"{name}\",safe,Good,2019-06-01\n\
             service_rating,RYY,,mental_health,,,{id},caring,Good,2019-06-01\n"
        ));
    }
    csv.push_str(&format!(
        "service_rating,RYY,,mental_health,,,{},safe,Good,2019-06-01\n",
        "x".repeat(300)
    ));
    let p = parse(Format::Csv, "mh.csv", csv.as_bytes());
    assert_eq!(fields(&p), vec![(9, "service")]);
    assert!(
        p.rejected[0]
            .reason
            .contains("at most 256 characters, this one has 300"),
        "{}",
        p.rejected[0].reason
    );
    let ids: Vec<&str> = p
        .accepted
        .iter()
        .map(|a| {
            quality(&a.evidence[0]).service_ratings[0]
                .service_id
                .as_str()
        })
        .collect();
    let want: Vec<&str> = LONG_CQC_SERVICE_NAMES
        .iter()
        .flat_map(|(_, id)| [*id, *id])
        .collect();
    assert_eq!(ids, want);

    // CQC API JSON: a location whose services have those names is accepted whole.
    let services: Vec<String> = LONG_CQC_SERVICE_NAMES
        .iter()
        .map(|(name, _)| {
            format!(
                r#"{{"name":"{name}","reportDate":"2019-06-05","keyQuestionRatings":[{{"name":"Safe","rating":"Good"}}]}}"#
            )
        })
        .collect();
    let location = format!(
        r#"{{"locationId":"1-1000000009","odsCode":"RYY01","currentRatings":{{"serviceRatings":[{}]}}}}"#,
        services.join(",")
    );
    let p = parse(Format::CqcJson, "mh.json", location.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let q = quality(&p.accepted[0].evidence[0]);
    let ids: Vec<&str> = q
        .service_ratings
        .iter()
        .map(|s| s.service_id.as_str())
        .collect();
    let want: Vec<&str> = LONG_CQC_SERVICE_NAMES.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids, want);
}

fn quality(e: &Evidence) -> &ev::QualityEvidence {
    match e {
        Evidence::Quality(q) => q,
        other => panic!("not quality evidence: {other:?}"),
    }
}

#[test]
fn region_column_is_optional_trimmed_and_bounded() {
    let long = "x".repeat(65);
    let at_limit = "é".repeat(64);
    let csv = format!(
        "record_type,trust_code,region,trust_type,location_id,service,key_question,rating,report_date\n\
         well_led,RXX,  North East and Yorkshire ,acute,,,,Good,2017-07-01\n\
         well_led,RYY,,acute,,,,Good,2017-07-01\n\
         well_led,RZZ,{long},acute,,,,Good,2017-07-01\n\
         service_rating,RAA,{at_limit},acute,RAA01,urgent,safe,Good,2017-06-01\n"
    );
    let p = parse(Format::Csv, "regions.csv", csv.as_bytes());
    assert_eq!(fields(&p), vec![(3, "region")]);
    assert!(
        p.rejected[0].reason.contains("at most 64"),
        "{}",
        p.rejected[0]
    );
    let regions: Vec<(&str, &str)> = p
        .accepted
        .iter()
        .map(|a| quality(&a.evidence[0]))
        .map(|q| (q.trust_code.as_str(), q.region.as_str()))
        .collect();
    assert_eq!(
        regions,
        vec![
            ("RXX", "North East and Yorkshire"),
            ("RYY", ""),
            ("RAA", at_limit.as_str()),
        ]
    );
    // The column may be absent (the header above without it), and NDJSON has the same key.
    let p = parse(
        Format::Csv,
        "old.csv",
        format!("{HEADER}well_led,RXX,,acute,,,,,Good,2017-07-01\n").as_bytes(),
    );
    assert_eq!(quality(&p.accepted[0].evidence[0]).region, "");
    let nd = format!(
        "{{\"record_type\":\"well_led\",\"trust_code\":\"RXX\",\"region\":\"London\",\"rating\":\"Good\",\"report_date\":\"2018-01-01\"}}\n\
         {{\"record_type\":\"well_led\",\"trust_code\":\"RXX\",\"region\":\"{long}\",\"rating\":\"Good\",\"report_date\":\"2018-01-01\"}}\n"
    );
    let p = parse(Format::Ndjson, "regions.ndjson", nd.as_bytes());
    assert_eq!(quality(&p.accepted[0].evidence[0]).region, "London");
    assert_eq!(fields(&p), vec![(2, "region")]);
}

#[test]
fn records_grouped_per_trust_keep_the_first_region_given() {
    let csv = concat!(
        "record_type,trust_code,region,rating,report_date,location_id,service,key_question\n",
        "well_led,RXX,,Good,2017-07-01,,,\n",
        "service_rating,RXX,London,Good,2017-06-01,RXX01,urgent,safe\n",
        "service_rating,RXX,South East,Good,2017-06-01,RXX01,urgent,caring\n"
    );
    let p = parse(Format::Csv, "grouped.csv", csv.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let groups = crate::pipeline::group_by_trust(p.accepted);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].0, vec![1, 2, 3]);
    let q = quality(&groups[0].1);
    assert_eq!((q.region.as_str(), q.service_ratings.len()), ("London", 2));
}

#[test]
fn ndjson_mixes_ratings_and_nhsi_records_and_a_bad_line_does_not_stop_the_rest() {
    let nd = concat!(
        "{\"record_type\":\"well_led\",\"trust_code\":\"RXX\",\"rating\":\"Good\",\"report_date\":\"2018-01-01\"}\n",
        "{not json\n",
        "\n",
        "{\"record_type\":\"use_of_resources\",\"trust_code\":\"RXX\",\"rating\":\"Inadequate\",\"report_date\":\"2018-01-01\"}\n",
        "{\"trust_code\":\"RYY\",\"period_end\":\"2018-03-31\",\"standard\":\"ae_4h\",\"value_pct\":91.5}\n",
        "{\"trust_code\":\"RYY\",\"period_end\":\"2018-03-31\",\"metric\":\"bed_days\",\"value\":\"1\"}\n",
        "[1, 2]\n",
    );
    let p = parse(Format::Ndjson, "x.ndjson", nd.as_bytes());
    assert_eq!(p.accepted.len(), 3);
    assert_eq!(
        fields(&p),
        vec![(2, "record"), (5, "metric"), (6, "record")]
    );
    assert_eq!(
        p.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![2, 6, 7]
    );
    assert!(p.rejected[1].reason.contains("unknown metric \"bed_days\""));
    let (trust, m) = metric(&p.accepted[2].evidence[0]);
    assert_eq!(trust, "RYY");
    assert_eq!(
        m.feed,
        Some(Feed::Operational(ev::OperationalObservation {
            period_end: d("2018-03-31"),
            standard: "ae_4h".into(),
            value_pct: "91.5".into(),
        }))
    );
}

#[test]
fn nhsi_csv_feeds_become_metric_observations() {
    let finance = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2017-03-31,2.60,-3,0.5,-1.5,60\n";
    let p = parse(Format::Csv, "fin.csv", finance.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let (trust, m) = metric(&p.accepted[0].evidence[0]);
    assert_eq!(trust, "RXX");
    // Decimals exactly as written (2.60 keeps its scale).
    assert_eq!(
        m.feed,
        Some(Feed::Finance(ev::FinanceObservation {
            period_end: d("2017-03-31"),
            capital_service_capacity: "2.60".into(),
            liquidity_days: "-3".into(),
            income_expenditure_margin_pct: "0.5".into(),
            distance_from_plan_pct: "-1.5".into(),
            agency_spend_vs_ceiling_pct: "60".into(),
        }))
    );

    let ward = "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n\
RXX,W1,2018-04-01,20,150.5,0,7.5,60\n";
    let p = parse(Format::Csv, "ward.csv", ward.as_bytes());
    let (_, m) = metric(&p.accepted[0].evidence[0]);
    assert_eq!(
        m.feed,
        Some(Feed::WardStaffing(ev::WardStaffingObservation {
            ward_code: "W1".into(),
            date: d("2018-04-01"),
            patients_at_midnight: 20,
            registered_nurse_hours: "150.5".into(),
            registered_midwife_hours: "0".into(),
            allied_health_professional_hours: "7.5".into(),
            healthcare_support_worker_hours: "60".into(),
        }))
    );

    let productivity =
        "period_end,trust_code,metric,value\n2017-03-31,RXX,sickness_absence_rate,4.2\n";
    let p = parse(Format::Csv, "prod.csv", productivity.as_bytes());
    let (_, m) = metric(&p.accepted[0].evidence[0]);
    assert_eq!(
        m.feed,
        Some(Feed::Productivity(ev::ProductivityObservation {
            period_end: d("2017-03-31"),
            metric: "sickness_absence_rate".into(),
            value: "4.2".into(),
        }))
    );

    let operational = "trust_code,period_end,standard,value_pct\nRXX,2017-03-31,rtt_18w,90.1\n";
    let p = parse(Format::Csv, "op.csv", operational.as_bytes());
    let (_, m) = metric(&p.accepted[0].evidence[0]);
    assert_eq!(
        m.feed,
        Some(Feed::Operational(ev::OperationalObservation {
            period_end: d("2017-03-31"),
            standard: "rtt_18w".into(),
            value_pct: "90.1".into(),
        }))
    );
}

#[test]
fn nhsi_csv_rejections_name_line_and_field() {
    let text = "trust_code,period_end,metric,value\n\
RXX,2017-03-31,sickness_absence_rate,4.2\n\
RXX,2017-03-31,bed_days,4.2\n\
RXX,2017-02-30,vacancy_rate,1\n\
R,2017-03-31,vacancy_rate,1\n\
RXX,2017-03-31,vacancy_rate,104\n\
RXX,2017-03-31,vacancy_rate\n\
RXX,2017-03-31,vacancy_rate,2\n";
    let p = parse(Format::Csv, "prod.csv", text.as_bytes());
    assert_eq!(p.accepted.len(), 2);
    assert_eq!(
        p.rejected
            .iter()
            .map(|r| (r.record_number, r.line, r.field.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (2, 3, "metric"),
            (3, 4, "period_end"),
            (4, 5, "trust_code"),
            (5, 6, "value"),
            (6, 7, "record"),
        ]
    );
    assert_eq!(p.accepted[1].record_number, 7);
}

#[test]
fn oversight_status_feed_becomes_status_evidence_and_bad_records_name_the_field() {
    let text = "trust_code,kind,from,to,source\n\
RXX,financial_special_measures,2018-01-01,,NHSI board 2018-01\n\
RXX,special_measures,2018-01-01,,NHSI\n\
RXX,deficit_support,2018-04-01,2018-03-01,NHSI\n\
RYY,deficit_support,2018-04-01,2019-04-01,NHSE interim support\n";
    let p = parse(Format::Csv, "statuses.csv", text.as_bytes());
    let statuses: Vec<(&str, &ev::OversightStatusEvidence)> = p
        .accepted
        .iter()
        .map(|a| match &a.evidence[..] {
            [
                Evidence::Resource(ev::ResourceEvidence {
                    trust_code,
                    body: Some(ev::resource_evidence::Body::OversightStatus(o)),
                    ..
                }),
            ] => (trust_code.as_str(), o),
            other => panic!("not an oversight status: {other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (
                "RXX",
                &ev::OversightStatusEvidence {
                    kind: common::OversightStatusKind::FinancialSpecialMeasures as i32,
                    from_date: d("2018-01-01"),
                    to_date: None,
                    source: "NHSI board 2018-01".into(),
                }
            ),
            (
                "RYY",
                &ev::OversightStatusEvidence {
                    kind: common::OversightStatusKind::DeficitSupport as i32,
                    from_date: d("2018-04-01"),
                    to_date: d("2019-04-01"),
                    source: "NHSE interim support".into(),
                }
            ),
        ]
    );
    assert_eq!(
        p.rejected
            .iter()
            .map(|r| (r.record_number, r.line, r.field.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, 3, "kind"), (3, 4, "to")]
    );
    assert_eq!(
        p.rejected[1].to_string(),
        "statuses.csv line 4 (record 3): to: the status ends on 2018-03-01, which is not after it starts (2018-04-01)"
    );
}

const LOCATION: &str = r#"{
  "locationId": "1-1000000001",
  "providerId": "1-999",
  "name": "Royal Example Hospital",
  "odsCode": "RXX01",
  "currentRatings": {
    "reportDate": "2019-06-05",
    "serviceRatings": [
      {
        "name": "Urgent and emergency services",
        "reportDate": "2019-06-05",
        "keyQuestionRatings": [
          {"name": "Safe", "rating": "Requires improvement"},
          {"name": "Effective", "rating": "Good", "reportDate": "2018-01-02T00:00:00Z"},
          {"name": "Caring"}
        ]
      },
      {
        "name": "Surgery",
        "keyQuestionRatings": [{"name": "Well-led", "rating": "Outstanding"}]
      }
    ]
  }
}"#;

const PROVIDER: &str = r#"{"providerId": "1-999", "odsCode": "RXX", "name": "Example Hospitals NHS Trust", "region": " London ",
 "currentRatings": {"overall": {"rating": "Good", "reportDate": "2019-06-05",
   "keyQuestionRatings": [{"name": "Safe", "rating": "Requires improvement"}, {"name": "Well-led", "rating": "Good", "reportDate": "2019-06-01"}],
   "useOfResources": {"reportDate": "2019-05-01", "useOfResourcesRating": "Requires improvement", "combinedQualityRating": "Good"}}}}"#;

#[test]
fn cqc_location_becomes_service_key_question_ratings() {
    let p = parse(Format::CqcJson, "loc.json", LOCATION.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    assert_eq!(p.accepted.len(), 1);
    let Evidence::Quality(q) = &p.accepted[0].evidence[0] else {
        panic!("quality expected")
    };
    assert_eq!(q.trust_code, "RXX");
    let got: Vec<(&str, &str, i32, i32, Option<Date>)> = q
        .service_ratings
        .iter()
        .map(|s| {
            (
                s.location_id.as_str(),
                s.service_id.as_str(),
                s.key_question,
                s.rating,
                s.report_date,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "1-1000000001",
                "urgent",
                common::KeyQuestion::Safe as i32,
                common::Rating::RequiresImprovement as i32,
                d("2019-06-05")
            ),
            (
                "1-1000000001",
                "urgent",
                common::KeyQuestion::Effective as i32,
                common::Rating::Good as i32,
                d("2018-01-02")
            ),
            (
                "1-1000000001",
                "surgery",
                common::KeyQuestion::WellLed as i32,
                common::Rating::Outstanding as i32,
                d("2019-06-05")
            ),
        ]
    );
}

#[test]
fn cqc_provider_gives_well_led_published_ratings_and_use_of_resources() {
    let p = parse(Format::CqcJson, "prov.json", PROVIDER.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let evidence = &p.accepted[0].evidence;
    assert_eq!(evidence.len(), 2);
    let Evidence::Quality(q) = &evidence[0] else {
        panic!("quality first")
    };
    assert_eq!(
        (q.trust_code.as_str(), q.trust_name.as_str()),
        ("RXX", "Example Hospitals NHS Trust")
    );
    assert_eq!(q.region, "London");
    assert_eq!(
        q.well_led,
        vec![ev::WellLedAssessment {
            rating: common::Rating::Good as i32,
            report_date: d("2019-06-01")
        }]
    );
    let levels: Vec<(ev::PublishedLevel, common::KeyQuestion, Option<Date>)> = q
        .published
        .iter()
        .map(|r| (r.level(), r.key_question(), r.report_date))
        .collect();
    use common::KeyQuestion as Kq;
    use ev::PublishedLevel as Level;
    assert_eq!(
        levels,
        vec![
            (Level::TrustOverall, Kq::Unspecified, d("2019-06-05")),
            (Level::TrustKeyQuestion, Kq::Safe, d("2019-06-05")),
            (Level::TrustKeyQuestion, Kq::WellLed, d("2019-06-01")),
            (Level::UseOfResources, Kq::Unspecified, d("2019-05-01")),
            (Level::Combined, Kq::Unspecified, d("2019-05-01")),
        ]
    );
    assert_eq!(
        evidence[1],
        Evidence::Resource(ev::ResourceEvidence {
            provenance: None,
            trust_code: "RXX".into(),
            trust_type: common::TrustType::Unspecified as i32,
            body: Some(ev::resource_evidence::Body::UseOfResources(
                ev::UseOfResourcesEvidence {
                    rating: common::Rating::RequiresImprovement as i32,
                    report_date: d("2019-05-01")
                }
            )),
        })
    );
}

#[test]
fn cqc_arrays_and_ndjson_with_bad_objects() {
    let no_ods = LOCATION.replace("\"odsCode\": \"RXX01\",", "");
    let bad_rating = LOCATION.replace("\"Outstanding\"", "\"Superb\"");
    let array =
        format!("[{LOCATION}, {PROVIDER}, {no_ods}, {bad_rating}, 42, {{\"name\": \"x\"}}]");
    let p = parse(Format::CqcJson, "all.json", array.as_bytes());
    assert_eq!(p.accepted.len(), 2);
    assert_eq!(
        fields(&p),
        vec![
            (3, "odsCode"),
            (
                4,
                "currentRatings.serviceRatings[1].keyQuestionRatings[0].rating"
            ),
            (5, "record"),
            (6, "locationId"),
        ]
    );
    let one_line = |s: &str| s.replace('\n', " ");
    let nd = format!(
        "{}\n{{broken\n\n{}\n",
        one_line(LOCATION),
        one_line(PROVIDER)
    );
    let p = parse(Format::CqcJson, "all.ndjson", nd.as_bytes());
    assert_eq!(p.accepted.len(), 2);
    assert_eq!(fields(&p), vec![(2, "record")]);
    assert_eq!(p.rejected[0].line, 2);
    assert_eq!(p.accepted[1].line, 4);
}

/// A reader that hands out one byte at a time, as a slow network would.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.is_empty()) {
            (Some((b, rest)), false) => {
                buf[0] = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fn collect(format: Format, reader: impl Read + Send) -> Vec<Parsed> {
    records(format, "f", reader)
        .map(|r| r.expect("readable"))
        .collect()
}

#[test]
fn parsing_does_not_depend_on_how_the_bytes_arrive() {
    let ratings = format!(
        "{HEADER}well_led,RXX,,acute,,,,,Good,2017-07-01\nwell_led,R,,acute,,,,,Good,2017-07-01\n"
    );
    let nhsi = "trust_code,period_end,standard,value_pct\nRXX,2017-03-31,rtt_18w,90.1\nRXX,2017-03-31,x,1\n";
    let array = format!("[{LOCATION},\n{PROVIDER}]");
    for (format, text) in [
        (Format::Csv, ratings.as_str()),
        (Format::Csv, nhsi),
        (Format::CqcJson, array.as_str()),
        (Format::CqcJson, LOCATION),
    ] {
        let whole = collect(format, text.as_bytes());
        assert!(!whole.is_empty());
        assert_eq!(collect(format, Trickle(text.as_bytes())), whole, "{text}");
    }
}

#[test]
fn the_demo_feed_is_valid_and_names_the_seven_regions() {
    let csv = include_str!("../../../../demo/sample-feed.csv");
    let p = parse(Format::Csv, "sample-feed.csv", csv.as_bytes());
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let regions: std::collections::BTreeSet<&str> = p
        .accepted
        .iter()
        .flat_map(|a| &a.evidence)
        .filter_map(|e| match e {
            Evidence::Quality(q) => Some(q.region.as_str()),
            Evidence::Resource(_) => None,
        })
        .collect();
    assert_eq!(regions.len(), 7, "{regions:?}");
    assert!(regions.contains("North East and Yorkshire"));
}

/// Evidence ids are content hashes: every NHSI feed (typed observations) and the oversight status
/// feed give the same id for the same record parsed again, so a resent batch dedupes, and a
/// different id for a record that differs in any value.
#[test]
fn evidence_ids_are_stable_for_the_same_record_and_differ_for_another() {
    let feeds = [
        "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2017-03-31,2.60,-3,0.5,-1.5,60\nRXX,2017-03-31,2.60,-3,0.5,-1.5,61\n",
        "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n\
RXX,W1,2018-04-01,20,150.5,0,7.5,60\nRXX,W1,2018-04-02,20,150.5,0,7.5,60\n",
        "period_end,trust_code,metric,value\n2017-03-31,RXX,sickness_absence_rate,4.2\n2017-03-31,RXX,vacancy_rate,4.2\n",
        "trust_code,period_end,standard,value_pct\nRXX,2017-03-31,rtt_18w,90.1\nRXX,2017-03-31,ae_4h,90.1\n",
        "trust_code,kind,from,to,source\nRXX,deficit_support,2018-04-01,,NHSI\nRXX,deficit_support,2018-04-01,2019-04-01,NHSI\n",
    ];
    for text in feeds {
        let ids = || -> Vec<String> {
            let p = parse(Format::Csv, "f.csv", text.as_bytes());
            assert!(p.rejected.is_empty(), "{:?}", p.rejected);
            p.accepted
                .iter()
                .map(|a| crate::pipeline::evidence_id("b1", &a.evidence[0]))
                .collect()
        };
        let (first, again) = (ids(), ids());
        assert_eq!(first, again, "{text}");
        assert_eq!(first.len(), 2);
        assert_ne!(first[0], first[1], "{text}");
    }
}
