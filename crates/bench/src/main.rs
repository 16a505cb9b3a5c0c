//! `bench`: proof under load (issue 9). One run, one nats-server (started here, on loopback, with a
//! file store), the four services in this process (`oversight_e2e::Stack`, SQLite files, or
//! Postgres with `TEST_DATABASE_URL`), and a side-by-side table:
//!
//! 1. the pipeline: a synthetic national feed (230 trusts, 1,500 locations, 8 core services × 5 key
//!    questions, well-led and use of resources) submitted over gRPC, evidence records per second to
//!    the last published combined rating; then NHSI's feeds (monthly finance and productivity,
//!    daily ward staffing) to stored observations;
//! 2. the raw JetStream baseline on the same server: async publish (acks in flight) and
//!    pull-consume-ack of messages the mean size of the pipeline's evidence messages;
//! 3. end-to-end latency, submit → combined rating, at 20 % of the pipeline's peak;
//! 4. `GetTrustRating` under ≥ 5,000 requests/s (open loop), then flat out (closed loop);
//! 5. the pure rule kernels on one core;
//! 6. peak RSS (VmHWM) of this process (all four services) and of nats-server.
//!
//! `cargo run --release -p bench -- [--quick] [--write-doc docs/PERFORMANCE.md]`

mod grpc_load;
mod kernels;
mod national;
mod pipeline;
mod raw;
mod report;
mod stats;

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use oversight_e2e::Stack;

/// Benchmark the oversight pipeline against raw JetStream on this machine.
#[derive(Parser, Debug)]
#[command(name = "bench", about)]
struct Args {
    /// A short smoke run: a tenth of the trusts, a few NHSI months, fewer samples and requests.
    #[arg(long)]
    quick: bool,
    /// Replace the generated section of this markdown file (between the bench markers) with the
    /// results, creating the file or section if absent.
    #[arg(long)]
    write_doc: Option<std::path::PathBuf>,
    /// Offered GetTrustRating load, requests per second.
    #[arg(long, default_value_t = 20000.0)]
    grpc_rate: f64,
    /// Only the one-at-a-time end-to-end latency, this many samples, printed with its breakdown
    /// by hop (for profiling the pipeline's floor, e.g. under `perf record`); writes no document.
    #[arg(long)]
    floor_only: Option<usize>,
}

