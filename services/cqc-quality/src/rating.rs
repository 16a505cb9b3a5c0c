//! The service's core: store quality evidence, re-rate the trusts it touches with the CQC rules,
//! and publish a new version of a trust's quality rating when (and only when) it changed.

use chrono::NaiveDate;
use cqc_rules::publish::{self, PublishedOverall, PublishedRating};
use cqc_rules::{
    Entity, Judgement, MergedRecord, RatedResult, RuleSet, SmallServiceRecord, TrustEvidence,
    TrustQuality, TrustRecords, TrustType,
};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::quality::v1 as pb;
use oversight_rating::{KeyQuestion, KeyQuestionMap, TrustCode};
use oversight_runtime::Subjects;
use oversight_runtime::outbox::{NewEvent, Outbox, fingerprint};
use prost::Message;
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::commands::{
    EnforcementAction, Evidence, Inspection, MergedService, PublishedDecision, SmallService,
    WellLed,
};
use crate::error::invalid;
pub use crate::error::{InvalidEvidence, RecordError};
use crate::judging;
use crate::store::{
    self, EnforcementActionRow, InspectionRow, JudgementRow, MergedServiceRow, ServiceRatingRow,
    SignificantlySmallRow,
};

/// The outcome of a recorded change: the trust's latest published rating, and the version this
/// change published (`None`: the ratings did not change).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub rating: Option<pb::QualityRatingIssued>,
    pub published_version: Option<u64>,
}

/// A trust's ratings as of a date: the rules' result and the decisions recorded by then.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsView {
    pub trust_name: String,
    pub quality: TrustQuality,
    pub decisions: Vec<JudgementRow>,
    /// "Significantly small" decisions started on or before the date, in the order recorded.
    pub significantly_small: Vec<SignificantlySmallRow>,
}

/// A recorded "significantly small" decision: the row, the history of its service, and the
/// outcome of the re-rating.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSmall {
    pub row: SignificantlySmallRow,
    pub history: Vec<SignificantlySmallRow>,
    pub recorded: Recorded,
}

pub struct Rater {
    pool: AnyPool,
    outbox: Outbox,
    subjects: Subjects,
    rule_set: Option<String>,
    /// Re-rating a trust is one at a time per trust (striped by trust code), so versions of one
    /// trust are appended in order while other trusts are re-rated beside it.
    rerating: Vec<Mutex<()>>,
}

/// Stripes of the per-trust re-rating lock.
const RERATE_STRIPES: usize = 16;

pub fn dated(r: &RatedResult) -> common::DatedRating {
    convert::dated(r.rating, r.date, &r.explanation)
}

pub fn kq_ratings(map: &KeyQuestionMap<RatedResult>) -> Vec<common::KeyQuestionRating> {
    KeyQuestion::ALL
        .iter()
        .filter_map(|kq| {
            map.get(kq).map(|r| common::KeyQuestionRating {
                key_question: common::KeyQuestion::from(*kq) as i32,
                rating: Some(dated(r)),
            })
        })
        .collect()
}

/// The wire form of a trust's quality rating (without version and timestamps).
pub fn to_event(q: &TrustQuality, trust_name: &str, region: &str) -> pb::QualityRatingIssued {
    pb::QualityRatingIssued {
        event_id: String::new(),
        trust_code: q.trust.to_string(),
        trust_name: trust_name.to_string(),
        trust_type: common::TrustType::from(q.trust_type) as i32,
        version: 0,
        rule_set: q.rule_set.clone(),
        key_questions: kq_ratings(&q.key_questions),
        overall: Some(dated(&q.overall)),
        issued_at: None,
        locations: q
            .locations
            .iter()
            .map(|l| pb::LocationRating {
                location_id: l.id.to_string(),
                name: l.name.clone().unwrap_or_default(),
                key_questions: kq_ratings(&l.key_questions),
                overall: Some(dated(&l.overall)),
            })
            .collect(),
        region: region.to_string(),
        overall_key_questions: q
            .overall_beneath
            .as_ref()
            .map(kq_ratings)
            .unwrap_or_default(),
    }
}

