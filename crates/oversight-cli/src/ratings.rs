//! `oversight ratings [TRUST]`: the combined ratings report in the terminal, read over gRPC from the
//! combiner (`TrustRatingsService`), the same content as the combiner's HTML report.
//!
//! Without TRUST: one row per trust — trust, the five key questions (S E C R W), overall quality,
//! use of resources, combined and flags (`⚠ code,…`). Ratings are CQC's short forms: O, G, RI, I;
//! `-` is no rating. With TRUST: that trust's parts, each with its explanation, its flags, what
//! would change its overall quality and combined rating (`GetRatingChanges`: the smallest sets of
//! single-rating changes that move each one step up or down), and its history (every published
//! version, oldest first).
//!
//! `--format json` prints NDJSON instead: one object per trust with its name and `region` (null
//! when unknown), or, with TRUST, one object with `parts`, `rating_changes` and `history`.
//!
//! Exit status: 0 on success; 1 when the trust has no rating (NOT_FOUND) or the server refuses the
//! request; 2 when the server cannot be reached or the arguments are wrong.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_rating::{KeyQuestion, RatingValue};
use serde_json::{Value, json};

use crate::Format;

/// Arguments of `oversight ratings`.
#[derive(clap::Args, Debug)]
pub struct RatingsArgs {
    /// A trust's ODS code: show its parts with their explanations and its history.
    pub trust: Option<String>,
    /// The combiner's gRPC address.
    #[arg(
        long,
        env = "OVERSIGHT_COMBINER_URL",
        default_value = "http://127.0.0.1:15054"
    )]
    pub server: String,
    /// Bearer token sent as `authorization: Bearer <token>` (any role may read).
    #[arg(long, env = "OVERSIGHT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Largest page the combiner serves.
const PAGE_SIZE: u32 = 500;

pub fn run(args: RatingsArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RatingsArgs) -> anyhow::Result<ExitCode> {
    let mut client = Client {
        inner: TrustRatingsServiceClient::new(
            crate::client::connect(&args.server, args.token.as_deref(), "the combiner").await?,
        ),
    };
    let result = match &args.trust {
        None => client.all().await.map(|ratings| match args.format {
            Format::Table => render_table(&ratings),
            Format::Json => ratings
                .iter()
                .map(|r| format!("{}\n", row_json(r)))
                .collect(),
        }),
        Some(trust) => match client.trust(trust).await {
            Ok(history) => client
                .changes(trust)
                .await
                .map(|changes| match args.format {
                    Format::Table => render_trust(&history, changes.as_ref()),
                    Format::Json => format!("{}\n", trust_json(&history, changes.as_ref())),
                }),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(out.as_bytes())
                .context("failed to write output")?;
            stdout.flush().ok();
            Ok(ExitCode::SUCCESS)
        }
        Err(status) if status.code() == tonic::Code::Unavailable => Err(anyhow::anyhow!(
            "the combiner at {} is unavailable: {}",
            args.server,
            status.message()
        )),
        Err(status) => {
            eprintln!("error: {:?}: {}", status.code(), status.message());
            Ok(ExitCode::from(1))
        }
    }
}

struct Client {
    inner: TrustRatingsServiceClient<crate::client::Authed>,
}

impl Client {
    /// Every trust's latest rating, following page tokens.
    async fn all(&mut self) -> Result<Vec<pb::CombinedRatingPublished>, tonic::Status> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        loop {
            let req = pb::ListTrustRatingsRequest {
                page_size: PAGE_SIZE,
                page_token: page_token.clone(),
                ..Default::default()
            };
            let page = self.inner.list_trust_ratings(req).await?.into_inner();
            out.extend(page.ratings);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            page_token = page.next_page_token;
        }
    }

    /// A trust's history, oldest first (its last version is the latest).
    async fn trust(
        &mut self,
        trust: &str,
    ) -> Result<Vec<pb::CombinedRatingPublished>, tonic::Status> {
        let req = pb::GetTrustHistoryRequest {
            trust_code: trust.to_string(),
        };
        Ok(self
            .inner
            .get_trust_history(req)
            .await?
            .into_inner()
            .versions)
    }
}

