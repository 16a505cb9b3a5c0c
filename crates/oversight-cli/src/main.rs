//! `oversight`: the command-line tool of the oversight platform.
//!
//! - `oversight rate FILE...` audits CQC public API JSON offline: recomputes every rating that can
//!   be derived from the ratings beneath it and compares with what was published.
//! - `oversight score FILE...` scores NHSI finance and ward staffing CSV/NDJSON offline: SOF finance
//!   metric scores and CHPPD.
//! - `oversight ratings [TRUST]` prints the combiner's combined ratings (gRPC) as a table.
//! - `oversight ingest FILE...` sends feed files to ingestion (gRPC) with a progress bar and a
//!   summary; `oversight ingest --status BATCH` shows a stored batch.
//! - `oversight deadletters list|show SEQ|requeue SEQ...` lists the messages the services gave up
//!   on (NATS dead-letter stream), shows one with its reason and decoded body, and republishes
//!   them after a fix.

mod client;
mod deadletters;
mod ingest;
mod offline;
mod ratings;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "oversight",
    version,
    about = "NHS trust oversight: CQC quality and NHSI use of resources, one definition of success"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output formats of the offline tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table with a summary, for people.
    Table,
    /// One JSON object per line (NDJSON), for programs.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Recompute and check the ratings in CQC public API JSON (locations, providers; object, array
    /// or NDJSON). Works offline.
    Rate {
        /// Files to audit.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The providers' trust type, which decides whether a combined rating exists (CQC's API
        /// does not say): acute, specialist_acute, mental_health, community or ambulance.
        #[arg(long, default_value = "acute", value_parser = parse_trust_type)]
        trust_type: oversight_rating::TrustType,
    },
    /// Score NHSI finance (SOF 2017) and ward staffing (CHPPD) files, CSV or NDJSON. Works offline.
    Score {
        /// Files to score; ward days of one ward may be split across files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The combined ratings from the combiner over gRPC: every trust as a table (trust, S, E, C, R,
    /// W, overall quality, UoR, combined, flags), or one trust's parts, explanations and history.
    Ratings(ratings::RatingsArgs),
    /// Send feed files (CSV, NDJSON, CQC API JSON) to the ingestion service over gRPC with a
    /// progress bar and a summary, or show a stored batch's status and rejections.
    Ingest(ingest::IngestArgs),
    /// The messages the services gave up on (NATS dead-letter stream): list them, show one with
    /// its reason and decoded body, requeue them to their original subjects after a fix.
    Deadletters(deadletters::DeadLettersArgs),
}

fn parse_trust_type(s: &str) -> Result<oversight_rating::TrustType, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rate {
            files,
            format,
            trust_type,
        } => offline::rate(&files, format, trust_type),
        Command::Score { files, format } => offline::score(&files, format),
        Command::Ratings(args) => ratings::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Deadletters(args) => deadletters::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
