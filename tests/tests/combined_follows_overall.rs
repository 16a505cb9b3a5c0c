//! The combined rating follows the trust overall's re-rating rule (DOMAIN.md §2.3, §3), across the
//! real stack (feeds → ingestion → cqc-quality / nhsi-resources → combiner): the trust overall is
//! only re-rated after a trust-level well-led assessment, so a focused inspection that changes a
//! trust key question without one moves that key question (shown updated) but neither the overall
//! nor the combined rating, which combines the key questions the overall stands on — and what
//! would change the rating (`GetRatingChanges`) is worked from those same key questions, so it
//! agrees with the published combined rating. The next well-led assessment re-rates both.

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

/// The six ratings the version combined, in the order safe, effective, caring, responsive,
/// well-led, use of resources: its `overall_key_questions` (the key questions the overall stands
/// on; empty when they are the newest, `key_questions`) and its use of resources.
fn combination_inputs(r: &pb::CombinedRatingPublished) -> Vec<(&'static str, Rating)> {
    let combined_kqs = if r.overall_key_questions.is_empty() {
        &r.key_questions
    } else {
        &r.overall_key_questions
    };
    let kq = |kq: KeyQuestion| {
        rating(
            combined_kqs
                .iter()
                .find(|k| k.key_question == kq as i32)
                .and_then(|k| k.rating.as_ref())
                .map_or(0, |d| d.rating),
        )
    };
    vec![
        ("safe", kq(KeyQuestion::Safe)),
        ("effective", kq(KeyQuestion::Effective)),
        ("caring", kq(KeyQuestion::Caring)),
        ("responsive", kq(KeyQuestion::Responsive)),
        ("well_led", kq(KeyQuestion::WellLed)),
        (
            "use_of_resources",
            rating(r.use_of_resources.as_ref().map_or(0, |u| u.rating)),
        ),
    ]
}

/// The counting rule as DOMAIN.md words it, written here independently of the code under test:
/// at least `x` inadequate → Inadequate; else any inadequate or at least `ri` requires improvement
/// → Requires improvement; else at least `x` outstanding and the rest good → Outstanding; else
/// Good. §2.1 for five key questions: x = ri = 2; §3 for six ratings: x = 2, ri = 3.
fn count(ratings: &[Rating], x: usize, ri: usize) -> Rating {
    let n = |r: Rating| ratings.iter().filter(|&&v| v == r).count();
    if n(Rating::Inadequate) >= x {
        Rating::Inadequate
    } else if n(Rating::Inadequate) > 0 || n(Rating::RequiresImprovement) >= ri {
        Rating::RequiresImprovement
    } else if n(Rating::Outstanding) >= x
        && n(Rating::Good) + n(Rating::Outstanding) == ratings.len()
    {
        Rating::Outstanding
    } else {
        Rating::Good
    }
}