impl Client {
    /// What would change the trust's ratings; `None` from a combiner without `GetRatingChanges`.
    async fn changes(
        &mut self,
        trust: &str,
    ) -> Result<Option<pb::GetRatingChangesResponse>, tonic::Status> {
        let req = pb::GetRatingChangesRequest {
            trust_code: trust.to_string(),
        };
        match self.inner.get_rating_changes(req).await {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(e) if e.code() == tonic::Code::Unimplemented => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The words of a wire rating that must be a real one ("Good"; `?` otherwise).
fn rating_words(raw: i32) -> &'static str {
    convert::real_rating(raw).map_or("?", oversight_rating::Rating::cqc_str)
}

/// One change in words from its typed fields ("responsive from Requires improvement to Good").
fn change_words(c: &pb::RatingChange) -> String {
    let part = match c.part {
        Some(pb::rating_change::Part::KeyQuestion(k)) => convert::key_question(k)
            .map_or_else(|| "?".to_string(), |kq| kq.cqc_str().to_lowercase()),
        Some(pb::rating_change::Part::UseOfResources(_)) => "use of resources".to_string(),
        None => "?".to_string(),
    };
    format!(
        "{part} from {} to {}",
        rating_words(c.from),
        rating_words(c.to)
    )
}

fn direction_word(step: &pb::RatingStep) -> &'static str {
    match pb::Direction::try_from(step.direction) {
        Ok(pb::Direction::Up) => "up",
        Ok(pb::Direction::Down) => "down",
        _ => "?",
    }
}

fn what_if_lines(out: &mut String, label: &str, w: Option<&pb::RatingWhatIf>) {
    let Some(w) = w else { return };
    if w.unavailable != pb::WhatIfUnavailable::Unspecified as i32 {
        let _ = writeln!(out, "  {label}: none — {}", w.unavailable_reason);
        return;
    }
    let _ = writeln!(out, "  {label} ({} now):", rating_words(w.current));
    for step in [w.up.as_ref(), w.down.as_ref()].into_iter().flatten() {
        let direction = direction_word(step);
        match pb::StepOutcome::try_from(step.outcome) {
            Ok(pb::StepOutcome::Changes) => {
                let _ = writeln!(out, "    {direction} to {}:", rating_words(step.to));
                for set in &step.change_sets {
                    let words: Vec<String> = set.changes.iter().map(change_words).collect();
                    let _ = writeln!(out, "      - {}", words.join(" and "));
                }
            }
            Ok(pb::StepOutcome::AlreadyOutstanding) => {
                let _ = writeln!(out, "    {direction}: already Outstanding");
            }
            Ok(pb::StepOutcome::AlreadyInadequate) => {
                let _ = writeln!(out, "    {direction}: already Inadequate");
            }
            Ok(pb::StepOutcome::NoExactStep) => {
                let _ = writeln!(
                    out,
                    "    {direction} to {}: no change to single ratings gives exactly that",
                    rating_words(step.to)
                );
            }
            _ => {}
        }
    }
}

/// "What would change this rating": each rating's current value and, per direction, the smallest
/// sets of changes.
fn render_changes(out: &mut String, changes: Option<&pb::GetRatingChangesResponse>) {
    let Some(c) = changes else { return };
    out.push_str("\nWhat would change this rating (smallest sets of changes, one step):\n");
    what_if_lines(out, "Overall quality", c.overall_quality.as_ref());
    what_if_lines(out, "Combined", c.combined.as_ref());
}

fn what_if_json(w: Option<&pb::RatingWhatIf>) -> Value {
    let Some(w) = w else { return Value::Null };
    if w.unavailable != pb::WhatIfUnavailable::Unspecified as i32 {
        return json!({"current": Value::Null, "unavailable": w.unavailable_reason});
    }
    let step = |s: Option<&pb::RatingStep>| {
        s.map_or(Value::Null, |s| {
            let outcome = pb::StepOutcome::try_from(s.outcome)
                .map(|o| o.as_str_name().trim_start_matches("STEP_OUTCOME_").to_lowercase())
                .unwrap_or_default();
            json!({
                "outcome": outcome,
                "to": convert::real_rating(s.to).map(oversight_rating::Rating::cqc_str),
                "sets": s.change_sets.iter().map(|set| json!({
                    "changes": set.changes.iter().map(|c| json!({
                        "rating": match c.part {
                            Some(pb::rating_change::Part::KeyQuestion(k)) =>
                                convert::key_question(k).map(|kq| kq.camel()),
                            Some(pb::rating_change::Part::UseOfResources(_)) => Some("useOfResources"),
                            None => None,
                        },
                        "from": rating_words(c.from),
                        "to": rating_words(c.to),
                    })).collect::<Vec<_>>(),
                    "description": set.description,
                })).collect::<Vec<_>>(),
            })
        })
    };
    json!({
        "current": rating_words(w.current),
        "up": step(w.up.as_ref()),
        "down": step(w.down.as_ref()),
    })
}

/// CQC's short form of a wire rating: O, G, RI, I; `-` for no rating or a non-rating.
pub fn short(d: Option<&common::DatedRating>) -> &'static str {
    d.and_then(|d| convert::real_rating(d.rating))
        .map_or("-", oversight_rating::Rating::short)
}

