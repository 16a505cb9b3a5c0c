//! The typed records NHSI's feeds carry (read from their formats by `oversight-feeds`; stored
//! and scored by nhsi-resources and `oversight score`). Ward staffing's record is
//! [`crate::chppd::WardDay`].

use chrono::NaiveDate;
use oversight_rating::TrustCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::productivity::Metric;
use crate::segment::OperationalStandard;
use crate::sof::FinanceInputs;
use crate::status::OversightStatus;

/// A finance feed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinanceRow {
    /// The trust.
    pub trust: TrustCode,
    /// The end of the reporting period.
    pub period_end: NaiveDate,
    /// The five metrics.
    pub inputs: FinanceInputs,
}

/// A productivity feed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductivityRow {
    /// The trust.
    pub trust: TrustCode,
    /// The end of the reporting period.
    pub period_end: NaiveDate,
    /// The metric.
    pub metric: Metric,
    /// Its value.
    pub value: Decimal,
}

/// An operational performance feed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalRow {
    /// The trust.
    pub trust: TrustCode,
    /// The end of the reporting period.
    pub period_end: NaiveDate,
    /// The standard.
    pub standard: OperationalStandard,
    /// The share of patients seen within it, 0–100 %.
    pub value_pct: Decimal,
}

/// An oversight status feed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OversightStatusRow {
    /// The trust.
    pub trust: TrustCode,
    /// The status, checked.
    pub status: OversightStatus,
}