/// "safe RI>O + use_of_resources RI>O": a change set read field by field.
fn set_words(set: &pb::RatingChangeSet) -> String {
    set.changes
        .iter()
        .map(|c| {
            format!(
                "{} {}>{}",
                part_name(c),
                short(rating(c.from)),
                short(rating(c.to))
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn part_name(c: &pb::RatingChange) -> &'static str {
    match c.part {
        Some(pb::rating_change::Part::KeyQuestion(k)) => match KeyQuestion::try_from(k).unwrap() {
            KeyQuestion::Safe => "safe",
            KeyQuestion::Effective => "effective",
            KeyQuestion::Caring => "caring",
            KeyQuestion::Responsive => "responsive",
            KeyQuestion::WellLed => "well_led",
            KeyQuestion::Unspecified => "?",
        },
        Some(pb::rating_change::Part::UseOfResources(true)) => "use_of_resources",
        ref other => panic!("no part: {other:?}"),
    }
}

fn short(r: Rating) -> &'static str {
    match r {
        Rating::Outstanding => "O",
        Rating::Good => "G",
        Rating::RequiresImprovement => "RI",
        Rating::Inadequate => "I",
        _ => "-",
    }
}

/// Every set of `step`, applied to the combination's inputs (each change from the rating the
/// combination had), gives `step.to` by the counting rule (`x`, `ri`) over the first `n` inputs.
fn assert_sets_move_one_step(
    what: &str,
    step: &pb::RatingStep,
    inputs: &[(&'static str, Rating)],
    n: usize,
    (x, ri): (usize, usize),
) {
    for set in &step.change_sets {
        let mut changed: Vec<Rating> = inputs[..n].iter().map(|(_, r)| *r).collect();
        for c in &set.changes {
            let i = inputs[..n]
                .iter()
                .position(|(name, _)| *name == part_name(c))
                .unwrap_or_else(|| panic!("{what}: {} is not an input", part_name(c)));
            assert_eq!(
                changed[i],
                rating(c.from),
                "{what}: {} changes from the combination's rating",
                set_words(set)
            );
            changed[i] = rating(c.to);
        }
        assert_eq!(
            count(&changed, x, ri),
            rating(step.to),
            "{what}: {} moves it to {:?}",
            set_words(set),
            rating(step.to)
        );
    }
}

/// `GetRatingChanges` for `published` is worked from what was combined, so it agrees with the
/// published combined rating.
async fn what_if_follows_the_combination(
    stack: &Stack,
    published: &pb::CombinedRatingPublished,
    inputs: &[(&'static str, Rating)],
) {
    let mut client = pb::trust_ratings_service_client::TrustRatingsServiceClient::new(
        Stack::channel(stack.combiner).await.unwrap(),
    );
    let changes = client
        .get_rating_changes(pb::GetRatingChangesRequest {
            trust_code: "RXX".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changes.version, published.version);
    let combined_what_if = changes.combined.expect("a combined what-if");
    let quality_what_if = changes.overall_quality.expect("an overall quality what-if");
    // The rule gives what was published: combined Good, overall quality Good. (From the newest key
    // questions, effective Inadequate, both would be Requires improvement: one inadequate → at best
    // RI, §2.1 and §3.)
    assert_eq!(rating(combined_what_if.current), combined(published));
    assert_eq!(rating(combined_what_if.current), Rating::Good);
    assert_eq!(rating(quality_what_if.current), overall(published));
    assert_eq!(rating(quality_what_if.current), Rating::Good);

    let sets = |s: &Option<pb::RatingStep>| {
        let s = s.as_ref().expect("a step");
        (
            pb::StepOutcome::try_from(s.outcome).unwrap(),
            rating(s.to),
            s.change_sets.iter().map(set_words).collect::<Vec<_>>(),
        )
    };
    // Worked by hand from the combination S = RI, E = C = R = W = G, UoR = RI (combined Good: two
    // RI of six, below the 3-of-6 threshold, §3):
    // - combined up to Outstanding needs no RI left and at least two Outstanding, the rest Good:
    //   both RI must change, and the two changed are then the only candidates for Outstanding, so
    //   the one smallest set is safe RI→O and use of resources RI→O (RI→G for either leaves one
    //   Outstanding: Good).
    assert_eq!(
        sets(&combined_what_if.up),
        (
            pb::StepOutcome::Changes,
            Rating::Outstanding,
            vec!["safe RI>O + use_of_resources RI>O".to_string()]
        )
    );
    // - combined down to RI with one change: a third RI (any Good key question G→RI; G→I also
    //   gives RI but moves further than G→RI, which does it) or one inadequate below two (safe or
    //   use of resources RI→I: any inadequate → at best RI).
    assert_eq!(
        sets(&combined_what_if.down),
        (
            pb::StepOutcome::Changes,
            Rating::RequiresImprovement,
            [
                "safe RI>I",
                "effective G>RI",
                "caring G>RI",
                "responsive G>RI",
                "well_led G>RI",
                "use_of_resources RI>I",
            ]
            .map(String::from)
            .to_vec()
        )
    );
    // Overall quality from S = RI, E = C = R = W = G (n = 5, X = 2, §2.1: Good):
    // - up to Outstanding needs safe out of RI and two Outstanding: safe RI→O and one of the
    //   four Good key questions G→O (two changes; safe RI→G would need two more).
    assert_eq!(
        sets(&quality_what_if.up),
        (
            pb::StepOutcome::Changes,
            Rating::Outstanding,
            [
                "safe RI>O + effective G>O",
                "safe RI>O + caring G>O",
                "safe RI>O + responsive G>O",
                "safe RI>O + well_led G>O",
            ]
            .map(String::from)
            .to_vec()
        )
    );
    // - down to RI: one inadequate (safe RI→I) or a second RI (any Good key question G→RI).
    assert_eq!(
        sets(&quality_what_if.down),
        (
            pb::StepOutcome::Changes,
            Rating::RequiresImprovement,
            [
                "safe RI>I",
                "effective G>RI",
                "caring G>RI",
                "responsive G>RI",
                "well_led G>RI",
            ]
            .map(String::from)
            .to_vec()
        )
    );
    // And every set, applied to the combination's inputs, moves the rating exactly one step by
    // the counting rule as DOMAIN.md words it.
    for (what, step) in [
        ("combined up", &combined_what_if.up),
        ("combined down", &combined_what_if.down),
    ] {
        assert_sets_move_one_step(what, step.as_ref().unwrap(), inputs, 6, (2, 3));
    }
    for (what, step) in [
        ("quality up", &quality_what_if.up),
        ("quality down", &quality_what_if.down),
    ] {
        assert_sets_move_one_step(what, step.as_ref().unwrap(), inputs, 5, (2, 2));
    }
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
        second.combined.as_ref().map(|c| c.report_date),
        first.combined.as_ref().map(|c| c.report_date),
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
    // The version carries the key questions it combined (effective Good), beside the newest.
    let combination = combination_inputs(&second);
    assert_eq!(
        combination,
        [
            ("safe", Rating::RequiresImprovement),
            ("effective", Rating::Good),
            ("caring", Rating::Good),
            ("responsive", Rating::Good),
            ("well_led", Rating::Good),
            ("use_of_resources", Rating::RequiresImprovement),
        ]
    );
    what_if_follows_the_combination(&stack, &second, &combination).await;

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