/// The words of a wire rating ("Requires improvement", "Not rated", "no rating").
fn words(d: Option<&common::DatedRating>) -> &'static str {
    d.and_then(|d| convert::rating_value(d.rating))
        .map_or("no rating", RatingValue::cqc_str)
}

fn key_question(r: &pb::CombinedRatingPublished, kq: KeyQuestion) -> Option<&common::DatedRating> {
    let wire = common::KeyQuestion::from(kq) as i32;
    r.key_questions
        .iter()
        .find(|k| k.key_question == wire)
        .and_then(|k| k.rating.as_ref())
}

/// The combined cell: the short rating, or `none` when there is no combined rating.
fn combined_short(r: &pb::CombinedRatingPublished) -> &'static str {
    if r.no_combined_reason.is_empty() {
        short(r.combined.as_ref())
    } else {
        "none"
    }
}

fn flags(r: &pb::CombinedRatingPublished) -> String {
    if r.flags.is_empty() {
        String::new()
    } else {
        let codes: Vec<&str> = r.flags.iter().map(|f| f.code.as_str()).collect();
        format!("⚠ {}", codes.join(","))
    }
}

/// The cells of one row: trust, S, E, C, R, W, quality, UoR, combined, flags.
pub fn row(r: &pb::CombinedRatingPublished) -> Vec<String> {
    let mut cells = vec![r.trust_code.clone()];
    cells.extend(
        KeyQuestion::ALL
            .into_iter()
            .map(|kq| short(key_question(r, kq)).to_string()),
    );
    cells.push(short(r.overall_quality.as_ref()).to_string());
    cells.push(short(r.use_of_resources.as_ref()).to_string());
    cells.push(combined_short(r).to_string());
    cells.push(flags(r));
    cells
}

pub const HEADER: [&str; 10] = [
    "TRUST", "S", "E", "C", "R", "W", "QUALITY", "UOR", "COMBINED", "FLAGS",
];

fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The table of every trust, with a summary line.
pub fn render_table(ratings: &[pb::CombinedRatingPublished]) -> String {
    let mut rows = vec![HEADER.iter().map(ToString::to_string).collect::<Vec<_>>()];
    rows.extend(ratings.iter().map(row));
    let mut out = aligned(&rows);
    let flagged = ratings.iter().filter(|r| !r.flags.is_empty()).count();
    let _ = writeln!(
        out,
        "{} trusts, {} with a combined rating, {flagged} flagged",
        ratings.len(),
        ratings
            .iter()
            .filter(|r| r.no_combined_reason.is_empty())
            .count()
    );
    out
}

fn explanation_lines(out: &mut String, e: Option<&common::Explanation>) {
    let Some(e) = e else { return };
    let _ = writeln!(out, "    rule ({}): {}", e.rule_set, e.rule);
    for i in &e.inputs {
        let _ = writeln!(out, "    input: {i}");
    }
    for n in &e.notes {
        let _ = writeln!(out, "    note: {n}");
    }
}

