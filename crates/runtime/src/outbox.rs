//! Versioned events with an outbox. A service that publishes ratings appends a new version of an
//! entity's event only when its content changed (so redelivered input never yields a second
//! event), in the same database as its other writes; publishing happens after commit, and
//! unpublished versions are published again at start. Versions are never overwritten: the table
//! is the append-only history.
//!
//! Each owning service creates its own table with this shape in its migrations:
//!
//! ```sql
//! CREATE TABLE <name> (
//!     event_key TEXT NOT NULL, version BIGINT NOT NULL, fingerprint TEXT NOT NULL,
//!     subject TEXT NOT NULL, msg_id TEXT NOT NULL, payload_hex TEXT NOT NULL,
//!     created_at TEXT NOT NULL, published BIGINT NOT NULL DEFAULT 0,
//!     PRIMARY KEY (event_key, version));
//! ```

use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, AssertSqlSafe, Row, SqlSafeStr, SqlStr};
use tokio::sync::Mutex;

use std::time::Duration;

use crate::Shutdown;
use crate::nats::{Bus, Outgoing};

/// Default seconds between outbox sweeps.
pub const DEFAULT_SWEEP_SECS: u64 = 5;
/// Versions published per page (acks awaited together).
const PUBLISH_PAGE: i64 = 500;

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub key: String,
    pub version: u64,
    pub fingerprint: String,
    pub payload: Vec<u8>,
    pub created_at: String,
    pub published: bool,
}

/// What to append: subject and message id are derived from the version.
pub struct NewEvent {
    pub subject: String,
    pub msg_id: String,
    pub payload: Vec<u8>,
}

/// A content fingerprint (hex SHA-256 prefix).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

#[derive(Clone)]
pub struct Outbox {
    pool: AnyPool,
    bus: Bus,
    table: &'static str,
    publishing: Arc<Mutex<()>>,
}

fn row_to_event(r: &sqlx::any::AnyRow) -> anyhow::Result<StoredEvent> {
    let payload_hex: String = r.try_get("payload_hex")?;
    let version: i64 = r.try_get("version")?;
    let published: i64 = r.try_get("published")?;
    Ok(StoredEvent {
        key: r.try_get("event_key")?,
        version: u64::try_from(version).unwrap_or(0),
        fingerprint: r.try_get("fingerprint")?,
        payload: hex::decode(payload_hex).context("corrupt outbox payload")?,
        created_at: r.try_get("created_at")?,
        published: published != 0,
    })
}

