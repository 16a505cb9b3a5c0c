//! One-service tests: the App on port 0 over a private NATS server and a fresh database; evidence
//! arrives on `<ns>.evidence.resources` as ingestion publishes it, and every answer comes over
//! gRPC. The workflow tests run with a tokens file, so roles are enforced.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use oversight_proto::common::v1 as pb_common;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1 as pb;
use oversight_testkit::wait_until;
use tonic::Code;

use common::{
    ANONYMOUS_OPERATOR_TOKEN, CQC_TOKEN, DEADLINE, NHSI_TOKEN, READER_TOKEN, Service, d, finance,
    m, operational, productivity, req, ward_day,
};

async fn finance_score(
    s: &Service,
    trust: &str,
    token: &str,
) -> Option<pb::GetFinanceScoreResponse> {
    s.client()
        .await
        .get_finance_score(req(
            pb::GetFinanceScoreRequest {
                trust_code: trust.into(),
                period: None,
            },
            token,
        ))
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_score_chppd_and_positions_from_evidence_on_the_queue() {
    let s = Service::start(false).await;
    s.publish(&finance(
        "RXX",
        "2017-03-31",
        ["2.6", "-3", "-0.5", "0", "60"],
    ))
    .await;
    for e in [
        ward_day("RXX", "W1", "2018-04-01", ["20", "100", "0", "10", "50"]),
        ward_day("RXX", "W1", "2018-04-02", ["20", "100", "0", "10", "50"]),
        ward_day("RXX", "W2", "2018-04-01", ["10", "40", "0", "0", "20"]),
        // Staffed, but nobody in its beds at midnight.
        ward_day("RXX", "W3", "2018-04-01", ["0", "10", "0", "0", "0"]),
    ] {
        s.publish(&e).await;
    }
    // Peers with productivity data: RXX has the highest (worst) sickness absence.
    for (trust, sickness) in [
        ("RXX", "6.1"),
        ("RAA", "3.0"),
        ("RBB", "4.0"),
        ("RCC", "5.0"),
    ] {
        s.publish(&productivity(
            trust,
            "2018-03-31",
            "sickness_absence_rate",
            sickness,
        ))
        .await;
    }

    let f = wait_until(DEADLINE, "finance score of RXX", || {
        finance_score(&s, "RXX", "")
    })
    .await
    .unwrap();
    assert_eq!(f.period, Some(d("2017-03-31")));
    let scores: Vec<(&str, u32)> = f
        .metrics
        .iter()
        .map(|m| (m.metric.as_str(), m.score))
        .collect();
    assert_eq!(
        scores,
        vec![
            ("capital_service_capacity", 1),
            ("liquidity_days", 2),
            ("income_expenditure_margin_pct", 3),
            ("distance_from_plan_pct", 1),
            ("agency_spend_vs_ceiling_pct", 4),
        ]
    );
    assert_eq!(f.overall, 3);
    let explanation = f.explanation.unwrap();
    assert_eq!(explanation.rule_set, "sof-2017");
    assert!(
        explanation.rule.contains("limits the overall score to 3"),
        "{explanation:?}"
    );

    let mut client = s.client().await;
    let chppd = wait_until(DEADLINE, "CHPPD of RXX", || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_chppd(pb::GetChppdRequest {
                    trust_code: "RXX".into(),
                    month: Some(m("2018-04")),
                })
                .await
                .ok()?
                .into_inner();
            (r.wards.len() == 3).then_some(r)
        }
    })
    .await
    .unwrap();
    let w1 = &chppd.wards[0];
    assert_eq!(
        (w1.ward_code.as_str(), w1.month, w1.chppd.as_str()),
        ("W1", Some(m("2018-04")), "8.00")
    );
    assert_eq!(chppd.wards[1].chppd, "6.00");
    // W3: no figure (not a problem), its hours shown and counted at trust level (DOMAIN §4.3).
    let w3 = &chppd.wards[2];
    assert_eq!(
        (w3.ward_code.as_str(), w3.patient_days, w3.chppd.as_str()),
        ("W3", 0, "")
    );
    assert_eq!(w3.by_staff_group, None);
    assert_eq!(w3.care_hours, "10.00");
    assert!(chppd.problems.is_empty(), "{:?}", chppd.problems);
    let roll_up = &chppd.trust[0];
    assert_eq!(roll_up.ward_code, "");
    assert_eq!(roll_up.patient_days, 50);
    assert_eq!(roll_up.care_hours, "390.00");
    assert_eq!(
        roll_up.chppd, "7.80",
        "(320 + 60 + 10) hours ÷ (40 + 10 + 0) patient days, not a mean of ratios"
    );
    let by = roll_up.by_staff_group.as_ref().unwrap();
    assert_eq!(
        (
            by.registered_nurse.as_str(),
            by.allied_health_professional.as_str(),
            by.healthcare_support_worker.as_str()
        ),
        ("5.00", "0.40", "2.40")
    );

    let positions = wait_until(DEADLINE, "positions of RXX among 4 peers", || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_metric_positions(pb::GetMetricPositionsRequest {
                    trust_code: "RXX".into(),
                    peer_set: None,
                })
                .await
                .ok()?
                .into_inner();
            r.positions
                .iter()
                .find(|p| p.metric == "sickness_absence_rate" && p.peer_count == 4)
                .cloned()
        }
    })
    .await
    .unwrap();
    assert_eq!(positions.quartile, 4);
    assert_eq!(positions.peer_median, "4.5");
    assert_eq!(positions.distance_from_median, "1.6");
    assert_eq!(positions.kloe, pb::KeyLineOfEnquiry::People as i32);
    assert_eq!(
        positions.direction,
        pb::MetricDirection::LowerIsBetter as i32
    );
    assert_eq!(positions.period, Some(d("2018-03-31")));

    // A named peer set given in the request.
    let named = client
        .get_metric_positions(pb::GetMetricPositionsRequest {
            trust_code: "RXX".into(),
            peer_set: Some(pb::PeerSet {
                name: "north".into(),
                trust_codes: vec!["RAA".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(named.peer_group, "peer group north");
    let p = named
        .positions
        .iter()
        .find(|p| p.metric == "sickness_absence_rate")
        .unwrap();
    assert_eq!((p.peer_count, p.quartile), (2, 3));

    let suggestion = client
        .get_suggested_rating(pb::GetSuggestedRatingRequest {
            trust_code: "RXX".into(),
            peer_set: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(suggestion.kloes.len(), 5);
    let kloes: Vec<i32> = suggestion.kloes.iter().map(|k| k.kloe).collect();
    assert!(
        kloes.contains(&(pb::KeyLineOfEnquiry::People as i32)),
        "{kloes:?}"
    );
    assert!(suggestion.kloes.iter().all(|k| !k.reasons.is_empty()));

    // Errors name the field or record.
    let e = client
        .get_chppd(pb::GetChppdRequest {
            trust_code: "RXX".into(),
            month: Some(m("2018-13")),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("month"), "{}", e.message());
    let e = client
        .get_finance_score(pb::GetFinanceScoreRequest {
            trust_code: "RXX".into(),
            period: Some(oversight_proto::google_type::Date {
                year: 2017,
                month: 2,
                day: 29,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("period"), "{}", e.message());
    let e = client
        .get_finance_score(pb::GetFinanceScoreRequest {
            trust_code: "RZZ".into(),
            period: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("RZZ"), "{}", e.message());
    let e = client
        .get_metric_positions(pb::GetMetricPositionsRequest {
            trust_code: "RXX".into(),
            peer_set: Some(pb::PeerSet {
                name: String::new(),
                trust_codes: vec!["RAA".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("peer_set.name"), "{}", e.message());
    s.stop().await;
}

async fn uor_stream_messages(s: &Service) -> u64 {
    let mut stream = s
        .bus
        .jetstream()
        .get_stream(s.bus.subjects().uor_stream().name)
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_roles_and_states_are_enforced_and_recorded() {
    let s = Service::start(true).await;
    s.publish(&finance(
        "RXX",
        "2018-03-31",
        ["2.6", "-3", "-0.5", "0", "60"],
    ))
    .await;
    wait_until(DEADLINE, "RXX known", || {
        finance_score(&s, "RXX", READER_TOKEN)
    })
    .await
    .unwrap();
    let mut client = s.client().await;
    let propose = |rating: pb_common::Rating, token: &str| {
        req(
            pb::ProposeUseOfResourcesRequest {
                trust_code: "RXX".into(),
                rating: rating as i32,
                rationale: "agency spend well above peers".into(),
                report_date: Some(d("2018-07-01")),
            },
            token,
        )
    };
    let approve = |rating: pb_common::Rating, reason: &str, token: &str| {
        req(
            pb::ApproveUseOfResourcesRequest {
                trust_code: "RXX".into(),
                rating: rating as i32,
                reason: reason.into(),
            },
            token,
        )
    };

    // No token, or a reader, may not propose.
    let e = client
        .propose_use_of_resources(propose(pb_common::Rating::RequiresImprovement, ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = client
        .propose_use_of_resources(propose(
            pb_common::Rating::RequiresImprovement,
            READER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    // A caller's name grants nothing: an operator called `anonymous` may not propose or approve.
    let e = client
        .propose_use_of_resources(propose(
            pb_common::Rating::RequiresImprovement,
            ANONYMOUS_OPERATOR_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    let e = client
        .approve_use_of_resources(approve(
            pb_common::Rating::Unspecified,
            "",
            ANONYMOUS_OPERATOR_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    // Nothing to approve yet.
    let e = client
        .approve_use_of_resources(approve(pb_common::Rating::Unspecified, "", CQC_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(e.message().contains("RXX"), "{}", e.message());

    let proposed = client
        .propose_use_of_resources(propose(pb_common::Rating::RequiresImprovement, NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(proposed.state, pb::UseOfResourcesState::Proposed as i32);
    assert_eq!(
        proposed.proposed_rating,
        pb_common::Rating::RequiresImprovement as i32
    );
    // Proposed is not approved: nothing served, nothing published.
    let e = client
        .get_use_of_resources(req(
            pb::GetUseOfResourcesRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(uor_stream_messages(&s).await, 0);

    // NHSI may not approve its own proposal; a changed rating needs a reason.
    let e = client
        .approve_use_of_resources(approve(pb_common::Rating::Unspecified, "", NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    let e = client
        .approve_use_of_resources(approve(pb_common::Rating::Good, "  ", CQC_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("reason"), "{}", e.message());

    let approved = client
        .approve_use_of_resources(approve(pb_common::Rating::Unspecified, "", CQC_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let assessment = approved.assessment.unwrap();
    assert_eq!(assessment.state, pb::UseOfResourcesState::Published as i32);
    assert_eq!(
        assessment.approved_rating,
        pb_common::Rating::RequiresImprovement as i32
    );
    let published = approved.published.unwrap();
    assert_eq!(published.version, 1);
    assert_eq!(published.approved_by, "CQC (cqc-inspections)");
    assert_eq!(
        published.rating.as_ref().map(|r| (r.rating, r.report_date)),
        Some((
            pb_common::Rating::RequiresImprovement as i32,
            Some(d("2018-07-01"))
        ))
    );
    assert!(published.approved_at.is_some());
    assert_eq!(uor_stream_messages(&s).await, 1);

    // Approving twice is refused.
    let e = client
        .approve_use_of_resources(approve(pb_common::Rating::Unspecified, "", CQC_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());

    // A factual-accuracy revision: CQC only, with a reason; a new published version.
    let revise = |token: &str, reason: &str| {
        req(
            pb::ReviseUseOfResourcesRequest {
                trust_code: "RXX".into(),
                rating: pb_common::Rating::Good as i32,
                reason: reason.into(),
            },
            token,
        )
    };
    let e = client
        .revise_use_of_resources(revise(NHSI_TOKEN, "typo"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .revise_use_of_resources(revise(CQC_TOKEN, ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let revised = client
        .revise_use_of_resources(revise(
            CQC_TOKEN,
            "factual accuracy: pay cost figure corrected",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revised.assessment.as_ref().unwrap().version, 2);
    assert_eq!(
        revised.assessment.as_ref().unwrap().changed_from,
        pb_common::Rating::RequiresImprovement as i32
    );
    assert_eq!(revised.published.as_ref().unwrap().version, 2);
    assert_eq!(uor_stream_messages(&s).await, 2);

    let served = client
        .get_use_of_resources(req(
            pb::GetUseOfResourcesRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(served.version, 2);
    assert_eq!(
        served.rating.unwrap().rating,
        pb_common::Rating::Good as i32
    );

    let history = client
        .get_use_of_resources_history(req(
            pb::GetUseOfResourcesHistoryRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    let steps: Vec<(pb::WorkflowAction, pb_common::Role, &str)> = history
        .transitions
        .iter()
        .map(|t| (t.action(), t.role(), t.caller.as_str()))
        .collect();
    use pb::WorkflowAction as A;
    use pb_common::Role as R;
    assert_eq!(
        steps,
        vec![
            (A::Suggest, R::Operator, "nhsi-resources"),
            (A::Propose, R::Nhsi, "nhsi-uor-team"),
            (A::Approve, R::Cqc, "cqc-inspections"),
            (A::Publish, R::Operator, "nhsi-resources"),
            (A::Revise, R::Cqc, "cqc-inspections"),
            (A::Publish, R::Operator, "nhsi-resources"),
        ]
    );
    assert!(history.transitions.iter().all(|t| t.recorded_at.is_some()));
    assert_eq!(history.published.len(), 2);
    assert_eq!(
        history.current.unwrap().state,
        pb::UseOfResourcesState::Published as i32
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_is_suggested_from_triggers_and_decided_by_nhsi() {
    let s = Service::start(true).await;
    // Finance score 3, A&E 4-hour missed, RTT met, and CQC overall RI from quality.rated.
    s.publish(&finance(
        "RXX",
        "2018-03-31",
        ["2.6", "-3", "-0.5", "0", "60"],
    ))
    .await;
    s.publish(&operational("RXX", "2018-03-31", "ae_4h", "91.2"))
        .await;
    s.publish(&operational("RXX", "2018-03-31", "rtt_18w", "93"))
        .await;
    let quality = QualityRatingIssued {
        event_id: "RXX-quality-v1".into(),
        trust_code: "RXX".into(),
        trust_name: "Example".into(),
        trust_type: pb_common::TrustType::Acute as i32,
        version: 1,
        rule_set: "cqc-2018".into(),
        key_questions: vec![],
        overall: Some(pb_common::DatedRating {
            rating: pb_common::Rating::RequiresImprovement as i32,
            report_date: Some(d("2018-06-15")),
            explanation: None,
        }),
        issued_at: None,
        locations: vec![],
        region: String::new(),
        overall_key_questions: vec![],
    };
    s.bus
        .publish(s.bus.subjects().quality_rated(), "RXX-quality-v1", &quality)
        .await
        .unwrap();
    let client = s.client().await;
    let suggestion = wait_until(DEADLINE, "three triggers for RXX", || {
        let mut client = client.clone();
        async move {
            let r = client
                .suggest_segment(req(
                    pb::SuggestSegmentRequest {
                        trust_code: "RXX".into(),
                    },
                    READER_TOKEN,
                ))
                .await
                .ok()?
                .into_inner();
            (r.triggers.len() == 3).then_some(r)
        }
    })
    .await
    .unwrap();
    let kinds: Vec<pb::TriggerKind> = suggestion.triggers.iter().map(|t| t.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            pb::TriggerKind::CqcOverallRating,
            pb::TriggerKind::FinanceScore,
            pb::TriggerKind::OperationalStandardMissed
        ]
    );
    assert!(
        suggestion.triggers[2].description.contains("A&E"),
        "{:?}",
        suggestion.triggers
    );
    assert_eq!(
        (suggestion.segment, suggestion.segment_name.as_str()),
        (3, "mandated support")
    );
    assert!(suggestion.latest_decision.is_none());

    let mut client = client.clone();
    let decide = |segment: u32, rationale: &str, token: &str| {
        req(
            pb::RecordSegmentDecisionRequest {
                trust_code: "RXX".into(),
                segment,
                rationale: rationale.into(),
            },
            token,
        )
    };
    let e = client
        .record_segment_decision(decide(2, "improving", READER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .record_segment_decision(decide(2, " ", NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("rationale"), "{}", e.message());
    let e = client
        .record_segment_decision(decide(7, "x", NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let decided = client
        .record_segment_decision(decide(2, "recovery plan agreed; A&E improving", NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!((decided.segment, decided.suggested_segment), (2, 3));
    assert_eq!(decided.decided_by, "nhsi-uor-team");
    assert!(decided.decided_at.is_some());
    assert_eq!(decided.triggers.len(), 3);
    let again = client
        .suggest_segment(req(
            pb::SuggestSegmentRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.latest_decision.unwrap().segment, 2);
    s.stop().await;
}

/// The league table of a trust type's peer group and/or a peer group.
async fn league(
    client: &pb::resources_service_client::ResourcesServiceClient<tonic::transport::Channel>,
    trust_type: pb_common::TrustType,
    peer_group: pb::NofPeerGroup,
) -> Result<pb::GetLeagueTableResponse, tonic::Status> {
    client
        .clone()
        .get_league_table(pb::GetLeagueTableRequest {
            trust_type: trust_type as i32,
            peer_group: peer_group as i32,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn league_table_ranks_by_segment_then_delivery_score() {
    let s = Service::start(false).await;
    // Eight acute trusts, best to worst on A&E and sickness; RA2 reports a deficit.
    let trusts = ["RA1", "RA2", "RA3", "RA4", "RA5", "RA6", "RA7", "RA8"];
    for (i, trust) in trusts.iter().enumerate() {
        let ae = format!("{}", 90 - i * 3);
        let sickness = format!("{}", 3 + i);
        s.publish(&operational(trust, "2025-03-31", "ae_4h", &ae))
            .await;
        s.publish(&productivity(
            trust,
            "2025-03-31",
            "sickness_absence_rate",
            &sickness,
        ))
        .await;
    }
    s.publish(&finance(
        "RA2",
        "2025-03-31",
        ["2.6", "-3", "-0.5", "0", "60"],
    ))
    .await;
    // A mental health and a community trust: one non-acute peer group (NOF 2025/26), ranked in
    // their own table, never against the acute trusts.
    for (trust, trust_type, sickness) in [
        ("RM1", pb_common::TrustType::MentalHealth, "3"),
        ("RC1", pb_common::TrustType::Community, "4"),
    ] {
        let mut e = productivity(trust, "2025-03-31", "sickness_absence_rate", sickness);
        e.trust_type = trust_type as i32;
        s.publish(&e).await;
    }
    let client = s.client().await;
    let table = wait_until(DEADLINE, "league table of 8 trusts", || {
        let client = client.clone();
        async move {
            let r = league(
                &client,
                pb_common::TrustType::Acute,
                pb::NofPeerGroup::Unspecified,
            )
            .await
            .ok()?;
            let complete = r.rows.len() == 8
                && r.rows
                    .iter()
                    .any(|row| row.trust_code == "RA2" && row.segment == 3);
            complete.then_some(r)
        }
    })
    .await
    .unwrap();
    assert_eq!(table.rule_set, "nof-2025");
    let keys: Vec<(u32, String)> = table
        .rows
        .iter()
        .map(|r| (r.segment, r.delivery_score.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| {
        (a.0, a.1.parse::<f64>().unwrap())
            .partial_cmp(&(b.0, b.1.parse::<f64>().unwrap()))
            .unwrap()
    });
    assert_eq!(keys, sorted, "ordered by (segment, delivery score)");
    assert_eq!(table.rows[0].trust_code, "RA1");
    let ra2 = table.rows.iter().find(|r| r.trust_code == "RA2").unwrap();
    assert!(
        ra2.explanation
            .as_ref()
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("deficit")),
        "{ra2:?}"
    );
    assert!(
        table
            .rows
            .iter()
            .all(|r| r.peer_group == pb::NofPeerGroup::Acute as i32)
    );

    // The mental health trust's table is the non-acute one: community trusts are in it, ranked
    // from 1 on their own (sickness 3 → 1.00, 4 → 4.00).
    let non_acute = wait_until(DEADLINE, "non-acute league table", || {
        let client = client.clone();
        async move {
            let r = league(
                &client,
                pb_common::TrustType::MentalHealth,
                pb::NofPeerGroup::Unspecified,
            )
            .await
            .ok()?;
            (r.rows.len() == 2).then_some(r)
        }
    })
    .await
    .unwrap();
    let rows: Vec<(u32, &str, i32, &str)> = non_acute
        .rows
        .iter()
        .map(|r| {
            (
                r.rank,
                r.trust_code.as_str(),
                r.peer_group,
                r.delivery_score.as_str(),
            )
        })
        .collect();
    let group = pb::NofPeerGroup::NonAcute as i32;
    assert_eq!(
        rows,
        vec![(1, "RM1", group, "1.00"), (2, "RC1", group, "4.00")]
    );
    let by_group = league(
        &client,
        pb_common::TrustType::Unspecified,
        pb::NofPeerGroup::NonAcute,
    )
    .await
    .unwrap();
    assert_eq!(by_group.rows, non_acute.rows);
    // Every table at once: each ranked on its own, acute first.
    let all = league(
        &client,
        pb_common::TrustType::Unspecified,
        pb::NofPeerGroup::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(all.rows.len(), 10);
    assert_eq!(
        all.rows.iter().filter(|r| r.rank == 1).count(),
        2,
        "one first place per peer group"
    );
    // A trust type outside the asked peer group is a bad request naming peer_group.
    let err = league(
        &client,
        pb_common::TrustType::Acute,
        pb::NofPeerGroup::NonAcute,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("peer_group"), "{err:?}");
    s.stop().await;
}
