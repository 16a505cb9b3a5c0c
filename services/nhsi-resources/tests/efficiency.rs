//! Issue 14 through the service (real NATS and database): CQC's suggested efficiency measures
//! positioned against peers like the other productivity metrics (DOMAIN.md §4.2), and the approved
//! use of resources rating as a SOF segmentation input.
//!
//! The efficiency measures (seed 002: "cancellation rates, delayed discharges and waiting times";
//! seed 003: "length of stay and readmission rates") arrive on the productivity feed and get a
//! quartile within the peer group by their direction.
//!
//! The latest approved (CQC-approved) UoR rating nhsi-resources holds fires a "finance and use of
//! resources" support-need trigger when it is RI or inadequate — our reading [A] of seed 004 ("The
//! assessments will help us identify your support needs, as part of the Single Oversight
//! Framework") and DOMAIN.md §4.4's five themes. A proposed rating is not approved and fires
//! nothing. Expected segments come from sof-2017's mapping (DOMAIN.md §4.4,
//! `rulesets/sof-2017.toml`): segment 2 from 1 trigger; 3 from 1 serious trigger or 3 of any
//! kind; 4 from 2 serious; a UoR rating at or below RI fires, at or below inadequate is serious.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use oversight_proto::common::v1 as pb_common;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::resources::v1 as pb;
use oversight_testkit::wait_until;

use common::{
    CQC_TOKEN, DEADLINE, NHSI_TOKEN, READER_TOKEN, Service, d, finance, productivity, req,
};

const UOR_TRIGGER: pb::TriggerKind = pb::TriggerKind::UseOfResourcesRating;

