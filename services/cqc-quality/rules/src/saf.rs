//! SAF percentages held exactly (DOMAIN.md §5): a key question × service percentage is the sum of
//! its quality-statement scores ÷ the maximum, and every aggregate is the mean of the percentages
//! beneath it. Neither is rounded before it is banded, so 7 of 8 is exactly 87.5 % (Good, not
//! Outstanding) and the mean of 87.5 % and 88 % is exactly 87.75 %.
//!
//! The values are fractions of whole numbers (`u128`), reduced, so equal percentages are equal
//! values and banding compares exactly. Real inputs stay tiny (a key question has at most a few
//! dozen statements); only an adversarial tree of thousands of distinct group sizes could outgrow
//! `u128`, and then the value is held to 10⁻²⁴ % instead of failing ([`SafPercent::mean`]).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::rule_set::QualityStatementScore;

/// An exact SAF percentage, 0–100, as a reduced fraction. Serialises as `"175/2"` (or `"88"` for
/// a whole percentage); displays as a decimal (`87.5`), with `≈` and two places when the decimal
/// does not terminate within four places (`≈66.67`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SafPercent {
    /// Numerator; `gcd(num, den) == 1`.
    num: u128,
    /// Denominator, never 0.
    den: u128,
}

/// Decimal places kept when an exact value would outgrow `u128` (see [`SafPercent::mean`]).
const FALLBACK_DIGITS: u32 = 24;

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl SafPercent {
    /// A whole percentage (a published band boundary such as 88).
    pub fn whole(percent: u32) -> Self {
        SafPercent {
            num: u128::from(percent),
            den: 1,
        }
    }

    /// `num / den` percent, reduced. `None` for a zero denominator.
    pub fn ratio(num: u128, den: u128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        Some(SafPercent {
            num: num / g,
            den: den / g,
        })
    }

    /// The percentage of a set of quality-statement scores: sum ÷ (4 × n) × 100, exactly.
    /// `None` for no scores.
    pub fn of_scores(scores: &[QualityStatementScore]) -> Option<Self> {
        let n = u128::try_from(scores.len()).ok().filter(|n| *n > 0)?;
        let sum: u128 = scores.iter().map(|s| u128::from(s.get())).sum();
        SafPercent::ratio(sum * 100, 4 * n)
    }

    /// The exact mean of percentages; `None` for none. Should the exact sum outgrow `u128`
    /// (never with real inputs), the operands are first held to 10⁻²⁴ % (half up) and the mean
    /// of those is returned.
    pub fn mean(values: &[SafPercent]) -> Option<Self> {
        let (first, rest) = values.split_first()?;
        let n = u128::try_from(values.len()).ok()?;
        let exact = rest
            .iter()
            .try_fold(*first, |acc, v| acc.checked_add(*v))
            .and_then(|sum| sum.checked_div_whole(n));
        exact.or_else(|| {
            let scale = 10u128.pow(FALLBACK_DIGITS);
            // Each operand ≤ 100 % is at most 100 · 10²⁴ units; the sum of up to 10¹² of them
            // still fits.
            let units = values
                .iter()
                .try_fold(0u128, |acc, v| acc.checked_add(v.to_units(scale)))?;
            SafPercent::ratio(units, scale.checked_mul(n)?)
        })
    }

    fn checked_add(self, other: SafPercent) -> Option<Self> {
        let g = gcd(self.den, other.den);
        let den = (self.den / g).checked_mul(other.den)?;
        let num = self
            .num
            .checked_mul(other.den / g)?
            .checked_add(other.num.checked_mul(self.den / g)?)?;
        SafPercent::ratio(num, den)
    }

    fn checked_div_whole(self, n: u128) -> Option<Self> {
        SafPercent::ratio(self.num, self.den.checked_mul(n)?)
    }

    /// The value in units of `1/scale` percent, rounded half up, by long division so that no
    /// product overflows.
    fn to_units(self, scale: u128) -> u128 {
        let (mut num, mut den) = (self.num, self.den);
        // Keep `remainder · 10` within u128 (dropping low bits of both changes the value by far
        // less than one unit).
        while den > u128::MAX / 20 {
            num >>= 1;
            den >>= 1;
        }
        let whole = num / den;
        let mut remainder = num % den;
        let mut frac: u128 = 0;
        let mut digits = scale;
        while digits > 1 {
            remainder *= 10;
            frac = frac * 10 + remainder / den;
            remainder %= den;
            digits /= 10;
        }
        let half_up = u128::from(remainder * 2 >= den);
        whole * scale + frac + half_up
    }

    /// The reduced fraction: the percentage is `num ÷ den`.
    pub fn parts(self) -> (u128, u128) {
        (self.num, self.den)
    }

    /// Whether the value is at least the whole percentage `threshold`.
    pub fn at_least(self, threshold: u32) -> bool {
        self >= SafPercent::whole(threshold)
    }

    /// The whole-number part and the exact remainder, for display.
    fn decimal(self, places: u32) -> Option<String> {
        let whole = self.num / self.den;
        let mut remainder = self.num % self.den;
        if remainder == 0 {
            return Some(whole.to_string());
        }
        let mut digits = String::new();
        for _ in 0..places {
            remainder = remainder.checked_mul(10)?;
            digits.push(char::from(b'0' + u8::try_from(remainder / self.den).ok()?));
            remainder %= self.den;
            if remainder == 0 {
                return Some(format!("{whole}.{digits}"));
            }
        }
        None
    }
}

