//! Two replicas of every service on one database (as production runs them) rate a national-shape
//! feed exactly as one replica does: the batched, laned consumers keep each trust's messages in
//! order, the pinned consumers never let two replicas apply one trust at once, the outboxes
//! version each trust once per change, and each combiner replica's read view (and
//! `WatchRatings`) sees every version, whichever replica made it.
//!
//! Feed: 230 acute trusts × 3 locations × 8 core services × 5 key questions, a well-led and a
//! use-of-resources record per trust (ratings feed), and NHSI finance (12 months) and ward
//! staffing (2 wards × 31 days) per trust — submitted over gRPC, alternating between the
//! ingestion replicas. Expected ratings: the one-replica run; expected CHPPD: the sums of the
//! generated staffing rows (DOMAIN.md §4.3), computed here.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use oversight_e2e::{KQS, SERVICES, Stack, normal_combined};
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::convert;
use oversight_proto::ingestion::v1::FeedFormat;
use oversight_proto::resources::v1 as res;
use oversight_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use oversight_testkit::{TestEnv, wait_until};

const TRUSTS: usize = 230;
const LOCATIONS: usize = 3;
const TRUSTS_PER_BATCH: usize = 10;
const WARDS: usize = 2;
const DEADLINE: Duration = Duration::from_secs(240);

const RATINGS: [&str; 6] = [
    "Good",
    "Good",
    "Requires improvement",
    "Outstanding",
    "Good",
    "Inadequate",
];

fn trust_code(i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    format!(
        "R{}{}",
        DIGITS[(i / 36) % 36] as char,
        DIGITS[i % 36] as char
    )
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// (file name, CSV) of every batch: the ratings feed, then finance, then ward staffing. Two
/// ratings batches carry a second, later inspection of trusts of an earlier batch, so the order of
/// one trust's evidence matters.
fn feed() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (b, chunk) in (0..TRUSTS)
        .collect::<Vec<_>>()
        .chunks(TRUSTS_PER_BATCH)
        .enumerate()
    {
        let mut csv = String::from(
            "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n",
        );
        for &t in chunk {
            let code = trust_code(t);
            let name = format!("Trust {t} NHS Trust");
            for l in 0..LOCATIONS {
                for (s, service) in SERVICES.iter().enumerate() {
                    for (k, kq) in KQS.iter().enumerate() {
                        let h = mix(((t * 16 + l) * 8 + s) as u64 * 8 + k as u64);
                        let rating = RATINGS[(h % RATINGS.len() as u64) as usize];
                        let month = 1 + (h >> 8) % 12;
                        csv.push_str(&format!(
                            "service_rating,{code},{name},acute,{code}{:02},Site {l},{service},{kq},{rating},2018-{month:02}-01\n",
                            l + 1
                        ));
                    }
                }
            }
            let wl = ["Good", "Requires improvement", "Outstanding"][t % 3];
            let uor = ["Good", "Requires improvement", "Inadequate", "Outstanding"][t % 4];
            csv.push_str(&format!(
                "well_led,{code},{name},acute,,,,,{wl},2018-12-15\n"
            ));
            csv.push_str(&format!(
                "use_of_resources,{code},{name},acute,,,,,{uor},2019-01-10\n"
            ));
        }
        files.push((format!("ratings-{b:02}.csv"), csv));
    }
    // Re-inspections: urgent care of the first 20 trusts, rated again later.
    let mut csv = String::from(
        "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n",
    );
    for t in 0..20 {
        let code = trust_code(t);
        for kq in KQS {
            csv.push_str(&format!(
                "service_rating,{code},,acute,{code}01,Site 0,urgent,{kq},Inadequate,2019-02-01\n"
            ));
        }
        csv.push_str(&format!("well_led,{code},,acute,,,,,Good,2019-02-15\n"));
    }
    files.push(("reinspections.csv".into(), csv));

    let mut finance = String::from(
        "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n",
    );
    for t in 0..TRUSTS {
        for m in 1..=12 {
            let h = mix((t * 100 + m) as u64);
            finance.push_str(&format!(
                "{},2018-{m:02}-28,{}.{},{},{}.5,-{}.5,{}\n",
                trust_code(t),
                1 + h % 3,
                h % 10,
                (h % 30) as i64 - 15,
                (h >> 4) % 3,
                (h >> 8) % 3,
                (h >> 12) % 60,
            ));
        }
    }
    files.push(("finance.csv".into(), finance));
    for half in 0..2 {
        let mut staffing = String::from(
            "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n",
        );
        for t in (half * TRUSTS / 2)..((half + 1) * TRUSTS / 2) {
            for (w, day, row) in staffing_rows(t) {
                let (patients, rn, rm, ahp, hcsw) = row;
                staffing.push_str(&format!(
                    "{},W{w},2018-03-{day:02},{patients},{rn},{rm},{ahp},{hcsw}\n",
                    trust_code(t)
                ));
            }
        }
        files.push((format!("staffing-{half}.csv"), staffing));
    }
    files
}

