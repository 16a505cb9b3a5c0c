//! `TrustRatingsService.GetTrustRating` under concurrent load over loopback: open loop at a fixed
//! offered rate (latency percentiles), then closed loop (maximum throughput). Bounded in requests
//! and time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oversight_e2e::Stack;
use oversight_proto::combined::v1::GetTrustRatingRequest;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use tonic::transport::Channel;

use crate::stats::Latencies;

/// HTTP/2 connections the workers share.
const CONNECTIONS: usize = 4;

#[derive(Debug, Clone)]
pub struct LoadResult {
    pub latencies: Latencies,
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn achieved_per_s(&self) -> f64 {
        crate::stats::rate(self.requests, self.elapsed)
    }
}

async fn clients(addr: SocketAddr) -> anyhow::Result<Vec<TrustRatingsServiceClient<Channel>>> {
    let mut out = Vec::new();
    for _ in 0..CONNECTIONS {
        out.push(TrustRatingsServiceClient::new(Stack::channel(addr).await?));
    }
    Ok(out)
}

async fn one(
    client: &mut TrustRatingsServiceClient<Channel>,
    trust: &str,
) -> Result<Duration, tonic::Status> {
    let started = Instant::now();
    let r = client
        .get_trust_rating(GetTrustRatingRequest {
            trust_code: trust.to_string(),
            as_of: None,
        })
        .await?;
    if r.into_inner().rating.is_none() {
        return Err(tonic::Status::not_found(trust.to_string()));
    }
    Ok(started.elapsed())
}

/// One call for worker `w`'s `i`-th request, its latency or error counted.
async fn record(
    client: &mut TrustRatingsServiceClient<Channel>,
    trusts: &[String],
    w: usize,
    i: usize,
    latencies: &mut Latencies,
    errors: &mut usize,
) {
    let trust = &trusts[(w * 7919 + i) % trusts.len()];
    match one(client, trust).await {
        Ok(d) => latencies.push(d),
        Err(_) => *errors += 1,
    }
}

/// `workers` tasks, each sending at `rate / workers` per second, `total` requests in all (or
/// until `budget`). A request that runs late does not delay the schedule (ticks burst to catch
/// up), so the offered rate holds as long as the server keeps up.
pub async fn open_loop(
    addr: SocketAddr,
    trusts: &[String],
    rate: f64,
    total: usize,
    budget: Duration,
    workers: usize,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!trusts.is_empty() && workers > 0, "nothing to load");
    let clients = clients(addr).await?;
    let per_worker = total / workers;
    let period = Duration::from_secs_f64(workers as f64 / rate);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut client = clients[w % clients.len()].clone();
        let trusts = trusts.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut errors = 0;
            // Spread the workers' first ticks over one period.
            let offset = period.mul_f64(w as f64 / workers as f64);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..per_worker {
                tick.tick().await;
                if started.elapsed() >= budget {
                    break;
                }
                record(&mut client, &trusts, w, i, &mut lat, &mut errors).await;
            }
            (lat, errors)
        }));
    }
    collect(tasks, started).await
}

/// `ListTrustRatings` pages of `page_size` trusts, one client, one call at a time (walking the
/// pages and starting over), `total` calls or until `budget`.
pub async fn list_pages(
    addr: SocketAddr,
    page_size: u32,
    total: usize,
    budget: Duration,
) -> anyhow::Result<LoadResult> {
    let mut client = TrustRatingsServiceClient::new(Stack::channel(addr).await?);
    let mut latencies = Latencies::default();
    let mut errors = 0;
    let mut token = String::new();
    let started = Instant::now();
    for _ in 0..total {
        if started.elapsed() >= budget {
            break;
        }
        let t0 = Instant::now();
        match client
            .list_trust_ratings(oversight_proto::combined::v1::ListTrustRatingsRequest {
                page_size,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(r) => {
                latencies.push(t0.elapsed());
                let r = r.into_inner();
                if r.ratings.is_empty() {
                    errors += 1;
                }
                token = r.next_page_token;
            }
            Err(_) => errors += 1,
        }
    }
    Ok(LoadResult {
        requests: latencies.len() + errors,
        latencies,
        errors,
        elapsed: started.elapsed(),
    })
}

/// `workers` tasks sending back to back until `total` requests or `budget` time.
pub async fn closed_loop(
    addr: SocketAddr,
    trusts: &[String],
    total: usize,
    budget: Duration,
    workers: usize,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!trusts.is_empty() && workers > 0, "nothing to load");
    let clients = clients(addr).await?;
    let per_worker = total / workers;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut client = clients[w % clients.len()].clone();
        let trusts = trusts.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut errors = 0;
            for i in 0..per_worker {
                if started.elapsed() >= budget {
                    break;
                }
                record(&mut client, &trusts, w, i, &mut lat, &mut errors).await;
            }
            (lat, errors)
        }));
    }
    collect(tasks, started).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<(Latencies, usize)>>,
    started: Instant,
) -> anyhow::Result<LoadResult> {
    let mut latencies = Latencies::default();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    Ok(LoadResult {
        requests: latencies.len() + errors,
        latencies,
        errors,
        elapsed,
    })
}
