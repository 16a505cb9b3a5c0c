//! `oversight score`'s output: JSON lines (the shape [`ScoreLine`] serialises to) and a table.

use std::fmt::Write as _;

use nhsi_rules::score::{ScoreLine, round_2dp};
use rust_decimal::Decimal;

use super::table;
use crate::score::ScoreError;

/// One JSON object per line, each ending in a newline.
pub fn render_json_lines(lines: &[ScoreLine]) -> String {
    let mut out = String::new();
    for line in lines {
        // Serialising these types cannot fail: every map key is a string.
        if let Ok(json) = serde_json::to_string(line) {
            out.push_str(&json);
            out.push('\n');
        }
    }
    out
}

/// A readable, aligned table: a finance section and a CHPPD section (each only when it has
/// lines). The trust roll-up shows `(trust)` in the ward column.
pub fn render_table(lines: &[ScoreLine]) -> String {
    let mut finance_rows = Vec::new();
    let mut chppd_rows = Vec::new();
    for line in lines {
        match line {
            ScoreLine::Finance(f) => {
                let s = f.scores;
                finance_rows.push(vec![
                    f.trust.to_string(),
                    f.period.to_string(),
                    s.capital_service_capacity.to_string(),
                    s.liquidity.to_string(),
                    s.income_expenditure_margin.to_string(),
                    s.distance_from_plan.to_string(),
                    s.agency_spend.to_string(),
                    f.overall.to_string(),
                ]);
            }
            ScoreLine::Chppd(c) => {
                // No patients all month: no figure, shown as "-".
                let cell = |d: Option<Decimal>| {
                    d.map_or_else(|| "-".to_string(), |d| round_2dp(d).to_string())
                };
                let g = c.by_staff_group;
                chppd_rows.push(vec![
                    c.trust.to_string(),
                    c.ward
                        .as_ref()
                        .map_or_else(|| "(trust)".to_string(), ToString::to_string),
                    c.month.to_string(),
                    cell(c.chppd),
                    cell(g.map(|g| g.registered_nurse)),
                    cell(g.map(|g| g.registered_midwife)),
                    cell(g.map(|g| g.allied_health_professional)),
                    cell(g.map(|g| g.healthcare_support_worker)),
                    c.patient_days.to_string(),
                ]);
            }
        }
    }
    let mut out = String::new();
    if !finance_rows.is_empty() {
        out.push_str("Finance and use of resources score (1 best – 4)\n");
        out.push_str(&table(
            &[
                "TRUST",
                "PERIOD",
                "CAPITAL",
                "LIQUIDITY",
                "I&E",
                "PLAN",
                "AGENCY",
                "OVERALL",
            ],
            2,
            &finance_rows,
        ));
    }
    if !chppd_rows.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("Care hours per patient day\n");
        out.push_str(&table(
            &[
                "TRUST",
                "WARD",
                "MONTH",
                "CHPPD",
                "RN",
                "RM",
                "AHP",
                "HCSW",
                "PATIENT DAYS",
            ],
            3,
            &chppd_rows,
        ));
    }
    out
}

/// The errors, one per line, for stderr.
pub fn render_errors(errors: &[ScoreError]) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = writeln!(out, "{e}");
    }
    out
}
