//! `oversight ingest FILE...`: streams feed files to the ingestion service over gRPC `Submit`, in
//! chunks, with a progress bar (bytes, lines/s, ETA), then prints a summary per file (records,
//! accepted, duplicates, rejected, the first rejections with file, line, field and reason).
//! `oversight ingest --status BATCH` prints a stored batch's status and rejections.
//!
//! Each file is one batch. Its id is `--batch-id` (with several files, `ID/<file name>`) or, by
//! default, `<file name>-<first 12 hex digits of the content's SHA-256>`, so sending the same
//! file again is recognised as a duplicate. The format is `--format` or the file's extension
//! (`.csv`; `.ndjson`/`.jsonl`; `.json` is CQC API JSON).
//!
//! Exit status: 0 when every file was ingested (some records may be rejected); 1 when a file was
//! unreadable or entirely rejected (the error names the file); 2 when the service cannot be
//! reached or the arguments are wrong.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::ValueEnum;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use oversight_proto::ingestion::v1 as pb;
use oversight_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// Bytes per `Submit` chunk.
const CHUNK_BYTES: usize = 256 * 1024;
/// Rejections printed per file; the rest are a `--status` away.
const SHOWN_REJECTIONS: usize = 10;

/// Feed formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedFormatArg {
    /// CSV with a header row (the ratings feed or an NHSI feed).
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// CQC public API JSON: a location or provider object, an array of them, or NDJSON.
    CqcJson,
}

impl FeedFormatArg {
    fn wire(self) -> pb::FeedFormat {
        match self {
            FeedFormatArg::Csv => pb::FeedFormat::Csv,
            FeedFormatArg::Ndjson => pb::FeedFormat::Ndjson,
            FeedFormatArg::CqcJson => pb::FeedFormat::CqcJson,
        }
    }

    fn from_extension(path: &Path) -> Option<FeedFormatArg> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FeedFormatArg::Csv),
            "ndjson" | "jsonl" => Some(FeedFormatArg::Ndjson),
            "json" => Some(FeedFormatArg::CqcJson),
            _ => None,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Feed files to send, each as one batch.
    #[arg(required_unless_present = "status", conflicts_with = "status")]
    pub files: Vec<PathBuf>,
    /// Print the stored status and rejections of this batch instead of sending files.
    #[arg(long, value_name = "BATCH")]
    pub status: Option<String>,
    /// The ingestion service's gRPC URL.
    #[arg(
        long,
        env = "OVERSIGHT_INGESTION_URL",
        default_value = "http://127.0.0.1:15051"
    )]
    pub server: String,
    /// Bearer token sent as `authorization: Bearer <token>` (role cqc, nhsi or operator).
    #[arg(long, env = "OVERSIGHT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The sending system, recorded with the batch and its evidence.
    #[arg(long, default_value = "oversight-cli")]
    pub source: String,
    /// Batch id (default: file name and content hash). With several files: `ID/<file name>`.
    #[arg(long)]
    pub batch_id: Option<String>,
    /// Feed format (default: from the file extension).
    #[arg(long, value_enum)]
    pub format: Option<FeedFormatArg>,
}

