//! A ratings feed in the national shape, for tests that push a whole feed through the pipeline
//! and compare what comes out: acute trusts with 8–14 locations × 8 core services × 5 key
//! questions each, a well-led and a use-of-resources record per trust, and two bad records per
//! part (rejected by ingestion, never rated). Deterministic: the same feed in every run. The
//! fault tests (`tests/tests/faults.rs`) use it at 230 trusts, the cluster test at fewer.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::consumers;

use crate::Stack;
use crate::{KQS, SERVICES};

const RATINGS: [&str; 8] = [
    "Good",
    "Good",
    "Good",
    "Requires improvement",
    "Outstanding",
    "Good",
    "Requires improvement",
    "Inadequate",
];
/// Bad records in every part.
pub const BAD_PER_PART: u64 = 2;

/// One part of the feed (one queued batch): its id, CSV content, trusts and record counts.
pub struct Part {
    pub id: String,
    pub csv: Vec<u8>,
    pub trusts: Vec<String>,
    pub good: u64,
    pub bad: u64,
}

/// The whole feed: its parts, each trust in exactly one.
pub struct Feed {
    pub parts: Vec<Part>,
    pub trusts: Vec<String>,
}

impl Feed {
    pub fn records(&self) -> u64 {
        self.parts.iter().map(|b| b.good + b.bad).sum()
    }
}

/// The ODS-shaped code of trust `i` (`R00`, `R01`, …).
pub fn trust_code(i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    format!(
        "R{}{}",
        DIGITS[(i / 36) % 36] as char,
        DIGITS[i % 36] as char
    )
}

