//! Crash points: named places where a test can make the process die, deterministically, as
//! `kill -9` would (issue 15). Armed by `OVERSIGHT_CRASH_AT=<point>:<n>[,<point>:<n>]`, read
//! once: the process aborts (`std::process::abort`, no destructors, no flush, nothing acked) the
//! n-th time it reaches `<point>`, after writing one line `crash point <point> reached (n);
//! aborting` to stderr.
//!
//! Only in debug builds: in a release build [`crash_point`] is an empty inline function and the
//! variable is never read, so the points cost nothing in production and cannot be armed there.
//!
//! The points (see ARCHITECTURE.md, *Crash points*):
//! - [`AFTER_COMMIT_BEFORE_PUBLISH`]: an outbox holds committed, unpublished rows and is about to
//!   publish them (the runtime outbox of rating versions, and ingestion's evidence outbox);
//! - [`AFTER_PUBLISH_BEFORE_ACK`]: a consumer's batch handler has returned (its writes committed,
//!   its outbox published and acknowledged) and the batch is about to be acked;
//! - [`BETWEEN_COMMIT_GROUPS`]: ingestion has committed (and published) one commit group of a
//!   batch and more records of the batch follow.

/// Committed, not yet published.
pub const AFTER_COMMIT_BEFORE_PUBLISH: &str = "after-commit-before-publish";
/// Published (acknowledged by JetStream), the consumed messages not yet acked.
pub const AFTER_PUBLISH_BEFORE_ACK: &str = "after-publish-before-ack";
/// In the middle of one batch of ingestion: a commit group stored, more to come.
pub const BETWEEN_COMMIT_GROUPS: &str = "between-commit-groups";

/// The environment variable that arms crash points.
pub const CRASH_AT_ENV: &str = "OVERSIGHT_CRASH_AT";

/// Abort the process if `point` is armed and this is the n-th time it is reached.
#[cfg(debug_assertions)]
pub fn crash_point(point: &str) {
    armed::reached(point);
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn crash_point(_point: &str) {}

#[cfg(debug_assertions)]
mod armed {
    use std::collections::HashMap;
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Armed points: the hit that aborts, and the hits so far.
    fn points() -> &'static HashMap<String, (u64, AtomicU64)> {
        static POINTS: OnceLock<HashMap<String, (u64, AtomicU64)>> = OnceLock::new();
        POINTS.get_or_init(|| {
            std::env::var(super::CRASH_AT_ENV)
                .map(|spec| parse(&spec))
                .unwrap_or_default()
                .into_iter()
                .map(|(p, n)| (p, (n, AtomicU64::new(0))))
                .collect()
        })
    }

    /// `point:n,point:n`; entries that do not parse are ignored (a test that mistypes one sees
    /// its process not die).
    pub(super) fn parse(spec: &str) -> Vec<(String, u64)> {
        spec.split(',')
            .filter_map(|entry| {
                let (point, n) = entry.trim().rsplit_once(':')?;
                let n: u64 = n.trim().parse().ok().filter(|n| *n > 0)?;
                Some((point.trim().to_string(), n))
            })
            .collect()
    }

    pub(super) fn reached(point: &str) {
        let Some((at, hits)) = points().get(point) else {
            return;
        };
        let hit = hits.fetch_add(1, Ordering::SeqCst) + 1;
        if hit == *at {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "crash point {point} reached ({hit}); aborting");
            let _ = err.flush();
            std::process::abort();
        }
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::armed::parse;

    #[test]
    fn arming_spec_parses_points_and_counts() {
        assert_eq!(
            parse("after-commit-before-publish:2, between-commit-groups:1"),
            vec![
                ("after-commit-before-publish".to_string(), 2),
                ("between-commit-groups".to_string(), 1)
            ]
        );
        assert_eq!(parse("no-count,zero:0,bad:x"), Vec::new());
    }
}
