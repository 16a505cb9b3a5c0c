//! cqc-quality's tables (see `migrations/`): SQL and decoding only. What the rows mean (which
//! limiter applies, which exclusion, which decision is published) is `cqc_rules`' to decide.

use chrono::NaiveDate;
pub use cqc_rules::ActionKind;
use cqc_rules::{
    ActionRecord, Entity, EntityKind, KqServiceRating, MergedExclusion, QualityStatementScore,
    RatingRecord, SignificantlySmall, Stage, TrustType, WellLedAssessment,
};
use oversight_rating::{KeyQuestion, LocationId, Rating, RatingValue, ServiceId, TrustCode};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

/// One KQ × service rating row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRatingRow {
    pub location_id: String,
    pub location_name: String,
    pub service_id: String,
    pub key_question: KeyQuestion,
    pub rating: RatingValue,
    pub report_date: NaiveDate,
    pub evidence_id: String,
    /// SAF quality-statement scores (empty: none, e.g. evidence from feeds).
    pub statement_scores: Vec<QualityStatementScore>,
}

/// A known trust: its name, type and NHS England region (`""` when no evidence has said).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRow {
    pub name: String,
    pub trust_type: TrustType,
    pub region: String,
}

/// Record a trust. A blank name or region never overwrites a known one, and an unknown type
/// (`None`, e.g. from a CQC API location, which does not say) never overwrites a known one; a new
/// trust without a type is taken as acute.
pub async fn upsert_trust(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    name: &str,
    trust_type: Option<TrustType>,
    region: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_trusts (trust_code, trust_name, trust_type, region) VALUES ($1, $2, COALESCE(NULLIF($3, ''), 'acute'), $4)
         ON CONFLICT (trust_code) DO UPDATE SET
            trust_name = CASE WHEN excluded.trust_name = '' THEN cqc_trusts.trust_name ELSE excluded.trust_name END,
            trust_type = CASE WHEN $3 = '' THEN cqc_trusts.trust_type ELSE excluded.trust_type END,
            region = CASE WHEN excluded.region = '' THEN cqc_trusts.region ELSE excluded.region END",
    )
    .bind(trust.as_str())
    .bind(name)
    .bind(trust_type.map_or("", TrustType::as_str))
    .bind(region)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn upsert_service_rating(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    r: &ServiceRatingRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_service_ratings (trust_code, location_id, location_name, service_id, key_question, rating, report_date, evidence_id, statement_scores)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (trust_code, location_id, service_id, key_question, report_date)
         DO UPDATE SET rating = excluded.rating, location_name = excluded.location_name, evidence_id = excluded.evidence_id,
            statement_scores = excluded.statement_scores",
    )
    .bind(trust.as_str())
    .bind(&r.location_id)
    .bind(&r.location_name)
    .bind(&r.service_id)
    .bind(r.key_question.camel())
    .bind(r.rating.cqc_str())
    .bind(r.report_date.to_string())
    .bind(&r.evidence_id)
    .bind(scores_text(&r.statement_scores))
    .execute(conn)
    .await?;
    Ok(())
}

/// Rows per multi-row upsert of service ratings (9 parameters each). Small on purpose: SQLite
/// finds a `$n` parameter's name by a linear scan, so binding costs grow with the square of the
/// parameters in a statement.
pub const UPSERT_ROWS: usize = 25;