type Client = IngestionServiceClient<crate::client::Authed>;

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let mut client = IngestionServiceClient::new(
        crate::client::connect(&args.server, args.token.as_deref(), "the ingestion service")
            .await?,
    );
    if let Some(batch) = &args.status {
        return status(&mut client, batch).await;
    }
    let mut failed = false;
    for file in &args.files {
        match send_file(&mut client, &args, file).await {
            Ok(()) => {}
            Err(FileError::Failed(message)) => {
                eprintln!("error: {message}");
                failed = true;
            }
            Err(FileError::Service(e)) => return Err(e),
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

enum FileError {
    /// This file failed (unreadable, entirely rejected); go on with the others.
    Failed(String),
    /// The service failed; stop.
    Service(anyhow::Error),
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// `<file name>-<12 hex digits of SHA-256>`, read in chunks.
fn content_batch_id(path: &Path, name: &str) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{name}-{}", &hex::encode(hasher.finalize())[..12]))
}

fn rejection_line(r: &pb::Rejection) -> String {
    if r.line > 0 {
        format!(
            "{} line {} (record {}): {}: {}",
            r.file_name, r.line, r.record_number, r.field, r.reason
        )
    } else {
        format!(
            "{} record {}: {}: {}",
            r.file_name, r.record_number, r.field, r.reason
        )
    }
}

fn print_rejections(rejections: &[pb::Rejection], total: u64, batch_id: &str) {
    for r in rejections.iter().take(SHOWN_REJECTIONS) {
        println!("  rejected: {}", rejection_line(r));
    }
    let shown = rejections.len().min(SHOWN_REJECTIONS) as u64;
    if total > shown {
        println!(
            "  … {} more rejections: oversight ingest --status {batch_id}",
            total - shown
        );
    }
}

fn progress_bar(len: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar
}

async fn send_file(client: &mut Client, args: &IngestArgs, path: &Path) -> Result<(), FileError> {
    let name = display_name(path);
    let unreadable =
        |e: std::io::Error| FileError::Failed(format!("cannot read {}: {e}", path.display()));
    let format = args
        .format
        .or_else(|| FeedFormatArg::from_extension(path))
        .ok_or_else(|| {
            FileError::Failed(format!(
                "cannot tell the format of {} from its extension; pass --format csv|ndjson|cqc-json",
                path.display()
            ))
        })?;
    let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let len = file.metadata().await.map_err(unreadable)?.len();
    let batch_id = match &args.batch_id {
        Some(id) if args.files.len() == 1 => id.clone(),
        Some(id) => format!("{id}/{name}"),
        None => {
            let (p, n) = (path.to_path_buf(), name.clone());
            tokio::task::spawn_blocking(move || content_batch_id(&p, &n))
                .await
                .map_err(|e| FileError::Service(e.into()))?
                .map_err(unreadable)?
        }
    };
    let bar = progress_bar(len, &name);
    let (abort_tx, abort_rx) = tokio::sync::oneshot::channel::<std::io::Error>();
    let header = pb::SubmitRequest {
        part: Some(pb::submit_request::Part::Header(pb::BatchHeader {
            source: args.source.clone(),
            batch_id: batch_id.clone(),
            format: format.wire() as i32,
            file_name: name.clone(),
        })),
    };
    let chunks = chunk_stream(file, bar.clone(), name.clone(), abort_tx);
    let requests = futures::stream::once(async move { header }).chain(chunks);
    let outcome = tokio::select! {
        r = client.submit(requests) => Ok(r),
        // Reading failed part-way: dropping the call cancels it, so the service never takes the
        // part read so far for the whole file.
        Ok(e) = abort_rx => Err(e),
    };
    bar.finish_and_clear();
    let response = match outcome {
        Err(e) => return Err(unreadable(e)),
        Ok(r) => r,
    };
    match response {
        Ok(receipt) => {
            let r = receipt.into_inner();
            println!(
                "{name}: batch {}: {} records, {} accepted, {} duplicates, {} rejected",
                r.batch_id, r.records, r.accepted, r.duplicates, r.rejected
            );
            print_rejections(&r.rejections, r.rejected, &r.batch_id);
            Ok(())
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            // An entirely rejected batch is stored with its rejections: show them.
            if let Ok(s) = client
                .get_batch_status(pb::GetBatchStatusRequest {
                    batch_id: batch_id.clone(),
                })
                .await
            {
                let s = s.into_inner();
                println!(
                    "{name}: batch {}: {} records, {} accepted, {} duplicates, {} rejected",
                    s.batch_id, s.records, s.accepted, s.duplicates, s.rejected
                );
                print_rejections(&s.rejections, s.rejected, &s.batch_id);
            }
            Err(FileError::Failed(format!(
                "{} was not ingested: {}",
                path.display(),
                status.message()
            )))
        }
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::Unauthenticated
                    | tonic::Code::PermissionDenied
                    | tonic::Code::Internal
                    | tonic::Code::Unknown
            ) =>
        {
            Err(FileError::Service(anyhow::anyhow!(
                "ingestion refused {}: {:?}: {}",
                path.display(),
                status.code(),
                status.message()
            )))
        }
        Err(status) => Err(FileError::Failed(format!(
            "{} was not ingested: {:?}: {}",
            path.display(),
            status.code(),
            status.message()
        ))),
    }
}

struct Reading {
    file: tokio::fs::File,
    bar: ProgressBar,
    name: String,
    lines: u64,
    started: Instant,
    abort: Option<tokio::sync::oneshot::Sender<std::io::Error>>,
}

/// The file as `Submit` chunks, advancing the progress bar. A read error is reported on `abort`
/// and the stream then never ends, so the call is cancelled rather than completed.
fn chunk_stream(
    file: tokio::fs::File,
    bar: ProgressBar,
    name: String,
    abort: tokio::sync::oneshot::Sender<std::io::Error>,
) -> impl futures::Stream<Item = pb::SubmitRequest> + Send + 'static {
    let state = Reading {
        file,
        bar,
        name,
        lines: 0,
        started: Instant::now(),
        abort: Some(abort),
    };
    futures::stream::unfold(state, |mut s| async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        while filled < buf.len() {
            match s.file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    if let Some(tx) = s.abort.take() {
                        let _ = tx.send(e);
                    }
                    std::future::pending::<()>().await;
                }
            }
        }
        if filled == 0 {
            return None;
        }
        buf.truncate(filled);
        s.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        let secs = s.started.elapsed().as_secs_f64().max(0.001);
        s.bar.inc(filled as u64);
        s.bar.set_message(format!(
            "{}: {} lines, {:.0} lines/s",
            s.name,
            s.lines,
            s.lines as f64 / secs
        ));
        Some((
            pb::SubmitRequest {
                part: Some(pb::submit_request::Part::Chunk(buf)),
            },
            s,
        ))
    })
}

