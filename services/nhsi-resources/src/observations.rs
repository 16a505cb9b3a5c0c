//! Stored NHSI metrics read back (through `crate::store`) and run through the pure rules
//! (`nhsi-rules`): the SOF finance score, peer positions, CHPPD, the suggested UoR rating, SOF
//! segmentation and the NOF league table. Also the recorded segment decisions.
//!
//! Observations are few (a few hundred trusts × a few dozen metrics × periods), so peer groups
//! and league tables are computed in memory from one query per feed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use nhsi_rules::chppd::{ChppdReport, InvalidWardCode, WardDay, YearMonth, compute_chppd};
use nhsi_rules::nof::{
    LeagueRow, NofAssessment, NofPeerGroup, NofProvider, assess_providers, league_table,
};
use nhsi_rules::parse_decimal;
use nhsi_rules::productivity::{
    Metric, MetricPosition, PeerGroup, UnknownMetric, position_in_peer_group,
};
use nhsi_rules::records::{FinanceRow, OperationalRow, ProductivityRow};
use nhsi_rules::ruleset::{NofRuleSet, SofRuleSet, SuggestRuleSet};
use nhsi_rules::segment::{
    OperationalPerformance, OperationalStandard, SegmentDecision, SegmentError, SegmentInputs,
    SegmentSuggestion, UnknownStandard, suggest_segment,
};
use nhsi_rules::sof::{FinanceInputs, FinanceScore, score_finance};
use nhsi_rules::status::OversightStatus;
use nhsi_rules::suggest::{UorSuggestion, suggest_uor_rating};
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::google_type::Date;
use oversight_rating::{TrustCode, TrustType};
use rust_decimal::Decimal;
use sqlx::AnyPool;

use crate::error::ServiceError;
pub use crate::store::observations::Observation;
pub use crate::store::segments::RecordedDecision;
use crate::{statuses, store};

/// Feed names, as stored in `nhsi_observations.feed` (one per `MetricObservation.feed` case).
pub mod feeds {
    pub const FINANCE: &str = "finance";
    pub const WARD_STAFFING: &str = "ward_staffing";
    pub const PRODUCTIVITY: &str = "productivity";
    pub const OPERATIONAL: &str = "operational";
    pub const ALL: [&str; 4] = [FINANCE, WARD_STAFFING, PRODUCTIVITY, OPERATIONAL];
}

/// The finance feed's columns, in the SOF table's order.
pub const FINANCE_METRICS: [&str; 5] = [
    "capital_service_capacity",
    "liquidity_days",
    "income_expenditure_margin_pct",
    "distance_from_plan_pct",
    "agency_spend_vs_ceiling_pct",
];

/// The ward staffing feed's columns.
pub const WARD_STAFFING_VALUES: [&str; 5] = [
    "patients_at_midnight",
    "registered_nurse_hours",
    "registered_midwife_hours",
    "allied_health_professional_hours",
    "healthcare_support_worker_hours",
];

/// The versioned rule sets shipped in `rules/rulesets/`, loaded once at start.
#[derive(Debug, Clone)]
pub struct RuleSets {
    pub sof: SofRuleSet,
    pub suggest: SuggestRuleSet,
    pub nof: NofRuleSet,
}

impl RuleSets {
    pub fn shipped() -> anyhow::Result<Self> {
        Ok(RuleSets {
            sof: SofRuleSet::default_2017()?,
            suggest: SuggestRuleSet::default_2017()?,
            nof: NofRuleSet::default_2025()?,
        })
    }
}

/// Which peers to compare a trust with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// Every trust of the same type.
    National,
    /// A named set (the trust itself is always included).
    Named {
        name: String,
        trusts: Vec<TrustCode>,
    },
}

/// A finance score with the period and values it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinanceResult {
    pub period: NaiveDate,
    pub values: [(&'static str, Decimal); 5],
    pub score: FinanceScore,
    /// The financial special measures standing on the period's date, which made the score 4.
    pub financial_special_measures: Option<OversightStatus>,
}

/// A metric position with the period of the trust's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedPosition {
    pub period: NaiveDate,
    pub position: MetricPosition,
}