/// Insert or update many service ratings of one trust, [`UPSERT_ROWS`] to a statement: the same
/// result as [`upsert_service_rating`] row after row (a later row with the same key wins), in a
/// few round trips instead of one per row.
pub async fn upsert_service_ratings(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    rows: &[ServiceRatingRow],
) -> sqlx::Result<()> {
    // One row per key, the last one given: Postgres refuses a statement that updates a row twice.
    let unique = oversight_runtime::db::last_per_key(rows, |r| {
        (
            r.location_id.clone(),
            r.service_id.clone(),
            r.key_question,
            r.report_date,
        )
    });
    for page in unique.chunks(UPSERT_ROWS) {
        let values = oversight_runtime::db::values_placeholders(page.len(), 9, "");
        // Asserted SQL safe: constant SQL and numbered placeholders; values are only ever bound.
        let sql = AssertSqlSafe(format!(
            "INSERT INTO cqc_service_ratings (trust_code, location_id, location_name, service_id, key_question, rating, report_date, evidence_id, statement_scores)
             VALUES {}
             ON CONFLICT (trust_code, location_id, service_id, key_question, report_date)
             DO UPDATE SET rating = excluded.rating, location_name = excluded.location_name, evidence_id = excluded.evidence_id,
                statement_scores = excluded.statement_scores",
            values
        ));
        let mut q = sqlx::query(sql);
        for r in page {
            q = q
                .bind(trust.as_str())
                .bind(&r.location_id)
                .bind(&r.location_name)
                .bind(&r.service_id)
                .bind(r.key_question.camel())
                .bind(r.rating.cqc_str())
                .bind(r.report_date.to_string())
                .bind(&r.evidence_id)
                .bind(scores_text(&r.statement_scores));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn upsert_well_led(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    rating: RatingValue,
    date: NaiveDate,
    statement_scores: &[QualityStatementScore],
    evidence_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_well_led_assessments (trust_code, report_date, rating, evidence_id, statement_scores) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (trust_code, report_date) DO UPDATE SET rating = excluded.rating, evidence_id = excluded.evidence_id,
            statement_scores = excluded.statement_scores",
    )
    .bind(trust.as_str())
    .bind(date.to_string())
    .bind(rating.cqc_str())
    .bind(evidence_id)
    .bind(scores_text(statement_scores))
    .execute(conn)
    .await?;
    Ok(())
}

/// A trust's name, type and region, if known.
pub async fn trust(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Option<TrustRow>> {
    let row =
        sqlx::query("SELECT trust_name, trust_type, region FROM cqc_trusts WHERE trust_code = $1")
            .bind(trust.as_str())
            .fetch_optional(pool)
            .await?;
    row.map(|r| {
        let t: String = r.try_get("trust_type")?;
        Ok(TrustRow {
            name: r.try_get("trust_name")?,
            trust_type: t
                .parse()
                .map_err(|e| sqlx::Error::Decode(format!("stored trust type: {e}").into()))?,
            region: r.try_get("region")?,
        })
    })
    .transpose()
}

fn stored_date(s: &str) -> sqlx::Result<NaiveDate> {
    decode(NaiveDate::parse_from_str(s, "%Y-%m-%d"), "date")
}

/// Quality-statement scores as stored: comma-separated (`"4,3,2"`), `""` for none.
fn scores_text(scores: &[QualityStatementScore]) -> String {
    scores
        .iter()
        .map(|s| s.get().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn stored_scores(s: &str) -> sqlx::Result<Vec<QualityStatementScore>> {
    if s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|v| {
            let n = decode(v.trim().parse::<i64>(), "quality statement score")?;
            decode(
                QualityStatementScore::new(n, "statement_scores"),
                "quality statement score",
            )
        })
        .collect()
}

fn decode<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> sqlx::Result<T> {
    r.map_err(|e| sqlx::Error::Decode(format!("stored {what} is invalid: {e}").into()))
}

/// A stored location id: `None` for `""` (a trust-wide service).
pub fn stored_location(s: &str) -> sqlx::Result<Option<LocationId>> {
    if s.is_empty() {
        Ok(None)
    } else {
        decode(s.parse(), "location id").map(Some)
    }
}

/// A trust's key question × service ratings, ordered by location, service, key question and
/// report date (the order [`cqc_rules::TrustRecords`] reads them in).
pub async fn service_ratings(pool: &AnyPool, trust: &TrustCode) -> sqlx::Result<Vec<RatingRecord>> {
    let rows = sqlx::query(
        "SELECT location_id, location_name, service_id, key_question, rating, report_date, statement_scores
         FROM cqc_service_ratings WHERE trust_code = $1 ORDER BY location_id, service_id, key_question, report_date",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let location_id: String = r.try_get("location_id")?;
            let service: String = r.try_get("service_id")?;
            let kq: String = r.try_get("key_question")?;
            let rating: String = r.try_get("rating")?;
            let date: String = r.try_get("report_date")?;
            let scores: String = r.try_get("statement_scores")?;
            Ok(RatingRecord {
                location: stored_location(&location_id)?,
                location_name: r.try_get("location_name")?,
                service: decode(service.parse(), "service id")?,
                rating: KqServiceRating {
                    key_question: decode(kq.parse(), "key question")?,
                    rating: decode(rating.parse(), "rating")?,
                    report_date: stored_date(&date)?,
                    limiter: None,
                    statement_scores: stored_scores(&scores)?,
                },
            })
        })
        .collect()
}

/// A trust's well-led assessments, oldest first.
pub async fn well_led_assessments(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Vec<WellLedAssessment>> {
    let rows = sqlx::query(
        "SELECT report_date, rating, statement_scores FROM cqc_well_led_assessments WHERE trust_code = $1 ORDER BY report_date",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let date: String = r.try_get("report_date")?;
            let rating: String = r.try_get("rating")?;
            let scores: String = r.try_get("statement_scores")?;
            Ok(WellLedAssessment {
                rating: decode(rating.parse(), "rating")?,
                report_date: stored_date(&date)?,
                statement_scores: stored_scores(&scores)?,
            })
        })
        .collect()
}

/// The kind of a limiter as stored (`requirement_notice`, `warning_notice`, `condition`).
fn action_kind_str(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::RequirementNotice => "requirement_notice",
        ActionKind::WarningNotice => "warning_notice",
        ActionKind::Condition => "condition",
    }
}

fn stored_action_kind(s: &str) -> sqlx::Result<ActionKind> {
    decode(
        match s {
            "requirement_notice" => Ok(ActionKind::RequirementNotice),
            "warning_notice" => Ok(ActionKind::WarningNotice),
            "condition" => Ok(ActionKind::Condition),
            _ => Err(format!("unknown kind {s:?}")),
        },
        "enforcement kind",
    )
}

/// An enforcement action or requirement notice on a key question × service (DOMAIN.md §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcementActionRow {
    /// `""` for a trust-wide service of a trust without a location level.
    pub location_id: String,
    pub service_id: ServiceId,
    pub key_question: KeyQuestion,
    pub kind: ActionKind,
    pub reason: String,
    pub action_date: NaiveDate,
    pub recorded_by: String,
}

/// A service from a previously separate organisation (DOMAIN.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedServiceRow {
    pub location_id: String,
    pub service_id: ServiceId,
    pub exclusion: MergedExclusion,
    pub recorded_by: String,
}