/// A small deterministic mixer, so the feed is the same in every run.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// `trusts` trusts in `parts` parts.
pub fn feed(trusts: usize, parts: usize) -> Feed {
    let mut out = Vec::new();
    let mut all = Vec::new();
    let per_part = trusts.div_ceil(parts.max(1));
    for b in 0..parts {
        let mut csv = String::from(
            "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n",
        );
        let mut good = 0;
        let mut in_part = Vec::new();
        for t in (b * per_part)..((b + 1) * per_part).min(trusts) {
            let code = trust_code(t);
            let name = format!("Trust {t} NHS Foundation Trust");
            let locations = 8 + (mix(t as u64) % 7) as usize;
            for l in 0..locations {
                let site = format!("{code}{:02}", l + 1);
                for (s, service) in SERVICES.iter().enumerate() {
                    for (k, kq) in KQS.iter().enumerate() {
                        let h = mix(((t * 16 + l) * 8 + s) as u64 * 8 + k as u64);
                        let rating = RATINGS[(h % RATINGS.len() as u64) as usize];
                        let month = 1 + (h >> 8) % 12;
                        csv.push_str(&format!(
                            "service_rating,{code},{name},acute,{site},Site {l} of {code},{service},{kq},{rating},2018-{month:02}-01\n"
                        ));
                        good += 1;
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
            good += 2;
            in_part.push(code);
        }
        if in_part.is_empty() {
            continue;
        }
        // Two bad records: a rating that is no rating, and a trust code that is no ODS code.
        let first = &in_part[0];
        csv.push_str(&format!(
            "service_rating,{first},,acute,{first}01,,urgent,safe,Superb,2018-06-01\n"
        ));
        csv.push_str("service_rating,1X,,acute,1X001,,urgent,safe,Good,2018-06-01\n");
        all.extend(in_part.iter().cloned());
        out.push(Part {
            id: format!("national-{b:03}"),
            csv: csv.into_bytes(),
            trusts: in_part,
            good,
            bad: BAD_PER_PART,
        });
    }
    Feed {
        parts: out,
        trusts: all,
    }
}

/// Publish `parts` on the queue door (`<ns>.feeds.submit`) from `source`, each in two chunks.
pub async fn publish(bus: &Bus, source: &str, parts: &[Part]) -> anyhow::Result<()> {
    for b in parts {
        let half = b.csv.len() / 2;
        for (i, chunk) in [&b.csv[..half], &b.csv[half..]].into_iter().enumerate() {
            let msg = ing::FeedBatch {
                source: source.into(),
                batch_id: b.id.clone(),
                format: ing::FeedFormat::Csv as i32,
                file_name: format!("{}.csv", b.id),
                chunk_index: i as u32,
                last: i == 1,
                content: chunk.to_vec(),
            };
            bus.publish(
                bus.subjects().feeds_submit(),
                &format!("{}-{i}", b.id),
                &msg,
            )
            .await?;
        }
    }
    Ok(())
}

/// The latest combined rating of every trust, from the combiner's gRPC list.
pub async fn combined_ratings(
    addr: SocketAddr,
) -> Option<BTreeMap<String, pb::CombinedRatingPublished>> {
    let mut client = TrustRatingsServiceClient::new(Stack::channel(addr).await.ok()?);
    let mut out = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_trust_ratings(pb::ListTrustRatingsRequest {
                page_size: 500,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner();
        for r in page.ratings {
            out.insert(r.trust_code.clone(), r);
        }
        if page.next_page_token.is_empty() {
            return Some(out);
        }
        token = page.next_page_token;
    }
}

/// Every durable consumer of the pipeline (stream, durable).
pub fn durables(bus: &Bus) -> Vec<(String, &'static str)> {
    let s = bus.subjects();
    [
        consumers::INGESTION_FEEDS,
        consumers::CQC_EVIDENCE,
        consumers::NHSI_EVIDENCE,
        consumers::NHSI_QUALITY,
        consumers::COMBINER_QUALITY,
        consumers::COMBINER_UOR,
    ]
    .into_iter()
    .filter_map(|d| Some((s.consumer(d)?.stream, d)))
    .collect()
}

/// Whether every consumer of the pipeline exists and has nothing pending (nothing undelivered,
/// nothing delivered and unsettled).
pub async fn drained(bus: &Bus) -> bool {
    for (stream, durable) in durables(bus) {
        let Ok(s) = bus.jetstream().get_stream(&stream).await else {
            return false;
        };
        let Ok(mut c) = s
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
            .await
        else {
            return false;
        };
        match c.info().await {
            Ok(i) if i.num_pending == 0 && i.num_ack_pending == 0 => {}
            _ => return false,
        }
    }
    true
}

/// Every trust of `trusts` has a combined rating with both parts, read once every consumer
/// has drained (so what is served is the end state, not a snapshot with evidence on its way).
pub async fn all_rated(
    bus: &Bus,
    combiner: SocketAddr,
    trusts: &[String],
) -> Option<BTreeMap<String, pb::CombinedRatingPublished>> {
    if !drained(bus).await {
        return None;
    }
    let all = combined_ratings(combiner).await?;
    trusts
        .iter()
        .all(|t| {
            all.get(t)
                .is_some_and(|r| r.use_of_resources_version > 0 && r.quality_version > 0)
        })
        .then_some(all)
}

/// The payloads of every message of `stream`, in order.
pub async fn stream_payloads(bus: &Bus, stream: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut s = bus.jetstream().get_stream(stream).await?;
    let state = s.info().await?.state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    for seq in state.first_sequence..=state.last_sequence {
        out.push(s.get_raw_message(seq).await?.payload.to_vec());
    }
    Ok(out)
}

/// Messages on `stream` (0 while it does not exist).
pub async fn stream_len(bus: &Bus, stream: &str) -> u64 {
    match bus.jetstream().get_stream(stream).await {
        Ok(mut s) => s.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

/// A durable consumer's state (`None` while it or its stream does not exist).
pub async fn consumer_info(
    bus: &Bus,
    stream: &str,
    durable: &str,
) -> Option<async_nats::jetstream::consumer::Info> {
    let s = bus.jetstream().get_stream(stream).await.ok()?;
    let mut c: async_nats::jetstream::consumer::PullConsumer =
        s.get_consumer(durable).await.ok()?;
    c.info().await.ok().cloned()
}
