//! The combined rating follows the trust overall's re-rating rule (DOMAIN.md §2.3, §3), across the
//! real stack (feeds → ingestion → cqc-quality / nhsi-resources → combiner): the trust overall is
//! only re-rated after a trust-level well-led assessment, so a focused inspection that changes a
//! trust key question without one moves that key question (shown updated) but neither the overall
//! nor the combined rating, which combines the key questions the overall stands on. The next
//! well-led assessment re-rates both.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, latest_rating};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1::{KeyQuestion, Rating};
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::wait_until;

const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date";
const DEADLINE: Duration = Duration::from_secs(60);

async fn submit(stack: &Stack, batch: &str, content: &str) {
    let receipt = stack
        .submit(
            batch,
            ing::FeedFormat::Csv,
            &format!("{batch}.csv"),
            content.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(receipt.rejected, 0, "{batch}: {receipt:?}");
}

async fn wait_for(
    stack: &Stack,
    what: &str,
    want: impl Fn(&pb::CombinedRatingPublished) -> bool,
) -> pb::CombinedRatingPublished {
    wait_until(DEADLINE, what, || async {
        latest_rating(stack.combiner, "RXX")
            .await
            .filter(|r| want(r))
    })
    .await
    .unwrap()
}

fn rating(raw: i32) -> Rating {
    Rating::try_from(raw).unwrap()
}

fn combined(r: &pb::CombinedRatingPublished) -> Rating {
    rating(r.combined.as_ref().map_or(0, |c| c.rating))
}

fn overall(r: &pb::CombinedRatingPublished) -> Rating {
    rating(r.overall_quality.as_ref().map_or(0, |c| c.rating))
}

/// The key question as shown beside the combined rating (the newest).
fn shown(r: &pb::CombinedRatingPublished, kq: KeyQuestion) -> Rating {
    rating(
        r.key_questions
            .iter()
            .find(|k| k.key_question == kq as i32)
            .and_then(|k| k.rating.as_ref())
            .map_or(0, |d| d.rating),
    )
}

fn combined_inputs(r: &pb::CombinedRatingPublished) -> Vec<String> {
    r.combined
        .as_ref()
        .and_then(|c| c.explanation.as_ref())
        .map(|e| e.inputs.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_focused_inspection_without_well_led_moves_the_key_question_not_the_combined_rating() {
    let stack = Stack::start().await.unwrap();

    // 1. Inspection and well-led assessment (the first-flow fixture, DOMAIN §3 hand example):
    //    trust safe RI (urgent and surgery safe RI at the one location), effective, caring,
    //    responsive Good, well-led Good (2018-06-15) → quality Good; UoR RI → combined Good
    //    (two RI of six, below the 3-of-6 threshold).
    submit(&stack, "first", FIRST_FLOW_FEED).await;
    let first = wait_for(&stack, "RXX with both parts", |r| {
        r.use_of_resources_version > 0
    })
    .await;
    assert_eq!(
        (overall(&first), combined(&first)),
        (Rating::Good, Rating::Good)
    );
    assert_eq!(shown(&first, KeyQuestion::Effective), Rating::Good);

    // 2. A focused inspection on 2019-03-01 rates medical care effective Inadequate, with no
    //    well-led assessment. Location effective: urgent G, surgery G, care I → n = 3, X = 1, one
    //    inadequate → Inadequate; the single location's effective is the trust's.
    let focused = format!(
        "{HEADER}\nservice_rating,RXX,Example Hospitals NHS Trust,acute,RXX01,Example General Hospital,care,effective,Inadequate,2019-03-01\n"
    );
    submit(&stack, "focused", &focused).await;
    let second = wait_for(&stack, "RXX with the focused inspection", |r| {
        r.quality_version > first.quality_version
            && shown(r, KeyQuestion::Effective) == Rating::Inadequate
    })
    .await;
    // The overall is not re-rated (§2.3): still Good.
    assert_eq!(overall(&second), Rating::Good);
    // The combined rating combines the key questions that overall stands on (effective Good):
    // S = RI, E = C = R = W = G, UoR = RI → Good, as before. From the newest key questions
    // (effective Inadequate) it would be at best RI: "any inadequate → at best RI".
    assert_eq!(combined(&second), Rating::Good);
    assert_eq!(
        second.combined.as_ref().map(|c| c.report_date.clone()),
        first.combined.as_ref().map(|c| c.report_date.clone()),
        "the combined rating is not moved, not even its date"
    );
    let inputs = combined_inputs(&second);
    assert!(
        inputs.iter().any(|i| i.starts_with("effective: Good")),
        "{inputs:?}"
    );
    assert!(
        !inputs.iter().any(|i| i.contains("Inadequate")),
        "{inputs:?}"
    );

    // 3. A trust-level well-led assessment (Good, 2019-04-01) re-rates the overall from the
    //    newest key questions: S = RI, E = I, C = R = W = G → n = 5, X = 2, one inadequate (below
    //    X) → RI. Combined: S = RI, E = I, C = R = W = G, UoR = RI → any inadequate → at best RI,
    //    fewer than two inadequate → RI.
    let well_led =
        format!("{HEADER}\nwell_led,RXX,Example Hospitals NHS Trust,acute,,,,,Good,2019-04-01\n");
    submit(&stack, "well-led", &well_led).await;
    let third = wait_for(&stack, "RXX re-rated on the well-led assessment", |r| {
        r.quality_version > second.quality_version && overall(r) == Rating::RequiresImprovement
    })
    .await;
    assert_eq!(combined(&third), Rating::RequiresImprovement);
    assert!(
        combined_inputs(&third)
            .iter()
            .any(|i| i.starts_with("effective: Inadequate")),
        "{:?}",
        combined_inputs(&third)
    );

    stack.stop().await.unwrap();
}