/// An inspection report of one location (or of a trust's trust-wide services: `location_id` "").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectionRow {
    pub location_id: String,
    pub location_name: String,
    pub report_date: NaiveDate,
    pub inspection_id: String,
    pub rating_count: usize,
    pub recorded_by: String,
}

/// An entity's stored columns besides the trust: `(entity_kind, location_id, service_id)`, with
/// `""` for a location or service it does not have.
fn entity_columns(e: &Entity) -> (&'static str, String, String) {
    (
        e.kind().as_str(),
        e.location().map(ToString::to_string).unwrap_or_default(),
        e.service().map(ToString::to_string).unwrap_or_default(),
    )
}

/// An entity of `trust` from its stored columns (see [`entity_columns`]).
fn stored_entity(
    trust: &TrustCode,
    kind: &str,
    location_id: &str,
    service_id: &str,
) -> Result<Entity, String> {
    let kind = EntityKind::parse(kind).ok_or(format!("unknown entity kind {kind:?}"))?;
    Ok(match kind {
        EntityKind::Trust => Entity::Trust(trust.clone()),
        EntityKind::Location => Entity::Location(
            optional(location_id, "location id")?.ok_or("location id: missing for a location")?,
        ),
        EntityKind::Service => Entity::Service {
            trust: trust.clone(),
            location: optional(location_id, "location id")?,
            service: parsed(service_id, "service id")?,
        },
    })
}

pub fn stage_str(s: Stage) -> &'static str {
    match s {
        Stage::Draft => "draft",
        Stage::Final => "final",
    }
}

fn parse_stage(s: &str) -> Option<Stage> {
    match s {
        "draft" => Some(Stage::Draft),
        "final" => Some(Stage::Final),
        _ => None,
    }
}

