//! The pipeline through the four services: feeds submitted over gRPC to ingestion, timed until
//! every trust's combined rating (with both parts) is published and every consumer is drained;
//! and end-to-end latency, submit → combined rating, at a fraction of that peak.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use oversight_e2e::Stack;
use oversight_proto::combined::v1::CombinedRatingPublished;
use oversight_proto::ingestion::v1::FeedFormat;
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::consumers;
use oversight_testkit::wait_until;
use prost::Message;

use crate::national::{self, Trust};
use crate::stats::Latencies;

/// Batches submitted concurrently.
const SUBMITS_IN_FLIGHT: usize = 4;

/// The messages between a submit and its combined rating, each seen on its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Hop {
    /// ingestion published the trust's quality evidence.
    EvidenceQuality,
    /// ingestion published the trust's resources evidence.
    EvidenceResources,
    /// cqc-quality published the trust's quality rating.
    QualityRated,
    /// nhsi-resources published the trust's approved use of resources.
    UorApproved,
}

/// What the watcher saw on `<ns>.combined.published` (and when each hop's first message passed).
#[derive(Default)]
struct Seen {
    /// First time each trust had a combined rating with both parts.
    complete: HashMap<String, Instant>,
    /// First time each hop's message of each trust passed (partition key header).
    hops: HashMap<(Hop, String), Instant>,
    last_event: Option<Instant>,
    events: usize,
}

/// Watches combined ratings as they are published (a core NATS subscription on the subject).
#[derive(Clone)]
pub struct Watcher {
    seen: Arc<Mutex<Seen>>,
}

impl Watcher {
    pub async fn start(bus: &Bus) -> anyhow::Result<Watcher> {
        let mut sub = bus
            .client()
            .subscribe(bus.subjects().combined_published())
            .await
            .context("failed to watch combined ratings")?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let now = Instant::now();
                let Ok(r) = CombinedRatingPublished::decode(msg.payload.as_ref()) else {
                    continue;
                };
                if let Ok(mut s) = sink.lock() {
                    s.events += 1;
                    s.last_event = Some(now);
                    if r.quality_version > 0 && r.use_of_resources_version > 0 {
                        s.complete.entry(r.trust_code).or_insert(now);
                    }
                }
            }
        });
        let subjects = bus.subjects();
        for (hop, subject) in [
            (Hop::EvidenceQuality, subjects.evidence_quality()),
            (Hop::EvidenceResources, subjects.evidence_resources()),
            (Hop::QualityRated, subjects.quality_rated()),
            (Hop::UorApproved, subjects.uor_approved()),
        ] {
            let mut sub = bus
                .client()
                .subscribe(subject)
                .await
                .context("failed to watch a hop")?;
            let sink = seen.clone();
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    let now = Instant::now();
                    let Some(key) = msg
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(oversight_runtime::nats::KEY_HEADER))
                    else {
                        continue;
                    };
                    if let Ok(mut s) = sink.lock() {
                        s.hops.entry((hop, key.to_string())).or_insert(now);
                    }
                }
            });
        }
        Ok(Watcher { seen })
    }

    fn hop_at(&self, hop: Hop, trust: &str) -> Option<Instant> {
        self.seen
            .lock()
            .ok()?
            .hops
            .get(&(hop, trust.to_string()))
            .copied()
    }

    fn completed_at(&self, trust: &str) -> Option<Instant> {
        self.seen.lock().ok()?.complete.get(trust).copied()
    }

    fn all_complete<'a>(&self, mut trusts: impl Iterator<Item = &'a str>) -> bool {
        self.seen
            .lock()
            .map(|s| trusts.all(|t| s.complete.contains_key(t)))
            .unwrap_or(false)
    }

    fn last_event(&self) -> Option<Instant> {
        self.seen.lock().ok()?.last_event
    }
}

