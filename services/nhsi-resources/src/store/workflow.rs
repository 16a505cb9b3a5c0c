//! `nhsi_uor_assessments` (each assessment's workflow state, guarded by a revision number) and
//! `nhsi_uor_transitions` (its append-only history, numbered 1, 2, … within each trust).

use chrono::NaiveDate;
use nhsi_rules::workflow::{Action, HistoryEntry, UorState, UorWorkflow};
use oversight_rating::{Rating, TrustCode};
use oversight_runtime::auth::{Caller, Role};
use sqlx::{AnyConnection, AnyPool, Row};

use super::{decode, encode};

/// One assessment of a trust as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub trust: TrustCode,
    /// 1, 2, … per trust.
    pub number: u32,
    /// The report date the approved rating carries; set by the proposal.
    pub report_date: Option<NaiveDate>,
    pub workflow: UorWorkflow,
    /// How many times the row was written (0: not yet stored); an update must name it.
    pub(crate) revision: i64,
}

/// One stored transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub seq: u64,
    pub assessment: u32,
    pub version: u32,
    pub action: Action,
    pub role: Role,
    pub caller: String,
    pub from_state: String,
    pub to_state: String,
    pub rating: Option<Rating>,
    pub note: String,
    pub recorded_at: String,
}

const WHAT: &str = "use-of-resources assessment";

/// A report date as stored: ISO 8601, empty before the proposal sets it.
fn stored(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn stored_date(s: &str) -> sqlx::Result<Option<NaiveDate>> {
    if s.is_empty() {
        return Ok(None);
    }
    decode(
        oversight_runtime::time::parse_date(s)
            .map(Some)
            .ok_or(format!("report date {s:?}")),
        WHAT,
    )
}

/// A transition's action as stored (its name, as the workflow JSON spells it).
fn stored_action(s: &str) -> sqlx::Result<Action> {
    decode(
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|e| format!("action {s:?}: {e}")),
        WHAT,
    )
}

fn to_u32(v: i64) -> sqlx::Result<u32> {
    decode(u32::try_from(v), WHAT)
}

/// The latest assessment of a trust.
pub async fn latest(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<Assessment>> {
    let row = sqlx::query(
        "SELECT assessment, report_date, workflow_json, revision FROM nhsi_uor_assessments
         WHERE trust_code = $1 ORDER BY assessment DESC LIMIT 1",
    )
    .bind(trust.as_str())
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let number: i64 = r.try_get("assessment")?;
    let json: String = r.try_get("workflow_json")?;
    let report_date: String = r.try_get("report_date")?;
    Ok(Some(Assessment {
        trust: trust.clone(),
        number: to_u32(number)?,
        report_date: stored_date(&report_date)?,
        workflow: decode(serde_json::from_str(&json), WHAT)?,
        revision: r.try_get("revision")?,
    }))
}

/// Every transition of a trust's assessments, oldest first.
pub async fn transitions(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Vec<Transition>> {
    let rows = sqlx::query(
        "SELECT seq, assessment, version, action, role, caller, from_state, to_state, rating, note, recorded_at
         FROM nhsi_uor_transitions WHERE trust_code = $1 ORDER BY seq",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq")?;
            let assessment: i64 = r.try_get("assessment")?;
            let version: i64 = r.try_get("version")?;
            let rating: String = r.try_get("rating")?;
            let action: String = r.try_get("action")?;
            let role: String = r.try_get("role")?;
            Ok(Transition {
                seq: decode(u64::try_from(seq), WHAT)?,
                assessment: to_u32(assessment)?,
                version: to_u32(version)?,
                action: stored_action(&action)?,
                role: decode(role.parse(), WHAT)?,
                caller: r.try_get("caller")?,
                from_state: r.try_get("from_state")?,
                to_state: r.try_get("to_state")?,
                rating: if rating.is_empty() {
                    None
                } else {
                    Some(decode(rating.parse(), WHAT)?)
                },
                note: r.try_get("note")?,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .collect()
}

/// The trusts with an assessment in `state`, by trust code.
pub async fn trusts_in_state(pool: &AnyPool, state: UorState) -> sqlx::Result<Vec<TrustCode>> {
    let rows = sqlx::query(
        "SELECT trust_code FROM nhsi_uor_assessments WHERE state = $1 ORDER BY trust_code",
    )
    .bind(state.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let code: String = r.try_get("trust_code")?;
            decode(code.parse(), WHAT)
        })
        .collect()
}

/// Insert a new assessment (revision 1). `false` when one with its number exists (nothing was
/// written).
pub async fn insert(conn: &mut AnyConnection, a: &Assessment, now: &str) -> sqlx::Result<bool> {
    let json = encode(serde_json::to_string(&a.workflow), WHAT)?;
    let written = sqlx::query(
        "INSERT INTO nhsi_uor_assessments
            (trust_code, assessment, report_date, state, workflow_json, revision, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (trust_code, assessment) DO NOTHING",
    )
    .bind(a.trust.as_str())
    .bind(i64::from(a.number))
    .bind(stored(a.report_date))
    .bind(a.workflow.state().to_string())
    .bind(&json)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(written.rows_affected() > 0)
}

/// Update a stored assessment if it is still at `a.revision` (the next revision). `false` when
/// another writer changed it first (nothing was written).
pub async fn update(conn: &mut AnyConnection, a: &Assessment, now: &str) -> sqlx::Result<bool> {
    let json = encode(serde_json::to_string(&a.workflow), WHAT)?;
    let written = sqlx::query(
        "UPDATE nhsi_uor_assessments SET report_date = $1, state = $2, workflow_json = $3,
            revision = revision + 1, updated_at = $4
         WHERE trust_code = $5 AND assessment = $6 AND revision = $7",
    )
    .bind(stored(a.report_date))
    .bind(a.workflow.state().to_string())
    .bind(&json)
    .bind(now)
    .bind(a.trust.as_str())
    .bind(i64::from(a.number))
    .bind(a.revision)
    .execute(conn)
    .await?;
    Ok(written.rows_affected() > 0)
}

/// The number the trust's next transition takes.
pub async fn next_transition_seq(conn: &mut AnyConnection, trust: &TrustCode) -> sqlx::Result<i64> {
    sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM nhsi_uor_transitions WHERE trust_code = $1",
    )
    .bind(trust.as_str())
    .fetch_one(conn)
    .await?
    .try_get("next")
}

/// Insert one transition of assessment `a`, made by `caller`, as number `seq` of its trust.
/// `false` when that number was taken (nothing was written).
pub async fn insert_transition(
    conn: &mut AnyConnection,
    a: &Assessment,
    entry: &HistoryEntry,
    caller: &Caller,
    seq: i64,
    now: &str,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO nhsi_uor_transitions
            (trust_code, seq, assessment, version, action, role, caller, from_state, to_state, rating, note, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (trust_code, seq) DO NOTHING",
    )
    .bind(a.trust.as_str())
    .bind(seq)
    .bind(i64::from(a.number))
    .bind(i64::from(entry.version))
    .bind(entry.action.to_string())
    .bind(caller.role.as_str())
    .bind(&caller.name)
    .bind(entry.from.map(|s| s.to_string()).unwrap_or_default())
    .bind(entry.to.to_string())
    .bind(entry.rating.map(|r| r.cqc_str()).unwrap_or_default())
    .bind(entry.note.clone().unwrap_or_default())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}
