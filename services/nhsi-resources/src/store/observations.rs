//! `nhsi_observations`: one row per trust, feed, period and ward, its values packed as a JSON
//! object of metric name → exact decimal; and `nhsi_metric_observations`, the old one-row-per-metric
//! table, read once to be emptied into it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use nhsi_rules::parse_decimal;
use oversight_rating::TrustCode;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

use super::{corrupt, decode};
use crate::observations::PackedObservation;

/// One stored observation: one metric's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub trust: TrustCode,
    pub period: NaiveDate,
    pub ward: String,
    pub metric: String,
    pub value: Decimal,
}

/// One stored observation row (values packed as JSON), as one `Observation` per metric.
fn expand_observation(r: &sqlx::any::AnyRow, out: &mut Vec<Observation>) -> sqlx::Result<()> {
    let trust: String = r.try_get("trust_code")?;
    let period: String = r.try_get("period")?;
    let ward: String = r.try_get("ward_code")?;
    let packed: String = r.try_get("metric_values")?;
    let trust: TrustCode = decode(trust.parse(), "trust code")?;
    let period =
        oversight_runtime::time::parse_date(&period).ok_or_else(|| corrupt("period", &period))?;
    let values: BTreeMap<String, String> = decode(serde_json::from_str(&packed), "metric values")?;
    for (metric, value) in values {
        out.push(Observation {
            trust: trust.clone(),
            period,
            ward: ward.clone(),
            value: parse_decimal(&value).ok_or_else(|| corrupt("value", &value))?,
            metric,
        });
    }
    Ok(())
}

/// Observations of one feed, of one trust or of all, one per metric value, in (trust, period,
/// ward, metric) order.
pub async fn of_feed(
    pool: &AnyPool,
    trust: Option<&TrustCode>,
    feed: &str,
) -> sqlx::Result<Vec<Observation>> {
    let rows = match trust {
        Some(t) => {
            sqlx::query(
                "SELECT trust_code, period, ward_code, metric_values FROM nhsi_observations
                 WHERE trust_code = $1 AND feed = $2 ORDER BY period, ward_code",
            )
            .bind(t.as_str())
            .bind(feed)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT trust_code, period, ward_code, metric_values FROM nhsi_observations
                 WHERE feed = $1 ORDER BY trust_code, period, ward_code",
            )
            .bind(feed)
            .fetch_all(pool)
            .await?
        }
    };
    let mut out = Vec::with_capacity(rows.len() * 4);
    for r in &rows {
        expand_observation(r, &mut out)?;
    }
    Ok(out)
}

/// An observation of a trust to store, from the evidence `evidence_id`.
#[derive(Debug, Clone, Copy)]
pub struct NewObservation<'a> {
    pub trust: &'a TrustCode,
    pub observation: &'a PackedObservation,
    /// Whether its values add to those stored for its key rather than replace them
    /// (`PackedObservation::adds_to_stored`).
    pub adds: bool,
    pub evidence_id: &'a str,
}

/// Observations stored per INSERT statement (six parameters each). Small on purpose: SQLite
/// finds a `$n` parameter's name by a linear scan, so binding costs grow with the square of the
/// parameters in a statement (profiled: 9 % of the backfill at 100 rows a statement).
const OBSERVATIONS_PER_STATEMENT: usize = 20;

/// `AnyConnection::backend_name` of a Postgres connection.
const POSTGRES: &str = "PostgreSQL";

/// One row of `nhsi_observations` a batch writes.
struct ObservationRow<'a> {
    trust: &'a str,
    observation: PackedObservation,
    /// Whether the row adds to the stored values of its key.
    adds: bool,
    evidence_id: &'a str,
}

/// The rows a batch of observations writes, one per key (Postgres refuses a statement that
/// updates a row twice), leaving what storing them one at a time would: a later observation of
/// a key replaces its values, or adds to them.
fn observation_rows<'a>(observations: &[NewObservation<'a>]) -> Vec<ObservationRow<'a>> {
    let mut at: HashMap<(&str, &str, NaiveDate, &str), usize> = HashMap::new();
    let mut rows: Vec<ObservationRow<'a>> = Vec::with_capacity(observations.len());
    for new in observations {
        let o = new.observation;
        let key = (new.trust.as_str(), o.feed, o.period, o.ward.as_str());
        match at.get(&key) {
            Some(&i) => {
                let row = &mut rows[i];
                if row.adds {
                    row.observation.values.extend(o.values.clone());
                } else {
                    row.observation.values = o.values.clone();
                }
                row.evidence_id = new.evidence_id;
            }
            None => {
                at.insert(key, rows.len());
                rows.push(ObservationRow {
                    trust: new.trust.as_str(),
                    observation: o.clone(),
                    adds: new.adds,
                    evidence_id: new.evidence_id,
                });
            }
        }
    }
    rows
}