/// The stored observations of every trust (finance, productivity, staffing), read back for the rules.
pub struct Observations {
    pool: AnyPool,
    rules: RuleSets,
}

/// (trust, feed, period, ward) of a stored observation.
type ObservationKey = (String, String, String, String);

/// Move observations stored one row per metric (before migration 0003) into the packed table,
/// in one transaction; a no-op once the old table is empty.
pub async fn migrate_legacy_observations(pool: &sqlx::AnyPool) -> anyhow::Result<u64> {
    let rows = store::observations::legacy(pool).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut grouped: BTreeMap<ObservationKey, (BTreeMap<String, String>, String)> = BTreeMap::new();
    for r in rows {
        let entry = grouped
            .entry((r.trust, r.feed, r.period, r.ward))
            .or_default();
        entry.0.insert(r.metric, r.value);
        entry.1 = r.evidence_id;
    }
    let mut tx = pool.begin().await?;
    for ((trust, feed, period, ward), (values, evidence_id)) in &grouped {
        store::observations::insert_packed_if_absent(
            &mut tx,
            (trust, feed, period, ward),
            &serde_json::to_string(values)?,
            evidence_id,
        )
        .await?;
    }
    store::observations::delete_legacy(&mut tx).await?;
    tx.commit().await?;
    Ok(grouped.len() as u64)
}

/// The latest value at or before `until` (any period when `None`) of each key.
fn latest_by<K: Ord>(
    rows: impl IntoIterator<Item = (K, NaiveDate, Decimal)>,
    until: Option<NaiveDate>,
) -> BTreeMap<K, (NaiveDate, Decimal)> {
    let mut out: BTreeMap<K, (NaiveDate, Decimal)> = BTreeMap::new();
    for (key, period, value) in rows {
        if until.is_some_and(|u| period > u) {
            continue;
        }
        let newer = out.get(&key).is_none_or(|(p, _)| period > *p);
        if newer {
            out.insert(key, (period, value));
        }
    }
    out
}

impl Observations {
    pub fn new(pool: AnyPool, rules: RuleSets) -> Self {
        Observations { pool, rules }
    }

    pub fn rules(&self) -> &RuleSets {
        &self.rules
    }