impl Outbox {
    /// `table` must be a table created by the owning service's migrations (a constant, never input).
    pub fn new(pool: AnyPool, bus: Bus, table: &'static str) -> Self {
        Outbox {
            pool,
            bus,
            table,
            publishing: Arc::new(Mutex::new(())),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The statement `template` on this outbox's table (`{table}` in it replaced). Asserted SQL
    /// safe: the table name is the owning service's constant (see [`Outbox::new`]) and the
    /// templates are this module's constants; values are only ever bound.
    fn sql(&self, template: &'static str) -> SqlStr {
        AssertSqlSafe(Arc::<str>::from(template.replace("{table}", self.table))).into_sql_str()
    }

    /// The latest version of `key`.
    pub async fn latest(&self, key: &str) -> anyhow::Result<Option<StoredEvent>> {
        let sql = self.sql(
            "SELECT event_key, version, fingerprint, payload_hex, created_at, published FROM {table} \
             WHERE event_key = $1 ORDER BY version DESC LIMIT 1",
        );
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_event).transpose()
    }

    /// Every version of `key`, oldest first.
    pub async fn history(&self, key: &str) -> anyhow::Result<Vec<StoredEvent>> {
        let sql = self.sql(
            "SELECT event_key, version, fingerprint, payload_hex, created_at, published FROM {table} \
             WHERE event_key = $1 ORDER BY version",
        );
        let rows = sqlx::query(sql).bind(key).fetch_all(&self.pool).await?;
        rows.iter().map(row_to_event).collect()
    }

    /// The latest version of every key.
    pub async fn all_latest(&self) -> anyhow::Result<Vec<StoredEvent>> {
        let sql = self.sql(
            "SELECT e.event_key, e.version, e.fingerprint, e.payload_hex, e.created_at, e.published FROM {table} e \
             WHERE e.version = (SELECT MAX(v.version) FROM {table} v WHERE v.event_key = e.event_key) ORDER BY e.event_key",
        );
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(row_to_event).collect()
    }

    /// Append a new version of `key` if `fingerprint` differs from the latest; returns the new
    /// version, or `None` when nothing changed. `build` makes the event for a version number.
    pub async fn append_if_changed<F>(
        &self,
        key: &str,
        fingerprint: &str,
        build: F,
    ) -> anyhow::Result<Option<u64>>
    where
        F: FnOnce(u64) -> NewEvent,
    {
        let latest = self.latest(key).await?;
        if latest
            .as_ref()
            .is_some_and(|l| l.fingerprint == fingerprint)
        {
            return Ok(None);
        }
        let version = latest.map_or(1, |l| l.version + 1);
        let event = build(version);
        let sql = self.sql(
            "INSERT INTO {table} (event_key, version, fingerprint, subject, msg_id, payload_hex, created_at, published) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        );
        sqlx::query(sql)
            .bind(key)
            .bind(i64::try_from(version).unwrap_or(i64::MAX))
            .bind(fingerprint)
            .bind(&event.subject)
            .bind(&event.msg_id)
            .bind(hex::encode(&event.payload))
            .bind(crate::time::now_rfc3339())
            .execute(&self.pool)
            .await
            .with_context(|| format!("failed to append version {version} of {key}"))?;
        Ok(Some(version))
    }

    /// [`Outbox::publish_pending`] after a handler's commit: a failure to publish is not the
    /// handler's (the versions wait in the outbox for the next call or the sweep), so it is logged,
    /// not returned.
    pub async fn publish_pending_or_defer(&self) {
        if let Err(e) = self.publish_pending().await {
            tracing::warn!(error = %format!("{e:#}"), "publishing deferred to the outbox sweep");
        }
    }

    /// Publish every unpublished version, oldest first, a page at a time with the acks of a page
    /// awaited together (the one publish path, [`Bus::publish_many`]), then mark the page
    /// published. A failure leaves the rest for the next call or the sweep. The outbox's depth
    /// after the drain is exported as `oversight_outbox_pending`.
    pub async fn publish_pending(&self) -> anyhow::Result<u64> {
        let _one_at_a_time = self.publishing.lock().await;
        let result = self.drain().await;
        let left = match &result {
            Ok(_) => Some(0),
            Err(_) => self.unpublished().await.ok(),
        };
        if let Some(left) = left {
            crate::metrics::outbox_pending(self.bus.service(), left);
        }
        result
    }

    /// How many versions are stored but not yet published.
    pub async fn unpublished(&self) -> anyhow::Result<u64> {
        let count = self.sql("SELECT COUNT(*) AS n FROM {table} WHERE published = 0");
        let n: i64 = sqlx::query(count)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// [`Outbox::publish_pending`] with the publishing lock held.
    async fn drain(&self) -> anyhow::Result<u64> {
        let select = self.sql(
            "SELECT event_key, version, subject, msg_id, payload_hex FROM {table} WHERE published = 0 ORDER BY created_at, event_key, version LIMIT $1",
        );
        let mut n = 0;
        loop {
            let rows = sqlx::query(select.clone())
                .bind(PUBLISH_PAGE)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(n);
            }
            let mut keys = Vec::with_capacity(rows.len());
            let mut messages = Vec::with_capacity(rows.len());
            for r in rows {
                let key: String = r.try_get("event_key")?;
                let version: i64 = r.try_get("version")?;
                let payload_hex: String = r.try_get("payload_hex")?;
                messages.push(Outgoing {
                    subject: r.try_get("subject")?,
                    msg_id: r.try_get("msg_id")?,
                    key: key.clone(),
                    payload: hex::decode(payload_hex)
                        .context("corrupt outbox payload")?
                        .into(),
                });
                keys.push((key, version));
            }
            crate::crash::crash_point(crate::crash::AFTER_COMMIT_BEFORE_PUBLISH);
            self.bus.publish_many(messages).await?;
            self.mark_published(&keys).await?;
            n += keys.len() as u64;
        }
    }

    /// Mark a page of versions published, in one transaction.
    async fn mark_published(&self, keys: &[(String, i64)]) -> anyhow::Result<()> {
        let update =
            self.sql("UPDATE {table} SET published = 1 WHERE event_key = $1 AND version = $2");
        let mut tx = self.pool.begin().await?;
        for (key, version) in keys {
            sqlx::query(update.clone())
                .bind(key)
                .bind(*version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Publish what is pending now and then every `every` until `shutdown`, so a version whose
    /// publish failed (NATS away) goes out without waiting for the next write or a restart.
    pub async fn sweep(&self, every: Duration, shutdown: Shutdown) {
        sweep(every, shutdown, || self.publish_pending()).await
    }
}

/// Run `publish` now and then every `every` until `shutdown`, logging (not failing) when it
/// cannot publish yet.
pub async fn sweep<F, Fut>(every: Duration, shutdown: Shutdown, publish: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u64>>,
{
    loop {
        match publish().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(published = n, "outbox sweep published pending events"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "outbox sweep could not publish yet")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
