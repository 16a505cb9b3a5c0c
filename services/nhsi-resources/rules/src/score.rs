//! The offline `oversight score FILE... [--format table|json]` command's computation and
//! rendering. The CLI opens the files; this module reads them from any `std::io::Read`.
//!
//! Accepts finance and ward staffing feeds (CSV, or NDJSON when the name ends in `.ndjson`,
//! `.jsonl` or `.json` or the content starts with `{`). Several files combine: ward days of one
//! ward split across files roll up together. Output lines come in a fixed order, whatever the
//! input order: finance lines by trust and period, then CHPPD lines by trust and month, each
//! month's wards by ward code followed by the trust roll-up (`ward: null`).
//!
//! JSON lines (numbers are JSON numbers; CHPPD values are rounded to 2 decimal places, half away
//! from zero):
//!
//! ```json
//! {"kind":"finance","trust":"RXX","period":"2017-03-31","scores":{"capitalServiceCapacity":1,"liquidity":2,"incomeExpenditureMargin":3,"distanceFromPlan":1,"agencySpend":4},"overall":3,"explanation":["[sof-2017] …","input: …"]}
//! {"kind":"chppd","trust":"RXX","ward":"W1","month":"2018-04","chppd":7.9,"byStaffGroup":{"registeredNurse":5.1,"registeredMidwife":0.0,"alliedHealthProfessional":0.4,"healthcareSupportWorker":2.4}}
//! ```
//!
//! Financial special measures are recorded as oversight statuses in nhsi-resources
//! ([`crate::status`]), not in the finance feed, so `oversight score` never applies that override.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};

use chrono::NaiveDate;
use oversight_rating::TrustCode;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::chppd::{
    ByStaffGroup, ChppdError, ChppdFigures, WardCode, WardDay, YearMonth, compute_chppd,
};
use crate::feeds::{FeedError, FeedFormat, FeedKind, FeedRow, FinanceRow, read_feed};
use crate::ruleset::{RuleSetError, SofRuleSet};
use crate::sof::{FinanceMetricScores, score_finance};

/// One line of `oversight score` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ScoreLine {
    /// A trust's finance score for a period.
    Finance(FinanceLine),
    /// A ward's (or, with no ward, the trust's) CHPPD for a month.
    Chppd(ChppdLine),
}

/// The finance and use of resources score of one trust and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FinanceLine {
    /// The trust.
    pub trust: TrustCode,
    /// The period end (`2017-03-31`).
    pub period: NaiveDate,
    /// The five metric scores.
    pub scores: FinanceMetricScores,
    /// The overall score.
    pub overall: u8,
    /// The explanation's lines, rule first.
    pub explanation: Vec<String>,
}

/// The CHPPD of one ward, or of the trust (`ward: None`), in one month, rounded to 2 dp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChppdLine {
    /// The trust.
    pub trust: TrustCode,
    /// The ward; `None` (JSON `null`) for the trust roll-up.
    pub ward: Option<WardCode>,
    /// The month (`2018-04`).
    pub month: YearMonth,
    /// Care hours per patient day, all staff groups; `None` (JSON `null`) for a ward with no
    /// patients at midnight all month, whose hours still count in the trust roll-up.
    #[serde(serialize_with = "opt_number_2dp")]
    pub chppd: Option<Decimal>,
    /// Care hours per patient day by staff group; `None` (JSON `null`) as for `chppd`.
    #[serde(serialize_with = "opt_groups_2dp")]
    pub by_staff_group: Option<ByStaffGroup>,
    /// Patient days behind the figure (table only, not in JSON).
    #[serde(skip)]
    pub patient_days: u64,
}

/// Something `oversight score` could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// A bad header or record.
    #[error("{file}: {error}")]
    Feed { file: String, error: FeedError },
    /// A feed `oversight score` does not score.
    #[error(
        "{file}: {kind} feed is not scored by `oversight score` (finance and ward staffing only)"
    )]
    UnsupportedFeed { file: String, kind: FeedKind },
    /// The same trust and period twice in the finance data.
    #[error("{file}: finance for trust {trust} period {period} already given; the first is kept")]
    DuplicateFinance {
        file: String,
        trust: TrustCode,
        period: NaiveDate,
    },
    /// Ward data that cannot be used (negative hours, a ward-day given twice), across all files.
    #[error("{0}")]
    Chppd(ChppdError),
    /// The rule set could not be loaded.
    #[error("{0}")]
    RuleSet(RuleSetError),
}

/// Everything `oversight score` prints: the lines and the errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScoreOutput {
    /// Output lines, in the documented order.
    pub lines: Vec<ScoreLine>,
    /// What could not be used.
    pub errors: Vec<ScoreError>,
}

