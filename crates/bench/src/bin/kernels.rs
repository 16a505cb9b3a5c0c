//! `kernels`: the pure rule kernels alone, on one core, without NATS or the services — the same
//! code and the same synthetic national feed as the kernel section of `bench`, for profiling and
//! quick before/after numbers.
//!
//! `cargo run --release -p bench --bin kernels -- [SECONDS]` (default 5 s per kernel).

// The harness modules are shared with the `bench` binary; this one uses only part of them.
#[allow(dead_code)]
#[path = "../kernels.rs"]
mod kernels;
#[allow(dead_code)]
#[path = "../national.rs"]
mod national;
#[allow(dead_code)]
#[path = "../stats.rs"]
mod stats;

use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let seconds: f64 = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|e| anyhow::anyhow!("SECONDS must be a number: {e}"))?,
        None => 5.0,
    };
    let trusts = national::national(230, 1500)?;
    let evidence = trusts
        .iter()
        .map(national::Trust::evidence)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let k = kernels::run(&evidence, Duration::from_secs_f64(seconds))?;
    println!(
        "aggregate: {} /s\nrate_trust: {} trusts/s\nnational re-rating ({} trusts): {:.1} ms",
        stats::per_s(k.aggregations_per_s),
        stats::per_s(k.trusts_per_s),
        k.trusts,
        k.national_rerating.as_secs_f64() * 1e3
    );
    Ok(())
}
