//! `oversight rate`'s output: JSON lines (one `cqc_rules::audit::AuditRow` per line), a table with a summary, and
//! the errors.

use std::fmt;

use cqc_rules::audit::RowKind;
use oversight_rating::{KeyQuestion, Rating};

use super::table;
use crate::rate::AuditOutput;

/// Agreement counts by category, for the table summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditSummary {
    /// Service overall (agreeing, compared).
    pub service_overall: (usize, usize),
    /// Location key questions.
    pub location_key_questions: (usize, usize),
    /// Location overall.
    pub location_overall: (usize, usize),
    /// Provider overall.
    pub provider_overall: (usize, usize),
    /// Provider combined.
    pub provider_combined: (usize, usize),
    /// Input errors.
    pub errors: usize,
}

fn tally(slot: &mut (usize, usize), c: Option<Rating>, p: Option<Rating>) {
    if let (Some(c), Some(p)) = (c, p) {
        slot.1 += 1;
        if c == p {
            slot.0 += 1;
        }
    }
}

/// Counts agreements by category (only fields present on both sides are compared).
pub fn summarise(output: &AuditOutput) -> AuditSummary {
    let mut s = AuditSummary {
        errors: output.errors.len(),
        ..AuditSummary::default()
    };
    for r in &output.rows {
        let (c, p) = (&r.computed, &r.published);
        match r.kind {
            RowKind::Service => tally(&mut s.service_overall, c.overall, p.overall),
            RowKind::Location => {
                tally(&mut s.location_overall, c.overall, p.overall);
                for kq in KeyQuestion::ALL {
                    tally(
                        &mut s.location_key_questions,
                        c.key_questions.get(kq),
                        p.key_questions.get(kq),
                    );
                }
            }
            RowKind::Provider => {
                tally(&mut s.provider_overall, c.overall, p.overall);
                tally(&mut s.provider_combined, c.combined, p.combined);
            }
        }
    }
    s
}

impl fmt::Display for AuditSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("service overall", self.service_overall),
            ("location key questions", self.location_key_questions),
            ("location overall", self.location_overall),
            ("provider overall", self.provider_overall),
            ("provider combined", self.provider_combined),
        ];
        let text: Vec<String> = parts
            .iter()
            .map(|(name, (agree, of))| format!("{name} {agree}/{of} agree"))
            .collect();
        write!(f, "{}", text.join(", "))?;
        match self.errors {
            0 => Ok(()),
            1 => write!(f, "; 1 error"),
            n => write!(f, "; {n} errors"),
        }
    }
}

/// NDJSON: one [`AuditRow`] per line (errors are not included; print them with
/// [`render_errors`]).
pub fn render_json_lines(output: &AuditOutput) -> String {
    let mut s = String::new();
    for row in &output.rows {
        match serde_json::to_string(row) {
            Ok(line) => s.push_str(&line),
            // Not reachable for these plain types; keep the line count honest if it ever is.
            Err(e) => s.push_str(&serde_json::json!({ "error": e.to_string() }).to_string()),
        }
        s.push('\n');
    }
    s
}

/// One line per error: `file: line 3 (1-123): field: message`.
pub fn render_errors(output: &AuditOutput) -> String {
    output
        .errors
        .iter()
        .map(|e| format!("error: {e}\n"))
        .collect()
}

fn cell(c: Option<Rating>, p: Option<Rating>) -> String {
    let s = |r: Option<Rating>| r.map_or("-", Rating::short);
    match (c, p) {
        (None, None) => "-".into(),
        (Some(c), Some(p)) if c != p => format!("{}/{} ≠", c.short(), p.short()),
        _ => format!("{}/{}", s(c), s(p)),
    }
}

/// An aligned table (cells are computed/published, `≠` marks a difference), the summary line,
/// and the errors.
pub fn render_table(output: &AuditOutput) -> String {
    let headers = [
        "KIND",
        "ID",
        "SERVICE",
        "OVERALL",
        "SAFE",
        "EFFECTIVE",
        "CARING",
        "RESPONSIVE",
        "WELL-LED",
        "COMBINED",
        "AGREES",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &output.rows {
        let kind = match r.kind {
            RowKind::Service => "service",
            RowKind::Location => "location",
            RowKind::Provider => "provider",
        };
        let mut line = vec![
            kind.to_string(),
            r.id.clone(),
            r.service.clone().unwrap_or_else(|| "-".into()),
            cell(r.computed.overall, r.published.overall),
        ];
        line.extend(KeyQuestion::ALL.into_iter().map(|kq| {
            cell(
                r.computed.key_questions.get(kq),
                r.published.key_questions.get(kq),
            )
        }));
        line.push(cell(r.computed.combined, r.published.combined));
        line.push(if r.agrees { "yes" } else { "NO" }.to_string());
        rows.push(line);
    }
    let mut s = table(&headers, headers.len(), &rows);
    s.push('\n');
    s.push_str(&summarise(output).to_string());
    s.push('\n');
    s.push_str(&render_errors(output));
    s
}
