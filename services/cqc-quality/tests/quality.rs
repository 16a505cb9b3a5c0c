//! cqc-quality against a real nats-server and a real database (SQLite, or Postgres when
//! `TEST_DATABASE_URL` is set): store tests, then one-service tests with the App on port 0 that
//! talk gRPC and read the published ratings from the quality stream.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use chrono::NaiveDate;
use cqc_quality::store::{
    self, ActionKind, EnforcementActionRow, InspectionRow, JudgementRow, MergedServiceRow,
    ServiceRatingRow, TrustRow,
};
use cqc_rules::{
    Entity, Limiter, MergedExclusion, QualityStatementScore, Stage, TrustType as RulesTrustType,
};
use futures::StreamExt;
use oversight_proto::common::v1::{self as common, KeyQuestion, Rating, TrustType};
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::google_type::Date;
use oversight_proto::quality::v1 as pb;
use oversight_proto::quality::v1::quality_service_client::QualityServiceClient;
use oversight_rating::{KeyQuestion as Kq, Rating as R, RatingValue, TrustCode};
use oversight_runtime::nats::Bus;
use oversight_runtime::{Shutdown, db};
use oversight_testkit::TestEnv;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const DEADLINE: Duration = Duration::from_secs(30);

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A wire date from ISO text; `""` leaves the field unset.
fn on(s: &str) -> Option<Date> {
    (!s.is_empty()).then(|| convert::date(day(s)))
}

