//! The offline tools: no NATS, no database, just the formats and the rules (`oversight_cli`'s
//! `rate`, `score` and `render`).
//!
//! Exit status: 0 when every record was read; 1 when some records (or files) had errors, which are
//! printed on stderr naming the file and record while the rest is still printed; 2 on a usage
//! error.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use oversight_cli::render;
use oversight_cli::{rate as audit, score as scoring};

use crate::Format;

fn print(out: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .context("failed to write output")?;
    stdout.flush().ok();
    Ok(())
}

pub fn rate(
    files: &[PathBuf],
    format: Format,
    trust_type: oversight_rating::TrustType,
) -> anyhow::Result<ExitCode> {
    let rules = cqc_rules::audit::AuditRules {
        provider_trust_type: trust_type,
        ..cqc_rules::audit::AuditRules::cqc_2018()
    };
    let mut output = audit::AuditOutput::default();
    let mut unreadable = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(content) => output.extend(audit::audit_document_with(&name, &content, &rules)),
            Err(e) => unreadable.push(format!("error: {name}: cannot read: {e}")),
        }
    }
    match format {
        Format::Json => print(&render::rate::render_json_lines(&output))?,
        Format::Table => print(&render::rate::render_table(&output))?,
    }
    // The table already lists errors; NDJSON keeps stdout machine-readable, so errors go to stderr.
    if format == Format::Json {
        eprint!("{}", render::rate::render_errors(&output));
    }
    for u in &unreadable {
        eprintln!("{u}");
    }
    let ok = audit::exit_ok(&output) && unreadable.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn score(files: &[PathBuf], format: Format) -> anyhow::Result<ExitCode> {
    let mut readers = Vec::new();
    let mut unreadable = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match File::open(path) {
            Ok(f) => readers.push((name, BufReader::new(f))),
            Err(e) => unreadable.push(format!("error: {name}: cannot read: {e}")),
        }
    }
    let output = scoring::score_documents(readers);
    match format {
        Format::Json => print(&render::score::render_json_lines(&output.lines))?,
        Format::Table => print(&render::score::render_table(&output.lines))?,
    }
    eprint!("{}", render::score::render_errors(&output.errors));
    for u in &unreadable {
        eprintln!("{u}");
    }
    let ok = output.errors.is_empty() && unreadable.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