    /// The service's database (oversight statuses are read and recorded beside observations).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The type of a known trust; NOT_FOUND for a trust with no evidence or rating recorded.
    pub async fn trust_type(&self, trust: &TrustCode) -> Result<TrustType, ServiceError> {
        store::trusts::trust_type(&self.pool, trust)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(
                    format!("trust {trust}"),
                    "no resource evidence or quality rating recorded for this trust",
                )
            })
    }

    async fn trusts(&self) -> Result<Vec<(TrustCode, TrustType)>, ServiceError> {
        Ok(store::trusts::all(&self.pool).await?)
    }

    /// Observations of one feed, of one trust or of all, one per metric value, in (trust,
    /// period, ward, metric) order.
    async fn observations(
        &self,
        trust: Option<&TrustCode>,
        feed: &str,
    ) -> Result<Vec<Observation>, ServiceError> {
        Ok(store::observations::of_feed(&self.pool, trust, feed).await?)
    }

    /// The SOF finance score of a trust for a period (the latest when `None`).
    pub async fn finance_score(
        &self,
        trust: &TrustCode,
        period: Option<NaiveDate>,
    ) -> Result<FinanceResult, ServiceError> {
        let obs = self.observations(Some(trust), feeds::FINANCE).await?;
        let record = format!("finance of trust {trust}");
        let period = match period {
            Some(p) => p,
            None => obs.iter().map(|o| o.period).max().ok_or_else(|| {
                ServiceError::not_found(&record, "no finance data recorded for this trust")
            })?,
        };
        let of_period: BTreeMap<&str, Decimal> = obs
            .iter()
            .filter(|o| o.period == period)
            .map(|o| (o.metric.as_str(), o.value))
            .collect();
        if of_period.is_empty() {
            return Err(ServiceError::not_found(
                format!("{record} for period {period}"),
                "no finance data recorded for this period",
            ));
        }
        let value = |name: &'static str| {
            of_period
                .get(name)
                .copied()
                .map(|v| (name, v))
                .ok_or_else(|| {
                    ServiceError::precondition(
                        format!("{record} for period {period}"),
                        format!("no value for {name}"),
                    )
                })
        };
        let values = [
            value(FINANCE_METRICS[0])?,
            value(FINANCE_METRICS[1])?,
            value(FINANCE_METRICS[2])?,
            value(FINANCE_METRICS[3])?,
            value(FINANCE_METRICS[4])?,
        ];
        let inputs = FinanceInputs {
            capital_service_capacity: values[0].1,
            liquidity_days: values[1].1,
            income_expenditure_margin_pct: values[2].1,
            distance_from_plan_pct: values[3].1,
            agency_spend_vs_ceiling_pct: values[4].1,
        };
        // Financial special measures standing on the period's date (its end) make the score 4
        // (§4.1 [A]); the score is of the period, so the status is read as of it.
        let standing = statuses::standing(&self.pool, trust, period).await?;
        let financial_special_measures = standing.financial_special_measures().cloned();
        let score = score_finance(
            &inputs,
            &self.rules.sof,
            financial_special_measures.as_ref(),
        );
        Ok(FinanceResult {
            period,
            values,
            score,
            financial_special_measures,
        })
    }

    /// The trust's position on each productivity and finance metric it has data for, within its
    /// peer group. Peers contribute their latest value at or before the trust's period.
    pub async fn positions(
        &self,
        trust: &TrustCode,
        peers: &Peers,
    ) -> Result<(PeerGroup, Vec<DatedPosition>), ServiceError> {
        let trust_type = self.trust_type(trust).await?;
        let (group, members): (PeerGroup, Vec<TrustCode>) = match peers {
            Peers::National => (
                PeerGroup::National { trust_type },
                self.trusts()
                    .await?
                    .into_iter()
                    .filter(|(_, t)| *t == trust_type)
                    .map(|(c, _)| c)
                    .collect(),
            ),
            Peers::Named { name, trusts } => {
                let mut members = trusts.clone();
                if !members.contains(trust) {
                    members.push(trust.clone());
                }
                (PeerGroup::Named(name.clone()), members)
            }
        };
        let mut by_trust_metric: Vec<((TrustCode, Metric), NaiveDate, Decimal)> = Vec::new();
        for feed in [feeds::PRODUCTIVITY, feeds::FINANCE] {
            for o in self.observations(None, feed).await? {
                if let Ok(m) = o.metric.parse::<Metric>()
                    && members.contains(&o.trust)
                {
                    by_trust_metric.push(((o.trust, m), o.period, o.value));
                }
            }
        }
        let own = latest_by(
            by_trust_metric
                .iter()
                .filter(|((t, _), _, _)| t == trust)
                .map(|((_, m), p, v)| (*m, *p, *v)),
            None,
        );
        let mut positions = Vec::new();
        for (metric, (period, value)) in own {
            let peer_values: Vec<Decimal> = latest_by(
                by_trust_metric
                    .iter()
                    .filter(|((_, m), _, _)| *m == metric)
                    .map(|((t, _), p, v)| (t.clone(), *p, *v)),
                Some(period),
            )
            .into_values()
            .map(|(_, v)| v)
            .collect();
            let position = position_in_peer_group(metric, value, &peer_values, group.clone())
                .map_err(|e| ServiceError::Internal(e.into()))?;
            positions.push(DatedPosition { period, position });
        }
        Ok((group, positions))
    }

    /// The suggested UoR rating from the trust's positions.
    pub async fn suggestion(
        &self,
        trust: &TrustCode,
        peers: &Peers,
    ) -> Result<(PeerGroup, UorSuggestion), ServiceError> {
        let (group, positions) = self.positions(trust, peers).await?;
        let positions: Vec<MetricPosition> = positions.into_iter().map(|p| p.position).collect();
        Ok((group, suggest_uor_rating(&positions, &self.rules.suggest)))
    }

    /// CHPPD per ward and month and the trust roll-up, optionally for one month. Ward-days with
    /// a missing or unusable value are reported as problems and left out.
    pub async fn chppd(
        &self,
        trust: &TrustCode,
        month: Option<YearMonth>,
    ) -> Result<(ChppdReport, Vec<String>), ServiceError> {
        let obs = self.observations(Some(trust), feeds::WARD_STAFFING).await?;
        let mut days: BTreeMap<(String, NaiveDate), BTreeMap<String, Decimal>> = BTreeMap::new();
        for o in obs {
            if month.is_some_and(|m| YearMonth::of(o.period) != m) {
                continue;
            }
            days.entry((o.ward, o.period))
                .or_default()
                .insert(o.metric, o.value);
        }
        let mut problems = Vec::new();
        let mut ward_days = Vec::new();
        for ((ward, date), values) in days {
            let record = format!("ward {ward} of trust {trust} on {date}");
            let Ok(ward_code) = ward.parse() else {
                problems.push(format!("{record}: invalid ward code"));
                continue;
            };
            let get = |name: &str| values.get(name).copied();
            let [Some(patients), Some(rn), Some(rm), Some(ahp), Some(hcsw)] =
                WARD_STAFFING_VALUES.map(get)
            else {
                let missing: Vec<&str> = WARD_STAFFING_VALUES
                    .into_iter()
                    .filter(|n| get(n).is_none())
                    .collect();
                problems.push(format!("{record}: missing {}", missing.join(", ")));
                continue;
            };
            let Some(patients) = u32::try_from(patients)
                .ok()
                .filter(|_| patients.fract().is_zero())
            else {
                problems.push(format!(
                    "{record}: patients_at_midnight {patients} is not a whole number of patients"
                ));
                continue;
            };
            ward_days.push(WardDay {
                trust: trust.clone(),
                ward: ward_code,
                date,
                patients_at_midnight: patients,
                registered_nurse_hours: rn,
                registered_midwife_hours: rm,
                allied_health_professional_hours: ahp,
                healthcare_support_worker_hours: hcsw,
            });
        }
        let report = compute_chppd(&ward_days);
        problems.extend(report.errors.iter().map(ToString::to_string));
        Ok((report, problems))
    }

    /// What segmentation looks at: the latest CQC overall rating, the latest finance score, the
    /// latest approved use of resources rating, the latest value of each operational standard
    /// and the oversight statuses standing today (special measures suggest segment 4).
    pub async fn segment_inputs(
        &self,
        trust: &TrustCode,
    ) -> Result<(SegmentInputs, Vec<String>), ServiceError> {
        self.trust_type(trust).await?;
        let mut notes = Vec::new();
        // The latest CQC overall quality rating seen on quality.rated.
        let cqc_overall = store::quality::overall(&self.pool, trust).await?;
        if cqc_overall.is_none() {
            notes.push("no CQC overall rating received".to_string());
        }
        let finance_score = match self.finance_score(trust, None).await {
            Ok(f) => Some(f.score.overall),
            Err(ServiceError::NotFound { reason, .. })
            | Err(ServiceError::FailedPrecondition { reason, .. }) => {
                notes.push(format!("no finance score: {reason}"));
                None
            }
            Err(e) => return Err(e),
        };
        // `nhsi_uor_ratings` holds only approved ratings: published feed ratings and CQC's
        // approvals or revisions.
        let uor_rating = store::uor::latest(&self.pool, trust).await?;
        if uor_rating.is_none() {
            notes.push("no approved use of resources rating".to_string());
        }
        let operational = latest_by(
            self.observations(Some(trust), feeds::OPERATIONAL)
                .await?
                .into_iter()
                .filter_map(|o| {
                    let s: OperationalStandard = o.metric.parse().ok()?;
                    Some((s, o.period, o.value))
                }),
            None,
        )
        .into_iter()
        .map(|(standard, (_, value_pct))| OperationalPerformance {
            standard,
            value_pct,
        })
        .collect();
        let standing =
            statuses::standing(&self.pool, trust, oversight_runtime::time::today()).await?;
        Ok((
            SegmentInputs {
                cqc_overall,
                finance_score,
                uor_rating,
                operational,
                statuses: standing.statuses,
            },
            notes,
        ))
    }

    /// The suggested SOF segment with the triggers that fired.
    pub async fn suggest_segment(
        &self,
        trust: &TrustCode,
    ) -> Result<SegmentSuggestion, ServiceError> {
        let (inputs, notes) = self.segment_inputs(trust).await?;
        let mut s = suggest_segment(&inputs, &self.rules.sof).map_err(|e| match e {
            SegmentError::InvalidArgument { field, reason } => ServiceError::precondition(
                format!("segmentation inputs of trust {trust}"),
                format!("stored {field} unusable: {reason}"),
            ),
        })?;
        s.explanation.notes.extend(notes);
        Ok(s)
    }

    /// Record NHSI's decided segment with its rationale beside the current suggestion.
    pub async fn record_segment_decision(
        &self,
        trust: &TrustCode,
        segment: u8,
        rationale: &str,
        decided_by: &str,
    ) -> Result<RecordedDecision, ServiceError> {
        let suggestion = self.suggest_segment(trust).await?;
        let record = format!("segment decision for trust {trust}");
        let decision =
            SegmentDecision::new(&suggestion, segment, rationale).map_err(|e| match e {
                SegmentError::InvalidArgument { field, reason } => {
                    ServiceError::invalid(&record, field, reason)
                }
            })?;
        let recorded = RecordedDecision {
            trust: trust.clone(),
            decision,
            decided_by: decided_by.to_string(),
            decided_at: oversight_runtime::time::now_rfc3339(),
        };
        let mut tx = self.pool.begin().await?;
        let next = store::segments::next_seq(&mut tx, trust).await?;
        if !store::segments::insert(&mut tx, next, &recorded).await? {
            return Err(ServiceError::Conflict { record });
        }
        tx.commit().await?;
        tracing::info!(trust = %trust, segment = recorded.decision.segment,
            suggested = recorded.decision.suggested_segment, "segment decided");
        Ok(recorded)
    }

    /// The latest recorded segment decision of a trust.
    pub async fn latest_segment_decision(
        &self,
        trust: &TrustCode,
    ) -> Result<Option<RecordedDecision>, ServiceError> {
        Ok(store::segments::latest(&self.pool, trust).await?)
    }

    /// NOF 2025/26 inputs of every known trust: the latest value of each NOF metric from any
    /// feed, a deficit when the latest I&E margin is negative, and deficit support when it stands
    /// today (an oversight status).
    async fn nof_providers(&self) -> Result<Vec<NofProvider>, ServiceError> {
        let trusts = self.trusts().await?;
        let standing =
            statuses::standing_for_all(&self.pool, oversight_runtime::time::today()).await?;
        let mut rows: Vec<((TrustCode, String), NaiveDate, Decimal)> = Vec::new();
        for feed in [feeds::OPERATIONAL, feeds::PRODUCTIVITY, feeds::FINANCE] {
            for o in self.observations(None, feed).await? {
                rows.push(((o.trust, o.metric), o.period, o.value));
            }
        }
        let latest = latest_by(rows, None);
        Ok(trusts
            .into_iter()
            .map(|(trust, t)| {
                let metrics: BTreeMap<String, Decimal> = self
                    .rules
                    .nof
                    .metrics
                    .iter()
                    .filter_map(|def| {
                        latest
                            .get(&(trust.clone(), def.name.clone()))
                            .map(|(_, v)| (def.name.clone(), *v))
                    })
                    .collect();
                let deficit = latest
                    .get(&(trust.clone(), FINANCE_METRICS[2].to_string()))
                    .is_some_and(|(_, margin)| *margin < Decimal::ZERO);
                let deficit_support = standing
                    .get(&trust)
                    .is_some_and(|s| s.deficit_support().is_some());
                NofProvider {
                    trust,
                    org_type: t,
                    metrics,
                    deficit,
                    deficit_support,
                }
            })
            .collect())
    }

    /// The NOF league tables, optionally of one peer group, with each provider's assessment.
    pub async fn league_table(
        &self,
        peer_group: Option<NofPeerGroup>,
    ) -> Result<Vec<(LeagueRow, NofAssessment)>, ServiceError> {
        let providers = self.nof_providers().await?;
        let assessments: Vec<NofAssessment> = assess_providers(&providers, &self.rules.nof)
            .map_err(|e| ServiceError::Internal(e.into()))?
            .into_iter()
            .filter(|a| peer_group.is_none_or(|g| a.peer_group == g))
            .collect();
        let rows = league_table(&assessments);
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let a = assessments.iter().find(|a| a.trust == row.trust)?.clone();
                Some((row, a))
            })
            .collect())
    }
}