impl Rater {
    pub fn new(
        pool: AnyPool,
        outbox: Outbox,
        subjects: Subjects,
        rule_set: Option<String>,
    ) -> Self {
        Rater {
            pool,
            outbox,
            subjects,
            rule_set,
            rerating: (0..RERATE_STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The re-rating lock of a trust.
    fn rerate_lock(&self, trust: &TrustCode) -> &Mutex<()> {
        &self.rerating[oversight_runtime::consumer::lane_of(trust.as_str(), self.rerating.len())]
    }

    /// Store the validated evidence of a queue batch, all in one transaction.
    pub(crate) async fn store_evidence(&self, evidence: &[Evidence]) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for e in evidence {
            store::upsert_trust(&mut tx, &e.trust, &e.trust_name, e.trust_type, &e.region).await?;
            store::upsert_service_ratings(&mut tx, &e.trust, &e.rows).await?;
            for (rating, date) in &e.well_led {
                store::upsert_well_led(&mut tx, &e.trust, *rating, *date, &[], &e.evidence_id)
                    .await?;
            }
        }
        tx.commit().await
    }

    /// Re-rate a trust whose evidence a queue batch stored: append a new version to the outbox
    /// if its ratings changed, without publishing (the consumer publishes once for the batch).
    pub(crate) async fn rerate_queued(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let _one_at_a_time = self.rerate_lock(trust).lock().await;
        self.rerate_unpublished(trust).await
    }

    /// The name and type of a known trust.
    async fn known_trust(&self, trust: &TrustCode) -> Result<(String, TrustType), RecordError> {
        store::trust(&self.pool, trust)
            .await?
            .map(|t| (t.name, t.trust_type))
            .ok_or_else(|| RecordError::NotFound(format!("trust_code: unknown trust {trust}")))
    }

    /// Record an inspection's key question × service ratings (from the gRPC API) and re-rate.
    pub async fn record_inspection(
        &self,
        cmd: &Inspection,
        recorded_by: &str,
    ) -> Result<Recorded, RecordError> {
        let trust_type = match (store::trust(&self.pool, &cmd.trust).await?, &cmd.register) {
            (Some(known), _) => known.trust_type,
            (None, Some((_, t))) => *t,
            (None, None) => {
                return Err(RecordError::NotFound(format!(
                    "trust_code: unknown trust {} (give trust_type to register it)",
                    cmd.trust
                )));
            }
        };
        Self::check_location(trust_type, &cmd.location_id)?;
        let inspection_id = format!(
            "inspection:{}/{}/{}",
            cmd.trust, cmd.location_id, cmd.report_date
        );
        let mut tx = self.pool.begin().await?;
        let name = cmd.register.as_ref().map_or("", |(n, _)| n.as_str());
        store::upsert_trust(&mut tx, &cmd.trust, name, Some(trust_type), "").await?;
        store::upsert_inspection(
            &mut tx,
            &cmd.trust,
            &InspectionRow {
                location_id: cmd.location_id.clone(),
                location_name: cmd.location_name.clone(),
                report_date: cmd.report_date,
                inspection_id: inspection_id.clone(),
                rating_count: cmd.ratings.len(),
                recorded_by: recorded_by.to_string(),
            },
        )
        .await?;
        for finding in &cmd.ratings {
            let row = ServiceRatingRow {
                location_id: cmd.location_id.clone(),
                location_name: cmd.location_name.clone(),
                service_id: finding.service.to_string(),
                key_question: finding.key_question,
                rating: finding.rating,
                report_date: cmd.report_date,
                evidence_id: inspection_id.clone(),
                statement_scores: finding.statement_scores.clone(),
            };
            store::upsert_service_rating(&mut tx, &cmd.trust, &row).await?;
        }
        tx.commit().await?;
        self.rerate_and_report(&cmd.trust).await
    }

    /// Record a trust-level well-led assessment (from the gRPC API) and re-rate.
    pub async fn record_well_led(
        &self,
        cmd: &WellLed,
        recorded_by: &str,
    ) -> Result<Recorded, RecordError> {
        self.known_trust(&cmd.trust).await?;
        let mut tx = self.pool.begin().await?;
        store::upsert_well_led(
            &mut tx,
            &cmd.trust,
            cmd.rating,
            cmd.report_date,
            &cmd.statement_scores,
            &format!("grpc:{recorded_by}"),
        )
        .await?;
        tx.commit().await?;
        self.rerate_and_report(&cmd.trust).await
    }

    /// Record an enforcement action or requirement notice and re-rate. It limits the rating of
    /// the key question × service that stands on the action date; without one there is nothing to
    /// limit (`FAILED_PRECONDITION`).
    pub async fn record_enforcement_action(
        &self,
        cmd: &EnforcementAction,
        recorded_by: &str,
    ) -> Result<Recorded, RecordError> {
        let (_, trust_type) = self.known_trust(&cmd.trust).await?;
        Self::check_location(trust_type, &cmd.location_id)?;
        let location_id = cmd.location_id.clone();
        let standing = store::rating_on(
            &self.pool,
            &cmd.trust,
            &location_id,
            &cmd.service_id,
            cmd.key_question,
            cmd.action_date,
        )
        .await?;
        if standing.is_none() {
            return Err(RecordError::FailedPrecondition(format!(
                "no {} {} rating of service {} at location {:?} of trust {} on or before {}: nothing to limit",
                cmd.service_id,
                cmd.key_question,
                cmd.service_id,
                location_id,
                cmd.trust,
                cmd.action_date
            )));
        }
        let row = EnforcementActionRow {
            location_id,
            service_id: cmd.service_id.clone(),
            key_question: cmd.key_question,
            kind: cmd.kind,
            reason: cmd.reason.clone(),
            action_date: cmd.action_date,
            recorded_by: recorded_by.to_string(),
        };
        let mut tx = self.pool.begin().await?;
        store::upsert_enforcement_action(&mut tx, &cmd.trust, &row).await?;
        tx.commit().await?;
        self.rerate_and_report(&cmd.trust).await
    }

    /// Record a merged-organisation exclusion for a service and re-rate.
    pub async fn record_merged_service(
        &self,
        cmd: &MergedService,
        recorded_by: &str,
    ) -> Result<Recorded, RecordError> {
        let (_, trust_type) = self.known_trust(&cmd.trust).await?;
        Self::check_location(trust_type, &cmd.location_id)?;
        let location_id = cmd.location_id.clone();
        let row = MergedServiceRow {
            location_id,
            service_id: cmd.service_id.clone(),
            exclusion: cmd.exclusion.clone(),
            recorded_by: recorded_by.to_string(),
        };
        let mut tx = self.pool.begin().await?;
        store::upsert_merged_service(&mut tx, &cmd.trust, &row).await?;
        tx.commit().await?;
        self.rerate_and_report(&cmd.trust).await
    }

    /// Record a "significantly small" decision about a service (DOMAIN.md §2.1), re-rate and
    /// publish a new version if the ratings changed. The service must have ratings at the
    /// location (`INVALID_ARGUMENT` naming `location_id` for a location the trust has no ratings
    /// at, `service_id` for a service not rated there). Decisions are appended, never
    /// overwritten.
    pub async fn record_significantly_small(
        &self,
        cmd: &SmallService,
    ) -> Result<RecordedSmall, RecordError> {
        let _one_at_a_time = self.rerate_lock(&cmd.trust).lock().await;
        let (_, trust_type) = self.known_trust(&cmd.trust).await?;
        Self::check_location(trust_type, &cmd.location_id)?;
        let location = store::stored_location(&cmd.location_id)?;
        let ratings = store::service_ratings(&self.pool, &cmd.trust).await?;
        // An empty location names a trust-wide service, wherever it was registered.
        let at = |r: &&cqc_rules::RatingRecord| location.is_none() || r.location == location;
        if !ratings.iter().any(|r| at(&r)) {
            return Err(invalid(
                "location_id",
                format!(
                    "unknown location {}: trust {} has no ratings there",
                    cmd.location_id, cmd.trust
                ),
            )
            .into());
        }
        if !ratings
            .iter()
            .filter(at)
            .any(|r| r.service == cmd.service_id)
        {
            return Err(invalid(
                "service_id",
                format!(
                    "unknown service {}: not rated at location {:?} of trust {}",
                    cmd.service_id, cmd.location_id, cmd.trust
                ),
            )
            .into());
        }
        let mut tx = self.pool.begin().await?;
        let sequence = store::next_significantly_small_sequence(
            &mut tx,
            &cmd.trust,
            &cmd.location_id,
            &cmd.service_id,
        )
        .await?;
        let row = SignificantlySmallRow {
            location_id: cmd.location_id.clone(),
            service_id: cmd.service_id.clone(),
            sequence,
            decision: cmd.decision.clone(),
            recorded_at: oversight_runtime::time::now_rfc3339(),
        };
        store::insert_significantly_small(&mut tx, &cmd.trust, &row).await?;
        tx.commit().await?;
        tracing::info!(trust = %cmd.trust, location = %row.location_id, service = %row.service_id,
            from = %row.decision.from, until = ?row.decision.until,
            "significantly small service recorded");
        let version = self.rerate_locked(&cmd.trust).await?;
        let history = store::significantly_small_services(&self.pool, &cmd.trust)
            .await?
            .into_iter()
            .filter(|s| s.location_id == row.location_id && s.service_id == row.service_id)
            .collect();
        let recorded = self.report(&cmd.trust, version).await?;
        Ok(RecordedSmall {
            row,
            history,
            recorded,
        })
    }

    /// Record a published (or draft) decision beside the rating the rules compute as of its date.
    /// A departure without a rationale is rejected naming `rationale`. Decisions are appended,
    /// never overwritten; returns the decision, the history of its entity and key question, and
    /// the outcome of the re-rating (a final decision changes what is published).
    pub async fn record_decision(
        &self,
        cmd: &PublishedDecision,
        recorded_by: &str,
    ) -> Result<(JudgementRow, Vec<JudgementRow>, Recorded), RecordError> {
        let trust = &cmd.trust;
        let _one_at_a_time = self.rerate_lock(trust).lock().await;
        let (_, trust_type) = self.known_trust(trust).await?;
        let mut entity = cmd.entity.clone();
        if let Entity::Service { location, .. } = &mut entity
            && !trust_type.has_location_level()
        {
            // Services of trusts without a location level are trust-wide.
            *location = None;
        }
        // What the rules compute here: with CQC's earlier final decisions about other ratings of
        // the trust flowing up into it (§2.4), not this rating's own.
        let others: Vec<JudgementRow> = store::judgements(&self.pool, Some(trust))
            .await?
            .into_iter()
            .filter(|j| !(j.entity == entity && j.key_question == cmd.key_question))
            .collect();
        let others = judging::judgements(&others);
        let quality = self
            .compute(
                trust,
                trust_type,
                Some(cmd.decided_on),
                Some((&others, Some(cmd.decided_on))),
            )
            .await?;
        let computed = quality
            .rating_of(&entity, cmd.key_question)
            .ok_or_else(|| {
                RecordError::NotFound(format!(
                    "entity: {} of trust {trust} has no ratings on or before {}",
                    describe(&entity),
                    cmd.decided_on
                ))
            })?;
        // The rules decide whether this is a departure, and reject one without a rationale.
        Judgement::new(
            entity.clone(),
            cmd.key_question,
            computed,
            cmd.published,
            cmd.rationale.clone(),
            cmd.stage,
            cmd.decided_on,
        )?;
        let mut tx = self.pool.begin().await?;
        let sequence =
            store::next_judgement_sequence(&mut tx, trust, &entity, cmd.key_question).await?;
        let row = JudgementRow {
            trust: trust.clone(),
            entity,
            key_question: cmd.key_question,
            sequence,
            computed,
            published: cmd.published,
            rationale: cmd.rationale.clone().unwrap_or_default(),
            stage: cmd.stage,
            decided_on: cmd.decided_on,
            recorded_by: recorded_by.to_string(),
            recorded_at: oversight_runtime::time::now_rfc3339(),
        };
        store::insert_judgement(&mut tx, &row).await?;
        tx.commit().await?;
        tracing::info!(trust = %trust, entity = %describe(&row.entity),
            key_question = ?row.key_question, published = %row.published, stage = ?row.stage,
            departs = judging::is_departure(&row), "decision recorded");
        let version = self.rerate_locked(trust).await?;
        let history = store::judgements(&self.pool, Some(trust))
            .await?
            .into_iter()
            .filter(|j| j.entity == row.entity && j.key_question == row.key_question)
            .collect();
        let recorded = self.report(trust, version).await?;
        Ok((row, history, recorded))
    }

    /// A trust's ratings as of `as_of` (by default as of its latest evidence), with every decision
    /// recorded by then.
    pub async fn ratings(
        &self,
        trust: &TrustCode,
        as_of: Option<NaiveDate>,
    ) -> Result<RatingsView, RecordError> {
        let (trust_name, trust_type) = self.known_trust(trust).await?;
        let quality = self.compute(trust, trust_type, as_of, None).await?;
        let decisions = store::judgements(&self.pool, Some(trust))
            .await?
            .into_iter()
            .filter(|j| j.decided_on <= quality.as_of)
            .collect();
        let significantly_small = store::significantly_small_services(&self.pool, trust)
            .await?
            .into_iter()
            .filter(|s| s.decision.from <= quality.as_of)
            .collect();
        Ok(RatingsView {
            trust_name,
            quality,
            decisions,
            significantly_small,
        })
    }

    /// Recorded decisions that depart from the rules, of one trust or of all.
    pub async fn departures(
        &self,
        trust: Option<&TrustCode>,
        final_only: bool,
    ) -> Result<Vec<JudgementRow>, RecordError> {
        if let Some(t) = trust {
            self.known_trust(t).await?;
        }
        Ok(store::judgements(&self.pool, trust)
            .await?
            .into_iter()
            .filter(|j| !final_only || j.stage == cqc_rules::Stage::Final)
            .filter(judging::is_departure)
            .collect())
    }

    /// Trusts with a location level rate services at a location; for the others an empty
    /// location means the trust-wide service (at whichever location it was registered).
    fn check_location(trust_type: TrustType, location_id: &str) -> Result<(), RecordError> {
        if trust_type.has_location_level() && location_id.is_empty() {
            return Err(invalid(
                "location_id",
                format!("missing: a {trust_type:?} trust's services are rated at a location"),
            )
            .into());
        }
        Ok(())
    }

    fn rules_for(&self, latest_report: Option<NaiveDate>) -> anyhow::Result<RuleSet> {
        let when = latest_report.unwrap_or_else(oversight_runtime::time::today);
        RuleSet::select(when, self.rule_set.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Rate a trust as of `as_of`, or by default as of its latest evidence (report or action):
    /// as computed, or with final decisions (decided by a date, or all) laid over the ratings so
    /// that the levels above aggregate them (§2.4).
    async fn compute(
        &self,
        trust: &TrustCode,
        trust_type: TrustType,
        as_of: Option<NaiveDate>,
        decided: Option<(&[Judgement], Option<NaiveDate>)>,
    ) -> Result<TrustQuality, RecordError> {
        let evidence = evidence(&self.pool, trust, trust_type, as_of).await?;
        let latest_report = evidence
            .locations
            .iter()
            .flat_map(|l| l.services.iter())
            .flat_map(|s| s.ratings.iter().map(|r| r.report_date))
            .chain(evidence.well_led.iter().map(|w| w.report_date))
            .filter(|d| as_of.is_none_or(|a| *d <= a))
            .max();
        let rules = self.rules_for(latest_report)?;
        // "Significantly small" decisions are dated evidence too: the ratings stand as of the
        // latest start or end of one that has come (an end in the past means it no longer
        // stands; one recorded ahead of its date waits for it).
        let today = oversight_runtime::time::today();
        let small_dates = evidence
            .locations
            .iter()
            .flat_map(|l| l.services.iter())
            .flat_map(|s| s.significantly_small.iter())
            .flat_map(|s| std::iter::once(s.from).chain(s.until))
            .filter(|d| *d <= today)
            .max();
        let as_of = match as_of {
            Some(d) => d,
            None => store::latest_action_date(&self.pool, trust)
                .await?
                .into_iter()
                .chain(latest_report)
                .chain(small_dates)
                .max()
                .unwrap_or(today),
        };
        let mut quality = match decided {
            None => cqc_rules::rate_trust(&evidence, as_of, &rules),
            Some((decisions, decided_by)) => {
                cqc_rules::rate_trust_published(&evidence, as_of, &rules, decisions, decided_by)
            }
        };
        publish::note_limiters_beneath(&mut quality);
        Ok(quality)
    }

    async fn rerate_and_report(&self, trust: &TrustCode) -> Result<Recorded, RecordError> {
        let version = self.rerate(trust).await?;
        self.report(trust, version).await
    }

    async fn report(
        &self,
        trust: &TrustCode,
        published_version: Option<u64>,
    ) -> Result<Recorded, RecordError> {
        Ok(Recorded {
            rating: self.latest(trust).await?,
            published_version,
        })
    }

    /// Re-rate one trust; publish a new version if its ratings changed. Returns the new version.
    pub async fn rerate(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let _one_at_a_time = self.rerate_lock(trust).lock().await;
        self.rerate_locked(trust).await
    }

    /// `rerate` with the re-rating lock held by the caller.
    async fn rerate_locked(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let version = self.rerate_unpublished(trust).await?;
        self.outbox.publish_pending().await?;
        Ok(version)
    }

    /// Re-rate and append a new version to the outbox if the ratings changed, without publishing
    /// (the caller publishes, once for many trusts). The re-rating lock is held by the caller.
    async fn rerate_unpublished(&self, trust: &TrustCode) -> anyhow::Result<Option<u64>> {
        let Some(store::TrustRow {
            name,
            trust_type,
            region,
        }) = store::trust(&self.pool, trust).await?
        else {
            anyhow::bail!("unknown trust {trust}");
        };
        let decisions = judging::judgements(&store::judgements(&self.pool, Some(trust)).await?);
        let mut quality = self
            .compute(trust, trust_type, None, Some((&decisions, None)))
            .await
            .map_err(|e| anyhow::anyhow!("failed to rate {trust}: {e}"))?;
        if publish::carries_forward(&quality) {
            publish::carry_forward(&mut quality, self.previous_overall(trust).await?);
        }
        let event = to_event(&quality, &name, &region);
        let fp = fingerprint(&event.encode_to_vec());
        let subject = self.subjects.quality_rated();
        let key = trust.to_string();
        let version = self
            .outbox
            .append_if_changed(&key, &fp, |version| {
                let mut e = event.clone();
                e.version = version;
                e.event_id = format!("{key}-quality-v{version}");
                e.issued_at = Some(convert::timestamp(chrono::Utc::now()));
                NewEvent {
                    subject,
                    msg_id: e.event_id.clone(),
                    payload: e.encode_to_vec(),
                }
            })
            .await?;
        if let Some(v) = version {
            tracing::info!(trust = %trust, version = v, rule_set = %quality.rule_set,
                overall = ?quality.overall.rating, "trust quality rated");
        }
        Ok(version)
    }

    /// The overall of the latest published version that had one, with the key questions it
    /// stood on as published with it.
    async fn previous_overall(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<PublishedOverall>> {
        for stored in self.outbox.history(trust.as_str()).await?.iter().rev() {
            let e = pb::QualityRatingIssued::decode(stored.payload.as_slice())?;
            if let Some(o) = &e.overall
                && let Some(rating) = convert::real_rating(o.rating)
            {
                let beneath = if e.overall_key_questions.is_empty() {
                    &e.key_questions
                } else {
                    &e.overall_key_questions
                };
                return Ok(Some(PublishedOverall {
                    rating,
                    date: wire_date(o.report_date.as_ref()),
                    key_questions: beneath
                        .iter()
                        .filter_map(|k| {
                            let d = k.rating.as_ref();
                            let published = PublishedRating {
                                rating: d.and_then(|d| convert::real_rating(d.rating)),
                                date: d.and_then(|d| wire_date(d.report_date.as_ref())),
                            };
                            Some((convert::key_question(k.key_question)?, published))
                        })
                        .collect(),
                }));
            }
        }
        Ok(None)
    }

    /// The latest published quality rating of a trust.
    pub async fn latest(
        &self,
        trust: &TrustCode,
    ) -> anyhow::Result<Option<pb::QualityRatingIssued>> {
        match self.outbox.latest(trust.as_str()).await? {
            Some(e) => Ok(Some(pb::QualityRatingIssued::decode(e.payload.as_slice())?)),
            None => Ok(None),
        }
    }
}

/// A date this service published itself (so a calendar date when set).
fn wire_date(d: Option<&oversight_proto::google_type::Date>) -> Option<NaiveDate> {
    d.and_then(|d| convert::to_date(d).ok())
}

/// Everything recorded about a trust, as the rules read it (the store reads, nothing decided).
pub async fn records(
    pool: &AnyPool,
    trust: &TrustCode,
    trust_type: TrustType,
) -> Result<TrustRecords, RecordError> {
    let merged = store::merged_services(pool, trust)
        .await?
        .into_iter()
        .map(|m| {
            Ok(MergedRecord {
                location: store::stored_location(&m.location_id)?,
                service: m.service_id,
                exclusion: m.exclusion,
            })
        })
        .collect::<sqlx::Result<_>>()?;
    let significantly_small = store::significantly_small_services(pool, trust)
        .await?
        .into_iter()
        .map(|s| {
            Ok(SmallServiceRecord {
                location: store::stored_location(&s.location_id)?,
                service: s.service_id,
                decision: s.decision,
            })
        })
        .collect::<sqlx::Result<_>>()?;
    Ok(TrustRecords {
        trust: trust.clone(),
        trust_type,
        ratings: store::service_ratings(pool, trust).await?,
        actions: store::enforcement_actions(pool, trust).await?,
        merged,
        well_led: store::well_led_assessments(pool, trust).await?,
        significantly_small,
    })
}

/// The rules' evidence for a trust as of `as_of` (every enforcement action when `None`): the
/// records, with `cqc_rules` deciding which limiter and exclusion applies where.
pub async fn evidence(
    pool: &AnyPool,
    trust: &TrustCode,
    trust_type: TrustType,
    as_of: Option<NaiveDate>,
) -> Result<TrustEvidence, RecordError> {
    records(pool, trust, trust_type)
        .await?
        .evidence(as_of)
        .map_err(|e| RecordError::Other(anyhow::anyhow!("stored records of {trust}: {e}")))
}

/// An entity in words: "trust RXX", "location RXX01", "service RXX01/urgent".
pub fn describe(e: &Entity) -> String {
    match e {
        Entity::Trust(trust) => format!("trust {trust}"),
        Entity::Location(location) => format!("location {location}"),
        Entity::Service {
            location: None,
            service,
            ..
        } => format!("service {service}"),
        Entity::Service {
            location: Some(location),
            service,
            ..
        } => format!("service {location}/{service}"),
    }
}