fn round_2dp(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

fn number_2dp<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let r = round_2dp(*d);
    match r.to_f64() {
        Some(f) => s.serialize_f64(f),
        None => s.serialize_str(&r.to_string()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupsJson {
    #[serde(serialize_with = "number_2dp")]
    registered_nurse: Decimal,
    #[serde(serialize_with = "number_2dp")]
    registered_midwife: Decimal,
    #[serde(serialize_with = "number_2dp")]
    allied_health_professional: Decimal,
    #[serde(serialize_with = "number_2dp")]
    healthcare_support_worker: Decimal,
}

fn opt_number_2dp<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => number_2dp(d, s),
        None => s.serialize_none(),
    }
}

fn opt_groups_2dp<S: Serializer>(g: &Option<ByStaffGroup>, s: S) -> Result<S::Ok, S::Error> {
    match g {
        Some(g) => GroupsJson {
            registered_nurse: g.registered_nurse,
            registered_midwife: g.registered_midwife,
            allied_health_professional: g.allied_health_professional,
            healthcare_support_worker: g.healthcare_support_worker,
        }
        .serialize(s),
        None => s.serialize_none(),
    }
}

/// Scores one file with the `sof-2017` rule set.
pub fn score_document(file_name: &str, reader: impl Read) -> ScoreOutput {
    score_documents([(file_name, reader)])
}

/// Scores several files together with the `sof-2017` rule set.
pub fn score_documents<N, R, I>(documents: I) -> ScoreOutput
where
    N: AsRef<str>,
    R: Read,
    I: IntoIterator<Item = (N, R)>,
{
    match SofRuleSet::default_2017() {
        Ok(rules) => score_documents_with(documents, &rules),
        Err(e) => ScoreOutput {
            lines: Vec::new(),
            errors: vec![ScoreError::RuleSet(e)],
        },
    }
}

/// The format of a file: by its name's extension, else NDJSON when the content starts with `{`.
fn sniff_format<R: Read>(name: &str, reader: &mut BufReader<R>) -> FeedFormat {
    if let Some(f) = FeedFormat::from_file_name(name) {
        return f;
    }
    match reader.fill_buf() {
        Ok(buf) => {
            let text = String::from_utf8_lossy(buf);
            if text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{')
            {
                FeedFormat::Ndjson
            } else {
                FeedFormat::Csv
            }
        }
        Err(_) => FeedFormat::Csv,
    }
}

/// Scores several files together with the given SOF rule set.
pub fn score_documents_with<N, R, I>(documents: I, rules: &SofRuleSet) -> ScoreOutput
where
    N: AsRef<str>,
    R: Read,
    I: IntoIterator<Item = (N, R)>,
{
    let mut errors = Vec::new();
    let mut finance: BTreeMap<(TrustCode, NaiveDate), FinanceRow> = BTreeMap::new();
    let mut ward_days: Vec<WardDay> = Vec::new();
    for (name, reader) in documents {
        let file = name.as_ref();
        let mut reader = BufReader::new(reader);
        let format = sniff_format(file, &mut reader);
        let rows = match read_feed(reader, format) {
            Ok(rows) => rows,
            Err(error) => {
                errors.push(ScoreError::Feed {
                    file: file.to_string(),
                    error,
                });
                continue;
            }
        };
        let mut unsupported = BTreeSet::new();
        for row in rows {
            match row {
                Err(error) => errors.push(ScoreError::Feed {
                    file: file.to_string(),
                    error,
                }),
                Ok(FeedRow::Finance(row)) => {
                    match finance.entry((row.trust.clone(), row.period_end)) {
                        Entry::Occupied(_) => errors.push(ScoreError::DuplicateFinance {
                            file: file.to_string(),
                            trust: row.trust,
                            period: row.period_end,
                        }),
                        Entry::Vacant(slot) => {
                            slot.insert(row);
                        }
                    }
                }
                Ok(FeedRow::WardStaffing(day)) => ward_days.push(day),
                Ok(other) => {
                    let kind = other.kind();
                    if unsupported.insert(kind.name()) {
                        errors.push(ScoreError::UnsupportedFeed {
                            file: file.to_string(),
                            kind,
                        });
                    }
                }
            }
        }
    }

    let mut lines: Vec<ScoreLine> = finance
        .into_values()
        .map(|row| {
            let score = score_finance(&row.inputs, rules, None);
            ScoreLine::Finance(FinanceLine {
                trust: row.trust,
                period: row.period_end,
                scores: score.scores,
                overall: score.overall,
                explanation: score.explanation.lines(),
            })
        })
        .collect();

    let report = compute_chppd(&ward_days);
    errors.extend(report.errors.into_iter().map(ScoreError::Chppd));
    let chppd_line = |trust: &TrustCode, ward: Option<&WardCode>, month, f: &ChppdFigures| {
        ScoreLine::Chppd(ChppdLine {
            trust: trust.clone(),
            ward: ward.cloned(),
            month,
            chppd: f.chppd().map(round_2dp),
            by_staff_group: f.per_patient_day.map(|p| ByStaffGroup {
                registered_nurse: round_2dp(p.by_staff_group.registered_nurse),
                registered_midwife: round_2dp(p.by_staff_group.registered_midwife),
                allied_health_professional: round_2dp(p.by_staff_group.allied_health_professional),
                healthcare_support_worker: round_2dp(p.by_staff_group.healthcare_support_worker),
            }),
            patient_days: f.patient_days,
        })
    };
    // Both lists are ordered by (trust, month[, ward]); each trust-month's wards precede its roll-up.
    let mut wards = report.wards.iter().peekable();
    for t in &report.trusts {
        while let Some(w) = wards.next_if(|w| (&w.trust, w.month) <= (&t.trust, t.month)) {
            lines.push(chppd_line(&w.trust, Some(&w.ward), w.month, &w.figures));
        }
        lines.push(chppd_line(&t.trust, None, t.month, &t.figures));
    }
    ScoreOutput { lines, errors }
}

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

fn table(headers: &[&str], right_from: usize, rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut write_row = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if i >= right_from {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    write_row(&mut headers.iter().copied());
    for row in rows {
        write_row(&mut row.iter().map(String::as_str));
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

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    const FINANCE: &str = "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n\
RXX,2017-03-31,2.6,-3,-0.5,0,60\n";

    #[test]
    fn finance_json_line_has_the_documented_shape() {
        let out = score_document("fin.csv", FINANCE.as_bytes());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let json = render_json_lines(&out.lines);
        let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
        assert_eq!(v["kind"], "finance");
        assert_eq!(v["trust"], "RXX");
        assert_eq!(v["period"], "2017-03-31");
        assert_eq!(
            v["scores"],
            serde_json::json!({"capitalServiceCapacity": 1, "liquidity": 2, "incomeExpenditureMargin": 3, "distanceFromPlan": 1, "agencySpend": 4})
        );
        assert_eq!(v["overall"], 3);
        assert!(json.starts_with(
            "{\"kind\":\"finance\",\"trust\":\"RXX\",\"period\":\"2017-03-31\",\"scores\":"
        ));
    }

    #[test]
    fn unsupported_feeds_and_bad_headers_are_errors() {
        let out = score_documents([
            ("prod.csv", "trust_code,period_end,metric,value\nRXX,2017-03-31,vacancy_rate,1\nRXX,2017-03-31,vacancy_rate,2\n".as_bytes()),
            ("junk.csv", "a,b\n1,2\n".as_bytes()),
        ]);
        assert!(out.lines.is_empty());
        let msgs: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0],
            "prod.csv: productivity feed is not scored by `oversight score` (finance and ward staffing only)"
        );
        assert!(
            msgs[1].starts_with("junk.csv: line 1: unrecognised header"),
            "{}",
            msgs[1]
        );
    }

    #[test]
    fn ndjson_is_sniffed_from_content() {
        let text = r#"{"trust_code":"RXX","period_end":"2017-03-31","capital_service_capacity":2.6,"liquidity_days":-3,"income_expenditure_margin_pct":-0.5,"distance_from_plan_pct":0,"agency_spend_vs_ceiling_pct":60}"#;
        let out = score_document("-", text.as_bytes());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(matches!(&out.lines[..], [ScoreLine::Finance(f)] if f.overall == 3));
    }

    #[test]
    fn duplicate_finance_is_reported_and_first_kept() {
        let out = score_documents([("a.csv", FINANCE.as_bytes()), ("b.csv", FINANCE.as_bytes())]);
        assert_eq!(out.lines.len(), 1);
        assert!(
            matches!(&out.errors[..], [ScoreError::DuplicateFinance { file, .. }] if file == "b.csv")
        );
    }

    #[test]
    fn table_is_aligned() {
        let out = score_document("fin.csv", FINANCE.as_bytes());
        assert_eq!(
            render_table(&out.lines),
            "Finance and use of resources score (1 best – 4)\n\
TRUST  PERIOD      CAPITAL  LIQUIDITY  I&E  PLAN  AGENCY  OVERALL\n\
RXX    2017-03-31        1          2    3     1       4        3\n"
        );
    }
}