/// Store a batch of observations, many rows a statement, in the caller's transaction. Values
/// that add to the stored ones are merged by the database, in the upsert itself, so that
/// concurrent writers of one key (replicas) each keep their metric; SQLite and Postgres merge
/// JSON objects with different functions.
pub async fn upsert(
    conn: &mut AnyConnection,
    observations: &[NewObservation<'_>],
) -> sqlx::Result<()> {
    let postgres = conn.backend_name() == POSTGRES;
    let rows = observation_rows(observations);
    for adds in [false, true] {
        let rows: Vec<&ObservationRow<'_>> = rows.iter().filter(|r| r.adds == adds).collect();
        let metric_values = if !adds {
            "excluded.metric_values"
        } else if postgres {
            "(nhsi_observations.metric_values::jsonb || excluded.metric_values::jsonb)::text"
        } else {
            "json_patch(nhsi_observations.metric_values, excluded.metric_values)"
        };
        for page in rows.chunks(OBSERVATIONS_PER_STATEMENT) {
            let values = oversight_runtime::db::values_placeholders(page.len(), 6, "");
            // Asserted SQL safe: constant SQL, numbered placeholders and one of the constant
            // merges above; values are only ever bound.
            let sql = AssertSqlSafe(format!(
                "INSERT INTO nhsi_observations (trust_code, feed, period, ward_code, metric_values, evidence_id)
                 VALUES {values}
                 ON CONFLICT (trust_code, feed, period, ward_code) DO UPDATE SET
                    metric_values = {metric_values}, evidence_id = excluded.evidence_id"
            ));
            let mut q = sqlx::query(sql);
            for row in page {
                q = q
                    .bind(row.trust)
                    .bind(row.observation.feed)
                    .bind(row.observation.period.to_string())
                    .bind(row.observation.ward.as_str())
                    .bind(row.observation.values_json())
                    .bind(row.evidence_id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// One row of the old one-row-per-metric table, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyObservation {
    pub trust: String,
    pub feed: String,
    pub period: String,
    pub ward: String,
    pub metric: String,
    pub value: String,
    pub evidence_id: String,
}

/// Every row of the old one-row-per-metric table, by (trust, feed, period, ward).
pub async fn legacy(pool: &AnyPool) -> sqlx::Result<Vec<LegacyObservation>> {
    let rows = sqlx::query(
        "SELECT trust_code, feed, period, ward_code, metric, value, evidence_id
         FROM nhsi_metric_observations ORDER BY trust_code, feed, period, ward_code",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LegacyObservation {
                trust: r.try_get("trust_code")?,
                feed: r.try_get("feed")?,
                period: r.try_get("period")?,
                ward: r.try_get("ward_code")?,
                metric: r.try_get("metric")?,
                value: r.try_get("value")?,
                evidence_id: r.try_get("evidence_id")?,
            })
        })
        .collect()
}

/// Store one packed row (values as a JSON object) unless its key is stored already.
pub async fn insert_packed_if_absent(
    conn: &mut AnyConnection,
    (trust, feed, period, ward): (&str, &str, &str, &str),
    metric_values: &str,
    evidence_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nhsi_observations (trust_code, feed, period, ward_code, metric_values, evidence_id)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (trust_code, feed, period, ward_code) DO NOTHING",
    )
    .bind(trust)
    .bind(feed)
    .bind(period)
    .bind(ward)
    .bind(metric_values)
    .bind(evidence_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Empty the old one-row-per-metric table.
pub async fn delete_legacy(conn: &mut AnyConnection) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM nhsi_metric_observations")
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oversight_proto::evidence::v1 as ev;
    use oversight_proto::google_type::Date;

    fn productivity(metric_name: &str, value: &str) -> ev::MetricObservation {
        ev::MetricObservation {
            feed: Some(ev::metric_observation::Feed::Productivity(
                ev::ProductivityObservation {
                    period_end: Some(Date {
                        year: 2018,
                        month: 3,
                        day: 31,
                    }),
                    metric: metric_name.into(),
                    value: value.into(),
                },
            )),
        }
    }

    /// Productivity and operational records carry one metric each: a batch adds them up per
    /// trust and period, where a later finance record replaces an earlier one.
    #[test]
    fn a_batch_adds_up_single_metric_records_and_replaces_whole_ones() {
        let rxx: TrustCode = "RXX".parse().unwrap();
        let read =
            |m: ev::MetricObservation| crate::observations::read_observation(&rxx, &m).unwrap();
        let batch = [
            read(productivity("sickness_absence_rate", "3.5")),
            read(productivity("staff_retention_rate", "88")),
            read(productivity("sickness_absence_rate", "4")),
        ];
        let observations: Vec<NewObservation<'_>> = batch
            .iter()
            .map(|o| NewObservation {
                trust: &rxx,
                observation: o,
                adds: o.adds_to_stored(),
                evidence_id: "",
            })
            .collect();
        let rows = observation_rows(&observations);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].adds);
        assert_eq!(
            rows[0].observation.values_json(),
            r#"{"sickness_absence_rate":"4","staff_retention_rate":"88"}"#
        );
    }
}
