//! The use-of-resources workflow across services: a rating NHSI proposes never reaches the
//! combiner; once CQC approves it, the combined rating includes it; a factual-accuracy revision
//! produces a new combined version. (The stack runs with authentication explicitly off, so every
//! call acts in the role it needs; role checks are covered by nhsi-resources' own tests.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, latest_rating, rating_history};
use oversight_proto::common::v1::Rating;
use oversight_proto::ingestion::v1 as ing;
use oversight_proto::resources::v1 as res;
use oversight_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use oversight_testkit::wait_until;
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(60);

/// The first-flow feed without its use-of-resources line, for `trust`.
fn quality_feed(trust: &str) -> String {
    FIRST_FLOW_FEED
        .lines()
        .filter(|l| !l.starts_with("use_of_resources,"))
        .map(|l| format!("{}\n", l.replace("RXX", trust)))
        .collect()
}

async fn nhsi(stack: &Stack) -> ResourcesServiceClient<Channel> {
    ResourcesServiceClient::new(Stack::channel(stack.nhsi).await.unwrap())
}

fn rating_of(d: &Option<oversight_proto::common::v1::DatedRating>) -> i32 {
    d.as_ref().map_or(0, |r| r.rating)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_cqc_approved_use_of_resources_rating_reaches_the_combined_rating() {
    let stack = Stack::start().await.unwrap();
    let receipt = stack
        .submit(
            "rxx",
            ing::FeedFormat::Csv,
            "rxx.csv",
            quality_feed("RXX").as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!((receipt.accepted, receipt.rejected), (16, 0));
    let first = wait_until(DEADLINE, "combined rating of RXX", || {
        latest_rating(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(first.use_of_resources_version, 0);
    assert!(!first.no_combined_reason.is_empty(), "{first:?}");

    // NHSI proposes (once nhsi-resources has seen the trust on quality.rated).
    let mut client = nhsi(&stack).await;
    let proposed = wait_until(DEADLINE, "proposal for RXX accepted", || {
        let mut client = client.clone();
        async move {
            client
                .propose_use_of_resources(res::ProposeUseOfResourcesRequest {
                    trust_code: "RXX".into(),
                    rating: Rating::RequiresImprovement as i32,
                    rationale: "pay cost per WAU in the worst quartile".into(),
                    report_date: Some(oversight_e2e::date("2018-07-01")),
                })
                .await
                .ok()
                .map(tonic::Response::into_inner)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        proposed.assessment.unwrap().state,
        res::UseOfResourcesState::Proposed as i32
    );

    // A sentinel trust with a (published, feed-borne) UoR rating: once its combined rating has
    // the UoR part, the combiner has handled everything on the UoR stream before it, so the
    // proposal would have arrived had it been published.
    let sentinel = FIRST_FLOW_FEED.replace("RXX", "RYY");
    stack
        .submit("ryy", ing::FeedFormat::Csv, "ryy.csv", sentinel.as_bytes())
        .await
        .unwrap();
    wait_until(DEADLINE, "combined rating of RYY with its UoR", || async {
        latest_rating(stack.combiner, "RYY")
            .await
            .filter(|r| r.use_of_resources_version > 0)
    })
    .await
    .unwrap();
    let before_approval = rating_history(stack.combiner, "RXX").await;
    assert!(
        before_approval
            .iter()
            .all(|v| v.use_of_resources_version == 0
                && rating_of(&v.use_of_resources) == Rating::Unspecified as i32),
        "an unapproved UoR rating reached the combiner: {before_approval:?}"
    );
    let latest = latest_rating(stack.combiner, "RXX").await.unwrap();
    assert_eq!(latest.use_of_resources_version, 0);
    assert!(!latest.no_combined_reason.is_empty());

    // CQC approves: the combined rating includes the UoR rating.
    let approved = client
        .approve_use_of_resources(res::ApproveUseOfResourcesRequest {
            trust_code: "RXX".into(),
            rating: Rating::Unspecified as i32,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.published.as_ref().unwrap().version, 1);
    let with_uor = wait_until(DEADLINE, "combined rating of RXX with its UoR", || async {
        latest_rating(stack.combiner, "RXX")
            .await
            .filter(|r| r.use_of_resources_version == 1)
    })
    .await
    .unwrap();
    assert_eq!(
        rating_of(&with_uor.use_of_resources),
        Rating::RequiresImprovement as i32
    );
    // DOMAIN.md §3 hand example: S=RI, E=C=R=W=G, UoR=RI → combined Good.
    assert_eq!(rating_of(&with_uor.combined), Rating::Good as i32);
    assert_eq!(
        with_uor.mode,
        oversight_proto::combined::v1::Mode::Combined as i32
    );
    assert!(with_uor.no_combined_reason.is_empty(), "{with_uor:?}");

    // A factual-accuracy revision: a new UoR version and a new combined version.
    let revised = client
        .revise_use_of_resources(res::ReviseUseOfResourcesRequest {
            trust_code: "RXX".into(),
            rating: Rating::Good as i32,
            reason: "factual accuracy: pay cost figure corrected".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revised.published.as_ref().unwrap().version, 2);
    let after_revision = wait_until(
        DEADLINE,
        "combined rating of RXX after revision",
        || async {
            latest_rating(stack.combiner, "RXX")
                .await
                .filter(|r| r.use_of_resources_version == 2)
        },
    )
    .await
    .unwrap();
    assert!(after_revision.version > with_uor.version);
    assert_eq!(
        rating_of(&after_revision.use_of_resources),
        Rating::Good as i32
    );
    assert_eq!(rating_of(&after_revision.combined), Rating::Good as i32);
    let uor_versions: Vec<u64> = rating_history(stack.combiner, "RXX")
        .await
        .iter()
        .map(|v| v.use_of_resources_version)
        .collect();
    assert_eq!(uor_versions.last(), Some(&2));
    assert!(
        uor_versions.windows(2).all(|w| w[0] <= w[1]),
        "{uor_versions:?}"
    );

    let workflow = client
        .get_use_of_resources_history(res::GetUseOfResourcesHistoryRequest {
            trust_code: "RXX".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<i32> = workflow.transitions.iter().map(|t| t.action).collect();
    use res::WorkflowAction as A;
    assert_eq!(
        actions,
        [
            A::Suggest,
            A::Propose,
            A::Approve,
            A::Publish,
            A::Revise,
            A::Publish
        ]
        .map(|a| a as i32)
    );
    stack.stop().await.unwrap();
}