/// Whether every consumer of the pipeline has nothing pending.
async fn drained(bus: &Bus) -> bool {
    let s = bus.subjects();
    for durable in [
        consumers::INGESTION_FEEDS,
        consumers::CQC_EVIDENCE,
        consumers::NHSI_EVIDENCE,
        consumers::COMBINER_QUALITY,
        consumers::COMBINER_UOR,
    ] {
        let Some(spec) = s.consumer(durable) else {
            return false;
        };
        let Ok(stream) = bus.jetstream().get_stream(&spec.stream).await else {
            return false;
        };
        let Ok(mut c) = stream
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

#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub records: usize,
    pub elapsed: Duration,
}

impl PhaseResult {
    pub fn records_per_s(&self) -> f64 {
        crate::stats::rate(self.records, self.elapsed)
    }
}

/// Submit `files` (batch id, file name, content) over gRPC, SUBMITS_IN_FLIGHT at a time.
async fn submit_all(
    stack: &Stack,
    files: impl IntoIterator<Item = (String, String, Vec<u8>)>,
) -> anyhow::Result<()> {
    // One connection, as a regulator's system keeps one; HTTP/2 carries the submits side by side.
    let channel = Stack::channel(stack.ingestion).await?;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(files)
        .map(|(batch, file, content)| {
            let channel = channel.clone();
            async move {
                let receipt = Stack::submit_on(channel, &batch, FeedFormat::Csv, &file, &content)
                    .await
                    .map_err(|s| anyhow::anyhow!("submit {file}: {s}"))?;
                anyhow::ensure!(
                    receipt.rejected == 0,
                    "{file}: {} records rejected, first: {:?}",
                    receipt.rejected,
                    receipt.rejections.first()
                );
                Ok(())
            }
        })
        .buffer_unordered(SUBMITS_IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect()
}

/// The ratings feed of every trust, from submit to the last combined rating.
pub async fn ratings_phase(
    stack: &Stack,
    bus: &Bus,
    watcher: &Watcher,
    trusts: &[Trust],
    per_batch: usize,
    deadline: Duration,
) -> anyhow::Result<PhaseResult> {
    let batches = national::ratings_batches(trusts, per_batch);
    let records = batches.iter().map(|b| b.1).sum();
    let files: Vec<(String, String, Vec<u8>)> = batches
        .into_iter()
        .enumerate()
        .map(|(i, (csv, _))| {
            (
                format!("national-{i:03}"),
                format!("national-{i:03}.csv"),
                csv,
            )
        })
        .collect();
    let started = Instant::now();
    submit_all(stack, files).await?;
    wait_until(deadline, "every trust's combined rating", || async {
        (watcher.all_complete(trusts.iter().map(|t| t.code.as_str())) && drained(bus).await)
            .then_some(())
    })
    .await?;
    let end = watcher.last_event().unwrap_or_else(Instant::now);
    Ok(PhaseResult {
        records,
        elapsed: end.saturating_duration_since(started),
    })
}

/// NHSI's feeds (finance, productivity, ward staffing), `records` in all, rendered as they are
/// submitted, from submit until nhsi-resources has stored every observation.
pub async fn nhsi_phase(
    stack: &Stack,
    bus: &Bus,
    files: impl Iterator<Item = (String, Vec<u8>, usize)>,
    records: usize,
    deadline: Duration,
) -> anyhow::Result<PhaseResult> {
    let files = files.map(|(name, csv, _)| (format!("nhsi-{name}"), name, csv));
    let started = Instant::now();
    submit_all(stack, files).await?;
    wait_until(deadline, "NHSI observations stored", || async {
        drained(bus).await.then_some(())
    })
    .await?;
    Ok(PhaseResult {
        records,
        elapsed: started.elapsed(),
    })
}

#[derive(Debug, Clone)]
pub struct LatencyResult {
    pub latencies: Latencies,
    /// The same samples by hop, each as (what, latencies): where the time goes.
    pub hops: Vec<(&'static str, Latencies)>,
    pub pace: Pace,
    pub records_per_sample: usize,
    /// CPU time of this process (all four services, the generator and the clients) over the
    /// phase, as a share of the machine's cores: how close the phase ran to saturation.
    pub cpu_share: Option<f64>,
}

/// How the latency samples are offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Open loop at this many records per second: samples overlap each other and the pipeline's
    /// work on the earlier ones.
    OpenLoop { records_per_s: f64 },
    /// One sample at a time, the next submitted when the previous one's combined rating is out:
    /// the pipeline's floor, with no queueing behind other work.
    OneAtATime,
}

/// CPU seconds (user + system) this process has used so far.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// One new trust (one location, all core services) per submission, paced by `pace`; each sample
/// is the time from the start of its submit to the publication of its combined rating with both
/// parts. Trust codes start at `first_prefix` (each prefix letter holds 1,296 codes), so phases
/// do not reuse each other's trusts.
pub async fn latency_phase(
    stack: &Stack,
    watcher: &Watcher,
    pace: Pace,
    first_prefix: u8,
    samples: usize,
    deadline: Duration,
) -> anyhow::Result<LatencyResult> {
    anyhow::ensure!(
        usize::from(first_prefix) + samples / 1296 <= usize::from(b'Z'),
        "too many latency samples"
    );
    let trusts: Vec<Trust> = (0..samples)
        .map(|i| {
            let prefix = char::from(first_prefix + (i / 1296) as u8);
            Trust::generate(prefix, i % 1296, 1)
        })
        .collect::<anyhow::Result<_>>()?;
    let per_sample = trusts.first().map_or(1, Trust::records);
    let interval = match pace {
        Pace::OpenLoop { records_per_s } => {
            Duration::from_secs_f64(per_sample as f64 / records_per_s.max(1.0))
        }
        Pace::OneAtATime => Duration::ZERO,
    };
    let cpu_before = process_cpu();
    let wall_before = Instant::now();
    let started_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // One connection for every sample, as a regulator's system keeps one; each submit runs as its
    // own task, so it makes progress while the generator waits for the next sample's time (a
    // future polled only between samples would add the interval to every sample).
    let channel = Stack::channel(stack.ingestion).await?;
    let t0 = tokio::time::Instant::now();
    let mut submits = tokio::task::JoinSet::new();
    for (i, t) in trusts.iter().enumerate() {
        match pace {
            Pace::OpenLoop { .. } => {
                tokio::time::sleep_until(t0 + interval.mul_f64(i as f64)).await
            }
            Pace::OneAtATime => {
                if let Some(previous) = i.checked_sub(1).and_then(|p| trusts.get(p)) {
                    let code = previous.code.as_str();
                    wait_until(deadline, "the previous latency sample", || async {
                        watcher.all_complete(std::iter::once(code)).then_some(())
                    })
                    .await?;
                }
            }
        }
        let csv = national::single_trust_csv(t);
        let code = t.code.clone();
        if let Ok(mut m) = started_at.lock() {
            m.insert(code.clone(), Instant::now());
        }
        let channel = channel.clone();
        submits.spawn(async move {
            Stack::submit_on(
                channel,
                &format!("latency-{code}"),
                FeedFormat::Csv,
                "latency.csv",
                &csv,
            )
            .await
            .map_err(|s| anyhow::anyhow!("latency submit {code}: {s}"))
        });
        // Settle finished submits as we go, so an error surfaces early.
        while let Some(r) = submits.try_join_next() {
            r??;
        }
    }
    while let Some(r) = submits.join_next().await {
        r??;
    }
    wait_until(
        deadline,
        "every latency sample's combined rating",
        || async {
            watcher
                .all_complete(trusts.iter().map(|t| t.code.as_str()))
                .then_some(())
        },
    )
    .await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_share = match (cpu_before, process_cpu()) {
        (Some(a), Some(b)) => {
            Some(b.saturating_sub(a).as_secs_f64() / (wall_before.elapsed().as_secs_f64() * cores))
        }
        _ => None,
    };
    let mut latencies = Latencies::default();
    let mut hops: Vec<(&'static str, Latencies)> = [
        "submit → quality evidence published (ingestion)",
        "quality evidence → quality rating (cqc-quality)",
        "submit → resources evidence published (ingestion)",
        "resources evidence → UoR approved (nhsi-resources)",
        "later part → combined with both parts (combiner)",
    ]
    .into_iter()
    .map(|what| (what, Latencies::default()))
    .collect();
    let starts = started_at
        .lock()
        .map_err(|_| anyhow::anyhow!("latency map poisoned"))?;
    for t in &trusts {
        if let (Some(s), Some(e)) = (starts.get(&t.code), watcher.completed_at(&t.code)) {
            latencies.push(e.saturating_duration_since(*s));
            let at = |hop| watcher.hop_at(hop, &t.code);
            if let (Some(eq), Some(er), Some(qr), Some(ua)) = (
                at(Hop::EvidenceQuality),
                at(Hop::EvidenceResources),
                at(Hop::QualityRated),
                at(Hop::UorApproved),
            ) {
                for (i, (from, to)) in [(*s, eq), (eq, qr), (*s, er), (er, ua), (qr.max(ua), e)]
                    .into_iter()
                    .enumerate()
                {
                    hops[i].1.push(to.saturating_duration_since(from));
                }
            }
        }
    }
    Ok(LatencyResult {
        latencies,
        hops,
        pace,
        records_per_sample: per_sample,
        cpu_share,
    })
}
