//! The database: SQLite by default (a file in the data directory), Postgres when the URL says so.
//! Services use `sqlx::Any` with portable SQL (`$1` placeholders work on both) and apply their own
//! migrations at start.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe, Executor};

/// How long a SQLite statement waits for another connection's lock before it fails
/// (`PRAGMA busy_timeout`; `SQLITE_BUSY_TIMEOUT_MS`).
pub const DEFAULT_SQLITE_BUSY_TIMEOUT_MS: u64 = 10_000;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("unsupported database URL scheme (expected sqlite: or postgres:)")
        }
    }
}

/// How SQLite makes a commit durable (`PRAGMA synchronous`, in WAL mode).
///
/// * `Normal` (the default): a committed transaction — and so every message acked after it —
///   survives a crash or kill of the process; after a power loss or OS crash the transactions
///   committed since the last WAL checkpoint may be lost (they come again from JetStream only if
///   not yet acked, so they can be lost for good).
/// * `Full`: the WAL is synced at every commit; an acked message survives power loss too, at the
///   cost of one fsync per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SqliteSync {
    #[default]
    Normal,
    Full,
}

/// Connect to `url` and apply `migrations` (SQLite with `synchronous = NORMAL`).
pub async fn connect(url: &str, migrations: &Migrator) -> anyhow::Result<AnyPool> {
    connect_with(
        url,
        migrations,
        SqliteSync::Normal,
        Duration::from_millis(DEFAULT_SQLITE_BUSY_TIMEOUT_MS),
    )
    .await
}

/// Connect to `url` and apply `migrations`, with SQLite commits made durable as `sync` says and
/// SQLite statements waiting up to `busy_timeout` for a lock held elsewhere.
pub async fn connect_with(
    url: &str,
    migrations: &Migrator,
    sync: SqliteSync,
    busy_timeout: Duration,
) -> anyhow::Result<AnyPool> {
    // `AssertSqlSafe`: the only thing put in the text is a number of milliseconds.
    let busy_timeout_pragma: Arc<str> =
        format!("PRAGMA busy_timeout = {}", busy_timeout.as_millis()).into();
    install_default_drivers();
    let backend = Backend::of_url(url)?;
    if backend == Backend::Sqlite
        && let Some(path) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create data directory {}", dir.display()))?;
    }
    let options = AnyPoolOptions::new()
        // SQLite has one writer at a time: several connections would only wait on each other in
        // SQLite's sleeping busy handler (milliseconds each). One connection queues statements
        // in the pool instead, fairly and without sleeping; readers of the combiner use its
        // in-memory view, and batches keep the transactions few.
        .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            let busy_timeout_pragma = busy_timeout_pragma.clone();
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; busy_timeout waits for the lock
                    // rather than failing.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute(AssertSqlSafe(busy_timeout_pragma)).await?;
                    conn.execute(match sync {
                        SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
                        SqliteSync::Full => "PRAGMA synchronous = FULL",
                    })
                    .await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        });
    let pool = options
        .connect(url)
        .await
        .with_context(|| format!("failed to connect to the {backend:?} database"))?;
    migrations
        .run(&pool)
        .await
        .context("failed to apply database migrations")?;
    Ok(pool)
}

/// The `VALUES` list of a multi-row statement: `rows` groups of `columns` numbered parameters,
/// each group followed by `constants` when given — `values_placeholders(2, 2, ", 0")` is
/// `($1, $2, 0), ($3, $4, 0)`. Portable: SQLite and Postgres both number parameters `$n`.
pub fn values_placeholders(rows: usize, columns: usize, constants: &str) -> String {
    let mut sql = String::with_capacity(rows * (columns * 5 + constants.len() + 4));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c + 1).to_string());
        }
        sql.push_str(constants);
        sql.push(')');
    }
    sql
}

/// The rows a multi-row upsert may carry: one per key, the last one given, in the order given —
/// what applying them one at a time would leave (Postgres refuses a statement that updates a
/// row twice).
pub fn last_per_key<T, K: std::hash::Hash + Eq>(rows: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut last = std::collections::HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_their_parameters_row_after_row() {
        assert_eq!(values_placeholders(1, 3, ""), "($1, $2, $3)");
        assert_eq!(values_placeholders(2, 2, ", 0"), "($1, $2, 0), ($3, $4, 0)");
        assert_eq!(values_placeholders(0, 4, ""), "");
    }

    #[test]
    fn the_last_row_of_each_key_stands_in_order() {
        let rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)];
        let kept: Vec<(&str, i32)> = last_per_key(&rows, |r| r.0).into_iter().copied().collect();
        assert_eq!(kept, vec![("a", 3), ("c", 4), ("b", 5)]);
    }
}
