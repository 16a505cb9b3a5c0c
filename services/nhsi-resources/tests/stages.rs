//! The use-of-resources assessment as recorded stages (issue 14, seed 004, DOMAIN.md §4) over
//! gRPC, with roles enforced: the trust's commentary on the five key lines of enquiry (recorded by
//! NHSI on the trust's behalf) → site visit → NHSI's report → proposal → CQC approval (published)
//! → factual-accuracy change (a new version, published again). Out of order is
//! FAILED_PRECONDITION naming the stage expected next; a wrong role is PERMISSION_DENIED; the
//! history lists every stage with who and when.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use oversight_proto::common::v1 as pb_common;
use oversight_proto::resources::v1 as pb;
use oversight_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use oversight_testkit::wait_until;
use tonic::Code;
use tonic::transport::Channel;

use common::{
    CQC_TOKEN, DEADLINE, NHSI_TOKEN, READER_TOKEN, Service, bad_field, d, finance, raw_date, req,
};

const KLOES: [pb::KeyLineOfEnquiry; 5] = [
    pb::KeyLineOfEnquiry::ClinicalServices,
    pb::KeyLineOfEnquiry::People,
    pb::KeyLineOfEnquiry::ClinicalSupportServices,
    pb::KeyLineOfEnquiry::CorporateServices,
    pb::KeyLineOfEnquiry::Finance,
];

/// A started service that knows RXX (an acute trust, from its finance evidence).
async fn started() -> (Service, ResourcesServiceClient<Channel>) {
    let s = Service::start(true).await;
    s.publish(&finance(
        "RXX",
        "2018-03-31",
        ["2.6", "-3", "-0.5", "0", "60"],
    ))
    .await;
    let client = s.client().await;
    wait_until(DEADLINE, "RXX known", || {
        let mut c = client.clone();
        async move {
            c.get_finance_score(req(
                pb::GetFinanceScoreRequest {
                    trust_code: "RXX".into(),
                    period: None,
                },
                READER_TOKEN,
            ))
            .await
            .ok()
        }
    })
    .await
    .unwrap();
    (s, client)
}

fn commentary(
    kloe: pb::KeyLineOfEnquiry,
    token: &str,
) -> tonic::Request<pb::RecordTrustCommentaryRequest> {
    req(
        pb::RecordTrustCommentaryRequest {
            trust_code: "RXX".into(),
            kloe: kloe as i32,
            text: format!("the trust's view on {}", kloe.as_str_name()),
            author: "director of finance, RXX".into(),
        },
        token,
    )
}

fn site_visit(token: &str) -> tonic::Request<pb::RecordSiteVisitRequest> {
    req(
        pb::RecordSiteVisitRequest {
            trust_code: "RXX".into(),
            date: Some(d("2018-05-14")),
            agenda: vec![
                "introduction with the chief executive".into(),
                "finance and procurement".into(),
                "workforce and clinical services".into(),
            ],
            team: vec!["UoR lead assessor".into(), "finance assessor".into()],
        },
        token,
    )
}

fn report(token: &str) -> tonic::Request<pb::RecordAssessmentReportRequest> {
    req(
        pb::RecordAssessmentReportRequest {
            trust_code: "RXX".into(),
            summary: "agency spend well above peers; estates efficient".into(),
        },
        token,
    )
}

fn propose(token: &str) -> tonic::Request<pb::ProposeUseOfResourcesRequest> {
    req(
        pb::ProposeUseOfResourcesRequest {
            trust_code: "RXX".into(),
            rating: pb_common::Rating::RequiresImprovement as i32,
            rationale: "agency spend well above peers".into(),
            report_date: Some(d("2018-07-01")),
        },
        token,
    )
}

fn approve(token: &str) -> tonic::Request<pb::ApproveUseOfResourcesRequest> {
    req(
        pb::ApproveUseOfResourcesRequest {
            trust_code: "RXX".into(),
            rating: pb_common::Rating::Unspecified as i32,
            reason: String::new(),
        },
        token,
    )
}

fn factual_accuracy(token: &str) -> tonic::Request<pb::RecordFactualAccuracyChangeRequest> {
    req(
        pb::RecordFactualAccuracyChangeRequest {
            trust_code: "RXX".into(),
            rating: pb_common::Rating::Good as i32,
            correction: "agency spend was 4.1 % of pay, not 6.1 %".into(),
            reason: "the trust's factual-accuracy comment, checked against its accounts".into(),
        },
        token,
    )
}