/// One recorded decision (a row of the append-only judgement history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgementRow {
    /// The trust the decision belongs to (a location's too).
    pub trust: TrustCode,
    pub entity: Entity,
    /// `None`: the overall rating.
    pub key_question: Option<KeyQuestion>,
    /// 1, 2, … per entity and key question.
    pub sequence: i64,
    /// What the rules computed (`None`: no rating).
    pub computed: Option<Rating>,
    pub published: Rating,
    /// `""` when the decision follows the rules.
    pub rationale: String,
    pub stage: Stage,
    pub decided_on: NaiveDate,
    pub recorded_by: String,
    pub recorded_at: String,
}

pub async fn upsert_inspection(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    i: &InspectionRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_inspections (trust_code, location_id, report_date, inspection_id, location_name, rating_count, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (trust_code, location_id, report_date) DO UPDATE SET
            inspection_id = excluded.inspection_id, location_name = excluded.location_name,
            rating_count = excluded.rating_count, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(trust.as_str())
    .bind(&i.location_id)
    .bind(i.report_date.to_string())
    .bind(&i.inspection_id)
    .bind(&i.location_name)
    .bind(i64::try_from(i.rating_count).unwrap_or(i64::MAX))
    .bind(&i.recorded_by)
    .bind(oversight_runtime::time::now_rfc3339())
    .execute(conn)
    .await?;
    Ok(())
}

/// The inspections recorded for a trust: `(location_id, report_date, rating_count)`, oldest first.
pub async fn inspections(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Vec<(String, NaiveDate, i64)>> {
    let rows = sqlx::query(
        "SELECT location_id, report_date, rating_count FROM cqc_inspections WHERE trust_code = $1 ORDER BY report_date, location_id",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let date: String = r.try_get("report_date")?;
            Ok((
                r.try_get("location_id")?,
                stored_date(&date)?,
                r.try_get("rating_count")?,
            ))
        })
        .collect()
}

/// Record an enforcement action; recording the same action again replaces its reason.
pub async fn upsert_enforcement_action(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    a: &EnforcementActionRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_enforcement_actions (trust_code, location_id, service_id, key_question, action_date, kind, reason, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (trust_code, location_id, service_id, key_question, action_date, kind)
         DO UPDATE SET reason = excluded.reason, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(trust.as_str())
    .bind(&a.location_id)
    .bind(a.service_id.as_str())
    .bind(a.key_question.camel())
    .bind(a.action_date.to_string())
    .bind(action_kind_str(a.kind))
    .bind(&a.reason)
    .bind(&a.recorded_by)
    .bind(oversight_runtime::time::now_rfc3339())
    .execute(conn)
    .await?;
    Ok(())
}

/// A trust's enforcement actions, oldest first (on one date, by location, service, key question
/// and kind).
pub async fn enforcement_actions(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Vec<ActionRecord>> {
    let rows = sqlx::query(
        "SELECT location_id, service_id, key_question, action_date, kind, reason
         FROM cqc_enforcement_actions WHERE trust_code = $1
         ORDER BY action_date, location_id, service_id, key_question, kind",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let location_id: String = r.try_get("location_id")?;
            let service: String = r.try_get("service_id")?;
            let kq: String = r.try_get("key_question")?;
            let date: String = r.try_get("action_date")?;
            let kind: String = r.try_get("kind")?;
            Ok(ActionRecord {
                location: stored_location(&location_id)?,
                service: decode(service.parse(), "service id")?,
                key_question: decode(kq.parse(), "key question")?,
                kind: stored_action_kind(&kind)?,
                reason: r.try_get("reason")?,
                action_date: stored_date(&date)?,
            })
        })
        .collect()
}

/// The date of a trust's latest enforcement action, if any.
pub async fn latest_action_date(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Option<NaiveDate>> {
    let row = sqlx::query(
        "SELECT MAX(action_date) AS latest FROM cqc_enforcement_actions WHERE trust_code = $1",
    )
    .bind(trust.as_str())
    .fetch_one(pool)
    .await?;
    let latest: Option<String> = row.try_get("latest")?;
    latest.map(|d| stored_date(&d)).transpose()
}

/// The rating of a key question × service standing on `on`: `(rating, report date)` of the latest
/// report on or before it.
pub async fn rating_on(
    pool: &AnyPool,
    trust: &TrustCode,
    location_id: &str,
    service_id: &ServiceId,
    key_question: KeyQuestion,
    on: NaiveDate,
) -> sqlx::Result<Option<(RatingValue, NaiveDate)>> {
    // An empty location names a trust-wide service, wherever it was registered.
    // `$2 = $2` keeps the placeholders numbered the same in both forms.
    let location_filter = if location_id.is_empty() {
        "($2 = $2)"
    } else {
        "location_id = $2"
    };
    // Asserted SQL safe: the filter is one of the two constants above; values are only bound.
    let sql = AssertSqlSafe(format!(
        "SELECT rating, report_date FROM cqc_service_ratings
         WHERE trust_code = $1 AND {location_filter} AND service_id = $3 AND key_question = $4 AND report_date <= $5
         ORDER BY report_date DESC LIMIT 1"
    ));
    let row = sqlx::query(sql)
        .bind(trust.as_str())
        .bind(location_id)
        .bind(service_id.as_str())
        .bind(key_question.camel())
        .bind(on.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        let rating: String = r.try_get("rating")?;
        let date: String = r.try_get("report_date")?;
        Ok((decode(rating.parse(), "rating")?, stored_date(&date)?))
    })
    .transpose()
}

/// Record (or replace) a merged-organisation exclusion for a service.
pub async fn upsert_merged_service(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    m: &MergedServiceRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_merged_services (trust_code, location_id, service_id, organisation, merged_on, until_date, reason, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (trust_code, location_id, service_id) DO UPDATE SET
            organisation = excluded.organisation, merged_on = excluded.merged_on, until_date = excluded.until_date,
            reason = excluded.reason, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(trust.as_str())
    .bind(&m.location_id)
    .bind(m.service_id.as_str())
    .bind(&m.exclusion.organisation)
    .bind(m.exclusion.merged_on.to_string())
    .bind(m.exclusion.until.map(|d| d.to_string()).unwrap_or_default())
    .bind(&m.exclusion.reason)
    .bind(&m.recorded_by)
    .bind(oversight_runtime::time::now_rfc3339())
    .execute(conn)
    .await?;
    Ok(())
}

/// A trust's merged-organisation exclusions.
///
/// A row stored before the merger date was required (`merged_on` '') cannot be capped at two
/// years, so it is not applied: it is logged and the service counts at trust level until the
/// exclusion is recorded again with its merger date (which replaces the row).
pub async fn merged_services(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Vec<MergedServiceRow>> {
    let rows = sqlx::query(
        "SELECT location_id, service_id, organisation, merged_on, until_date, reason, recorded_by
         FROM cqc_merged_services WHERE trust_code = $1 ORDER BY location_id, service_id",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let location_id: String = r.try_get("location_id")?;
        let service: String = r.try_get("service_id")?;
        let merged_on: String = r.try_get("merged_on")?;
        let until: String = r.try_get("until_date")?;
        let optional = |s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                stored_date(s).map(Some)
            }
        };
        let exclusion = MergedExclusion::new(
            r.try_get::<String, _>("organisation")?,
            optional(&merged_on)?,
            optional(&until)?,
            r.try_get::<String, _>("reason")?,
        );
        match exclusion {
            Ok(exclusion) => out.push(MergedServiceRow {
                location_id,
                service_id: decode(service.parse(), "service id")?,
                exclusion,
                recorded_by: r.try_get("recorded_by")?,
            }),
            Err(e) => tracing::warn!(
                trust = %trust, location = %location_id, service = %service, error = %e,
                "stored merged-service exclusion not applied"
            ),
        }
    }
    Ok(out)
}

/// The next sequence number of an entity's key question history (1 for the first decision).
pub async fn next_judgement_sequence(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    entity: &Entity,
    key_question: Option<KeyQuestion>,
) -> sqlx::Result<i64> {
    let (kind, location_id, service_id) = entity_columns(entity);
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM cqc_judgements
         WHERE trust_code = $1 AND entity_kind = $2 AND location_id = $3 AND service_id = $4 AND key_question = $5",
    )
    .bind(trust.as_str())
    .bind(kind)
    .bind(location_id)
    .bind(service_id)
    .bind(key_question.map_or("", KeyQuestion::camel))
    .fetch_one(conn)
    .await?;
    let n: i64 = row.try_get("n")?;
    Ok(n + 1)
}

/// Append a decision. History rows are never updated: the primary key rejects a reused sequence.
pub async fn insert_judgement(conn: &mut AnyConnection, j: &JudgementRow) -> sqlx::Result<()> {
    let (kind, location_id, service_id) = entity_columns(&j.entity);
    sqlx::query(
        "INSERT INTO cqc_judgements (trust_code, entity_kind, location_id, service_id, key_question, sequence,
            computed, published, rationale, stage, decided_on, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(j.trust.as_str())
    .bind(kind)
    .bind(location_id)
    .bind(service_id)
    .bind(j.key_question.map_or("", KeyQuestion::camel))
    .bind(j.sequence)
    .bind(j.computed.map_or("", Rating::cqc_str))
    .bind(j.published.cqc_str())
    .bind(&j.rationale)
    .bind(stage_str(j.stage))
    .bind(j.decided_on.to_string())
    .bind(&j.recorded_by)
    .bind(&j.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recorded decisions, of one trust or of all, ordered by trust, entity, key question and
/// sequence (so each history is contiguous and oldest first).
pub async fn judgements(
    pool: &AnyPool,
    trust: Option<&TrustCode>,
) -> sqlx::Result<Vec<JudgementRow>> {
    const COLUMNS: &str =
        "SELECT trust_code, entity_kind, location_id, service_id, key_question, sequence, computed,
            published, rationale, stage, decided_on, recorded_by, recorded_at FROM cqc_judgements";
    const ORDER: &str =
        "ORDER BY trust_code, entity_kind, location_id, service_id, key_question, sequence";
    // Asserted SQL safe: made of the constants above; values are only ever bound.
    let sql = |filter: &str| AssertSqlSafe(format!("{COLUMNS} {filter} {ORDER}"));
    let rows = match trust {
        Some(t) => {
            sqlx::query(sql("WHERE trust_code = $1"))
                .bind(t.as_str())
                .fetch_all(pool)
                .await?
        }
        None => sqlx::query(sql("")).fetch_all(pool).await?,
    };
    rows.iter().map(judgement_row).collect()
}

/// A stored decision. A row that does not decode (never written by this service) is an error
/// naming the row by its key.
fn judgement_row(r: &sqlx::any::AnyRow) -> sqlx::Result<JudgementRow> {
    let trust: String = r.try_get("trust_code")?;
    let kind: String = r.try_get("entity_kind")?;
    let location_id: String = r.try_get("location_id")?;
    let service_id: String = r.try_get("service_id")?;
    let kq: String = r.try_get("key_question")?;
    let sequence: i64 = r.try_get("sequence")?;
    let computed: String = r.try_get("computed")?;
    let published: String = r.try_get("published")?;
    let stage: String = r.try_get("stage")?;
    let decided_on: String = r.try_get("decided_on")?;
    let rationale: String = r.try_get("rationale")?;
    let recorded_by: String = r.try_get("recorded_by")?;
    let recorded_at: String = r.try_get("recorded_at")?;
    let decoded = || -> Result<JudgementRow, String> {
        let trust: TrustCode = parsed(&trust, "trust code")?;
        Ok(JudgementRow {
            entity: stored_entity(&trust, &kind, &location_id, &service_id)?,
            trust,
            key_question: optional(&kq, "key question")?,
            sequence,
            computed: optional(&computed, "computed rating")?,
            published: parsed(&published, "published rating")?,
            rationale,
            stage: parse_stage(&stage).ok_or(format!("stage: unknown stage {stage:?}"))?,
            decided_on: NaiveDate::parse_from_str(&decided_on, "%Y-%m-%d")
                .map_err(|e| format!("decided_on: {e}"))?,
            recorded_by,
            recorded_at,
        })
    };
    decoded().map_err(|e| {
        sqlx::Error::Decode(
            format!(
                "stored judgement (trust {trust:?}, {kind} {location_id:?} {service_id:?}, key question {kq:?}, sequence {sequence}) is invalid: {e}"
            )
            .into(),
        )
    })
}

/// A stored value, or what is wrong with it.
fn parsed<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("{what}: {e}"))
}

/// A stored value that may be absent (`""`).
fn optional<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    if s.is_empty() {
        Ok(None)
    } else {
        parsed(s, what).map(Some)
    }
}

/// One recorded "significantly small" decision (DOMAIN.md §2.1), a row of the append-only history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignificantlySmallRow {
    /// `""` for a trust-wide service of a trust without a location level.
    pub location_id: String,
    pub service_id: ServiceId,
    /// 1, 2, … per service.
    pub sequence: i64,
    pub decision: SignificantlySmall,
    pub recorded_at: String,
}