/// A field of an evidence message that cannot be read, relative to the observation
/// (`finance.liquidity_days`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadField {
    pub field: String,
    pub reason: String,
}

fn bad_field(field: &str, reason: impl Into<String>) -> BadField {
    BadField {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// One observation as `nhsi_observations` stores it: its feed, period (or day), ward (empty but
/// for ward staffing) and values, metric name → exact decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedObservation {
    pub feed: &'static str,
    pub period: NaiveDate,
    pub ward: String,
    pub values: BTreeMap<&'static str, Decimal>,
}

impl PackedObservation {
    /// Whether the observation adds to the values stored for its key rather than replacing them:
    /// a productivity or operational record carries one metric (one standard) of a trust and
    /// period, and the others of that period stand; a finance or ward staffing record is whole.
    pub fn adds_to_stored(&self) -> bool {
        matches!(self.feed, feeds::PRODUCTIVITY | feeds::OPERATIONAL)
    }

    /// The values as stored: a JSON object of metric name → exact decimal string.
    pub fn values_json(&self) -> String {
        let values: BTreeMap<&str, String> = self
            .values
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        // A map of strings always serialises.
        serde_json::to_string(&values).unwrap_or_default()
    }

    fn finance(row: &FinanceRow) -> Self {
        let i = &row.inputs;
        let values = [
            i.capital_service_capacity,
            i.liquidity_days,
            i.income_expenditure_margin_pct,
            i.distance_from_plan_pct,
            i.agency_spend_vs_ceiling_pct,
        ];
        PackedObservation {
            feed: feeds::FINANCE,
            period: row.period_end,
            ward: String::new(),
            values: FINANCE_METRICS.into_iter().zip(values).collect(),
        }
    }

    fn ward_day(day: &WardDay) -> Self {
        let values = [
            Decimal::from(day.patients_at_midnight),
            day.registered_nurse_hours,
            day.registered_midwife_hours,
            day.allied_health_professional_hours,
            day.healthcare_support_worker_hours,
        ];
        PackedObservation {
            feed: feeds::WARD_STAFFING,
            period: day.date,
            ward: day.ward.to_string(),
            values: WARD_STAFFING_VALUES.into_iter().zip(values).collect(),
        }
    }

    fn productivity(row: &ProductivityRow) -> Self {
        PackedObservation {
            feed: feeds::PRODUCTIVITY,
            period: row.period_end,
            ward: String::new(),
            values: BTreeMap::from([(row.metric.name(), row.value)]),
        }
    }

    fn operational(row: &OperationalRow) -> Self {
        PackedObservation {
            feed: feeds::OPERATIONAL,
            period: row.period_end,
            ward: String::new(),
            values: BTreeMap::from([(row.standard.name(), row.value_pct)]),
        }
    }
}

/// A date an evidence message must carry, at `field`: set, and a full calendar date.
pub fn required_date(field: &str, d: Option<&Date>) -> Result<NaiveDate, BadField> {
    let d = d.ok_or_else(|| bad_field(field, "a date is required"))?;
    convert::to_date(d).map_err(|e| bad_field(field, e.to_string()))
}

/// An exact decimal of an observation.
fn observation_decimal(field: &str, value: &str) -> Result<Decimal, BadField> {
    parse_decimal(value).ok_or_else(|| bad_field(field, format!("{value:?} is not a decimal")))
}

/// An observation on `<ns>.evidence.resources` read into the rules' feed records (the typed
/// records ingestion parsed its feeds into), as stored. A date that is missing or not a calendar
/// date, a value that is not a decimal, an unknown metric or standard, or a ward staffing record
/// without a ward code is refused, naming the field.
pub fn read_observation(
    trust: &TrustCode,
    m: &ev::MetricObservation,
) -> Result<PackedObservation, BadField> {
    use ev::metric_observation::Feed;
    match &m.feed {
        None => Err(bad_field(
            "feed",
            format!(
                "an observation of no feed (expected one of {})",
                feeds::ALL.join(", ")
            ),
        )),
        Some(Feed::Finance(f)) => {
            let dec = |name: &str, v: &str| observation_decimal(&format!("finance.{name}"), v);
            let row = FinanceRow {
                trust: trust.clone(),
                period_end: required_date("finance.period_end", f.period_end.as_ref())?,
                inputs: FinanceInputs {
                    capital_service_capacity: dec(
                        "capital_service_capacity",
                        &f.capital_service_capacity,
                    )?,
                    liquidity_days: dec("liquidity_days", &f.liquidity_days)?,
                    income_expenditure_margin_pct: dec(
                        "income_expenditure_margin_pct",
                        &f.income_expenditure_margin_pct,
                    )?,
                    distance_from_plan_pct: dec(
                        "distance_from_plan_pct",
                        &f.distance_from_plan_pct,
                    )?,
                    agency_spend_vs_ceiling_pct: dec(
                        "agency_spend_vs_ceiling_pct",
                        &f.agency_spend_vs_ceiling_pct,
                    )?,
                },
            };
            Ok(PackedObservation::finance(&row))
        }
        Some(Feed::WardStaffing(w)) => {
            let dec =
                |name: &str, v: &str| observation_decimal(&format!("ward_staffing.{name}"), v);
            if w.ward_code.trim().is_empty() {
                return Err(bad_field(
                    "ward_staffing.ward_code",
                    "ward staffing needs a ward code",
                ));
            }
            let day = WardDay {
                trust: trust.clone(),
                ward: w.ward_code.parse().map_err(|e: InvalidWardCode| {
                    bad_field("ward_staffing.ward_code", e.to_string())
                })?,
                date: required_date("ward_staffing.date", w.date.as_ref())?,
                patients_at_midnight: w.patients_at_midnight,
                registered_nurse_hours: dec("registered_nurse_hours", &w.registered_nurse_hours)?,
                registered_midwife_hours: dec(
                    "registered_midwife_hours",
                    &w.registered_midwife_hours,
                )?,
                allied_health_professional_hours: dec(
                    "allied_health_professional_hours",
                    &w.allied_health_professional_hours,
                )?,
                healthcare_support_worker_hours: dec(
                    "healthcare_support_worker_hours",
                    &w.healthcare_support_worker_hours,
                )?,
            };
            Ok(PackedObservation::ward_day(&day))
        }
        Some(Feed::Productivity(p)) => {
            let row = ProductivityRow {
                trust: trust.clone(),
                period_end: required_date("productivity.period_end", p.period_end.as_ref())?,
                metric: p
                    .metric
                    .parse()
                    .map_err(|e: UnknownMetric| bad_field("productivity.metric", e.to_string()))?,
                value: observation_decimal("productivity.value", &p.value)?,
            };
            Ok(PackedObservation::productivity(&row))
        }
        Some(Feed::Operational(o)) => {
            let row = OperationalRow {
                trust: trust.clone(),
                period_end: required_date("operational.period_end", o.period_end.as_ref())?,
                standard: o.standard.parse().map_err(|e: UnknownStandard| {
                    bad_field("operational.standard", e.to_string())
                })?,
                value_pct: observation_decimal("operational.value_pct", &o.value_pct)?,
            };
            Ok(PackedObservation::operational(&row))
        }
    }
}