/// The refusal is FAILED_PRECONDITION and names the stage expected next (the rules' wording for
/// it) and the trust.
fn assert_out_of_order(e: &tonic::Status, expected_next: &str) {
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    assert!(
        e.message()
            .contains(&format!("the next stage is {expected_next}")),
        "{}",
        e.message()
    );
    assert!(e.message().contains("RXX"), "{}", e.message());
}

async fn stream_messages(s: &Service) -> u64 {
    let mut stream = s
        .bus
        .jetstream()
        .get_stream(s.bus.subjects().uor_stream().name)
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_process_in_order_publishes_the_approved_rating_and_records_every_stage() {
    let (s, mut client) = started().await;

    // Four KLOEs commented: the site visit still waits for the fifth.
    for kloe in &KLOES[..4] {
        let a = client
            .record_trust_commentary(commentary(*kloe, NHSI_TOKEN))
            .await
            .unwrap()
            .into_inner()
            .assessment
            .unwrap();
        assert!(a.staged);
        assert_eq!(
            a.next_stage,
            pb::UseOfResourcesStage::TrustCommentary as i32
        );
    }
    let a = client
        .record_trust_commentary(commentary(KLOES[4], NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(a.next_stage, pb::UseOfResourcesStage::SiteVisit as i32);
    assert_eq!(a.assessment, 1);
    assert_eq!(a.state, pb::UseOfResourcesState::Suggested as i32);
    let kloes: Vec<i32> = a.commentary.iter().map(|c| c.kloe).collect();
    assert_eq!(kloes, KLOES.map(|k| k as i32).to_vec());

    let a = client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(a.next_stage, pb::UseOfResourcesStage::Report as i32);
    let visit = a.site_visit.unwrap();
    assert_eq!(visit.date, Some(d("2018-05-14")));
    assert_eq!(visit.agenda.len(), 3);
    assert_eq!(visit.team, vec!["UoR lead assessor", "finance assessor"]);
    let who = visit.recorded.unwrap();
    assert_eq!(
        (who.role(), who.caller.as_str()),
        (pb_common::Role::Nhsi, "nhsi-uor-team")
    );
    let at = who.recorded_at.unwrap();
    assert!(at.seconds > 1_500_000_000, "{at:?}");

    let a = client
        .record_assessment_report(report(NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(a.next_stage, pb::UseOfResourcesStage::Proposal as i32);
    assert_eq!(
        a.report.unwrap().summary,
        "agency spend well above peers; estates efficient"
    );
    // Nothing has reached the combiner yet.
    assert_eq!(stream_messages(&s).await, 0);

    let a = client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!(a.state, pb::UseOfResourcesState::Proposed as i32);
    assert_eq!(a.next_stage, pb::UseOfResourcesStage::Approval as i32);

    let approved = client
        .approve_use_of_resources(approve(CQC_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let a = approved.assessment.unwrap();
    assert_eq!(a.state, pb::UseOfResourcesState::Published as i32);
    assert_eq!(
        a.next_stage,
        pb::UseOfResourcesStage::FactualAccuracyChange as i32
    );
    let published = approved.published.unwrap();
    assert_eq!(published.version, 1);
    assert_eq!(
        published.rating.as_ref().map(|r| (r.rating, r.report_date)),
        Some((
            pb_common::Rating::RequiresImprovement as i32,
            Some(d("2018-07-01"))
        ))
    );
    assert_eq!(stream_messages(&s).await, 1);

    // A factual-accuracy change may change the rating: version 2, published again.
    let changed = client
        .record_factual_accuracy_change(factual_accuracy(CQC_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let a = changed.assessment.unwrap();
    assert_eq!(a.version, 2);
    assert_eq!(a.approved_rating, pb_common::Rating::Good as i32);
    let fa = &a.factual_accuracy_changes;
    assert_eq!(fa.len(), 1);
    assert_eq!(
        (fa[0].version, fa[0].rating, fa[0].changed_from),
        (
            2,
            pb_common::Rating::Good as i32,
            pb_common::Rating::RequiresImprovement as i32
        )
    );
    assert_eq!(changed.published.unwrap().version, 2);
    assert_eq!(stream_messages(&s).await, 2);
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
    assert_eq!(
        (served.version, served.rating.unwrap().rating),
        (2, pb_common::Rating::Good as i32)
    );

    // The history: every stage in order, with who and when.
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
    use pb::WorkflowAction as A;
    use pb_common::Role as R;
    let steps: Vec<(A, R, &str)> = history
        .transitions
        .iter()
        .map(|t| (t.action(), t.role(), t.caller.as_str()))
        .collect();
    let nhsi = (R::Nhsi, "nhsi-uor-team");
    let cqc = (R::Cqc, "cqc-inspections");
    let system = (R::Operator, "nhsi-resources");
    let mut expected = vec![(A::Suggest, system.0, system.1)];
    expected.extend([(A::TrustCommentary, nhsi.0, nhsi.1); 5]);
    expected.extend([
        (A::SiteVisit, nhsi.0, nhsi.1),
        (A::Report, nhsi.0, nhsi.1),
        (A::Propose, nhsi.0, nhsi.1),
        (A::Approve, cqc.0, cqc.1),
        (A::Publish, system.0, system.1),
        (A::FactualAccuracyChange, cqc.0, cqc.1),
        (A::Publish, system.0, system.1),
    ]);
    assert_eq!(steps, expected);
    // When is in order: recorded times never go backwards.
    let times: Vec<(i64, i32)> = history
        .transitions
        .iter()
        .map(|t| {
            let at = t.recorded_at.unwrap();
            (at.seconds, at.nanos)
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // Each stage's note says what was recorded.
    let note = |action: A| {
        history
            .transitions
            .iter()
            .find(|t| t.action() == action)
            .map(|t| t.note.clone())
            .unwrap()
    };
    assert!(
        note(A::SiteVisit).contains("2018-05-14"),
        "{}",
        note(A::SiteVisit)
    );
    assert!(note(A::SiteVisit).contains("finance assessor"));
    assert!(note(A::TrustCommentary).starts_with("clinical services:"));
    assert!(note(A::FactualAccuracyChange).contains("4.1 %"));
    let current = history.current.unwrap();
    assert_eq!(current.commentary.len(), 5);
    assert!(current.site_visit.is_some() && current.report.is_some());
    assert_eq!(history.published.len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_out_of_order_are_refused_naming_the_next_stage_and_roles_are_enforced() {
    let (s, mut client) = started().await;

    // Nothing recorded yet: the site visit, report and a factual-accuracy change are refused.
    let e = client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the trust's commentary on the key lines of enquiry");
    let e = client
        .record_assessment_report(report(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the trust's commentary on the key lines of enquiry");
    let e = client
        .record_factual_accuracy_change(factual_accuracy(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the trust's commentary on the key lines of enquiry");
    // Nothing was stored by the refusals.
    let e = client
        .get_use_of_resources_history(req(
            pb::GetUseOfResourcesHistoryRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());

    // Roles: the commentary, site visit and report are NHSI's (CQC and readers may not).
    for token in [CQC_TOKEN, READER_TOKEN] {
        let e = client
            .record_trust_commentary(commentary(KLOES[0], token))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    }
    // An unnamed key line of enquiry is a bad argument.
    let e = client
        .record_trust_commentary(commentary(pb::KeyLineOfEnquiry::Unspecified, NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("kloe"), "{}", e.message());

    for kloe in &KLOES[..4] {
        client
            .record_trust_commentary(commentary(*kloe, NHSI_TOKEN))
            .await
            .unwrap();
    }
    // Four of five: the site visit is refused, naming the missing KLOE.
    let e = client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the trust's commentary on the key lines of enquiry");
    assert!(e.message().contains("finance"), "{}", e.message());
    // The proposal now needs the report (the assessment is staged).
    let e = client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the trust's commentary on the key lines of enquiry");
    client
        .record_trust_commentary(commentary(KLOES[4], NHSI_TOKEN))
        .await
        .unwrap();

    let e = client
        .record_assessment_report(report(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the site visit");
    let e = client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "the site visit");
    for token in [CQC_TOKEN, READER_TOKEN] {
        let e = client
            .record_site_visit(site_visit(token))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    }
    client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap();

    let e = client
        .record_trust_commentary(commentary(KLOES[1], NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "NHSI's report");
    let e = client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "NHSI's report");
    let e = client
        .approve_use_of_resources(approve(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "NHSI's report");
    let e = client
        .record_assessment_report(report(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    client
        .record_assessment_report(report(NHSI_TOKEN))
        .await
        .unwrap();

    let e = client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "NHSI's proposal");
    let e = client
        .approve_use_of_resources(approve(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "NHSI's proposal");
    let e = client
        .propose_use_of_resources(propose(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap();

    let e = client
        .record_factual_accuracy_change(factual_accuracy(CQC_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "CQC's approval");
    let e = client
        .record_assessment_report(report(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "CQC's approval");
    let e = client
        .approve_use_of_resources(approve(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    client
        .approve_use_of_resources(approve(CQC_TOKEN))
        .await
        .unwrap();

    // Factual-accuracy changes are CQC's.
    for token in [NHSI_TOKEN, READER_TOKEN] {
        let e = client
            .record_factual_accuracy_change(factual_accuracy(token))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", e.message());
    }
    let e = client
        .record_site_visit(site_visit(NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "a factual-accuracy change");

    // Only the in-order stages were stored.
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
    use pb::WorkflowAction as A;
    let actions: Vec<A> = history.transitions.iter().map(|t| t.action()).collect();
    let mut expected = vec![A::Suggest];
    expected.extend([A::TrustCommentary; 5]);
    expected.extend([A::SiteVisit, A::Report, A::Propose, A::Approve, A::Publish]);
    assert_eq!(actions, expected);

    // A commentary once the latest is published starts the next assessment.
    let a = client
        .record_trust_commentary(commentary(KLOES[0], NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert_eq!((a.assessment, a.version), (2, 1));
    assert_eq!(a.state, pb::UseOfResourcesState::Suggested as i32);
    assert_eq!(a.commentary.len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_proposal_is_not_held_to_the_stages() {
    // The existing callers (the e2e test, the service tests) propose directly: still accepted,
    // and the stages cannot then be recorded for that assessment.
    let (s, mut client) = started().await;
    let a = client
        .propose_use_of_resources(propose(NHSI_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .assessment
        .unwrap();
    assert!(!a.staged);
    assert_eq!(a.next_stage, pb::UseOfResourcesStage::Approval as i32);
    let e = client
        .record_trust_commentary(commentary(KLOES[0], NHSI_TOKEN))
        .await
        .unwrap_err();
    assert_out_of_order(&e, "CQC's approval");
    client
        .approve_use_of_resources(approve(CQC_TOKEN))
        .await
        .unwrap();
    let changed = client
        .record_factual_accuracy_change(factual_accuracy(CQC_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.published.unwrap().version, 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_impossible_date_is_an_invalid_argument_naming_the_field() {
    let (s, mut client) = started().await;
    // The site visit's date is required (resources.proto): unset, it is refused before any stage
    // is checked, naming `date`.
    let mut no_date = site_visit(NHSI_TOKEN);
    no_date.get_mut().date = None;
    let e = client.record_site_visit(no_date).await.unwrap_err();
    assert_eq!(bad_field(&e), "date");
    // 2023 is not a leap year: 29 February 2023 is not a calendar date.
    let mut not_a_day = site_visit(NHSI_TOKEN);
    not_a_day.get_mut().date = Some(raw_date(2023, 2, 29));
    let e = client.record_site_visit(not_a_day).await.unwrap_err();
    assert_eq!(bad_field(&e), "date");
    assert!(
        e.message().contains("2023-02-29 is not a calendar date"),
        "{}",
        e.message()
    );
    // A proposal's report date is a full date: a month (day 0) is not one.
    let mut a_month = propose(NHSI_TOKEN);
    a_month.get_mut().report_date = Some(raw_date(2018, 7, 0));
    let e = client.propose_use_of_resources(a_month).await.unwrap_err();
    assert_eq!(bad_field(&e), "report_date");
    let mut no_report_date = propose(NHSI_TOKEN);
    no_report_date.get_mut().report_date = None;
    let e = client
        .propose_use_of_resources(no_report_date)
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "report_date");
    // Nothing was stored.
    let e = client
        .get_use_of_resources_history(req(
            pb::GetUseOfResourcesHistoryRequest {
                trust_code: "RXX".into(),
            },
            READER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{}", e.message());
    s.stop().await;
}