/// The next sequence number of a service's "significantly small" history (1 for the first).
pub async fn next_significantly_small_sequence(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    location_id: &str,
    service_id: &ServiceId,
) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM cqc_significantly_small_services
         WHERE trust_code = $1 AND location_id = $2 AND service_id = $3",
    )
    .bind(trust.as_str())
    .bind(location_id)
    .bind(service_id.as_str())
    .fetch_one(conn)
    .await?;
    let n: i64 = row.try_get("n")?;
    Ok(n + 1)
}

/// Append a "significantly small" decision. Rows are never updated: the primary key rejects a
/// reused sequence.
pub async fn insert_significantly_small(
    conn: &mut AnyConnection,
    trust: &TrustCode,
    s: &SignificantlySmallRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO cqc_significantly_small_services (trust_code, location_id, service_id, sequence,
            from_date, until_date, reason, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(trust.as_str())
    .bind(&s.location_id)
    .bind(s.service_id.as_str())
    .bind(s.sequence)
    .bind(s.decision.from.to_string())
    .bind(s.decision.until.map(|d| d.to_string()).unwrap_or_default())
    .bind(&s.decision.reason)
    .bind(&s.decision.recorded_by)
    .bind(&s.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A trust's "significantly small" decisions, ordered by location, service and sequence (each
/// service's history contiguous, in the order recorded).
pub async fn significantly_small_services(
    pool: &AnyPool,
    trust: &TrustCode,
) -> sqlx::Result<Vec<SignificantlySmallRow>> {
    let rows = sqlx::query(
        "SELECT location_id, service_id, sequence, from_date, until_date, reason, recorded_by, recorded_at
         FROM cqc_significantly_small_services WHERE trust_code = $1
         ORDER BY location_id, service_id, sequence",
    )
    .bind(trust.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let service: String = r.try_get("service_id")?;
            let from: String = r.try_get("from_date")?;
            let until: String = r.try_get("until_date")?;
            let until = if until.is_empty() {
                None
            } else {
                Some(stored_date(&until)?)
            };
            let decision = SignificantlySmall::new(
                stored_date(&from)?,
                until,
                r.try_get::<String, _>("reason")?,
                r.try_get::<String, _>("recorded_by")?,
            );
            Ok(SignificantlySmallRow {
                location_id: r.try_get("location_id")?,
                service_id: decode(service.parse(), "service id")?,
                sequence: r.try_get("sequence")?,
                decision: decode(decision, "significantly small decision")?,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of entity is stored as columns that decode to the same entity; a kind or id
    /// that does not decode is refused, never guessed.
    #[test]
    fn stored_entities_decode_to_what_was_stored() {
        let trust: TrustCode = "RXX".parse().unwrap();
        let location: LocationId = "RXX01".parse().unwrap();
        let service: ServiceId = "urgent".parse().unwrap();
        for entity in [
            Entity::Trust(trust.clone()),
            Entity::Location(location.clone()),
            Entity::Service {
                trust: trust.clone(),
                location: Some(location.clone()),
                service: service.clone(),
            },
            Entity::Service {
                trust: trust.clone(),
                location: None,
                service: service.clone(),
            },
        ] {
            let (kind, location_id, service_id) = entity_columns(&entity);
            assert_eq!(EntityKind::parse(kind), Some(entity.kind()), "{entity:?}");
            assert_eq!(
                stored_entity(&trust, kind, &location_id, &service_id),
                Ok(entity.clone())
            );
        }
        assert_eq!(EntityKind::parse("ward"), None);
        assert!(stored_entity(&trust, "ward", "", "").is_err());
        assert!(stored_entity(&trust, "location", "", "").is_err());
        assert!(stored_entity(&trust, "location", "not a location!", "").is_err());
        assert!(stored_entity(&trust, "service", "RXX01", "").is_err());
    }
}