type StaffingRow = (u64, u64, u64, u64, u64);

/// Ward, day of March 2018, and (patients at midnight, RN, RM, AHP, HCSW hours).
fn staffing_rows(t: usize) -> Vec<(usize, u32, StaffingRow)> {
    let mut out = Vec::new();
    for w in 0..WARDS {
        for day in 1..=31u32 {
            let h = mix((t * 1000 + w * 40) as u64 + u64::from(day));
            out.push((
                w,
                day,
                (
                    10 + h % 20,
                    60 + (h >> 8) % 40,
                    (h >> 16) % 8,
                    (h >> 20) % 6,
                    30 + (h >> 24) % 30,
                ),
            ));
        }
    }
    out
}

/// The trust's March 2018 CHPPD straight from the generated rows: (patient days, Σ hours ÷ Σ
/// patient days) — DOMAIN.md §4.3.
fn expected_chppd(t: usize) -> (u64, f64) {
    let (mut patients, mut hours) = (0u64, 0u64);
    for (_, _, (p, rn, rm, ahp, hcsw)) in staffing_rows(t) {
        patients += p;
        hours += rn + rm + ahp + hcsw;
    }
    (patients, hours as f64 / patients as f64)
}

struct Outcome {
    /// The latest combined rating of every trust, from each combiner replica.
    latest: Vec<BTreeMap<String, pb::CombinedRatingPublished>>,
    /// Every version each combiner replica's `WatchRatings` reported: (trust, version).
    watched: Vec<BTreeSet<(String, u64)>>,
    /// The versions in the combiner's history: (trust, version) with content.
    history_lengths: BTreeMap<String, usize>,
    /// March 2018 CHPPD per trust: (patient days, chppd).
    chppd: BTreeMap<String, (u64, String)>,
}