/// One trust: its parts with explanations, flags, what would change its ratings, and history.
pub fn render_trust(
    history: &[pb::CombinedRatingPublished],
    changes: Option<&pb::GetRatingChangesResponse>,
) -> String {
    let Some(latest) = history.last() else {
        return "no versions\n".to_string();
    };
    let mut out = format!(
        "{} {} (version {}, {} mode, published {})\n",
        latest.trust_code,
        latest.trust_name,
        latest.version,
        mode_word(latest.mode),
        convert::rfc3339(latest.published_at.as_ref())
    );
    let mut parts: Vec<(&str, Option<&common::DatedRating>)> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| (kq.cqc_str(), key_question(latest, kq)))
        .collect();
    parts.push(("Overall quality", latest.overall_quality.as_ref()));
    parts.push(("Use of resources", latest.use_of_resources.as_ref()));
    for (label, d) in parts {
        let date = convert::iso(d.and_then(|d| d.report_date.as_ref()));
        let _ = writeln!(out, "{label}: {} {date}", words(d));
        explanation_lines(&mut out, d.and_then(|d| d.explanation.as_ref()));
    }
    if latest.no_combined_reason.is_empty() {
        let d = latest.combined.as_ref();
        let date = convert::iso(d.and_then(|d| d.report_date.as_ref()));
        let _ = writeln!(out, "Combined: {} {date}", words(d));
    } else {
        let _ = writeln!(out, "Combined: none — {}", latest.no_combined_reason);
    }
    explanation_lines(
        &mut out,
        latest
            .combined
            .as_ref()
            .and_then(|c| c.explanation.as_ref()),
    );
    for f in &latest.flags {
        let _ = writeln!(out, "⚠ FLAG {}: {}", f.code, f.description);
    }
    render_changes(&mut out, changes);
    out.push_str("\nHistory:\n");
    let mut rows = vec![
        ["VERSION", "PUBLISHED", "MODE"]
            .iter()
            .chain(HEADER[1..].iter())
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    ];
    for r in history {
        let mut cells = vec![
            format!("v{}", r.version),
            convert::rfc3339(r.published_at.as_ref()),
            mode_word(r.mode).to_string(),
        ];
        cells.extend(row(r).into_iter().skip(1));
        rows.push(cells);
    }
    out.push_str(&aligned(&rows));
    out
}

/// The publication mode in words: `combined`, `shadow` (empty when unset).
fn mode_word(raw: i32) -> &'static str {
    match pb::Mode::try_from(raw) {
        Ok(pb::Mode::Combined) => "combined",
        Ok(pb::Mode::Shadow) => "shadow",
        _ => "",
    }
}

fn dated_json(d: Option<&common::DatedRating>) -> Value {
    json!({
        "rating": d.and_then(|d| convert::rating_value(d.rating)).map(RatingValue::cqc_str),
        "report_date": d.and_then(|d| d.report_date.as_ref()).map(|d| convert::iso(Some(d))),
    })
}

fn explanation_json(e: Option<&common::Explanation>) -> Value {
    e.map_or(
        Value::Null,
        |e| json!({"rule_set": e.rule_set, "rule": e.rule, "inputs": e.inputs, "notes": e.notes}),
    )
}

/// One trust's row as JSON (the same content as the table, with dates and words).
pub fn row_json(r: &pb::CombinedRatingPublished) -> Value {
    let mut v = json!({
        "trust_code": r.trust_code,
        "trust_name": r.trust_name,
        "region": (!r.region.is_empty()).then_some(&r.region),
        "version": r.version,
        "mode": mode_word(r.mode),
        "overall_quality": dated_json(r.overall_quality.as_ref()),
        "use_of_resources": dated_json(r.use_of_resources.as_ref()),
        "combined": if r.no_combined_reason.is_empty() { dated_json(r.combined.as_ref()) } else { Value::Null },
        "no_combined_reason": (!r.no_combined_reason.is_empty()).then_some(&r.no_combined_reason),
        "flags": r.flags.iter().map(|f| json!({"code": f.code, "description": f.description})).collect::<Vec<_>>(),
        "published_at": convert::rfc3339(r.published_at.as_ref()),
    });
    for kq in KeyQuestion::ALL {
        v[kq.camel()] = dated_json(key_question(r, kq));
    }
    v
}

fn trust_json(
    history: &[pb::CombinedRatingPublished],
    changes: Option<&pb::GetRatingChangesResponse>,
) -> Value {
    let Some(latest) = history.last() else {
        return Value::Null;
    };
    let mut v = row_json(latest);
    let mut parts = serde_json::Map::new();
    for kq in KeyQuestion::ALL {
        parts.insert(
            kq.camel().to_string(),
            explanation_json(key_question(latest, kq).and_then(|d| d.explanation.as_ref())),
        );
    }
    for (name, d) in [
        ("overall_quality", latest.overall_quality.as_ref()),
        ("use_of_resources", latest.use_of_resources.as_ref()),
        ("combined", latest.combined.as_ref()),
    ] {
        parts.insert(
            name.to_string(),
            explanation_json(d.and_then(|d| d.explanation.as_ref())),
        );
    }
    v["explanations"] = Value::Object(parts);
    v["rating_changes"] = changes.map_or(Value::Null, |c| {
        json!({
            "version": c.version,
            "overall_quality": what_if_json(c.overall_quality.as_ref()),
            "combined": what_if_json(c.combined.as_ref()),
        })
    });
    v["history"] = Value::Array(history.iter().map(row_json).collect());
    v
}
