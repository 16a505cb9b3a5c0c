//! Ingestion throughput and memory on a large synthetic feed, generated on the fly (never held in
//! memory). Reports records/s and peak RSS (VmHWM from /proc/self/status).
//!
//! ```text
//! cargo run --release -p ingestion --example ingest_bench -- parse 1024 ratings
//! cargo run --release -p ingestion --example ingest_bench -- pipeline 256 ratings
//! ```
//!
//! - `parse MB FEED`: the streaming parser alone over MB megabytes (`feed::records`).
//! - `pipeline MB FEED`: the whole service: a private nats-server, SQLite (or Postgres with
//!   `TEST_DATABASE_URL`), the App on port 0, and the file streamed to gRPC `Submit` in 256 KiB
//!   chunks: parse → validate → store → publish.
//!
//! FEED is `ratings` (the oversight ratings feed, service ratings of 100 trusts) or `productivity`
//! (NHSI productivity metrics, one evidence message per record).

use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use ingestion::feed::{self, Format, Parsed};
use oversight_proto::ingestion::v1 as pb;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;

const SERVICES: [&str; 8] = [
    "urgent",
    "care",
    "surgery",
    "critical",
    "maternity",
    "childrens",
    "life",
    "outpatients",
];
const KQS: [&str; 5] = ["safe", "effective", "caring", "responsive", "well-led"];
const RATINGS: [&str; 4] = ["Outstanding", "Good", "Requires improvement", "Inadequate"];

/// A synthetic feed of about `limit` bytes, produced record by record.
struct Synthetic {
    productivity: bool,
    limit: u64,
    produced: u64,
    record: u64,
    line: Vec<u8>,
    pos: usize,
}

impl Synthetic {
    fn new(productivity: bool, limit: u64) -> Self {
        let header = if productivity {
            "trust_code,period_end,metric,value\n"
        } else {
            "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n"
        };
        Synthetic {
            productivity,
            limit,
            produced: 0,
            record: 0,
            line: header.as_bytes().to_vec(),
            pos: 0,
        }
    }

    fn next_line(&mut self) {
        self.record += 1;
        let i = self.record;
        let trust = format!("R{:02}", i % 100);
        // Every record differs (`i` is in it): equal records would be counted as duplicates.
        let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(i % 7300)))
            .unwrap_or_default();
        self.line = if self.productivity {
            format!("{trust},{day},vacancy_rate,{}.{i}\n", i % 100,)
        } else {
            format!(
                "service_rating,{trust},Trust {trust},acute,{trust}01,Site {i},{},{},{},{day}\n",
                SERVICES[(i % 8) as usize],
                KQS[(i % 5) as usize],
                RATINGS[(i % 4) as usize],
            )
        }
        .into_bytes();
        self.pos = 0;
    }
}

impl Read for Synthetic {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.line.len() {
            if self.produced >= self.limit {
                return Ok(0);
            }
            self.next_line();
        }
        let n = buf.len().min(self.line.len() - self.pos);
        buf[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        self.produced += n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn parse_only(bytes: u64, productivity: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for item in feed::records(
        Format::Csv,
        "synthetic.csv",
        Synthetic::new(productivity, bytes),
    ) {
        match item? {
            Parsed::Accepted(_) => accepted += 1,
            Parsed::Rejected(_) => rejected += 1,
        }
    }
    report("parse", bytes, accepted + rejected, rejected, started);
    Ok(())
}

fn report(mode: &str, bytes: u64, records: u64, rejected: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{mode}: {:.0} MB, {records} records ({rejected} rejected) in {secs:.1} s: {:.0} records/s, {:.1} MB/s; peak RSS (VmHWM) {}",
        bytes as f64 / 1e6,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs,
        peak_rss_kib()
    );
}

async fn pipeline(bytes: u64, productivity: bool) -> anyhow::Result<()> {
    let env = oversight_testkit::TestEnv::start().await?;
    let app = ingestion::App::build(ingestion::Config {
        infra: env.infra("ingestion").await?,
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    })
    .await?;
    let addr = app.grpc_addr()?;
    let shutdown = oversight_runtime::Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let mut client = IngestionServiceClient::connect(format!("http://{addr}")).await?;
    let header = pb::SubmitRequest {
        part: Some(pb::submit_request::Part::Header(pb::BatchHeader {
            source: "bench".into(),
            batch_id: "bench-1".into(),
            format: pb::FeedFormat::Csv as i32,
            file_name: "synthetic.csv".into(),
        })),
    };
    let source = Synthetic::new(productivity, bytes);
    let chunks = futures::stream::unfold(source, |mut s| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let mut filled = 0;
        while filled < buf.len() {
            match s.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        (filled > 0).then(|| {
            buf.truncate(filled);
            (
                pb::SubmitRequest {
                    part: Some(pb::submit_request::Part::Chunk(buf)),
                },
                s,
            )
        })
    });
    let started = Instant::now();
    let receipt = client
        .submit(futures::stream::once(async { header }).chain(chunks))
        .await
        .context("Submit failed")?
        .into_inner();
    report(
        "pipeline",
        bytes,
        receipt.records,
        receipt.rejected,
        started,
    );
    println!(
        "  accepted {}, duplicates {}, database: {}",
        receipt.accepted,
        receipt.duplicates,
        if env.uses_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    shutdown.cancel();
    task.await??;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: ingest_bench parse|pipeline MB ratings|productivity";
    let [mode, mb, kind] = args.as_slice() else {
        anyhow::bail!(usage);
    };
    let bytes = mb.parse::<u64>().context(usage)? * 1024 * 1024;
    let productivity = match kind.as_str() {
        "ratings" => false,
        "productivity" => true,
        _ => anyhow::bail!(usage),
    };
    match mode.as_str() {
        "parse" => parse_only(bytes, productivity),
        "pipeline" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(pipeline(bytes, productivity)),
        _ => anyhow::bail!(usage),
    }
}