/// Sizes of one run.
struct Plan {
    trusts: usize,
    locations: usize,
    trusts_per_batch: usize,
    nhsi_months: usize,
    wards: usize,
    staffing_days: usize,
    latency_samples: usize,
    /// Samples taken one at a time (the pipeline's floor, no queueing).
    floor_samples: usize,
    grpc_requests: usize,
    grpc_workers: usize,
    grpc_budget: Duration,
    kernel_budget: Duration,
    deadline: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                trusts: 23,
                locations: 150,
                trusts_per_batch: 5,
                nhsi_months: 3,
                wards: 1,
                staffing_days: 30,
                latency_samples: 100,
                floor_samples: 50,
                grpc_requests: 10_000,
                grpc_workers: 32,
                grpc_budget: Duration::from_secs(3),
                kernel_budget: Duration::from_millis(300),
                deadline: Duration::from_secs(300),
            }
        } else {
            Plan {
                trusts: 230,
                locations: 1500,
                trusts_per_batch: 10,
                nhsi_months: 36,
                wards: 30,
                staffing_days: 1095,
                latency_samples: 2000,
                floor_samples: 300,
                grpc_requests: 200_000,
                grpc_workers: 64,
                grpc_budget: Duration::from_secs(12),
                kernel_budget: Duration::from_secs(2),
                deadline: Duration::from_secs(3600),
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = Plan::new(args.quick);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = report::Machine::read();
    eprintln!("{}", machine.describe());

    let trusts = national::national(plan.trusts, plan.locations)?;
    let evidence = trusts
        .iter()
        .map(national::Trust::evidence)
        .collect::<anyhow::Result<Vec<_>>>()?;
    eprintln!("kernels: rating {} trusts on one core…", trusts.len());
    let kernels = kernels::run(&evidence, plan.kernel_budget)?;

    let stack = Stack::start()
        .await
        .context("failed to start the in-process stack (is nats-server installed?)")?;
    let bus = stack.env.nats_client().await?;
    let watcher = pipeline::Watcher::start(&bus).await?;
    if let Some(samples) = args.floor_only {
        let floor = pipeline::latency_phase(
            &stack,
            &watcher,
            pipeline::Pace::OneAtATime,
            b'X',
            samples,
            plan.deadline,
        )
        .await?;
        println!("end-to-end, one at a time: {}", floor.latencies.summary());
        for (what, hop) in &floor.hops {
            println!("  {what}: {}", hop.summary());
        }
        // Mean handler time per batch, by consumer: the part of each hop spent in the handler
        // (store, rate, publish) rather than in delivery.
        let metrics = oversight_runtime::metrics::render();
        let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        for line in metrics.lines() {
            if let Some(rest) = line.strip_prefix("oversight_handler_duration_seconds_sum")
                && let Some(sum) = value(line)
            {
                let labels = rest.rsplit_once(' ').map_or(rest, |(l, _)| l);
                let count = metrics
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("oversight_handler_duration_seconds_count")
                            .filter(|r| r.starts_with(labels))
                            .and_then(|_| value(l))
                    })
                    .unwrap_or(0.0);
                if count > 0.0 {
                    println!(
                        "  handler {labels}: {count} batches, mean {:.2} ms",
                        sum / count * 1e3
                    );
                }
            }
        }
        stack.stop().await?;
        return Ok(());
    }

    eprintln!("pipeline: ratings feed of {} trusts…", trusts.len());
    let ratings = pipeline::ratings_phase(
        &stack,
        &bus,
        &watcher,
        &trusts,
        plan.trusts_per_batch,
        plan.deadline,
    )
    .await?;
    let evidence_stats = report::stream_stats(&bus, &bus.subjects().evidence_stream().name).await?;
    let nhsi_files =
        national::nhsi_files(&trusts, plan.nhsi_months, plan.wards, plan.staffing_days, 1)?;
    let nhsi_records = national::nhsi_records(
        trusts.len(),
        plan.nhsi_months,
        plan.wards,
        plan.staffing_days,
    );
    eprintln!("pipeline: NHSI national backfill, {nhsi_records} records…");
    let nhsi = pipeline::nhsi_phase(&stack, &bus, nhsi_files, nhsi_records, plan.deadline).await?;
    // Peak memory of the services through the pipeline phases, before the raw baseline and the
    // load clients add their own buffers to this process.
    let memory = report::Memory::read(stack.env.dir());
    let all_evidence = report::stream_stats(&bus, &bus.subjects().evidence_stream().name).await?;

    let size = all_evidence.mean_size().max(1);
    let raw_messages = all_evidence.messages.clamp(10_000, 200_000);
    eprintln!("raw JetStream: {raw_messages} messages of {size} bytes…");
    let raw = raw::run(
        bus.client(),
        stack.env.namespace.as_str(),
        raw_messages,
        size,
    )
    .await?;

    let load = 0.2 * ratings.records_per_s();
    eprintln!(
        "latency: {} samples at {} records/s…",
        plan.latency_samples,
        stats::per_s(load)
    );
    let latency = pipeline::latency_phase(
        &stack,
        &watcher,
        pipeline::Pace::OpenLoop {
            records_per_s: load,
        },
        b'A',
        plan.latency_samples,
        plan.deadline,
    )
    .await?;
    eprintln!("latency: {} samples one at a time…", plan.floor_samples);
    let latency_floor = pipeline::latency_phase(
        &stack,
        &watcher,
        pipeline::Pace::OneAtATime,
        b'X',
        plan.floor_samples,
        plan.deadline,
    )
    .await?;

    let codes: Vec<String> = trusts.iter().map(|t| t.code.clone()).collect();
    eprintln!(
        "gRPC: {} GetTrustRating at {}/s…",
        plan.grpc_requests, args.grpc_rate
    );
    let grpc_open = grpc_load::open_loop(
        stack.combiner,
        &codes,
        args.grpc_rate,
        plan.grpc_requests,
        plan.grpc_budget,
        plan.grpc_workers,
    )
    .await?;
    let grpc_closed = grpc_load::closed_loop(
        stack.combiner,
        &codes,
        plan.grpc_requests * 4,
        plan.grpc_budget,
        plan.grpc_workers,
    )
    .await?;
    // One client, one request at a time: the unloaded round trip.
    let grpc_single =
        grpc_load::closed_loop(stack.combiner, &codes, 500, plan.grpc_budget, 1).await?;
    let grpc_list = grpc_load::list_pages(stack.combiner, 100, 2_000, plan.grpc_budget).await?;

    let results = report::Results {
        machine,
        command,
        quick: args.quick,
        trusts: trusts.len(),
        locations: plan.locations,
        staffing_rows: trusts.len() * plan.wards * plan.staffing_days,
        ratings,
        evidence_stats,
        nhsi,
        all_evidence,
        raw,
        latency,
        latency_floor,
        grpc_open,
        grpc_closed,
        grpc_single,
        grpc_list,
        grpc_rate: args.grpc_rate,
        kernels,
        memory,
    };
    let table = results.markdown();
    println!("{table}");
    if let Some(path) = &args.write_doc {
        report::write_section(path, &table)?;
        eprintln!("wrote {}", path.display());
    }
    stack.stop().await?;
    Ok(())
}
