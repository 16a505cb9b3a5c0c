//! NHS Improvement's rules (DOMAIN.md §4 and §5), pure: no IO, no async, no clock.
//!
//! - [`ruleset`]: the versioned rule-set files shipped in `rulesets/` (`sof-2017`,
//!   `uor-suggest-2017`, `nof-2025`), embedded at compile time and parsed at load.
//! - [`sof`]: the SOF finance and use of resources score (§4.1).
//! - [`productivity`]: the productivity metrics (§4.2) and a trust's position in its peer group.
//! - [`chppd`]: care hours per patient day per ward and month and per trust (§4.3).
//! - [`suggest`]: a suggested use of resources (UoR) rating from metric positions, with reasons.
//! - [`workflow`]: the UoR rating from suggestion through NHSI's proposal and CQC's approval to
//!   publication, as a state machine with history.
//! - [`segment`]: SOF segmentation triggers and the suggested segment (§4.4).
//! - [`nof`]: the NHS Oversight Framework 2025/26 scoring, segments and league table (§5).
//! - [`status`]: oversight statuses (financial and quality special measures, deficit support)
//!   with their dates, and the ones standing on a date: inputs of the three rules above.
//! - [`records`]: the typed records NHSI's feeds carry (their formats are read by
//!   `oversight-feeds`).
//! - [`score`]: the offline `oversight score` command's computation (finance score and CHPPD).

pub mod chppd;
pub mod nof;
pub mod productivity;
pub mod records;
pub mod ruleset;
pub mod score;
pub mod segment;
pub mod sof;
pub mod status;
pub mod suggest;
pub mod workflow;

use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller values are better (costs, absence, waits).
    LowerIsBetter,
    /// Larger values are better (retention, margins, standards met).
    HigherIsBetter,
}

impl Direction {
    /// Orders two values best first: `Less` when `a` is better than `b`.
    pub fn compare(self, a: Decimal, b: Decimal) -> Ordering {
        match self {
            Direction::LowerIsBetter => a.cmp(&b),
            Direction::HigherIsBetter => b.cmp(&a),
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn is_better(self, a: Decimal, b: Decimal) -> bool {
        self.compare(a, b) == Ordering::Less
    }

    /// `"lower is better"` / `"higher is better"`.
    pub fn describe(self) -> &'static str {
        match self {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        }
    }
}

/// The kind of NHS provider, for national peer groups and NOF organisation types.
pub use oversight_rating::TrustType;

/// Parses a decimal written plainly (`-7.25`) or in scientific notation (`1.5e2`): the one decimal
/// parser of NHSI's feeds and stored observations.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

/// Helpers shared by the unit tests.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) mod test_support {
    use rust_decimal::Decimal;
    use std::str::FromStr;

    /// A decimal from its text, e.g. `d("-7.25")`.
    pub fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn direction_orders_best_first() {
        let (one, two) = (Decimal::ONE, Decimal::TWO);
        assert!(Direction::LowerIsBetter.is_better(one, two));
        assert!(Direction::HigherIsBetter.is_better(two, one));
        assert!(!Direction::HigherIsBetter.is_better(one, one));
    }

    #[test]
    fn trust_types_round_trip() {
        for t in TrustType::ALL {
            assert_eq!(t.as_str().parse::<TrustType>(), Ok(t));
        }
        assert_eq!(
            "Mental health".parse::<TrustType>(),
            Ok(TrustType::MentalHealth)
        );
        assert!("hospice".parse::<TrustType>().is_err());
    }

    #[test]
    fn decimals_plain_and_scientific() {
        assert_eq!(parse_decimal(" -7.25 "), Some(Decimal::new(-725, 2)));
        assert_eq!(parse_decimal("1.5e2"), Some(Decimal::from(150)));
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal("NaN"), None);
    }
}
