//! Store tests: nhsi-resources' tables through its own store functions, on SQLite by default and
//! on Postgres when TEST_DATABASE_URL is set (`TEST_DATABASE_URL=postgres://… cargo test -p
//! nhsi-resources`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use chrono::NaiveDate;
use nhsi_resources::error::ServiceError;
use nhsi_resources::{App, Config, SERVICE};
use nhsi_rules::workflow::{Action, UorState};
use oversight_proto::common::v1 as pb_common;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_rating::{Rating, RatingValue, TrustCode};
use oversight_runtime::auth::{Caller, Role};
use oversight_testkit::TestEnv;

use common::{d, finance, operational, productivity, ward_day};

async fn app(env: &TestEnv) -> App {
    App::build(Config {
        infra: env.infra(SERVICE).await.unwrap(),
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    })
    .await
    .unwrap()
}

fn trust(s: &str) -> TrustCode {
    s.parse().unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn caller(name: &str, role: Role) -> Caller {
    Caller {
        name: name.into(),
        role,
    }
}

fn quality(trust: &str, version: u64, overall: pb_common::Rating) -> QualityRatingIssued {
    QualityRatingIssued {
        event_id: format!("{trust}-quality-v{version}"),
        trust_code: trust.into(),
        trust_name: "Example".into(),
        trust_type: pb_common::TrustType::Acute as i32,
        version,
        rule_set: "cqc-2018".into(),
        key_questions: vec![],
        overall: Some(pb_common::DatedRating {
            rating: overall as i32,
            report_date: Some(d("2018-06-15")),
            explanation: None,
        }),
        issued_at: None,
        locations: vec![],
        region: String::new(),
        overall_key_questions: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_observations_are_stored_idempotently_and_scored_by_period() {
    let env = TestEnv::start().await.unwrap();
    let app = app(&env).await;
    let resources = app.resources();
    let metrics = app.observations();
    let rxx = trust("RXX");

    let older = finance("RXX", "2017-03-31", ["2.6", "-3", "-0.5", "0", "60"]);
    let newer = finance("RXX", "2018-03-31", ["3", "5", "2", "0.5", "-1"]);
    for e in [&older, &newer, &older] {
        assert_eq!(
            resources.record(e).await.unwrap(),
            None,
            "metrics publish nothing"
        );
    }
    let latest = metrics.finance_score(&rxx, None).await.unwrap();
    assert_eq!(latest.period, date("2018-03-31"));
    assert_eq!(latest.score.overall, 1);
    let earlier = metrics
        .finance_score(&rxx, Some(date("2017-03-31")))
        .await
        .unwrap();
    assert_eq!(earlier.score.scores.as_array(), [1, 2, 3, 1, 4]);
    assert_eq!(
        earlier.score.overall, 3,
        "a metric scoring 4 caps the overall at 3"
    );
    assert!(matches!(
        metrics.finance_score(&rxx, Some(date("2016-03-31"))).await,
        Err(ServiceError::NotFound { .. })
    ));
    // An incomplete stored period (a typed finance record always carries all five metrics, so
    // only data stored before could be) names the missing field.
    sqlx::query(
        "INSERT INTO nhsi_observations (trust_code, feed, period, ward_code, metric_values, evidence_id)
         VALUES ('RXX', 'finance', '2019-03-31', '', '{\"liquidity_days\":\"1\"}', 'legacy')",
    )
    .execute(metrics.pool())
    .await
    .unwrap();
    match metrics.finance_score(&rxx, None).await {
        Err(ServiceError::FailedPrecondition { reason, .. }) => {
            assert!(reason.contains("capital_service_capacity"), "{reason}")
        }
        other => panic!("expected a failed precondition, got {other:?}"),
    }

    // Ward staffing: the trust roll-up is total hours ÷ total patient days.
    for e in [
        ward_day("RXX", "W1", "2018-04-01", ["20", "100", "0", "10", "50"]),
        ward_day("RXX", "W1", "2018-04-02", ["20", "100", "0", "10", "50"]),
        ward_day("RXX", "W2", "2018-04-01", ["10", "40", "0", "0", "20"]),
        ward_day("RXX", "W3", "2018-04-01", ["0", "10", "0", "0", "0"]),
    ] {
        resources.record(&e).await.unwrap();
    }
    let (report, problems) = metrics.chppd(&rxx, None).await.unwrap();
    // W3 had nobody in its beds at midnight: no ward figure, not a problem, and its 10 hours
    // still count: (320 + 60 + 10) hours ÷ (40 + 10 + 0) patient days = 7.8 (DOMAIN.md §4.3).
    assert!(problems.is_empty(), "{problems:?}");
    let wards: Vec<_> = report
        .wards
        .iter()
        .map(|w| {
            (
                w.ward.as_str(),
                w.figures.chppd().map(|c| c.normalize().to_string()),
            )
        })
        .collect();
    assert_eq!(
        wards,
        vec![
            ("W1", Some("8".to_string())),
            ("W2", Some("6".to_string())),
            ("W3", None)
        ]
    );
    assert_eq!(report.trusts.len(), 1);
    assert_eq!(
        report.trusts[0]
            .figures
            .chppd()
            .map(|c| c.normalize().to_string()),
        Some("7.8".to_string())
    );

    // Invalid observations are refused with the field named.
    let bad = finance("RXX", "2018-03-31", ["3", "lots", "2", "0.5", "-1"]);
    match resources.record(&bad).await {
        Err(nhsi_resources::resources::RecordError::Invalid { field, .. }) => {
            assert_eq!(field, "metric.finance.liquidity_days")
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let mut no_feed = finance("RXX", "2018-03-31", ["3", "5", "2", "0.5", "-1"]);
    no_feed.body = Some(ev::resource_evidence::Body::Metric(ev::MetricObservation {
        feed: None,
    }));
    match resources.record(&no_feed).await {
        Err(nhsi_resources::resources::RecordError::Invalid { field, .. }) => {
            assert_eq!(field, "metric.feed")
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

/// Observations stored one row per metric (before migration 0003) are packed into
/// `nhsi_observations` once, key by key, without overwriting a packed row of the same key, and
/// the old table is emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_observations_are_packed_once() {
    let env = TestEnv::start().await.unwrap();
    let app = app(&env).await;
    let resources = app.resources();
    let metrics = app.observations();
    let rxx = trust("RXX");
    resources
        .record(&finance("RXX", "2018-03-31", ["3", "5", "2", "0.5", "-1"]))
        .await
        .unwrap();
    let legacy = [
        ("2017-03-31", "capital_service_capacity", "2.6"),
        ("2017-03-31", "liquidity_days", "-3"),
        ("2017-03-31", "income_expenditure_margin_pct", "-0.5"),
        ("2017-03-31", "distance_from_plan_pct", "0"),
        ("2017-03-31", "agency_spend_vs_ceiling_pct", "60"),
        // The packed row of this key stands.
        ("2018-03-31", "liquidity_days", "-30"),
    ];
    for (period, metric, value) in legacy {
        sqlx::query(
            "INSERT INTO nhsi_metric_observations (trust_code, feed, period, ward_code, metric, value, evidence_id)
             VALUES ('RXX', 'finance', $1, '', $2, $3, 'legacy')",
        )
        .bind(period)
        .bind(metric)
        .bind(value)
        .execute(metrics.pool())
        .await
        .unwrap();
    }
    let moved = nhsi_resources::observations::migrate_legacy_observations(metrics.pool())
        .await
        .unwrap();
    assert_eq!(moved, 2, "one packed row per (trust, feed, period, ward)");
    let earlier = metrics
        .finance_score(&rxx, Some(date("2017-03-31")))
        .await
        .unwrap();
    assert_eq!(earlier.score.scores.as_array(), [1, 2, 3, 1, 4]);
    let latest = metrics.finance_score(&rxx, None).await.unwrap();
    assert_eq!(latest.period, date("2018-03-31"));
    assert_eq!(
        latest.score.overall, 1,
        "the packed row was not overwritten"
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nhsi_metric_observations")
        .fetch_one(metrics.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        nhsi_resources::observations::migrate_legacy_observations(metrics.pool())
            .await
            .unwrap(),
        0
    );
}

/// A productivity or operational record carries one metric (standard) of a trust and period:
/// stored one at a time, each adds to the period's values, and a later value of the same metric
/// replaces the earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_metric_records_of_one_period_add_up() {
    let env = TestEnv::start().await.unwrap();
    let app = app(&env).await;
    let resources = app.resources();
    let metrics = app.observations();
    let rxx = trust("RXX");
    for e in [
        productivity("RXX", "2018-03-31", "sickness_absence_rate", "6.1"),
        productivity("RXX", "2018-03-31", "staff_retention_rate", "88"),
        productivity("RXX", "2018-03-31", "sickness_absence_rate", "5.9"),
        operational("RXX", "2018-03-31", "ae_4h", "91.2"),
        operational("RXX", "2018-03-31", "rtt_18w", "93"),
    ] {
        resources.record(&e).await.unwrap();
    }
    let (_, positions) = metrics
        .positions(&rxx, &nhsi_resources::observations::Peers::National)
        .await
        .unwrap();
    let mut values: Vec<(&str, String)> = positions
        .iter()
        .map(|p| (p.position.metric.name(), p.position.trust_value.to_string()))
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![
            ("sickness_absence_rate", "5.9".to_string()),
            ("staff_retention_rate", "88".to_string())
        ]
    );
    let (inputs, _) = metrics.segment_inputs(&rxx).await.unwrap();
    let mut standards: Vec<(&str, String)> = inputs
        .operational
        .iter()
        .map(|o| (o.standard.name(), o.value_pct.to_string()))
        .collect();
    standards.sort();
    assert_eq!(
        standards,
        vec![("ae_4h", "91.2".to_string()), ("rtt_18w", "93".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cqc_overall_keeps_the_newest_version() {
    let env = TestEnv::start().await.unwrap();
    let app = app(&env).await;
    let resources = app.resources();
    let rxx = trust("RXX");
    resources
        .record_quality(&quality("RXX", 2, pb_common::Rating::RequiresImprovement))
        .await
        .unwrap();
    resources
        .record_quality(&quality("RXX", 1, pb_common::Rating::Good))
        .await
        .unwrap();
    let (inputs, _) = app.observations().segment_inputs(&rxx).await.unwrap();
    assert_eq!(
        inputs.cqc_overall,
        Some(RatingValue::Rated(Rating::RequiresImprovement))
    );
    // The quality rating made the trust known, with its type.
    assert_eq!(
        app.observations().trust_type(&rxx).await.unwrap(),
        oversight_rating::TrustType::Acute
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_state_and_history_are_persisted() {
    let env = TestEnv::start().await.unwrap();
    let app = app(&env).await;
    let resources = app.resources();
    let assessments = app.assessments();
    let rxx = trust("RXX");
    let nhsi = caller("nhsi-uor-team", Role::Nhsi);
    let cqc = caller("cqc-inspections", Role::Cqc);

    assert!(matches!(
        assessments
            .propose(&rxx, &nhsi, Rating::Good, "fine", date("2018-07-01"))
            .await,
        Err(ServiceError::NotFound { .. })
    ));
    resources
        .record(&finance("RXX", "2018-03-31", ["3", "5", "2", "0.5", "-1"]))
        .await
        .unwrap();
    // The workflow checks the caller's own role: CQC may not propose, and an operator may not
    // approve, whoever the service is.
    assert!(matches!(
        assessments
            .propose(&rxx, &cqc, Rating::Good, "fine", date("2018-07-01"))
            .await,
        Err(ServiceError::PermissionDenied { .. })
    ));
    let operator = caller("ops", Role::Operator);
    assert!(matches!(
        assessments
            .propose(&rxx, &operator, Rating::Good, "fine", date("2018-07-01"))
            .await,
        Err(ServiceError::PermissionDenied { .. })
    ));
    let proposed = assessments
        .propose(
            &rxx,
            &nhsi,
            Rating::RequiresImprovement,
            "agency spend well above peers",
            date("2018-07-01"),
        )
        .await
        .unwrap();
    assert_eq!(proposed.workflow.state(), UorState::Proposed);
    assert_eq!(proposed.number, 1);
    assert_eq!(
        assessments.latest(&rxx).await.unwrap().unwrap().workflow,
        proposed.workflow,
        "the state machine round-trips through the store"
    );
    assert!(
        resources.latest_approved(&rxx).await.unwrap().is_none(),
        "a proposal is not an approved rating"
    );

    let approved = assessments
        .approve(
            &rxx,
            &cqc,
            Some(Rating::Good),
            Some("estates data corrected"),
        )
        .await
        .unwrap();
    assert_eq!(approved.assessment.workflow.state(), UorState::Published);
    let event = approved.event.unwrap();
    assert_eq!(event.version, 1);
    let (row, _) = resources.latest_approved(&rxx).await.unwrap().unwrap();
    assert_eq!(row.rating, Rating::Good);
    assert_eq!(row.report_date, date("2018-07-01"));
    assert_eq!(row.approved_by, "CQC (cqc-inspections)");
    assert!(
        row.rationale.contains("estates data corrected"),
        "{}",
        row.rationale
    );

    let revised = assessments
        .revise(
            &rxx,
            &cqc,
            Rating::RequiresImprovement,
            "factual accuracy: pay costs",
        )
        .await
        .unwrap();
    assert_eq!(revised.assessment.workflow.current().version, 2);
    assert_eq!(revised.event.unwrap().version, 2);
    assert_eq!(resources.published_history(&rxx).await.unwrap().len(), 2);

    let steps: Vec<(Action, String, String)> = assessments
        .transitions(&rxx)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.action, t.caller, t.to_state))
        .collect();
    let expected = [
        (Action::Suggest, "nhsi-resources", "suggested"),
        (Action::Propose, "nhsi-uor-team", "proposed"),
        (Action::Approve, "cqc-inspections", "approved"),
        (Action::Publish, "nhsi-resources", "published"),
        (Action::Revise, "cqc-inspections", "approved"),
        (Action::Publish, "nhsi-resources", "published"),
    ]
    .map(|(a, c, s)| (a, c.to_string(), s.to_string()));
    assert_eq!(steps, expected);

    // A published assessment takes no new proposal for the same report date…
    assert!(matches!(
        assessments
            .propose(&rxx, &nhsi, Rating::Good, "again", date("2018-07-01"))
            .await,
        Err(ServiceError::FailedPrecondition { .. })
    ));
    // …but a later report date opens the next assessment.
    let next = assessments
        .propose(&rxx, &nhsi, Rating::Good, "next year", date("2019-07-01"))
        .await
        .unwrap();
    assert_eq!(next.number, 2);

    // Only non-specialist acute trusts are assessed.
    let mut mh = finance("RMH", "2018-03-31", ["3", "5", "2", "0.5", "-1"]);
    mh.trust_type = pb_common::TrustType::MentalHealth as i32;
    resources.record(&mh).await.unwrap();
    assert!(matches!(
        assessments
            .propose(&trust("RMH"), &nhsi, Rating::Good, "x", date("2018-07-01"))
            .await,
        Err(ServiceError::FailedPrecondition { .. })
    ));
}