async fn status(client: &mut Client, batch: &str) -> anyhow::Result<ExitCode> {
    let s = match client
        .get_batch_status(pb::GetBatchStatusRequest {
            batch_id: batch.to_string(),
        })
        .await
    {
        Ok(s) => s.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            eprintln!("error: no batch {batch:?}");
            return Ok(ExitCode::from(1));
        }
        Err(status) => anyhow::bail!(
            "GetBatchStatus failed: {:?}: {}",
            status.code(),
            status.message()
        ),
    };
    let state = pb::BatchState::try_from(s.state).unwrap_or(pb::BatchState::Unspecified);
    let format = match pb::FeedFormat::try_from(s.format) {
        Ok(pb::FeedFormat::Csv) => "csv",
        Ok(pb::FeedFormat::Ndjson) => "ndjson",
        Ok(pb::FeedFormat::CqcJson) => "cqc_json",
        _ => "unknown",
    };
    let state_word = match state {
        pb::BatchState::Receiving => "receiving",
        pb::BatchState::Complete => "complete",
        pb::BatchState::Failed => "failed",
        pb::BatchState::Unspecified => "unknown",
    };
    println!(
        "batch {}: {state_word} ({} from {}, format {format})",
        s.batch_id, s.file_name, s.source
    );
    println!(
        "  {} records, {} accepted, {} duplicates, {} rejected",
        s.records, s.accepted, s.duplicates, s.rejected
    );
    for r in &s.rejections {
        println!("  rejected: {}", rejection_line(r));
    }
    if s.rejected > s.rejections.len() as u64 {
        println!(
            "  … {} more rejections are stored",
            s.rejected - s.rejections.len() as u64
        );
    }
    Ok(if state == pb::BatchState::Failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
