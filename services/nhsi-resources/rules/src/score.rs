//! The offline `oversight score FILE... [--format table|json]` command's computation: finance
//! records scored with `sof-2017` and CHPPD from ward days ([`score`]). The files are read by
//! `oversight_feeds::nhsi::read_score_inputs` and the lines rendered by the CLI.
//!
//! Ward days of one ward roll up together whatever file they came from. Output lines come in a
//! fixed order, whatever the input order: finance lines by trust and period, then CHPPD lines by
//! trust and month, each month's wards by ward code followed by the trust roll-up (`ward: null`).
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

use chrono::NaiveDate;
use oversight_rating::TrustCode;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::chppd::{
    ByStaffGroup, ChppdError, ChppdFigures, WardCode, WardDay, YearMonth, compute_chppd,
};
use crate::records::FinanceRow;
use crate::ruleset::SofRuleSet;
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

/// A figure rounded to 2 decimal places, half away from zero, as `oversight score` shows it.
pub fn round_2dp(d: Decimal) -> Decimal {
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

/// What the rules make of the finance records and ward days given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scored {
    /// Output lines, in the documented order.
    pub lines: Vec<ScoreLine>,
    /// Ward data that cannot be used (negative hours, a ward-day given twice).
    pub errors: Vec<ChppdError>,
}

/// Scores finance records (one per trust and period) with the given SOF rule set and works out
/// CHPPD from ward days: finance lines by trust and period, then CHPPD lines by trust and month,
/// each month's wards by ward code followed by the trust roll-up.
pub fn score(finance: &[FinanceRow], ward_days: &[WardDay], rules: &SofRuleSet) -> Scored {
    let mut finance: Vec<&FinanceRow> = finance.iter().collect();
    finance.sort_by(|a, b| (&a.trust, a.period_end).cmp(&(&b.trust, b.period_end)));
    let mut lines: Vec<ScoreLine> = finance
        .into_iter()
        .map(|row| {
            let score = score_finance(&row.inputs, rules, None);
            ScoreLine::Finance(FinanceLine {
                trust: row.trust.clone(),
                period: row.period_end,
                scores: score.scores,
                overall: score.overall,
                explanation: score.explanation.lines(),
            })
        })
        .collect();

    let report = compute_chppd(ward_days);
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
    Scored {
        lines,
        errors: report.errors,
    }
}
