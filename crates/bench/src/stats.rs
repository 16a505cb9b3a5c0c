//! Latency percentiles and rates.

use std::time::Duration;

/// Latency samples, summarised by percentile.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `p`-th percentile (0–100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        // Integer arithmetic on tenths of a percent: no floating-point rounding at the edges.
        let permille = (p * 10.0).round() as usize;
        let rank = (permille * sorted.len()).div_ceil(1000);
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// "p50 / p99 / p999" in milliseconds.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no samples".into();
        }
        format!(
            "{} / {} / {} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(99.9))
        )
    }
}

pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// Events per second.
pub fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// A rate with thousands separators.
pub fn per_s(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for i in 1..=1000 {
            l.push(Duration::from_micros(i));
        }
        assert_eq!(l.percentile(50.0), Duration::from_micros(500));
        assert_eq!(l.percentile(99.0), Duration::from_micros(990));
        assert_eq!(l.percentile(99.9), Duration::from_micros(999));
        assert_eq!(per_s(1234567.4), "1,234,567");
    }
}