async fn suggest(s: &Service, trust: &str) -> Option<pb::SuggestSegmentResponse> {
    s.client()
        .await
        .suggest_segment(req(
            pb::SuggestSegmentRequest {
                trust_code: trust.into(),
            },
            READER_TOKEN,
        ))
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

/// A published use of resources rating, as ingestion sends it from a feed (published, so
/// CQC-approved).
fn published_uor(
    trust: &str,
    rating: pb_common::Rating,
    report_date: &str,
) -> ev::ResourceEvidence {
    ev::ResourceEvidence {
        provenance: Some(ev::Provenance {
            evidence_id: format!("{trust}-uor-{report_date}"),
            source: "cqc-published".into(),
            batch_id: "test".into(),
            file_name: "uor.csv".into(),
            record_number: 1,
        }),
        trust_code: trust.into(),
        trust_type: pb_common::TrustType::Acute as i32,
        body: Some(ev::resource_evidence::Body::UseOfResources(
            ev::UseOfResourcesEvidence {
                rating: rating as i32,
                report_date: Some(d(report_date)),
            },
        )),
    }
}

fn kinds(s: &pb::SuggestSegmentResponse) -> Vec<pb::TriggerKind> {
    s.triggers.iter().map(pb::SegmentTrigger::kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uor_rating_of_ri_approved_by_cqc_fires_the_finance_and_use_of_resources_trigger() {
    let s = Service::start(true).await;
    // Finance scoring 1, 1, 2, 1, 1 (DOMAIN.md §4.1: capital service capacity 3× > 2.5 → 1,
    // liquidity 5 days > 0 → 1, I&E margin 0.5 % in 0–1 → 2, distance from plan 0.5 pp ≥ 0 → 1,
    // agency −5 % ≤ 0 → 1): mean 1.2 → overall 1, no finance trigger.
    s.publish(&finance(
        "RXX",
        "2018-03-31",
        ["3", "5", "0.5", "0.5", "-5"],
    ))
    .await;
    let before = wait_until(DEADLINE, "RXX's finance stored", || async {
        suggest(&s, "RXX").await.filter(|r| {
            !r.explanation
                .as_ref()
                .unwrap()
                .notes
                .iter()
                .any(|n| n.starts_with("no finance score"))
        })
    })
    .await
    .unwrap();
    // No approved UoR rating yet: no trigger, segment 1, and the explanation says what is missing.
    assert_eq!((before.segment, before.triggers.len()), (1, 0));
    assert!(
        before
            .explanation
            .as_ref()
            .unwrap()
            .notes
            .contains(&"no approved use of resources rating".to_string()),
        "{before:?}"
    );

    // NHSI proposes RI: proposed, not approved, so still nothing fires.
    let mut client = s.client().await;
    client
        .propose_use_of_resources(req(
            pb::ProposeUseOfResourcesRequest {
                trust_code: "RXX".into(),
                rating: pb_common::Rating::RequiresImprovement as i32,
                rationale: "length of stay and cancellations well above peers".into(),
                report_date: Some(d("2018-07-01")),
            },
            NHSI_TOKEN,
        ))
        .await
        .unwrap();
    let proposed = suggest(&s, "RXX").await.unwrap();
    assert_eq!((proposed.segment, proposed.triggers.len()), (1, 0));

    // CQC approves it as proposed: the approved RI fires the trigger. One trigger, not serious
    // (RI is above inadequate): not 4 (0 serious < 2), not 3 (0 < 1 serious; 1 < 3 triggers),
    // 2 (1 ≥ 1) → segment 2, targeted support.
    client
        .approve_use_of_resources(req(
            pb::ApproveUseOfResourcesRequest {
                trust_code: "RXX".into(),
                rating: pb_common::Rating::Unspecified as i32,
                reason: String::new(),
            },
            CQC_TOKEN,
        ))
        .await
        .unwrap();
    let approved = suggest(&s, "RXX").await.unwrap();
    assert_eq!(kinds(&approved), vec![UOR_TRIGGER]);
    let trigger = &approved.triggers[0];
    assert!(!trigger.serious);
    assert_eq!(
        trigger.description,
        "approved use of resources rating Requires improvement (2018-07-01): a finance and use of resources support need"
    );
    assert_eq!(
        (approved.segment, approved.segment_name.as_str()),
        (2, "targeted support")
    );
    let why = approved.explanation.unwrap();
    assert_eq!(
        why.rule,
        "1 trigger(s), at least 1 → suggested segment 2 (targeted support)"
    );
    assert_eq!(why.inputs, vec![trigger.description.clone()]);
    assert!(
        !why.notes
            .contains(&"no approved use of resources rating".to_string()),
        "{why:?}"
    );

    // A decision records the trigger with the suggestion.
    let decided = client
        .record_segment_decision(req(
            pb::RecordSegmentDecisionRequest {
                trust_code: "RXX".into(),
                segment: 2,
                rationale: "UoR RI; productivity plan agreed".into(),
            },
            NHSI_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!(decided.suggested_segment, 2);
    assert_eq!(
        decided
            .triggers
            .iter()
            .map(pb::SegmentTrigger::kind)
            .collect::<Vec<_>>(),
        vec![UOR_TRIGGER]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_uor_rating_counts_and_the_latest_approved_rating_decides() {
    let s = Service::start(true).await;
    // RYY: a published Inadequate (2018-06-01). One serious trigger: ≥ 1 serious → segment 3.
    s.publish(&published_uor(
        "RYY",
        pb_common::Rating::Inadequate,
        "2018-06-01",
    ))
    .await;
    let inadequate = wait_until(DEADLINE, "RYY's UoR trigger", || async {
        suggest(&s, "RYY").await.filter(|r| !r.triggers.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(kinds(&inadequate), vec![UOR_TRIGGER]);
    assert!(inadequate.triggers[0].serious);
    assert!(
        inadequate.triggers[0]
            .description
            .starts_with("approved use of resources rating Inadequate (2018-06-01)"),
        "{inadequate:?}"
    );
    assert_eq!(
        (inadequate.segment, inadequate.segment_name.as_str()),
        (3, "mandated support")
    );

    // A later published Good (2019-01-15) is the latest approved rating: nothing fires → segment 1.
    s.publish(&published_uor("RYY", pb_common::Rating::Good, "2019-01-15"))
        .await;
    let good = wait_until(DEADLINE, "RYY's later Good rating", || async {
        suggest(&s, "RYY").await.filter(|r| r.triggers.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(
        (good.segment, good.segment_name.as_str()),
        (1, "maximum autonomy")
    );
    assert_eq!(
        good.explanation.unwrap().rule,
        "no triggers fired → suggested segment 1 (maximum autonomy)"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn efficiency_measures_are_positioned_against_peers_by_their_direction() {
    let s = Service::start(true).await;
    // Four acute trusts (the national peer group), one productivity period:
    //   trust  RTT within 18 weeks %  non-elective length of stay (days)
    //   RAA    95.0                   6.0
    //   RBB    92.3                   4.5
    //   RCC    88.1                   7.3
    //   RDD    84.6                   5.2
    for (trust, rtt, alos) in [
        ("RAA", "95.0", "6.0"),
        ("RBB", "92.3", "4.5"),
        ("RCC", "88.1", "7.3"),
        ("RDD", "84.6", "5.2"),
    ] {
        // One metric a record, as the productivity feed carries them.
        for (metric, value) in [
            ("rtt_incomplete_within_18_weeks_pct", rtt),
            ("average_length_of_stay_non_elective", alos),
        ] {
            s.publish(&productivity(trust, "2018-03-31", metric, value))
                .await;
        }
    }
    let client = s.client().await;
    let positions = |trust: &'static str| {
        let mut client = client.clone();
        async move {
            let r = client
                .get_metric_positions(req(
                    pb::GetMetricPositionsRequest {
                        trust_code: trust.into(),
                        peer_set: None,
                    },
                    READER_TOKEN,
                ))
                .await
                .ok()?
                .into_inner();
            (r.positions.len() == 2 && r.positions.iter().all(|p| p.peer_count == 4))
                .then_some(r.positions)
        }
    };
    let find = |ps: &[pb::MetricPosition], metric: &str| {
        ps.iter()
            .find(|p| p.metric == metric)
            .cloned()
            .unwrap_or_else(|| panic!("{metric} in {ps:?}"))
    };
    // Quartile = min(4, 1 + ⌊4b/n⌋) with b peers strictly better (nhsi_rules::productivity).
    // RCC, RTT (higher is better): ranked 95.0, 92.3, 88.1, 84.6; 95.0 and 92.3 are better,
    // b = 2 → quartile 3; median (92.3 + 88.1) / 2 = 90.2; 88.1 − 90.2 = −2.1.
    // RCC, length of stay (lower is better): ranked 4.5, 5.2, 6.0, 7.3; three are better, b = 3
    // → quartile 4; median (5.2 + 6.0) / 2 = 5.6; 7.3 − 5.6 = 1.7.
    let rcc = wait_until(DEADLINE, "RCC positioned among 4 peers", || {
        positions("RCC")
    })
    .await
    .unwrap();
    let rtt = find(&rcc, "rtt_incomplete_within_18_weeks_pct");
    assert_eq!(
        (
            rtt.kloe(),
            rtt.direction(),
            rtt.period,
            rtt.value.as_str(),
            rtt.quartile,
            rtt.peer_median.as_str(),
            rtt.distance_from_median.as_str()
        ),
        (
            pb::KeyLineOfEnquiry::ClinicalServices,
            pb::MetricDirection::HigherIsBetter,
            Some(d("2018-03-31")),
            "88.1",
            3,
            "90.2",
            "-2.1"
        )
    );
    let alos = find(&rcc, "average_length_of_stay_non_elective");
    assert_eq!(
        (
            alos.direction(),
            alos.quartile,
            alos.peer_median.as_str(),
            alos.distance_from_median.as_str()
        ),
        (pb::MetricDirection::LowerIsBetter, 4, "5.6", "1.7")
    );
    // RDD: the worst RTT (b = 3 → quartile 4) but the second-shortest stay (only 4.5 is better,
    // b = 1 → ⌊4/4⌋ = 1 → quartile 2): each metric's own direction decides.
    let rdd = positions("RDD").await.unwrap();
    assert_eq!(find(&rdd, "rtt_incomplete_within_18_weeks_pct").quartile, 4);
    assert_eq!(
        find(&rdd, "average_length_of_stay_non_elective").quartile,
        2
    );
    s.stop().await;
}