async fn run(replicas: usize) -> Outcome {
    let env = TestEnv::start().await.unwrap();
    let stack = Stack::start_replicated(env, replicas, |_, _| {})
        .await
        .unwrap();
    // Watch every combiner replica from the start.
    let mut watchers = Vec::new();
    for r in &stack.replicas {
        let mut client = TrustRatingsServiceClient::new(Stack::channel(r.combiner).await.unwrap());
        let stream = client
            .watch_ratings(pb::WatchRatingsRequest {})
            .await
            .unwrap()
            .into_inner();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            while let Some(Ok(m)) = stream.next().await {
                if let Some(r) = m.rating {
                    sink.lock().unwrap().insert((r.trust_code, r.version));
                }
            }
        });
        watchers.push(seen);
    }
    let files = feed();
    let targets: Vec<_> = stack.replicas.iter().map(|r| r.ingestion).collect();
    // The ratings batches in parallel (disjoint trusts); re-inspections only after them, so each
    // trust's later evidence is submitted after its first.
    let (ratings, rest): (Vec<_>, Vec<_>) = files
        .into_iter()
        .enumerate()
        .partition(|(_, (name, _))| name.starts_with("ratings-"));
    let stack_ref = &stack;
    let submit = |(i, (name, csv)): (usize, (String, String))| {
        let target = targets[i % targets.len()];
        async move {
            let receipt = stack_ref
                .submit_to(
                    target,
                    &format!("replicas-{name}"),
                    FeedFormat::Csv,
                    &name,
                    csv.as_bytes(),
                )
                .await
                .unwrap();
            assert_eq!(receipt.rejected, 0, "{name}: {:?}", receipt.rejections);
        }
    };
    futures::stream::iter(ratings)
        .map(submit)
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
    for file in rest {
        submit(file).await;
    }
    let codes: Vec<String> = (0..TRUSTS).map(trust_code).collect();
    // Done when every trust's combined rating carries both parts and the re-inspections.
    let mut latest = Vec::new();
    for r in &stack.replicas {
        let addr = r.combiner;
        let all = wait_until(DEADLINE, "every trust rated on every replica", || async {
            let mut out = BTreeMap::new();
            for code in &codes {
                let rating = oversight_e2e::latest_rating(addr, code).await?;
                if rating.use_of_resources_version == 0 {
                    return None;
                }
                out.insert(code.clone(), rating);
            }
            // The re-inspected trusts have taken their second inspection.
            let reinspected = (0..20).all(|t| {
                out[&trust_code(t)]
                    .overall_quality
                    .as_ref()
                    .and_then(|o| convert::to_opt_date(o.report_date.as_ref()).ok().flatten())
                    .is_some_and(|d| d >= oversight_e2e::date_naive("2019-02-01"))
            });
            reinspected.then_some(out)
        })
        .await
        .unwrap();
        latest.push(all);
    }
    // NHSI: every staffing observation stored (the CHPPD of every trust has all its days).
    let nhsi = ResourcesServiceClient::new(Stack::channel(stack.nhsi).await.unwrap());
    let mut chppd = BTreeMap::new();
    for (t, code) in codes.iter().enumerate() {
        let (patients, _) = expected_chppd(t);
        let figure = wait_until(DEADLINE, "every ward-day stored", || {
            let mut nhsi = nhsi.clone();
            let code = code.clone();
            async move {
                let r = nhsi
                    .get_chppd(res::GetChppdRequest {
                        trust_code: code,
                        month: Some(convert::month(2018, 3)),
                    })
                    .await
                    .ok()?
                    .into_inner();
                let f = r.trust.first()?.clone();
                (f.patient_days == patients).then_some(f)
            }
        })
        .await
        .unwrap();
        chppd.insert(code.clone(), (figure.patient_days, figure.chppd));
    }
    let mut watched = Vec::new();
    let mut history_lengths = BTreeMap::new();
    for code in &codes {
        history_lengths.insert(
            code.clone(),
            oversight_e2e::rating_history(stack.combiner, code)
                .await
                .len(),
        );
    }
    for (w, seen) in watchers.iter().enumerate() {
        // Every replica's watch reports each trust's latest version, made by whichever replica.
        let want: BTreeSet<(String, u64)> = latest[0]
            .values()
            .map(|r| (r.trust_code.clone(), r.version))
            .collect();
        wait_until(DEADLINE, "every latest version watched", || async {
            let got = seen.lock().unwrap().clone();
            want.is_subset(&got).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("replica {w}: {e}"));
        watched.push(seen.lock().unwrap().clone());
    }
    stack.stop().await.unwrap();
    Outcome {
        latest,
        watched,
        history_lengths,
        chppd,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_every_service_rate_a_national_feed_as_one_does() {
    let one = run(1).await;
    let two = run(2).await;

    // The same ratings, on both replicas of the two-replica run.
    let normal_all = |m: &BTreeMap<String, pb::CombinedRatingPublished>| -> BTreeMap<String, pb::CombinedRatingPublished> {
        m.iter().map(|(k, v)| (k.clone(), normal_combined(v))).collect()
    };
    assert_eq!(one.latest[0].len(), TRUSTS);
    let expected = normal_all(&one.latest[0]);
    for (i, replica) in two.latest.iter().enumerate() {
        let got = normal_all(replica);
        for (trust, want) in &expected {
            assert_eq!(
                got.get(trust),
                Some(want),
                "replica {i} of two rates {trust} differently from one replica"
            );
        }
        assert_eq!(got.len(), expected.len());
    }
    // Every replica serves the same latest version of each trust.
    for (trust, r) in &two.latest[0] {
        assert_eq!(two.latest[1][trust].version, r.version, "{trust}");
    }
    // No version made twice: the history of each trust holds as many versions as the latest
    // version number says (1, 2, … with none repeated).
    for (trust, r) in &two.latest[0] {
        assert_eq!(two.history_lengths[trust] as u64, r.version, "{trust}");
    }
    // Every version each replica's watch reported is one of the history's.
    for (i, w) in two.watched.iter().enumerate() {
        for (trust, version) in w {
            assert!(
                *version as usize <= two.history_lengths[trust],
                "replica {i} watched {trust} v{version} beyond its history"
            );
        }
    }
    // CHPPD from every stored ward-day, as summed from the generated rows.
    for (t, code) in (0..TRUSTS).map(|t| (t, trust_code(t))) {
        let (patients, chppd) = expected_chppd(t);
        for run in [&one, &two] {
            let (days, figure) = &run.chppd[&code];
            assert_eq!(*days, patients, "{code}");
            let got: f64 = figure.parse().unwrap();
            assert!((got - chppd).abs() < 0.006, "{code}: {got} vs {chppd}");
        }
    }
}