/// A wire date as a client may send it, calendar date or not.
fn raw_date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn scores(values: &[i64]) -> Vec<QualityStatementScore> {
    values
        .iter()
        .map(|v| QualityStatementScore::new(*v, "test").unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Store tests

/// The stored service ratings of a trust, every column but the trust, in key order.
async fn stored_service_ratings(pool: &sqlx::AnyPool, trust: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    sqlx::query(
        "SELECT location_id, location_name, service_id, key_question, rating, report_date, evidence_id, statement_scores
         FROM cqc_service_ratings WHERE trust_code = $1
         ORDER BY location_id, service_id, key_question, report_date",
    )
    .bind(trust)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (0..8).map(|i| r.get::<String, _>(i)).collect())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_service_ratings_in_few_statements_store_what_one_at_a_time_stores() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("cqc-quality").await.unwrap();
    let pool = db::connect(
        &infra.database_url_for(cqc_quality::SERVICE),
        &cqc_quality::MIGRATIONS,
    )
    .await
    .unwrap();
    // 2 locations × 8 services × 5 key questions = 80 rows (more than three statements' worth),
    // then 5 rows again with the same keys and new ratings: a later row with a key wins.
    let services = [
        "urgent",
        "care",
        "surgery",
        "critical",
        "maternity",
        "childrens",
        "life",
        "outpatients",
    ];
    let ratings = [
        R::Outstanding,
        R::Good,
        R::RequiresImprovement,
        R::Inadequate,
    ];
    let mut rows = Vec::new();
    for (l, location) in ["RXX01", "RXX02"].into_iter().enumerate() {
        for (s, service) in services.into_iter().enumerate() {
            for (k, kq) in Kq::ALL.into_iter().enumerate() {
                rows.push(ServiceRatingRow {
                    location_id: location.into(),
                    location_name: format!("Site {l}"),
                    service_id: service.into(),
                    key_question: kq,
                    rating: RatingValue::Rated(ratings[(l + s + k) % 4]),
                    report_date: day("2019-01-01"),
                    evidence_id: format!("e{l}{s}{k}"),
                    statement_scores: scores(&[4, 3]),
                });
            }
        }
    }
    let again: Vec<ServiceRatingRow> = rows[10..15]
        .iter()
        .map(|r| ServiceRatingRow {
            rating: RatingValue::Rated(R::Inadequate),
            evidence_id: "later".into(),
            ..r.clone()
        })
        .collect();
    rows.extend(again);
    let (many, one): (TrustCode, TrustCode) = ("RXX".parse().unwrap(), "RYY".parse().unwrap());
    let mut tx = pool.begin().await.unwrap();
    store::upsert_service_ratings(&mut tx, &many, &rows)
        .await
        .unwrap();
    for row in &rows {
        store::upsert_service_rating(&mut tx, &one, row)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let (a, b) = (
        stored_service_ratings(&pool, "RXX").await,
        stored_service_ratings(&pool, "RYY").await,
    );
    assert_eq!(a.len(), 80, "one row per key");
    assert_eq!(a, b);
    let later = a.iter().filter(|r| r[6] == "later").count();
    assert_eq!(later, 5, "the later rows with a key won");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_applies_limiters_and_exclusions_and_keeps_judgement_history() {
    let env = TestEnv::start().await.unwrap();
    let infra = env.infra("cqc-quality").await.unwrap();
    let pool = db::connect(
        &infra.database_url_for(cqc_quality::SERVICE),
        &cqc_quality::MIGRATIONS,
    )
    .await
    .unwrap();
    let trust: TrustCode = "RXX".parse().unwrap();
    let mut tx = pool.begin().await.unwrap();
    store::upsert_trust(
        &mut tx,
        &trust,
        "Example",
        Some(RulesTrustType::Acute),
        "London",
    )
    .await
    .unwrap();
    // A blank name, type or region never overwrites a known one; a new region replaces the old
    // (below).
    store::upsert_trust(&mut tx, &trust, "", None, "")
        .await
        .unwrap();
    for (date, rating) in [("2019-01-01", R::Good), ("2019-06-01", R::Outstanding)] {
        let row = ServiceRatingRow {
            location_id: "RXX01".into(),
            location_name: "General".into(),
            service_id: "urgent".into(),
            key_question: Kq::Safe,
            rating: RatingValue::Rated(rating),
            report_date: day(date),
            evidence_id: "test".into(),
            statement_scores: scores(&[4, 3, 2]),
        };
        store::upsert_service_rating(&mut tx, &trust, &row)
            .await
            .unwrap();
    }
    for (date, kind) in [
        ("2019-03-01", ActionKind::RequirementNotice),
        ("2019-07-01", ActionKind::WarningNotice),
    ] {
        let action = EnforcementActionRow {
            location_id: "RXX01".into(),
            service_id: "urgent".parse().unwrap(),
            key_question: Kq::Safe,
            kind,
            reason: "Regulation 12".into(),
            action_date: day(date),
            recorded_by: "test".into(),
        };
        store::upsert_enforcement_action(&mut tx, &trust, &action)
            .await
            .unwrap();
    }
    let merged = MergedServiceRow {
        location_id: "RXX01".into(),
        service_id: "urgent".parse().unwrap(),
        exclusion: MergedExclusion {
            organisation: "Old Trust".into(),
            merged_on: day("2018-10-01"),
            until: Some(day("2020-01-01")),
            reason: "acquired".into(),
        },
        recorded_by: "test".into(),
    };
    store::upsert_merged_service(&mut tx, &trust, &merged)
        .await
        .unwrap();
    let inspection = InspectionRow {
        location_id: "RXX01".into(),
        location_name: "General".into(),
        report_date: day("2019-06-01"),
        inspection_id: "inspection:RXX/RXX01/2019-06-01".into(),
        rating_count: 1,
        recorded_by: "test".into(),
    };
    store::upsert_inspection(&mut tx, &trust, &inspection)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let known = |region: &str| {
        Some(TrustRow {
            name: "Example".into(),
            trust_type: RulesTrustType::Acute,
            region: region.into(),
        })
    };
    assert_eq!(store::trust(&pool, &trust).await.unwrap(), known("London"));
    let mut conn = pool.acquire().await.unwrap();
    store::upsert_trust(&mut conn, &trust, "", None, "South East")
        .await
        .unwrap();
    drop(conn);
    assert_eq!(
        store::trust(&pool, &trust).await.unwrap(),
        known("South East")
    );
    assert_eq!(
        store::inspections(&pool, &trust).await.unwrap(),
        vec![("RXX01".to_string(), day("2019-06-01"), 1)]
    );

    // Each action limits the rating standing on its date.
    let ev = cqc_quality::rating::evidence(&pool, &trust, RulesTrustType::Acute, None)
        .await
        .unwrap();
    let urgent = &ev.locations[0].services[0];
    assert_eq!(urgent.merged_from.as_ref(), Some(&merged.exclusion));
    // A row stored before the merger date was required cannot be capped at two years: it is not
    // applied (the service counts at trust level) rather than excluded for ever.
    sqlx::query(
        "INSERT INTO cqc_merged_services (trust_code, location_id, service_id, organisation, merged_on, until_date, reason, recorded_by, recorded_at)
         VALUES ('RXX', 'RXX01', 'surgery', 'Older Trust', '', '2030-01-01', 'legacy', 'test', '')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let applied = store::merged_services(&pool, &trust).await.unwrap();
    assert_eq!(applied, vec![merged.clone()]);
    assert!(
        urgent
            .ratings
            .iter()
            .all(|r| r.statement_scores == scores(&[4, 3, 2])),
        "statement scores are stored and read back: {urgent:?}"
    );
    let limiter_of = |d: &str| {
        urgent
            .ratings
            .iter()
            .find(|r| r.report_date == day(d))
            .unwrap()
            .limiter
            .clone()
    };
    assert!(matches!(
        limiter_of("2019-01-01"),
        Some(Limiter::RequirementNotice { .. })
    ));
    assert!(matches!(
        limiter_of("2019-06-01"),
        Some(Limiter::EnforcementAction { .. })
    ));
    // As of a date before the warning notice, it does not apply yet.
    let before = cqc_quality::rating::evidence(
        &pool,
        &trust,
        RulesTrustType::Acute,
        Some(day("2019-06-15")),
    )
    .await
    .unwrap();
    assert!(
        before.locations[0].services[0]
            .ratings
            .iter()
            .find(|r| r.report_date == day("2019-06-01"))
            .unwrap()
            .limiter
            .is_none()
    );
    assert_eq!(
        store::latest_action_date(&pool, &trust).await.unwrap(),
        Some(day("2019-07-01"))
    );
    assert_eq!(
        store::rating_on(
            &pool,
            &trust,
            "RXX01",
            &"urgent".parse().unwrap(),
            Kq::Safe,
            day("2019-05-01")
        )
        .await
        .unwrap(),
        Some((RatingValue::Rated(R::Good), day("2019-01-01")))
    );

    // Judgements are appended, never overwritten.
    let entity = Entity::Location("RXX01".parse().unwrap());
    let mut conn = pool.acquire().await.unwrap();
    for (stage, published, rationale) in [
        (Stage::Draft, R::Inadequate, "draft finding"),
        (
            Stage::Final,
            R::RequiresImprovement,
            "factual accuracy accepted",
        ),
    ] {
        let sequence = store::next_judgement_sequence(&mut conn, &trust, &entity, Some(Kq::Safe))
            .await
            .unwrap();
        let row = JudgementRow {
            trust: trust.clone(),
            entity: entity.clone(),
            key_question: Some(Kq::Safe),
            sequence,
            computed: Some(R::Good),
            published,
            rationale: rationale.into(),
            stage,
            decided_on: day("2019-08-01"),
            recorded_by: "test".into(),
            recorded_at: "2019-08-01T00:00:00Z".into(),
        };
        store::insert_judgement(&mut conn, &row).await.unwrap();
    }
    // SQLite pools hold one connection: give it back before reading through the pool.
    drop(conn);
    let history = store::judgements(&pool, Some(&trust)).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|j| (j.sequence, j.stage, j.published))
            .collect::<Vec<_>>(),
        vec![
            (1, Stage::Draft, R::Inadequate),
            (2, Stage::Final, R::RequiresImprovement)
        ]
    );
    let mut again = history[0].clone();
    again.published = R::Good;
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        store::insert_judgement(&mut conn, &again).await.is_err(),
        "a history row is never overwritten"
    );
    drop(conn);
    assert_eq!(store::judgements(&pool, None).await.unwrap().len(), 2);
    assert!(
        history
            .iter()
            .all(|j| j.trust == trust && j.entity == entity),
        "stored judgements decode to the entity recorded: {history:?}"
    );

    // A stored row that does not decode (never written by the service) is an error naming the
    // row, not a panic nor a guess.
    sqlx::query(
        "INSERT INTO cqc_judgements (trust_code, entity_kind, location_id, service_id, key_question, sequence,
            computed, published, rationale, stage, decided_on, recorded_by, recorded_at)
         VALUES ('RXX', 'service', 'RXX01', 'not a service!', 'safe', 1, '', 'Good', '', 'final', '2019-08-01', 'test', '')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let error = store::judgements(&pool, Some(&trust)).await.unwrap_err();
    assert!(matches!(error, sqlx::Error::Decode(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("stored judgement")
            && text.contains("\"RXX\"")
            && text.contains("service \"RXX01\" \"not a service!\"")
            && text.contains("service id"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// One-service tests

struct Service {
    env: TestEnv,
    addr: SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Service {
    async fn start() -> Service {
        Service::start_with_tokens(None).await
    }

    async fn start_with_tokens(tokens: Option<&str>) -> Service {
        Service::start_configured(tokens, None).await
    }

    async fn start_configured(tokens: Option<&str>, rule_set: Option<&str>) -> Service {
        let env = TestEnv::start().await.unwrap();
        let mut infra = env.infra("cqc-quality").await.unwrap();
        if let Some(text) = tokens {
            let path = env.dir().join("tokens");
            std::fs::write(&path, text).unwrap();
            infra.auth_tokens_file = Some(path);
        }
        let app = cqc_quality::App::build(cqc_quality::Config {
            infra,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            rule_set: rule_set.map(String::from),
        })
        .await
        .unwrap();
        let addr = app.grpc_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Service {
            env,
            addr,
            shutdown,
            task,
        }
    }

    /// A service with [`seed`] recorded and its two versions already read.
    async fn seeded() -> (Service, QualityServiceClient<Channel>, Events) {
        let svc = Service::start().await;
        let mut client = svc.client().await;
        let mut events = svc.events().await;
        seed(&mut client).await;
        events.next().await;
        events.next().await;
        (svc, client, events)
    }

    async fn client(&self) -> QualityServiceClient<Channel> {
        QualityServiceClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    /// Every QualityRatingIssued on the quality stream, from the first.
    async fn events(&self) -> Events {
        let bus = self.env.nats_client().await.unwrap();
        let subjects = bus.subjects().clone();
        let stream = bus
            .jetstream()
            .get_stream(subjects.quality_stream().name)
            .await
            .unwrap();
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: subjects.quality_rated(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .unwrap();
        Events {
            _bus: bus,
            messages: consumer.messages().await.unwrap(),
        }
    }

    /// A connection that stands in for ingestion, which owns the evidence stream.
    async fn evidence_sender(&self) -> (Bus, oversight_runtime::Subjects) {
        let bus = self.env.nats_client().await.unwrap();
        let subjects = bus.subjects().clone();
        bus.ensure_stream(&subjects.evidence_stream())
            .await
            .unwrap();
        (bus, subjects)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

struct Events {
    _bus: Bus,
    messages: Ordered,
}

impl Events {
    async fn next(&mut self) -> pb::QualityRatingIssued {
        let msg = tokio::time::timeout(DEADLINE, self.messages.next())
            .await
            .expect("a quality rating in time")
            .expect("stream open")
            .expect("message");
        pb::QualityRatingIssued::decode(msg.payload.as_ref()).unwrap()
    }
}

/// Quality evidence from a feed about the mental health trust RYY, with nothing in it yet.
fn ryy_evidence(id: &str) -> ev::QualityEvidence {
    ev::QualityEvidence {
        provenance: Some(ev::Provenance {
            evidence_id: id.into(),
            source: "test".into(),
            ..Default::default()
        }),
        trust_code: "RYY".into(),
        trust_name: "Example Mental Health NHS Trust".into(),
        trust_type: TrustType::MentalHealth as i32,
        ..Default::default()
    }
}

const KQS: [KeyQuestion; 5] = [
    KeyQuestion::Safe,
    KeyQuestion::Effective,
    KeyQuestion::Caring,
    KeyQuestion::Responsive,
    KeyQuestion::WellLed,
];

/// A service's five key question ratings (safe, effective, caring, responsive, well-led).
fn five(service: &str, ratings: [Rating; 5]) -> Vec<pb::InspectionRating> {
    KQS.iter()
        .zip(ratings)
        .map(|(kq, r)| pb::InspectionRating {
            service_id: service.into(),
            key_question: *kq as i32,
            rating: r as i32,
            statement_scores: vec![],
        })
        .collect()
}

fn inspection(
    trust: &str,
    location: &str,
    date: &str,
    ratings: Vec<pb::InspectionRating>,
) -> pb::RecordInspectionRequest {
    pb::RecordInspectionRequest {
        trust_code: trust.into(),
        location_id: location.into(),
        location_name: String::new(),
        report_date: on(date),
        ratings,
        trust_type: TrustType::Unspecified as i32,
        trust_name: String::new(),
    }
}

const G: Rating = Rating::Good;
const RI: Rating = Rating::RequiresImprovement;

/// An acute trust RXX with one location RXX01: urgent S=RI, others Good; surgery all Good;
/// trust well-led Good. DOMAIN §2.1 example: trust safe RI, the rest Good → overall Good.
async fn seed(client: &mut QualityServiceClient<Channel>) {
    let mut first = inspection(
        "RXX",
        "RXX01",
        "2019-04-01",
        [five("urgent", [RI, G, G, G, G]), five("surgery", [G; 5])].concat(),
    );
    first.trust_type = TrustType::Acute as i32;
    first.trust_name = "Example Hospitals NHS Trust".into();
    first.location_name = "Example General Hospital".into();
    let r = client.record_inspection(first).await.unwrap().into_inner();
    assert_eq!(r.published_version, 1);
    let r = client
        .record_well_led_assessment(pb::RecordWellLedAssessmentRequest {
            trust_code: "RXX".into(),
            rating: G as i32,
            report_date: on("2019-04-01"),
            statement_scores: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.published_version, 2);
}

/// The trust's latest published quality rating (GetTrustQuality).
async fn latest_rating(
    client: &mut QualityServiceClient<Channel>,
    trust: &str,
) -> pb::QualityRatingIssued {
    client
        .get_trust_quality(pb::GetTrustQualityRequest {
            trust_code: trust.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap()
}

fn kq(kqs: &[common::KeyQuestionRating], k: KeyQuestion) -> &common::DatedRating {
    kqs.iter()
        .find(|x| x.key_question == k as i32)
        .and_then(|x| x.rating.as_ref())
        .unwrap_or_else(|| panic!("{k:?} present in {kqs:?}"))
}

fn rating(d: &common::DatedRating) -> Rating {
    Rating::try_from(d.rating).unwrap()
}

fn explanation(d: &common::DatedRating) -> &common::Explanation {
    d.explanation.as_ref().unwrap()
}

fn overall(e: &pb::QualityRatingIssued) -> &common::DatedRating {
    e.overall.as_ref().unwrap()
}

fn expect_code<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, contains: &str) -> Status {
    let status = r.expect_err("the call fails");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(contains),
        "{:?} should contain {contains:?}",
        status.message()
    );
    status
}

fn enforcement(
    (trust, location, service): (&str, &str, &str),
    key_question: KeyQuestion,
    kind: pb::EnforcementKind,
    reason: &str,
    action_date: &str,
) -> pb::RecordEnforcementActionRequest {
    pb::RecordEnforcementActionRequest {
        trust_code: trust.into(),
        location_id: location.into(),
        service_id: service.into(),
        key_question: key_question as i32,
        kind: kind as i32,
        reason: reason.into(),
        action_date: on(action_date),
    }
}

fn trust_entity(trust: &str) -> pb::EntityRef {
    pb::EntityRef {
        kind: pb::EntityKind::Trust as i32,
        trust_code: trust.into(),
        location_id: String::new(),
        service_id: String::new(),
    }
}

fn decision(
    entity: pb::EntityRef,
    key_question: KeyQuestion,
    published: Rating,
    rationale: &str,
    stage: pb::Stage,
    decided_on: &str,
) -> pb::RecordPublishedDecisionRequest {
    pb::RecordPublishedDecisionRequest {
        entity: Some(entity),
        key_question: key_question as i32,
        published: published as i32,
        rationale: rationale.into(),
        stage: stage as i32,
        decided_on: on(decided_on),
    }
}

fn get_ratings(trust: &str, location: &str, service: &str, as_of: &str) -> pb::GetRatingsRequest {
    pb::GetRatingsRequest {
        trust_code: trust.into(),
        location_id: location.into(),
        service_id: service.into(),
        as_of: on(as_of),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_over_grpc_publishes_explained_trust_ratings() {
    let svc = Service::start().await;
    let mut client = svc.client().await;
    let mut events = svc.events().await;
    seed(&mut client).await;

    // Version 1: key questions rated, but no trust-level well-led assessment yet.
    let v1 = events.next().await;
    assert_eq!((v1.version, v1.trust_code.as_str()), (1, "RXX"));
    assert_eq!(v1.trust_name, "Example Hospitals NHS Trust");
    assert_eq!(rating(kq(&v1.key_questions, KeyQuestion::Safe)), RI);
    assert_eq!(rating(overall(&v1)), Rating::Unspecified);
    assert!(
        explanation(overall(&v1))
            .rule
            .contains("no trust-level well-led assessment"),
        "{:?}",
        overall(&v1)
    );

    // Version 2: re-rated on the well-led assessment.
    let v2 = events.next().await;
    assert_eq!(v2.version, 2);
    assert_eq!(v2.rule_set, "cqc-2018");
    for (k, want) in [
        (KeyQuestion::Safe, RI),
        (KeyQuestion::Effective, G),
        (KeyQuestion::Caring, G),
        (KeyQuestion::Responsive, G),
        (KeyQuestion::WellLed, G),
    ] {
        assert_eq!(rating(kq(&v2.key_questions, k)), want, "{k:?}");
    }
    assert_eq!(rating(overall(&v2)), G);
    assert_eq!(overall(&v2).report_date, on("2019-04-01"));
    let e = explanation(overall(&v2));
    assert_eq!(e.rule_set, "cqc-2018");
    assert_eq!(e.inputs.len(), 5, "{e:?}");
    assert!(e.rule.contains("Good"), "{e:?}");
    let safe = explanation(kq(&v2.key_questions, KeyQuestion::Safe));
    assert!(safe.inputs.iter().any(|i| i.contains("RXX01")), "{safe:?}");
    assert_eq!(v2.locations.len(), 1);
    assert_eq!(v2.locations[0].name, "Example General Hospital");

    // Recording the same findings again changes nothing: no new version.
    let again = client
        .record_inspection(inspection(
            "RXX",
            "RXX01",
            "2019-04-01",
            five("surgery", [G; 5]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.published_version, 0);
    assert_eq!(again.rating.unwrap().version, 2);

    // The rules' tree: trust → location → services, each explained.
    let tree = client
        .get_ratings(get_ratings("RXX", "", "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tree.as_of, on("2019-04-01"));
    assert!(tree.overall_basis.contains("re-rated"), "{tree:?}");
    let trust = tree.ratings.unwrap();
    assert_eq!(trust.name, "Example Hospitals NHS Trust");
    assert_eq!(rating(trust.overall.as_ref().unwrap()), G);
    assert_eq!(trust.locations.len(), 1);
    assert_eq!(trust.locations[0].services.len(), 2);

    let service = client
        .get_ratings(get_ratings("RXX", "RXX01", "urgent", ""))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(
        service.entity.as_ref().unwrap().kind,
        pb::EntityKind::Service as i32
    );
    let urgent_safe = kq(&service.key_questions, KeyQuestion::Safe);
    assert_eq!(rating(urgent_safe), RI);
    assert!(
        explanation(urgent_safe)
            .rule
            .contains("inspection judgement")
    );
    // Urgent: one RI of five → Good.
    assert_eq!(rating(service.overall.as_ref().unwrap()), G);

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcement_action_limits_the_rating_and_the_explanation_names_it() {
    let (svc, mut client, mut events) = Service::seeded().await;

    let r = client
        .record_enforcement_action(enforcement(
            ("RXX", "RXX01", "urgent"),
            KeyQuestion::Safe,
            pb::EnforcementKind::WarningNotice,
            "Regulation 12 safe care and treatment",
            "2019-05-01",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.published_version, 3);
    let v3 = events.next().await;
    assert_eq!(v3.version, 3);
    // Urgent safe → Inadequate; location safe (I, G) → Inadequate; trust safe Inadequate; one
    // inadequate of five trust key questions → overall at best RI.
    let safe = kq(&v3.key_questions, KeyQuestion::Safe);
    assert_eq!(rating(safe), Rating::Inadequate);
    let notes = explanation(safe).notes.join("\n");
    assert!(
        notes.contains("warning notice") && notes.contains("Regulation 12"),
        "{notes}"
    );
    assert_eq!(rating(overall(&v3)), RI);

    // A requirement notice limits to at best requires improvement.
    client
        .record_enforcement_action(enforcement(
            ("RXX", "RXX01", "surgery"),
            KeyQuestion::Effective,
            pb::EnforcementKind::RequirementNotice,
            "Regulation 17 good governance",
            "2019-05-02",
        ))
        .await
        .unwrap();
    let v4 = events.next().await;
    let effective = kq(&v4.key_questions, KeyQuestion::Effective);
    assert_eq!(rating(effective), RI);
    assert!(
        explanation(effective)
            .notes
            .iter()
            .any(|n| n.contains("requirement notice") && n.contains("Regulation 17")),
        "{effective:?}"
    );

    // The service level explains the limiter in its rule; as of a date before the action the
    // inspection judgement stands.
    let now = client
        .get_ratings(get_ratings("RXX", "RXX01", "urgent", ""))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    let urgent_safe = kq(&now.key_questions, KeyQuestion::Safe);
    assert_eq!(rating(urgent_safe), Rating::Inadequate);
    assert!(
        explanation(urgent_safe).rule.contains("limiter applied"),
        "{urgent_safe:?}"
    );
    let before = client
        .get_ratings(get_ratings("RXX", "RXX01", "urgent", "2019-04-15"))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(rating(kq(&before.key_questions, KeyQuestion::Safe)), RI);

    // Nothing rated, nothing to limit.
    let missing = client
        .record_enforcement_action(enforcement(
            ("RXX", "RXX01", "critical"),
            KeyQuestion::Caring,
            pb::EnforcementKind::ConditionOfRegistration,
            "x",
            "2019-05-01",
        ))
        .await;
    expect_code(missing, Code::FailedPrecondition, "nothing to limit");

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departure_needs_a_rationale_and_is_listed() {
    let (svc, mut client, mut events) = Service::seeded().await;

    let overall_ri = |rationale: &str| {
        decision(
            trust_entity("RXX"),
            KeyQuestion::Unspecified,
            RI,
            rationale,
            pb::Stage::Final,
            "2019-06-01",
        )
    };
    let rejected = client.record_published_decision(overall_ri("  ")).await;
    expect_code(rejected, Code::InvalidArgument, "rationale: ");

    let r = client
        .record_published_decision(overall_ri("serious concerns about maternity governance"))
        .await
        .unwrap()
        .into_inner();
    let d = r.decision.unwrap();
    assert!(d.departs);
    assert_eq!(d.computed, G as i32);
    assert_eq!(d.published, RI as i32);
    assert_eq!(r.published_version, 3);

    // What is published is what CQC decided, with the computed rating and the rationale noted.
    let v3 = events.next().await;
    assert_eq!(rating(overall(&v3)), RI);
    let notes = explanation(overall(&v3)).notes.join("\n");
    assert!(
        notes.contains("the rules computed Good") && notes.contains("maternity governance"),
        "{notes}"
    );

    // A decision that follows the rules needs no rationale and is not a departure.
    let follows = client
        .record_published_decision(decision(
            trust_entity("RXX"),
            KeyQuestion::Safe,
            RI,
            "",
            pb::Stage::Final,
            "2019-06-01",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!follows.decision.unwrap().departs);
    assert_eq!(follows.published_version, 0);

    for trust in ["RXX", ""] {
        let listed = client
            .list_departures(pb::ListDeparturesRequest {
                trust_code: trust.into(),
                final_only: false,
            })
            .await
            .unwrap()
            .into_inner()
            .departures;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(
            listed[0].rationale,
            "serious concerns about maternity governance"
        );
        assert_eq!(listed[0].computed, G as i32);
    }

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_trust_key_question_flows_into_the_published_overall() {
    // Seeded: trust safe RI, effective, caring, responsive and well-led Good → overall Good.
    let (svc, mut client, mut events) = Service::seeded().await;

    // CQC publishes trust effective Inadequate, departing from the computed Good.
    let r = client
        .record_published_decision(decision(
            trust_entity("RXX"),
            KeyQuestion::Effective,
            Rating::Inadequate,
            "a serious incident was not investigated",
            pb::Stage::Final,
            "2019-06-01",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.decision.unwrap().computed, G as i32);
    let v3 = events.next().await;
    assert_eq!(
        rating(kq(&v3.key_questions, KeyQuestion::Effective)),
        Rating::Inadequate
    );
    // The overall aggregates the published key questions (DOMAIN §2.4, as CQC does): S = RI,
    // E = I, C = R = W = G: n = 5, X = 2, one inadequate (below X) → Requires improvement (§2.1).
    assert_eq!(rating(overall(&v3)), RI);
    let notes = explanation(overall(&v3)).notes.join("\n");
    assert!(
        notes.contains("from the computed ratings the rules give Good"),
        "the computed overall is kept beside it: {notes}"
    );

    // A CQC overall of RI now follows the rules (the aggregate of what CQC published): no
    // departure, nothing new to publish.
    let follows = client
        .record_published_decision(decision(
            trust_entity("RXX"),
            KeyQuestion::Unspecified,
            RI,
            "",
            pb::Stage::Final,
            "2019-06-01",
        ))
        .await
        .unwrap()
        .into_inner();
    let d = follows.decision.unwrap();
    assert_eq!((d.computed, d.departs), (RI as i32, false));
    assert_eq!(follows.published_version, 0);

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_then_final_is_kept_as_history() {
    let svc = Service::start().await;
    let mut client = svc.client().await;
    seed(&mut client).await;
    let location = pb::EntityRef {
        kind: pb::EntityKind::Location as i32,
        trust_code: "RXX".into(),
        location_id: "RXX01".into(),
        service_id: String::new(),
    };
    // The draft report departs (inadequate); factual accuracy brings it back to the rules' RI.
    let draft = client
        .record_published_decision(decision(
            location.clone(),
            KeyQuestion::Safe,
            Rating::Inadequate,
            "draft: staffing shortfalls in the emergency department",
            pb::Stage::Draft,
            "2019-05-01",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(draft.history.len(), 1);
    assert_eq!(draft.published_version, 0, "a draft is not published");
    let fin = client
        .record_published_decision(decision(
            location.clone(),
            KeyQuestion::Safe,
            RI,
            "",
            pb::Stage::Final,
            "2019-05-20",
        ))
        .await
        .unwrap()
        .into_inner();
    let history: Vec<(u64, i32, i32)> = fin
        .history
        .iter()
        .map(|d| (d.sequence, d.stage, d.published))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, pb::Stage::Draft as i32, Rating::Inadequate as i32),
            (2, pb::Stage::Final as i32, RI as i32)
        ]
    );

    // Both are kept beside the location's computed ratings.
    let tree = client
        .get_ratings(get_ratings("RXX", "RXX01", "", "2019-12-31"))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(tree.decisions.len(), 2);
    assert_eq!(rating(kq(&tree.key_questions, KeyQuestion::Safe)), RI);

    let departures = |final_only| {
        let mut client = client.clone();
        async move {
            client
                .list_departures(pb::ListDeparturesRequest {
                    trust_code: "RXX".into(),
                    final_only,
                })
                .await
                .unwrap()
                .into_inner()
                .departures
        }
    };
    assert_eq!(departures(false).await.len(), 1, "the draft departed");
    assert!(
        departures(true).await.is_empty(),
        "the final follows the rules"
    );

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_overall_is_carried_forward_for_a_trust_without_locations() {
    let svc = Service::start().await;
    let mut client = svc.client().await;
    let mut events = svc.events().await;
    // A mental health trust: no location level, services straight into the trust.
    let mut first = inspection("RYY", "", "2019-01-10", five("community", [G; 5]));
    first.trust_type = TrustType::MentalHealth as i32;
    client.record_inspection(first).await.unwrap();
    let v1 = events.next().await;
    assert_eq!(rating(kq(&v1.key_questions, KeyQuestion::Safe)), G);
    assert_eq!(rating(overall(&v1)), Rating::Unspecified);

    // CQC's published overall (no well-led assessment on record here).
    client
        .record_published_decision(decision(
            trust_entity("RYY"),
            KeyQuestion::Unspecified,
            G,
            "rated Good at the 2018 comprehensive inspection",
            pb::Stage::Final,
            "2019-02-01",
        ))
        .await
        .unwrap();
    let v2 = events.next().await;
    assert_eq!(rating(overall(&v2)), G);

    // A later inspection without a well-led assessment: the trust overall is not re-rated, the
    // previous one stands.
    client
        .record_inspection(inspection(
            "RYY",
            "",
            "2019-03-01",
            vec![pb::InspectionRating {
                service_id: "community".into(),
                key_question: KeyQuestion::Safe as i32,
                rating: RI as i32,
                statement_scores: vec![],
            }],
        ))
        .await
        .unwrap();
    let v3 = events.next().await;
    assert_eq!(v3.version, 3);
    assert_eq!(rating(kq(&v3.key_questions, KeyQuestion::Safe)), RI);
    assert_eq!(rating(overall(&v3)), G);
    assert!(
        explanation(overall(&v3))
            .notes
            .iter()
            .any(|n| n.starts_with("carry-forward")),
        "{:?}",
        overall(&v3)
    );

    // A requirement notice on a trust-wide service (no location).
    client
        .record_enforcement_action(enforcement(
            ("RYY", "", "community"),
            KeyQuestion::Effective,
            pb::EnforcementKind::RequirementNotice,
            "Regulation 9 person-centred care",
            "2019-03-05",
        ))
        .await
        .unwrap();
    let v4 = events.next().await;
    assert_eq!(rating(kq(&v4.key_questions, KeyQuestion::Effective)), RI);
    assert_eq!(rating(overall(&v4)), G, "still carried forward");

    let community = client
        .get_ratings(get_ratings("RYY", "", "community", ""))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(rating(kq(&community.key_questions, KeyQuestion::Safe)), RI);

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_cqc_role() {
    const CQC: &str = "cqc-token-0123456789";
    const READER: &str = "reader-token-0123456789";
    let svc = Service::start_with_tokens(Some(&format!(
        "cqc inspections {CQC}\nreader dashboard {READER}\n"
    )))
    .await;
    let mut client = svc.client().await;
    fn with<T>(token: Option<&str>, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        req
    }
    let mut request = inspection("RXX", "RXX01", "2019-04-01", five("urgent", [G; 5]));
    request.trust_type = TrustType::Acute as i32;

    let anonymous = client.record_inspection(with(None, request.clone())).await;
    expect_code(anonymous, Code::Unauthenticated, "");
    let reader = client
        .record_inspection(with(Some(READER), request.clone()))
        .await;
    expect_code(reader, Code::PermissionDenied, "cqc");
    client
        .record_inspection(with(Some(CQC), request))
        .await
        .unwrap();
    let small = significantly_small(("RXX01", "urgent"), "2019-06-01", "", "small");
    let reader = client
        .record_significantly_small_service(with(Some(READER), small.clone()))
        .await;
    expect_code(reader, Code::PermissionDenied, "cqc");
    client
        .record_significantly_small_service(with(Some(CQC), small))
        .await
        .unwrap();

    // Anyone authenticated may read.
    let tree = client
        .get_ratings(with(Some(READER), get_ratings("RXX", "", "", "")))
        .await
        .unwrap()
        .into_inner();
    assert!(tree.ratings.is_some());

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_the_field_and_record() {
    let svc = Service::start().await;
    let mut client = svc.client().await;

    let unknown = client
        .record_inspection(inspection(
            "RZZ",
            "RZZ01",
            "2019-04-01",
            five("urgent", [G; 5]),
        ))
        .await;
    expect_code(unknown, Code::NotFound, "trust_code: unknown trust RZZ");

    seed(&mut client).await;

    let mut ratings = five("urgent", [G; 5]);
    ratings[1].key_question = 99;
    let bad_kq = client
        .record_inspection(inspection("RXX", "RXX01", "2019-04-01", ratings))
        .await;
    expect_code(
        bad_kq,
        Code::InvalidArgument,
        "ratings[1].key_question: unknown key question 99",
    );

    let mut ratings = five("urgent", [G; 5]);
    ratings[0].rating = Rating::Unspecified as i32;
    let no_rating = client
        .record_inspection(inspection("RXX", "RXX01", "2019-04-01", ratings))
        .await;
    expect_code(
        no_rating,
        Code::InvalidArgument,
        "ratings[0].rating: missing",
    );

    let mut ratings = five("urgent", [G; 5]);
    ratings[3].service_id = "not a service!".into();
    let bad_service = client
        .record_inspection(inspection("RXX", "RXX01", "2019-04-01", ratings))
        .await;
    expect_code(bad_service, Code::InvalidArgument, "ratings[3].service_id");

    let mut bad_date = inspection("RXX", "RXX01", "", five("urgent", [G; 5]));
    bad_date.report_date = raw_date(2019, 13, 1);
    let bad_date = client.record_inspection(bad_date).await;
    expect_bad_field(bad_date, "report_date");

    let no_location = client
        .record_inspection(inspection("RXX", "", "2019-04-01", five("urgent", [G; 5])))
        .await;
    expect_code(no_location, Code::InvalidArgument, "location_id: missing");

    let bad_trust = client
        .record_inspection(inspection(
            "R!",
            "RXX01",
            "2019-04-01",
            five("urgent", [G; 5]),
        ))
        .await;
    expect_code(bad_trust, Code::InvalidArgument, "trust_code: ");

    let mut no_kind = decision(
        trust_entity("RXX"),
        KeyQuestion::Safe,
        G,
        "",
        pb::Stage::Final,
        "",
    );
    no_kind.entity.as_mut().unwrap().kind = pb::EntityKind::Unspecified as i32;
    let no_kind = client.record_published_decision(no_kind).await;
    expect_code(no_kind, Code::InvalidArgument, "entity.kind: missing");

    let no_stage = client
        .record_published_decision(decision(
            trust_entity("RXX"),
            KeyQuestion::Safe,
            RI,
            "",
            pb::Stage::Unspecified,
            "",
        ))
        .await;
    expect_code(no_stage, Code::InvalidArgument, "stage: missing");

    let merged_service = |merged_on: &str, until: &str| pb::RecordMergedServiceRequest {
        trust_code: "RXX".into(),
        location_id: "RXX01".into(),
        service_id: "urgent".into(),
        organisation: "Old Trust".into(),
        merged_on: on(merged_on),
        until: on(until),
        reason: "acquired".into(),
    };
    let merged = client
        .record_merged_service(merged_service("2019-01-01", "2018-01-01"))
        .await;
    let status = expect_code(merged, Code::InvalidArgument, "until: ");
    assert!(
        status.message().contains("must be after merged_on"),
        "{status:?}"
    );

    // DOMAIN.md §2.3: the exclusion lasts at most two years from the merger, so the merger date
    // is required; its absence names the field, in the message and as a BadRequest violation.
    let undated = client
        .record_merged_service(merged_service("", "2020-01-01"))
        .await;
    let status = expect_code(undated, Code::InvalidArgument, "merged_on: missing");
    let details = tonic_types::StatusExt::get_details_bad_request(&status).expect("BadRequest");
    assert_eq!(details.field_violations[0].field, "merged_on");

    let no_reason = client
        .record_enforcement_action(enforcement(
            ("RXX", "RXX01", "urgent"),
            KeyQuestion::Safe,
            pb::EnforcementKind::WarningNotice,
            "",
            "2019-05-01",
        ))
        .await;
    expect_code(no_reason, Code::InvalidArgument, "reason: missing");

    let nowhere = client
        .get_ratings(get_ratings("RXX", "RXX09", "", ""))
        .await;
    expect_code(nowhere, Code::NotFound, "location RXX09");
    let no_trust = client.get_ratings(get_ratings("RZZ", "", "", "")).await;
    expect_code(no_trust, Code::NotFound, "RZZ");
    let mut bad_as_of = get_ratings("RXX", "", "", "");
    bad_as_of.as_of = raw_date(2019, 2, 29);
    let bad_as_of = client.get_ratings(bad_as_of).await;
    expect_code(
        bad_as_of,
        Code::InvalidArgument,
        "as_of: 2019-02-29 is not a calendar date",
    );

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_service_is_left_out_of_the_trust() {
    let (svc, mut client, mut events) = Service::seeded().await;
    // Urgent (the only RI in safe) came from an acquired trust: without it, trust safe is Good.
    let r = client
        .record_merged_service(pb::RecordMergedServiceRequest {
            trust_code: "RXX".into(),
            location_id: "RXX01".into(),
            service_id: "urgent".into(),
            organisation: "Old Town Hospitals NHS Trust".into(),
            merged_on: on("2019-01-01"),
            until: on("2020-06-30"),
            reason: "acquired in January 2019".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.published_version, 3);
    let v3 = events.next().await;
    let safe = kq(&v3.key_questions, KeyQuestion::Safe);
    assert_eq!(rating(safe), G);
    assert!(
        explanation(safe)
            .notes
            .iter()
            .any(|n| n.contains("Old Town Hospitals") && n.contains("acquired in January 2019")),
        "{safe:?}"
    );
    // The location still counts it.
    assert_eq!(
        rating(kq(&v3.locations[0].key_questions, KeyQuestion::Safe)),
        RI
    );

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_region_is_published_and_a_blank_one_keeps_it() {
    let svc = Service::start().await;
    let mut client = svc.client().await;
    let mut events = svc.events().await;
    let (bus, subjects) = svc.evidence_sender().await;
    let evidence = |id: &str, date: &str, rating: Rating, region: &str| ev::QualityEvidence {
        well_led: vec![ev::WellLedAssessment {
            rating: rating as i32,
            report_date: on(date),
        }],
        region: region.into(),
        ..ryy_evidence(id)
    };
    bus.publish(
        subjects.evidence_quality(),
        "e1",
        &evidence("e1", "2019-01-10", G, "North East and Yorkshire"),
    )
    .await
    .unwrap();
    let v1 = events.next().await;
    assert_eq!(
        (v1.trust_code.as_str(), v1.region.as_str()),
        ("RYY", "North East and Yorkshire")
    );

    // Evidence without a region, and an inspection over gRPC (which never carries one), keep it.
    bus.publish(
        subjects.evidence_quality(),
        "e2",
        &evidence("e2", "2019-06-10", Rating::Outstanding, ""),
    )
    .await
    .unwrap();
    let v2 = events.next().await;
    assert_eq!(
        (v2.version, v2.region.as_str()),
        (2, "North East and Yorkshire")
    );
    client
        .record_inspection(inspection(
            "RYY",
            "",
            "2019-07-01",
            five("community", [G; 5]),
        ))
        .await
        .unwrap();
    let v3 = events.next().await;
    assert_eq!(
        (v3.version, v3.region.as_str()),
        (3, "North East and Yorkshire")
    );
    let latest = latest_rating(&mut client, "RYY").await;
    assert_eq!(latest.region, "North East and Yorkshire");

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saf_statement_scores_are_banded_and_out_of_range_scores_are_rejected() {
    let svc = Service::start_configured(None, Some("saf-2023")).await;
    let mut client = svc.client().await;
    let mut events = svc.events().await;

    // Every judgement is recorded as Good; under saf-2023 the scores replace it.
    let banded = [
        (KeyQuestion::Safe, vec![4; 8], Rating::Outstanding, "100%"),
        (
            KeyQuestion::Effective,
            vec![1; 4],
            Rating::Inadequate,
            "25%",
        ),
        (KeyQuestion::Caring, vec![3; 4], G, "75%"),
        (KeyQuestion::Responsive, vec![2; 4], RI, "50%"),
        // 14 of 16 = 87.5 % exactly, not rounded: below 88 %, so Good (DOMAIN.md §5).
        (KeyQuestion::WellLed, vec![4, 4, 3, 3], G, "87.5%"),
    ];
    let ratings = banded
        .iter()
        .map(|(kq, scores, _, _)| pb::InspectionRating {
            service_id: "urgent".into(),
            key_question: *kq as i32,
            rating: G as i32,
            statement_scores: scores.clone(),
        })
        .collect();
    let mut first = inspection("RSF", "RSF01", "2024-01-15", ratings);
    first.trust_type = TrustType::Acute as i32;
    first.trust_name = "SAF Hospitals NHS Trust".into();
    let r = client.record_inspection(first).await.unwrap().into_inner();
    assert_eq!(r.published_version, 1);
    // The trust-level well-led assessment: recorded RI, scored 12 of 16 = 75 % → Good.
    let r = client
        .record_well_led_assessment(pb::RecordWellLedAssessmentRequest {
            trust_code: "RSF".into(),
            rating: RI as i32,
            report_date: on("2024-01-15"),
            statement_scores: vec![3; 4],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.published_version, 2);

    assert_eq!(events.next().await.version, 1);
    let v2 = events.next().await;
    assert_eq!(v2.version, 2);
    assert_eq!(v2.rule_set, "saf-2023");
    // Each key question × service is banded from its scores (read back from the store).
    let service = client
        .get_ratings(get_ratings("RSF", "RSF01", "urgent", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(service.rule_set, "saf-2023");
    let service = service.ratings.unwrap();
    for (k, _, want, percent) in &banded {
        let r = kq(&service.key_questions, *k);
        assert_eq!(rating(r), *want, "{k:?}: {r:?}");
        assert_eq!(explanation(r).rule_set, "saf-2023");
        assert!(
            explanation(r).rule.contains(&format!("= {percent} → ")),
            "{k:?} banded from {percent}: {r:?}"
        );
        // One location, one service: the trust's key questions follow (well-led below).
        if *k != KeyQuestion::WellLed {
            assert_eq!(rating(kq(&v2.key_questions, *k)), *want, "trust {k:?}");
        }
    }
    let safe = kq(&service.key_questions, KeyQuestion::Safe);
    assert!(
        explanation(safe)
            .rule
            .contains("8 quality statements scored 32 of 32 = 100%"),
        "{safe:?}"
    );
    // Well-led at trust (and, single-location, at location) level is the assessment's band.
    let well_led = kq(&v2.key_questions, KeyQuestion::WellLed);
    assert_eq!(rating(well_led), G, "{well_led:?}");
    assert!(
        explanation(well_led).rule.contains("= 75% → "),
        "{well_led:?}"
    );
    assert_ne!(rating(overall(&v2)), Rating::Unspecified);

    // A score outside 1–4 names its field and record.
    let mut ratings = five("urgent", [G; 5]);
    ratings[2].statement_scores = vec![3, 0];
    let zero = client
        .record_inspection(inspection("RSF", "RSF01", "2024-02-01", ratings))
        .await;
    expect_code(
        zero,
        Code::InvalidArgument,
        "ratings[2].statement_scores[1]: quality statement score 0 is outside 1–4",
    );
    let five_ = client
        .record_well_led_assessment(pb::RecordWellLedAssessmentRequest {
            trust_code: "RSF".into(),
            rating: G as i32,
            report_date: on("2024-02-01"),
            statement_scores: vec![4, 5],
        })
        .await;
    expect_code(
        five_,
        Code::InvalidArgument,
        "statement_scores[1]: quality statement score 5 is outside 1–4",
    );
    // Nothing was recorded: no new version.
    assert_eq!(latest_rating(&mut client, "RSF").await.version, 2);

    svc.stop().await;
}

fn significantly_small(
    (location, service): (&str, &str),
    from_date: &str,
    until: &str,
    reason: &str,
) -> pb::RecordSignificantlySmallServiceRequest {
    pb::RecordSignificantlySmallServiceRequest {
        trust_code: "RXX".into(),
        location_id: location.into(),
        service_id: service.into(),
        from_date: on(from_date),
        until: on(until),
        reason: reason.into(),
    }
}

/// Names the field, in the message and as a BadRequest violation.
fn expect_bad_field<T: std::fmt::Debug>(r: Result<T, Status>, field: &str) -> Status {
    let status = expect_code(r, Code::InvalidArgument, &format!("{field}: "));
    let details = tonic_types::StatusExt::get_details_bad_request(&status).expect("BadRequest");
    assert_eq!(details.field_violations[0].field, field, "{status:?}");
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn significantly_small_service_is_left_out_of_the_location_and_the_trust() {
    const I: Rating = Rating::Inadequate;
    const REASON: &str = "renal satellite unit: 4 chairs, a fraction of the hospital's activity";
    let svc = Service::start().await;
    let mut client = svc.client().await;
    let mut events = svc.events().await;
    // One location RXX01: urgent and surgery all Good, renal safe Inadequate; trust well-led
    // Good. Location safe over G, G, I: n = 3 → X = 1, 1 inadequate ≥ 1 → Inadequate; the
    // single-location trust safe is the same; trust overall over S I, E G, C G, R G, W G: n = 5
    // → X = 2, 1 inadequate < 2 but one is inadequate → Requires improvement.
    let mut first = inspection(
        "RXX",
        "RXX01",
        "2019-04-01",
        [
            five("urgent", [G; 5]),
            five("surgery", [G; 5]),
            five("renal", [I, G, G, G, G]),
        ]
        .concat(),
    );
    first.trust_type = TrustType::Acute as i32;
    client.record_inspection(first).await.unwrap();
    client
        .record_well_led_assessment(pb::RecordWellLedAssessmentRequest {
            trust_code: "RXX".into(),
            rating: G as i32,
            report_date: on("2019-04-01"),
            statement_scores: vec![],
        })
        .await
        .unwrap();
    events.next().await;
    let v2 = events.next().await;
    assert_eq!(v2.version, 2);
    assert_eq!(rating(kq(&v2.key_questions, KeyQuestion::Safe)), I);
    assert_eq!(
        rating(kq(&v2.locations[0].key_questions, KeyQuestion::Safe)),
        I
    );
    assert_eq!(rating(overall(&v2)), RI);

    // A decision that ended in the past changes nothing: no new version.
    let ended = client
        .record_significantly_small_service(significantly_small(
            ("RXX01", "renal"),
            "2019-05-01",
            "2019-06-01",
            "a temporary unit, closed",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.published_version, 0);
    let latest = ended.rating.unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(rating(kq(&latest.key_questions, KeyQuestion::Safe)), I);

    // Standing from 2019-06-01: location safe over urgent G, surgery G: n = 2 → X = 1, nothing
    // inadequate or RI, 0 outstanding < 1 → Good; trust safe Good; trust overall over five
    // Good → Good.
    let r = client
        .record_significantly_small_service(significantly_small(
            ("RXX01", "renal"),
            "2019-06-01",
            "",
            REASON,
        ))
        .await
        .unwrap()
        .into_inner();
    // Version 3 is the next one published: the ended decision published nothing.
    assert_eq!(r.published_version, 3);
    let decision = r.decision.unwrap();
    assert_eq!(
        (
            decision.sequence,
            decision.from_date,
            decision.reason.as_str()
        ),
        (2, on("2019-06-01"), REASON)
    );
    assert_eq!(r.history.len(), 2);
    let v3 = events.next().await;
    assert_eq!(v3.version, 3);
    let safe = kq(&v3.key_questions, KeyQuestion::Safe);
    assert_eq!(rating(safe), G);
    assert_eq!(
        rating(kq(&v3.locations[0].key_questions, KeyQuestion::Safe)),
        G
    );
    assert_eq!(rating(overall(&v3)), G);
    // The explanations of what it was left out of name the service, the reason and the date.
    let names_it = |d: &common::DatedRating| {
        explanation(d)
            .notes
            .iter()
            .any(|n| n.contains("renal") && n.contains(REASON) && n.contains("2019-06-01"))
    };
    assert!(names_it(safe), "{safe:?}");
    let location_safe = kq(&v3.locations[0].key_questions, KeyQuestion::Safe);
    assert!(names_it(location_safe), "{location_safe:?}");
    assert!(
        !explanation(location_safe)
            .inputs
            .iter()
            .any(|i| i.contains("renal")),
        "renal is not counted: {location_safe:?}"
    );

    // The service's own ratings are still shown, with the decision standing and its history.
    let renal = client
        .get_ratings(get_ratings("RXX", "RXX01", "renal", ""))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(rating(kq(&renal.key_questions, KeyQuestion::Safe)), I);
    assert!(
        renal.left_out_significantly_small.contains(REASON),
        "{renal:?}"
    );
    let listed: Vec<(Option<Date>, Option<Date>)> = renal
        .significantly_small
        .iter()
        .map(|s| (s.from_date, s.until))
        .collect();
    assert_eq!(
        listed,
        [
            (on("2019-05-01"), on("2019-06-01")),
            (on("2019-06-01"), None)
        ]
    );
    // As of a date before the decision, renal counts and is not left out.
    let before = client
        .get_ratings(get_ratings("RXX", "RXX01", "", "2019-04-15"))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(rating(kq(&before.key_questions, KeyQuestion::Safe)), I);
    assert!(
        before
            .services
            .iter()
            .all(|s| s.left_out_significantly_small.is_empty())
    );

    // Bad input names the field.
    let unknown_location = client
        .record_significantly_small_service(significantly_small(
            ("RXX09", "renal"),
            "2019-06-01",
            "",
            REASON,
        ))
        .await;
    expect_bad_field(unknown_location, "location_id");
    let unknown_service = client
        .record_significantly_small_service(significantly_small(
            ("RXX01", "transport"),
            "2019-06-01",
            "",
            REASON,
        ))
        .await;
    expect_bad_field(unknown_service, "service_id");
    let end_before_start = client
        .record_significantly_small_service(significantly_small(
            ("RXX01", "renal"),
            "2019-06-01",
            "2019-01-01",
            REASON,
        ))
        .await;
    expect_bad_field(end_before_start, "until");
    let no_reason = client
        .record_significantly_small_service(significantly_small(
            ("RXX01", "renal"),
            "2019-06-01",
            "",
            "  ",
        ))
        .await;
    expect_bad_field(no_reason, "reason");
    let no_start = client
        .record_significantly_small_service(significantly_small(("RXX01", "renal"), "", "", REASON))
        .await;
    expect_bad_field(no_start, "from_date");
    let mut unknown_trust = significantly_small(("RXX01", "renal"), "2019-06-01", "", REASON);
    unknown_trust.trust_code = "RZZ".into();
    let unknown_trust = client
        .record_significantly_small_service(unknown_trust)
        .await;
    expect_code(unknown_trust, Code::NotFound, "RZZ");
    // None of them was recorded.
    let renal = client
        .get_ratings(get_ratings("RXX", "RXX01", "renal", ""))
        .await
        .unwrap()
        .into_inner()
        .ratings
        .unwrap();
    assert_eq!(renal.significantly_small.len(), 2);

    svc.stop().await;
}

/// The contract (quality.proto): a required date left unset, a date that is not a calendar date
/// and an enum left unspecified are refused with INVALID_ARGUMENT naming the field; an optional
/// date may be left unset (`decided_on` → today).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_and_enums_are_checked_at_the_edge_naming_the_field() {
    let (svc, mut client, _events) = Service::seeded().await;
    let well_led = |report_date: Option<Date>, rating: Rating| pb::RecordWellLedAssessmentRequest {
        trust_code: "RXX".into(),
        rating: rating as i32,
        report_date,
        statement_scores: vec![],
    };
    let action = |kq: KeyQuestion, kind: pb::EnforcementKind, date: &str| {
        enforcement(
            ("RXX", "RXX01", "urgent"),
            kq,
            kind,
            "Regulation 12 safe care and treatment",
            date,
        )
    };
    let warning = pb::EnforcementKind::WarningNotice;

    // Required dates left unset.
    let undated = client
        .record_inspection(inspection("RXX", "RXX01", "", five("urgent", [G; 5])))
        .await;
    expect_bad_field(undated, "report_date");
    let undated = client.record_well_led_assessment(well_led(None, G)).await;
    expect_bad_field(undated, "report_date");
    let undated = client
        .record_enforcement_action(action(KeyQuestion::Safe, warning, ""))
        .await;
    expect_bad_field(undated, "action_date");

    // Dates that are not calendar dates: 29 February of a common year, a month without its day,
    // day 31 of a 30-day month, month 0.
    let not_leap = client
        .record_well_led_assessment(well_led(raw_date(2019, 2, 29), G))
        .await;
    let status = expect_bad_field(not_leap, "report_date");
    assert!(
        status
            .message()
            .contains("report_date: 2019-02-29 is not a calendar date"),
        "{status:?}"
    );
    let mut month_only = action(KeyQuestion::Safe, warning, "");
    month_only.action_date = raw_date(2019, 5, 0);
    let month_only = client.record_enforcement_action(month_only).await;
    let status = expect_bad_field(month_only, "action_date");
    assert!(status.message().contains("2019-05-00"), "{status:?}");
    let mut small = significantly_small(("RXX01", "urgent"), "2019-06-01", "", "small");
    small.until = raw_date(2019, 6, 31);
    let small = client.record_significantly_small_service(small).await;
    expect_bad_field(small, "until");
    let mut merged = pb::RecordMergedServiceRequest {
        trust_code: "RXX".into(),
        location_id: "RXX01".into(),
        service_id: "urgent".into(),
        organisation: "Old Trust".into(),
        merged_on: raw_date(2019, 2, 30),
        until: None,
        reason: "acquired".into(),
    };
    let bad_merger = client.record_merged_service(merged.clone()).await;
    expect_bad_field(bad_merger, "merged_on");
    merged.merged_on = on("2019-01-01");
    merged.until = raw_date(2020, 2, 30);
    let bad_until = client.record_merged_service(merged).await;
    expect_bad_field(bad_until, "until");
    // Trust safe RI, as the rules compute it (DOMAIN §2.1 example): not a departure.
    let safe_ri = decision(
        trust_entity("RXX"),
        KeyQuestion::Safe,
        RI,
        "",
        pb::Stage::Final,
        "",
    );
    let mut undecided = safe_ri.clone();
    undecided.decided_on = raw_date(2019, 0, 1);
    let undecided = client.record_published_decision(undecided).await;
    expect_bad_field(undecided, "decided_on");

    // Enums left unspecified, or a number the contract does not know.
    let no_kind = client
        .record_enforcement_action(action(
            KeyQuestion::Safe,
            pb::EnforcementKind::Unspecified,
            "2019-05-01",
        ))
        .await;
    expect_bad_field(no_kind, "kind");
    let no_kq = client
        .record_enforcement_action(action(KeyQuestion::Unspecified, warning, "2019-05-01"))
        .await;
    expect_bad_field(no_kq, "key_question");
    let mut unknown_kind = action(KeyQuestion::Safe, warning, "2019-05-01");
    unknown_kind.kind = 42;
    let unknown_kind = client.record_enforcement_action(unknown_kind).await;
    expect_bad_field(unknown_kind, "kind");
    let no_rating = client
        .record_well_led_assessment(well_led(on("2019-05-01"), Rating::Unspecified))
        .await;
    expect_bad_field(no_rating, "rating");

    // None of them was recorded: the latest version is still the seed's second, issued just now.
    let latest = latest_rating(&mut client, "RXX").await;
    assert_eq!(latest.version, 2);
    let issued_at = convert::to_timestamp(latest.issued_at.as_ref().expect("issued_at"))
        .expect("a valid instant");
    let age = chrono::Utc::now() - issued_at;
    assert!(
        age >= chrono::TimeDelta::zero() && age < chrono::TimeDelta::minutes(5),
        "{issued_at}"
    );

    // An unset decided_on is today; recorded_at is the instant it was recorded.
    let before = chrono::Utc::now();
    let today = client
        .record_published_decision(safe_ri)
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    let after = chrono::Utc::now();
    let decided_on = convert::to_date(&today.decided_on.expect("decided_on")).unwrap();
    assert!(
        (before.date_naive()..=after.date_naive()).contains(&decided_on),
        "{decided_on}"
    );
    let recorded_at = convert::to_timestamp(&today.recorded_at.expect("recorded_at")).unwrap();
    // Stored to the millisecond.
    assert!(
        before - chrono::TimeDelta::milliseconds(1) <= recorded_at && recorded_at <= after,
        "{recorded_at}"
    );
    assert!(!today.departs, "trust safe is RI by the rules: {today:?}");

    svc.stop().await;
}

/// Evidence on the queue is checked as gRPC input is: a report date that is unset or not a
/// calendar date is poison, dead-lettered naming the field and record, and the valid evidence
/// beside it is rated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_with_a_bad_date_is_dead_lettered_naming_the_field() {
    let svc = Service::start().await;
    let mut events = svc.events().await;
    let (bus, subjects) = svc.evidence_sender().await;
    let evidence = |id: &str, service_date: Option<Date>, well_led_date: Option<Date>| {
        ev::QualityEvidence {
            service_ratings: vec![ev::ServiceKeyQuestionRating {
                location_id: String::new(),
                location_name: String::new(),
                service_id: "community".into(),
                key_question: KeyQuestion::Safe as i32,
                rating: RI as i32,
                report_date: service_date,
            }],
            well_led: vec![ev::WellLedAssessment {
                rating: G as i32,
                report_date: well_led_date,
            }],
            // Kept for comparison only, never read as input.
            published: vec![ev::PublishedRating {
                level: ev::PublishedLevel::TrustOverall as i32,
                key_question: KeyQuestion::Unspecified as i32,
                rating: G as i32,
                report_date: on("2018-01-01"),
            }],
            ..ryy_evidence(id)
        }
    };
    let valid = on("2019-01-10");
    for (id, e) in [
        ("e1", evidence("e1", raw_date(2019, 2, 29), valid)),
        ("e2", evidence("e2", None, valid)),
        ("e3", evidence("e3", valid, raw_date(2019, 1, 0))),
        ("e4", evidence("e4", valid, valid)),
    ] {
        bus.publish(subjects.evidence_quality(), id, &e)
            .await
            .unwrap();
    }

    // The valid evidence is rated; the others changed nothing.
    let v1 = events.next().await;
    assert_eq!((v1.trust_code.as_str(), v1.version), ("RYY", 1));
    let safe = kq(&v1.key_questions, KeyQuestion::Safe);
    assert_eq!((rating(safe), safe.report_date), (RI, valid));

    let dead = bus
        .jetstream()
        .get_stream(subjects.deadletter_stream().name)
        .await
        .unwrap()
        .create_consumer(OrderedConfig {
            filter_subject: subjects.deadletter(cqc_quality::SERVICE),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap()
        .messages()
        .await
        .unwrap();
    let reasons: Vec<String> = tokio::time::timeout(
        DEADLINE,
        dead.take(3)
            .map(|m| {
                common::DeadLetter::decode(m.expect("dead letter").payload.as_ref())
                    .unwrap()
                    .reason
            })
            .collect::<Vec<_>>(),
    )
    .await
    .expect("three dead letters in time");
    let reason_of = |id: &str| {
        reasons
            .iter()
            .find(|r| r.contains(&format!("evidence {id} ")))
            .unwrap_or_else(|| panic!("{id} dead-lettered: {reasons:?}"))
    };
    assert!(
        reason_of("e1")
            .contains("service_ratings[0].report_date: 2019-02-29 is not a calendar date"),
        "{reasons:?}"
    );
    assert!(
        reason_of("e2").contains("service_ratings[0].report_date: missing"),
        "{reasons:?}"
    );
    assert!(
        reason_of("e3").contains("well_led[0].report_date: 2019-01-00"),
        "{reasons:?}"
    );

    svc.stop().await;
}
