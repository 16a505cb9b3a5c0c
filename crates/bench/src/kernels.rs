//! The pure rule kernels on one core: the counting rule (`oversight_rating::aggregate`, one trust
//! level of six ratings — five key questions and use of resources), a whole trust through every
//! CQC level (`cqc_rules::rate_trust`), and a full national re-rating (every trust once).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use cqc_rules::{RuleSet, TrustEvidence};
use oversight_rating::{Rating, RatingValue, Thresholds, aggregate};

#[derive(Debug, Clone)]
pub struct KernelResult {
    /// `aggregate` calls per second on one core.
    pub aggregations_per_s: f64,
    /// `rate_trust` calls per second on one core.
    pub trusts_per_s: f64,
    /// Median time to rate every trust of the feed once, on one core.
    pub national_rerating: Duration,
    pub trusts: usize,
}

/// Run `f` repeatedly for about `budget` (bounded by `max_iterations`); calls per second.
fn per_second(budget: Duration, max_iterations: u64, mut f: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    let mut n = 0u64;
    while n < max_iterations {
        for _ in 0..256 {
            f(n);
            n += 1;
        }
        if started.elapsed() >= budget {
            break;
        }
    }
    crate::stats::rate(n as usize, started.elapsed())
}

pub fn run(evidence: &[TrustEvidence], budget: Duration) -> anyhow::Result<KernelResult> {
    let thresholds = Thresholds::cqc_2018();
    let inputs: Vec<[RatingValue; 6]> = (0..1024u64)
        .map(|i| {
            let pick = |k: u64| {
                RatingValue::Rated(Rating::ALL[(crate::national::mix(i * 8 + k) % 4) as usize])
            };
            [pick(0), pick(1), pick(2), pick(3), pick(4), pick(5)]
        })
        .collect();
    let aggregations_per_s = per_second(budget, 1 << 32, |n| {
        let a = aggregate(black_box(inputs[(n % 1024) as usize]), &thresholds);
        black_box(a);
    });

    let rules = RuleSet::cqc_2018();
    let as_of = NaiveDate::from_ymd_opt(2019, 1, 31)
        .ok_or_else(|| anyhow::anyhow!("bad benchmark date"))?;
    anyhow::ensure!(!evidence.is_empty(), "no trusts to rate");
    let trusts_per_s = per_second(budget, 1 << 32, |n| {
        let t = &evidence[(n as usize) % evidence.len()];
        black_box(cqc_rules::rate_trust(black_box(t), as_of, &rules));
    });

    let mut runs = Vec::new();
    let started = Instant::now();
    while runs.len() < 5 || (started.elapsed() < budget && runs.len() < 50) {
        let t0 = Instant::now();
        for t in evidence {
            black_box(cqc_rules::rate_trust(black_box(t), as_of, &rules));
        }
        runs.push(t0.elapsed());
    }
    runs.sort_unstable();
    Ok(KernelResult {
        aggregations_per_s,
        trusts_per_s,
        national_rerating: runs[runs.len() / 2],
        trusts: evidence.len(),
    })
}