impl PartialOrd for SafPercent {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SafPercent {
    /// Exact comparison without multiplying (so without overflow): compare whole parts, then the
    /// reciprocals of the remainders (Euclid's continued fraction).
    fn cmp(&self, other: &Self) -> Ordering {
        let (mut a, mut b, mut c, mut d) = (self.num, self.den, other.num, other.den);
        let mut flipped = false;
        loop {
            let (qa, qc) = (a / b, c / d);
            let (ra, rc) = (a % b, c % d);
            let ord = qa.cmp(&qc).then_with(|| match (ra == 0, rc == 0) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => Ordering::Equal,
            });
            if ord != Ordering::Equal || ra == 0 {
                return if flipped { ord.reverse() } else { ord };
            }
            // a/b = qa + ra/b and c/d = qa + rc/d: compare ra/b with rc/d, i.e. b/ra with d/rc
            // reversed.
            (a, b, c, d) = (b, ra, d, rc);
            flipped = !flipped;
        }
    }
}

impl fmt::Display for SafPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.decimal(4) {
            Some(exact) => f.write_str(&exact),
            None => {
                // Hundredths, half up, for reading only; the value itself stays exact.
                let hundredths = self.to_units(100);
                write!(f, "≈{}.{:02}", hundredths / 100, hundredths % 100)
            }
        }
    }
}

/// A string that is not a SAF percentage (`"88"`, `"175/2"`, 0–100).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SAF percentage {0:?}: expected a whole number or a fraction such as 175/2, 0–100")]
pub struct InvalidSafPercent(pub String);

impl FromStr for SafPercent {
    type Err = InvalidSafPercent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidSafPercent(s.to_string());
        let (num, den) = match s.trim().split_once('/') {
            Some((n, d)) => (n.trim().parse().ok(), d.trim().parse().ok()),
            None => (s.trim().parse().ok(), Some(1)),
        };
        let value =
            SafPercent::ratio(num.ok_or_else(bad)?, den.ok_or_else(bad)?).ok_or_else(bad)?;
        if value > SafPercent::whole(100) {
            return Err(bad());
        }
        Ok(value)
    }
}

impl TryFrom<String> for SafPercent {
    type Error = InvalidSafPercent;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SafPercent> for String {
    fn from(p: SafPercent) -> String {
        if p.den == 1 {
            p.num.to_string()
        } else {
            format!("{}/{}", p.num, p.den)
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(num: u128, den: u128) -> SafPercent {
        SafPercent::ratio(num, den).expect("non-zero denominator")
    }

    #[test]
    fn fractions_are_exact_and_reduced() {
        assert_eq!(p(175, 2), p(350, 4));
        assert_eq!(p(175, 2).to_string(), "87.5");
        assert_eq!(p(200, 3).to_string(), "≈66.67");
        assert_eq!(p(351, 4).to_string(), "87.75");
        assert_eq!(SafPercent::whole(88).to_string(), "88");
        assert_eq!(String::from(p(350, 4)), "175/2");
        assert_eq!("175/2".parse::<SafPercent>(), Ok(p(175, 2)));
        assert_eq!(" 88 ".parse::<SafPercent>(), Ok(SafPercent::whole(88)));
        for bad in ["", "x", "1/0", "101", "201/2", "-1"] {
            assert!(bad.parse::<SafPercent>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn comparison_is_exact() {
        assert!(p(175, 2) < SafPercent::whole(88));
        assert!(p(175, 2) > SafPercent::whole(87));
        assert!(!p(175, 2).at_least(88));
        assert!(p(175, 2).at_least(87));
        assert!(p(263, 3) < p(351, 4)); // 87.666… < 87.75
        assert_eq!(p(1, 3).cmp(&p(2, 6)), Ordering::Equal);
    }

    #[test]
    fn mean_is_exact() {
        // (87.5 + 88) / 2 = 87.75; (100 + 75 + 75) / 3 = 83.333…
        assert_eq!(
            SafPercent::mean(&[p(175, 2), SafPercent::whole(88)]),
            Some(p(351, 4))
        );
        assert_eq!(
            SafPercent::mean(&[
                SafPercent::whole(100),
                SafPercent::whole(75),
                SafPercent::whole(75)
            ]),
            Some(p(250, 3))
        );
        assert_eq!(SafPercent::mean(&[]), None);
    }

    #[test]
    fn a_mean_too_large_to_hold_exactly_is_held_to_1e_24() {
        // Denominators that are large distinct primes make the exact sum overflow u128.
        let big = [
            p(
                50 * 18_446_744_073_709_551_557,
                18_446_744_073_709_551_557 * 2 - 1,
            ),
            p(
                50 * 18_446_744_073_709_551_533,
                18_446_744_073_709_551_533 * 2 - 3,
            ),
        ];
        let m = SafPercent::mean(&big).expect("a value");
        assert!(
            m > SafPercent::whole(25) && m < SafPercent::whole(26),
            "{m}"
        );
        assert_eq!(m.to_string(), "≈25.00");
    }

    proptest! {
        #[test]
        fn order_agrees_with_cross_multiplication(a in 0u64..1_000_000, b in 1u64..1_000_000, c in 0u64..1_000_000, d in 1u64..1_000_000) {
            let want = (u128::from(a) * u128::from(d)).cmp(&(u128::from(c) * u128::from(b)));
            prop_assert_eq!(p(a.into(), b.into()).cmp(&p(c.into(), d.into())), want);
        }

        #[test]
        fn the_mean_lies_between_the_extremes(v in proptest::collection::vec((1u128..=34, 0u128..=102), 1..40)) {
            // n statements scoring n + extra in all: 25 · sum / n percent.
            let values: Vec<SafPercent> = v.iter().map(|(n, k)| p(25 * (n + k % (3 * n + 1)), *n)).collect();
            let m = SafPercent::mean(&values).expect("non-empty");
            let lo = values.iter().min().copied().expect("non-empty");
            let hi = values.iter().max().copied().expect("non-empty");
            prop_assert!(lo <= m && m <= hi);
        }
    }
}
