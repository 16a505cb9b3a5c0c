//! `GetRatingChanges` through the whole stack: trusts fed to ingestion, rated by cqc-quality and
//! nhsi-resources, combined, and the combiner's answer to "what would change this rating" checked
//! against values worked by hand from DOMAIN.md §2.1 and §3 (the comments say how). The combiner
//! runs with authentication on, so the new method is seen behind the interceptor too.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use oversight_e2e::{FIRST_FLOW_FEED, Stack, feed_for};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::ingestion::v1 as ing;
use oversight_testkit::{TestEnv, wait_until};
use tonic::Code;

const DEADLINE: Duration = Duration::from_secs(60);
const READER_TOKEN: &str = "whatif-reader-token";

fn as_reader<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {READER_TOKEN}").parse().unwrap(),
    );
    req
}

/// The test's own reading of a wire rating.
fn short(raw: i32) -> &'static str {
    match common::Rating::try_from(raw).unwrap() {
        common::Rating::Outstanding => "O",
        common::Rating::Good => "G",
        common::Rating::RequiresImprovement => "RI",
        common::Rating::Inadequate => "I",
        _ => "-",
    }
}

/// A change set as "safe RI>O + use_of_resources RI>O", read field by field.
fn set_words(set: &pb::RatingChangeSet) -> String {
    set.changes
        .iter()
        .map(|c| {
            let part = match c.part {
                Some(pb::rating_change::Part::KeyQuestion(k)) => {
                    match common::KeyQuestion::try_from(k).unwrap() {
                        common::KeyQuestion::Safe => "safe",
                        common::KeyQuestion::Effective => "effective",
                        common::KeyQuestion::Caring => "caring",
                        common::KeyQuestion::Responsive => "responsive",
                        common::KeyQuestion::WellLed => "well_led",
                        common::KeyQuestion::Unspecified => "?",
                    }
                }
                Some(pb::rating_change::Part::UseOfResources(true)) => "use_of_resources",
                other => panic!("no part: {other:?}"),
            };
            format!("{part} {}>{}", short(c.from), short(c.to))
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// (outcome, to, sets) of one direction.
fn step(
    s: Option<&pb::RatingStep>,
    direction: pb::Direction,
) -> (pb::StepOutcome, &'static str, Vec<String>) {
    let s = s.expect("a step");
    assert_eq!(s.direction, direction as i32);
    (
        pb::StepOutcome::try_from(s.outcome).unwrap(),
        short(s.to),
        s.change_sets.iter().map(set_words).collect(),
    )
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_would_change_the_rating_of_trusts_fed_through_the_stack() {
    let env = TestEnv::start().await.unwrap();
    let tokens = env.dir().join("combiner-tokens");
    std::fs::write(&tokens, format!("reader dashboard {READER_TOKEN}\n")).unwrap();
    let stack = Stack::start_customised(env, |service, cfg| {
        if service == "combiner" {
            cfg.auth_tokens_file = Some(tokens.clone());
        }
    })
    .await
    .unwrap();
    for (batch, feed) in [
        // RXX: DOMAIN.md §3's hand example. Trust safe is RI (the location's safe is RI from
        // urgent RI, surgery RI, care G: n = 3, X = 1), the rest Good (well-led from its
        // assessment), use of resources RI.
        ("rxx", FIRST_FLOW_FEED.to_string()),
        // RYY: the same key questions, use of resources Inadequate.
        (
            "ryy",
            feed_for("RYY", "Example Hospitals NHS Trust", "acute", "Inadequate"),
        ),
        // RZZ: a mental health trust: no combined rating.
        (
            "rzz",
            feed_for(
                "RZZ",
                "Example Hospitals NHS Trust",
                "mental_health",
                "Good",
            ),
        ),
    ] {
        let receipt = stack
            .submit(batch, ing::FeedFormat::Csv, "feed.csv", feed.as_bytes())
            .await
            .unwrap();
        assert_eq!(receipt.rejected, 0, "{receipt:?}");
    }
    let mut client = stack.ratings_client().await.unwrap();
    wait_until(DEADLINE, "three trusts with both parts", || {
        let mut client = client.clone();
        async move {
            let ratings = client
                .list_trust_ratings(as_reader(pb::ListTrustRatingsRequest::default()))
                .await
                .ok()?
                .into_inner()
                .ratings;
            (ratings.len() == 3 && ratings.iter().all(|r| r.use_of_resources_version > 0))
                .then_some(())
        }
    })
    .await
    .unwrap();

    // Behind the interceptor like every other method.
    let err = client
        .get_rating_changes(pb::GetRatingChangesRequest {
            trust_code: "RXX".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    let changes = |trust: &str| {
        let mut client = client.clone();
        let req = as_reader(pb::GetRatingChangesRequest {
            trust_code: trust.into(),
        });
        async move { client.get_rating_changes(req).await }
    };

    // RXX: S=RI, E=C=R=W=G, UoR=RI.
    let rxx = changes("RXX").await.unwrap().into_inner();
    assert_eq!(rxx.trust_code, "RXX");
    let latest = client
        .clone()
        .get_trust_rating(as_reader(pb::GetTrustRatingRequest {
            trust_code: "RXX".into(),
            as_of: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(rxx.version, latest.version);
    let q = rxx.overall_quality.as_ref().unwrap();
    // §2.1, n = 5, X = 2: 1 RI + 4 G → Good.
    assert_eq!(short(q.current), "G");
    assert_eq!(q.unavailable, pb::WhatIfUnavailable::Unspecified as i32);
    // Up: Outstanding needs 2 O with all the others good, so safe must leave RI, and it counts
    // as an O only if it goes to O: safe to O with any one other key question to O.
    assert_eq!(
        step(q.up.as_ref(), pb::Direction::Up),
        (
            pb::StepOutcome::Changes,
            "O",
            strings(&[
                "safe RI>O + effective G>O",
                "safe RI>O + caring G>O",
                "safe RI>O + responsive G>O",
                "safe RI>O + well_led G>O",
            ])
        )
    );
    // Down: an inadequate limits to RI (safe to I), or a second RI reaches X = 2.
    assert_eq!(
        step(q.down.as_ref(), pb::Direction::Down),
        (
            pb::StepOutcome::Changes,
            "RI",
            strings(&[
                "safe RI>I",
                "effective G>RI",
                "caring G>RI",
                "responsive G>RI",
                "well_led G>RI",
            ])
        )
    );
    let c = rxx.combined.as_ref().unwrap();
    // §3: 2 RI of 6, below the RI threshold of 3 → Good.
    assert_eq!(short(c.current), "G");
    // Up: both RIs must go for "the rest good", and then they are the 2 outstanding.
    let up = step(c.up.as_ref(), pb::Direction::Up);
    assert_eq!(
        up,
        (
            pb::StepOutcome::Changes,
            "O",
            strings(&["safe RI>O + use_of_resources RI>O"])
        )
    );
    assert_eq!(
        c.up.as_ref().unwrap().change_sets[0].description,
        "safe from Requires improvement to Outstanding and use of resources from Requires improvement to Outstanding would make the combined rating Outstanding"
    );
    // Down: a third RI (any good key question), or any inadequate (safe or use of resources).
    assert_eq!(
        step(c.down.as_ref(), pb::Direction::Down),
        (
            pb::StepOutcome::Changes,
            "RI",
            strings(&[
                "safe RI>I",
                "effective G>RI",
                "caring G>RI",
                "responsive G>RI",
                "well_led G>RI",
                "use_of_resources RI>I",
            ])
        )
    );

    // RYY: the same key questions, UoR Inadequate: one inadequate of 6 (threshold 2) → RI.
    let ryy = changes("RYY").await.unwrap().into_inner();
    let c = ryy.combined.as_ref().unwrap();
    assert_eq!(short(c.current), "RI");
    // Up: only use of resources leaving inadequate lifts the limit; to RI is enough (2 RI of 6
    // → Good).
    assert_eq!(
        step(c.up.as_ref(), pb::Direction::Up),
        (
            pb::StepOutcome::Changes,
            "G",
            strings(&["use_of_resources I>RI"])
        )
    );
    assert_eq!(
        c.up.as_ref().unwrap().change_sets[0].description,
        "use of resources from Inadequate to Requires improvement would make the combined rating Good"
    );
    // Down: a second inadequate (2 of 6). Safe is one step from it; a good key question must go
    // all the way (to RI it would only add an RI).
    assert_eq!(
        step(c.down.as_ref(), pb::Direction::Down),
        (
            pb::StepOutcome::Changes,
            "I",
            strings(&[
                "safe RI>I",
                "effective G>I",
                "caring G>I",
                "responsive G>I",
                "well_led G>I",
            ])
        )
    );
    // Its overall quality does not involve use of resources: the same as RXX's.
    assert_eq!(ryy.overall_quality, rxx.overall_quality);

    // RZZ: a mental health trust has no combined rating; its overall quality still has changes.
    let rzz = changes("RZZ").await.unwrap().into_inner();
    let c = rzz.combined.as_ref().unwrap();
    assert_eq!(
        c.unavailable,
        pb::WhatIfUnavailable::NoCombinedRating as i32
    );
    assert!(c.unavailable_reason.contains("not an acute trust"), "{c:?}");
    assert!(c.up.is_none() && c.down.is_none());
    assert_eq!(short(rzz.overall_quality.as_ref().unwrap().current), "G");

    // Unknown trust: NOT_FOUND. Malformed code: INVALID_ARGUMENT naming the field.
    let err = changes("RQQ").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = changes("??").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let details = tonic_types::StatusExt::get_details_bad_request(&err).expect("BadRequest");
    assert_eq!(details.field_violations[0].field, "trust_code");

    stack.stop().await.unwrap();
}
