//! NHSI's feeds (finance, ward staffing, productivity, operational, oversight status) as resource
//! evidence. Parsing and validation are `oversight_feeds::nhsi`'s; this module only maps its rows to
//! `ResourceEvidence { body: MetricObservation }` (an oversight status to
//! `ResourceEvidence { body: OversightStatusEvidence }`, one a message). The observation's `feed`
//! is the typed message of the row's feed:
//!
//! | feed | observation | dates | values |
//! | --- | --- | --- | --- |
//! | `finance` | `FinanceObservation` | `period_end` | the five metrics |
//! | `ward_staffing` | `WardStaffingObservation` | `date` (with `ward_code`) | `patients_at_midnight` and the four hours |
//! | `productivity` | `ProductivityObservation` | `period_end` | `metric` (its stable name) and `value` |
//! | `operational` | `OperationalObservation` | `period_end` | `standard` (its stable name) and `value_pct` |
//!
//! Dates travel as `google.type.Date`; decimals as their exact `Display` (e.g. `1.25`, `-3.4`),
//! never a float. The trust type is not in these feeds and travels as unspecified.

use nhsi_rules::chppd::WardDay;
use nhsi_rules::records::{FinanceRow, OperationalRow, OversightStatusRow, ProductivityRow};
use nhsi_rules::status::StatusKind;
use oversight_feeds::nhsi::FeedRow;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::evidence::v1::metric_observation::Feed;

use super::Evidence;

/// A validated NHSI row as resource evidence.
pub fn row_evidence(row: FeedRow) -> Evidence {
    let (trust, feed) = match row {
        FeedRow::Finance(f) => (f.trust.to_string(), Feed::Finance(finance(&f))),
        FeedRow::WardStaffing(w) => (w.trust.to_string(), Feed::WardStaffing(ward_staffing(&w))),
        FeedRow::Productivity(p) => (p.trust.to_string(), Feed::Productivity(productivity(&p))),
        FeedRow::Operational(o) => (o.trust.to_string(), Feed::Operational(operational(&o))),
        FeedRow::OversightStatus(o) => return status_evidence(o),
    };
    Evidence::Resource(ev::ResourceEvidence {
        provenance: None,
        trust_code: trust,
        trust_type: common::TrustType::Unspecified as i32,
        body: Some(ev::resource_evidence::Body::Metric(ev::MetricObservation {
            feed: Some(feed),
        })),
    })
}

fn finance(f: &FinanceRow) -> ev::FinanceObservation {
    let i = &f.inputs;
    ev::FinanceObservation {
        period_end: Some(convert::date(f.period_end)),
        capital_service_capacity: i.capital_service_capacity.to_string(),
        liquidity_days: i.liquidity_days.to_string(),
        income_expenditure_margin_pct: i.income_expenditure_margin_pct.to_string(),
        distance_from_plan_pct: i.distance_from_plan_pct.to_string(),
        agency_spend_vs_ceiling_pct: i.agency_spend_vs_ceiling_pct.to_string(),
    }
}

fn ward_staffing(w: &WardDay) -> ev::WardStaffingObservation {
    ev::WardStaffingObservation {
        ward_code: w.ward.to_string(),
        date: Some(convert::date(w.date)),
        patients_at_midnight: w.patients_at_midnight,
        registered_nurse_hours: w.registered_nurse_hours.to_string(),
        registered_midwife_hours: w.registered_midwife_hours.to_string(),
        allied_health_professional_hours: w.allied_health_professional_hours.to_string(),
        healthcare_support_worker_hours: w.healthcare_support_worker_hours.to_string(),
    }
}

fn productivity(p: &ProductivityRow) -> ev::ProductivityObservation {
    ev::ProductivityObservation {
        period_end: Some(convert::date(p.period_end)),
        metric: p.metric.name().to_string(),
        value: p.value.to_string(),
    }
}

fn operational(o: &OperationalRow) -> ev::OperationalObservation {
    ev::OperationalObservation {
        period_end: Some(convert::date(o.period_end)),
        standard: o.standard.name().to_string(),
        value_pct: o.value_pct.to_string(),
    }
}

/// An oversight status kind on the wire.
fn status_kind(k: StatusKind) -> common::OversightStatusKind {
    match k {
        StatusKind::FinancialSpecialMeasures => {
            common::OversightStatusKind::FinancialSpecialMeasures
        }
        StatusKind::QualitySpecialMeasures => common::OversightStatusKind::QualitySpecialMeasures,
        StatusKind::DeficitSupport => common::OversightStatusKind::DeficitSupport,
    }
}

/// An oversight status row as evidence of its own (statuses are not metric observations).
fn status_evidence(o: OversightStatusRow) -> Evidence {
    Evidence::Resource(ev::ResourceEvidence {
        provenance: None,
        trust_code: o.trust.to_string(),
        trust_type: common::TrustType::Unspecified as i32,
        body: Some(ev::resource_evidence::Body::OversightStatus(
            ev::OversightStatusEvidence {
                kind: status_kind(o.status.kind) as i32,
                from_date: Some(convert::date(o.status.from)),
                to_date: convert::opt_date(o.status.to),
                source: o.status.source,
            },
        )),
    })
}
