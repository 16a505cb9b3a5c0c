//! The use-of-resources workflow as persisted state with history: the pure state machine
//! (`nhsi_rules::workflow::UorWorkflow`) is loaded, given one transition, and stored back in one
//! transaction with an append-only row per transition (who, when, what). Only approval and
//! revision write the approved rating that [`Resources::republish`] publishes to the combiner, so
//! nothing proposed but unapproved can ever reach it.
//!
//! One assessment of a trust is open at a time. When the latest is published, a proposal with a
//! later report date opens the next assessment; a correction to a published rating is a
//! factual-accuracy revision (a new version).
//!
//! The recorded stages (issue 14): the trust's commentary on a KLOE starts a staged assessment
//! (the next one when the latest is published, or the first), which is then held to the order
//! commentary on all five KLOEs → site visit → report → proposal → approval → factual-accuracy
//! changes; each stage is a transition row (action `trust_commentary`, `site_visit`, `report`,
//! `factual_accuracy_change`; who, when, and a summary in `note`) and its full content is in the
//! workflow JSON. An assessment started by a direct proposal (the existing callers, the e2e test)
//! is not staged and is not held to that order.

use std::sync::Arc;

use nhsi_rules::workflow::{Action, Kloe, Signed, Stage, UorState, UorWorkflow, WorkflowError};
use oversight_proto::resources::v1 as pb;
use oversight_rating::{Rating, TrustCode, TrustType};
use oversight_runtime::auth::{Caller, Role};
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::error::ServiceError;
use crate::observations::{Observations, Peers};
use crate::resources::Resources;
use crate::store;
pub use crate::store::workflow::{Assessment, Transition};

/// The caller recorded for transitions the service makes itself (the suggestion, publishing).
pub fn system_caller() -> Caller {
    Caller {
        name: crate::SERVICE.to_string(),
        role: Role::Operator,
    }
}

/// The result of an approval or revision: the assessment and the version now on
/// `<ns>.uor.approved` (none if publishing failed; it is retried at start).
#[derive(Debug, Clone)]
pub struct Published {
    pub assessment: Assessment,
    pub event: Option<pb::UseOfResourcesRatingApproved>,
}

pub struct Assessments {
    pool: AnyPool,
    resources: Arc<Resources>,
    metrics: Arc<Observations>,
    /// One transition at a time in this process; `revision` guards against other processes.
    writing: Mutex<()>,
}

/// Who records a stage, and now.
fn signed(caller: &Caller) -> Signed {
    Signed {
        role: caller.role,
        by: caller.name.clone(),
        at: chrono::Utc::now(),
    }
}

fn record_of(trust: &TrustCode, number: u32) -> String {
    format!("use-of-resources assessment {number} of trust {trust}")
}

impl Assessments {
    pub fn new(pool: AnyPool, resources: Arc<Resources>, metrics: Arc<Observations>) -> Self {
        Assessments {
            pool,
            resources,
            metrics,
            writing: Mutex::new(()),
        }
    }

    /// The latest assessment of a trust.
    pub async fn latest(&self, trust: &TrustCode) -> Result<Option<Assessment>, ServiceError> {
        Ok(store::workflow::latest(&self.pool, trust).await?)
    }

    /// Every transition of a trust's assessments, oldest first.
    pub async fn transitions(&self, trust: &TrustCode) -> Result<Vec<Transition>, ServiceError> {
        Ok(store::workflow::transitions(&self.pool, trust).await?)
    }

    /// NHSI's assessor proposes a rating with a rationale. The workflow checks `caller`'s role
    /// (the API has checked it too).
    pub async fn propose(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        rating: Rating,
        rationale: &str,
        report_date: chrono::NaiveDate,
    ) -> Result<Assessment, ServiceError> {
        let _one_at_a_time = self.writing.lock().await;
        self.require_acute(trust).await?;
        let report_date = Some(report_date);
        let latest = self.latest(trust).await?;
        let (mut assessment, before) = match latest {
            Some(a)
                if a.workflow.state() != UorState::Published || a.report_date >= report_date =>
            {
                let before = a.workflow.history().len();
                (a, before)
            }
            previous => {
                // A new assessment starts from the current suggestion.
                let (_, suggestion) = self.metrics.suggestion(trust, &Peers::National).await?;
                let number = previous.map_or(1, |p| p.number + 1);
                let workflow = UorWorkflow::suggested(trust.clone(), suggestion.overall.rating());
                let a = Assessment {
                    trust: trust.clone(),
                    number,
                    report_date,
                    workflow,
                    revision: 0,
                };
                (a, 0)
            }
        };
        let record = record_of(trust, assessment.number);
        assessment
            .workflow
            .propose(caller.role, rating, rationale)
            .map_err(|e| ServiceError::workflow(&record, e))?;
        // A proposal sets the report date the rating will carry.
        assessment.report_date = report_date;
        let mut tx = self.pool.begin().await?;
        save(&mut tx, &mut assessment, before, caller).await?;
        tx.commit().await?;
        tracing::info!(trust = %trust, assessment = assessment.number, rating = %rating, caller = %caller.name, "use-of-resources rating proposed");
        Ok(assessment)
    }

    /// CQC approves the proposed rating, or changes it with a reason; then it is published.
    pub async fn approve(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        rating: Option<Rating>,
        reason: Option<&str>,
    ) -> Result<Published, ServiceError> {
        let _one_at_a_time = self.writing.lock().await;
        let mut assessment = self.open(trust, Action::Approve).await?;
        let before = assessment.workflow.history().len();
        let record = record_of(trust, assessment.number);
        assessment
            .workflow
            .approve(caller.role, rating, reason)
            .map_err(|e| ServiceError::workflow(&record, e))?;
        self.store_approved(&mut assessment, before, caller).await?;
        Ok(self.publish(assessment).await)
    }

    /// A factual-accuracy revision by CQC after approval: a new version, published again.
    pub async fn revise(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        rating: Rating,
        reason: &str,
    ) -> Result<Published, ServiceError> {
        let _one_at_a_time = self.writing.lock().await;
        let mut assessment = self.open(trust, Action::Revise).await?;
        let before = assessment.workflow.history().len();
        let record = record_of(trust, assessment.number);
        assessment
            .workflow
            .revise(caller.role, rating, reason)
            .map_err(|e| ServiceError::workflow(&record, e))?;
        self.store_approved(&mut assessment, before, caller).await?;
        Ok(self.publish(assessment).await)
    }

    /// The trust's commentary on one key line of enquiry, recorded by NHSI on the trust's behalf.
    /// Starts a staged assessment when the trust has none, or its latest is published.
    pub async fn record_commentary(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        kloe: Kloe,
        author: &str,
        text: &str,
    ) -> Result<Assessment, ServiceError> {
        self.record_stage(trust, caller, Stage::TrustCommentary, |w, signed| {
            w.record_commentary(signed, kloe, author, text)
        })
        .await
    }

    /// NHSI's site visit: after the commentary on all five KLOEs.
    pub async fn record_site_visit(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        date: chrono::NaiveDate,
        agenda: &[String],
        team: &[String],
    ) -> Result<Assessment, ServiceError> {
        self.record_stage(trust, caller, Stage::SiteVisit, |w, signed| {
            w.record_site_visit(signed, date, agenda, team)
        })
        .await
    }

    /// NHSI's report: after the site visit.
    pub async fn record_report(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        summary: &str,
    ) -> Result<Assessment, ServiceError> {
        self.record_stage(trust, caller, Stage::Report, |w, signed| {
            w.record_report(signed, summary)
        })
        .await
    }

    /// A factual-accuracy change by CQC after approval (it may change the rating): a new version,
    /// published again.
    pub async fn record_factual_accuracy_change(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        rating: Rating,
        correction: &str,
        reason: &str,
    ) -> Result<Published, ServiceError> {
        let _one_at_a_time = self.writing.lock().await;
        let Some(mut assessment) = self.latest(trust).await? else {
            return Err(ServiceError::precondition(
                format!("use-of-resources assessment of trust {trust}"),
                format!(
                    "{} cannot be recorded now: no assessment has started; the next stage is {}",
                    Stage::FactualAccuracyChange,
                    Stage::TrustCommentary
                ),
            ));
        };
        let before = assessment.workflow.history().len();
        let record = record_of(trust, assessment.number);
        assessment
            .workflow
            .record_factual_accuracy_change(signed(caller), rating, correction, reason)
            .map_err(|e| ServiceError::workflow(&record, e))?;
        self.store_approved(&mut assessment, before, caller).await?;
        Ok(self.publish(assessment).await)
    }

    /// Record one stage before the proposal on the latest assessment (or a new one: see
    /// [`Assessments::record_commentary`]).
    async fn record_stage(
        &self,
        trust: &TrustCode,
        caller: &Caller,
        stage: Stage,
        apply: impl FnOnce(&mut UorWorkflow, Signed) -> Result<(), WorkflowError>,
    ) -> Result<Assessment, ServiceError> {
        let _one_at_a_time = self.writing.lock().await;
        let latest = self.latest(trust).await?;
        let starts_next = |a: &Assessment| {
            stage == Stage::TrustCommentary && a.workflow.state() == UorState::Published
        };
        let (mut assessment, before) = match latest {
            Some(a) if !starts_next(&a) => {
                let before = a.workflow.history().len();
                (a, before)
            }
            previous => {
                let number = previous.map_or(1, |p| p.number + 1);
                let suggested = if stage == Stage::TrustCommentary {
                    self.require_acute(trust).await?;
                    let (_, suggestion) = self.metrics.suggestion(trust, &Peers::National).await?;
                    suggestion.overall.rating()
                } else {
                    // Only the commentary starts an assessment: the rules refuse this stage,
                    // naming the commentary, and nothing is stored.
                    None
                };
                let a = Assessment {
                    trust: trust.clone(),
                    number,
                    // Set by the proposal.
                    report_date: None,
                    workflow: UorWorkflow::suggested(trust.clone(), suggested),
                    revision: 0,
                };
                (a, 0)
            }
        };
        let record = record_of(trust, assessment.number);
        apply(&mut assessment.workflow, signed(caller))
            .map_err(|e| ServiceError::workflow(&record, e))?;
        let mut tx = self.pool.begin().await?;
        save(&mut tx, &mut assessment, before, caller).await?;
        tx.commit().await?;
        tracing::info!(trust = %trust, assessment = assessment.number, stage = stage.name(),
            caller = %caller.name, "use-of-resources assessment stage recorded");
        Ok(assessment)
    }

    /// Use-of-resources ratings are assessed for non-specialist acute trusts only.
    async fn require_acute(&self, trust: &TrustCode) -> Result<(), ServiceError> {
        let trust_type = self.metrics.trust_type(trust).await?;
        if trust_type != TrustType::Acute {
            return Err(ServiceError::precondition(
                format!("trust {trust}"),
                format!(
                    "use-of-resources ratings are assessed for non-specialist acute trusts; this trust is {}",
                    trust_type.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Publish every approved, unpublished assessment (after a crash between approval and
    /// publication). Called at start.
    pub async fn publish_approved(&self) -> Result<usize, ServiceError> {
        let approved = store::workflow::trusts_in_state(&self.pool, UorState::Approved).await?;
        let mut n = 0;
        for trust in approved {
            let _one_at_a_time = self.writing.lock().await;
            if let Some(a) = self.latest(&trust).await?
                && a.workflow.is_publishable()
                && self.publish(a).await.event.is_some()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The latest assessment, which must exist for `action`.
    async fn open(&self, trust: &TrustCode, action: Action) -> Result<Assessment, ServiceError> {
        self.latest(trust).await?.ok_or_else(|| {
            ServiceError::precondition(
                format!("use-of-resources assessment of trust {trust}"),
                format!("cannot {action}: no rating has been proposed for this trust"),
            )
        })
    }

    /// Store an approval or revision together with the approved rating that the combiner will
    /// receive.
    async fn store_approved(
        &self,
        assessment: &mut Assessment,
        before: usize,
        caller: &Caller,
    ) -> Result<(), ServiceError> {
        let current = assessment.workflow.current().clone();
        let Some(approval) = current.approval.clone() else {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "approved version without an approval"
            )));
        };
        let mut rationale = match &current.proposal {
            Some(p) => format!("proposed by NHSI: {}", p.rationale),
            None => String::new(),
        };
        if let Some(from) = approval.changed_from {
            rationale.push_str(&format!("; CQC changed {from} to {}", approval.rating));
        }
        if let Some(reason) = &approval.reason {
            rationale.push_str(&format!("; CQC: {reason}"));
        }
        let evidence_id = format!(
            "{}-uor-assessment-{}-v{}",
            assessment.trust, assessment.number, current.version
        );
        let mut tx = self.pool.begin().await?;
        save(&mut tx, assessment, before, caller).await?;
        let approved = store::uor::NewApproved {
            trust: &assessment.trust,
            report_date: assessment.report_date,
            rating: approval.rating,
            approved_by: &format!("CQC ({})", caller.name),
            rationale: &rationale,
            evidence_id: &evidence_id,
        };
        store::uor::upsert(&mut tx, &approved, store::uor::Replaces::All).await?;
        tx.commit().await?;
        tracing::info!(trust = %assessment.trust, assessment = assessment.number,
            version = current.version, rating = %approval.rating, caller = %caller.name,
            "use-of-resources rating approved by CQC");
        Ok(())
    }

    /// Publish the approved version to the combiner and record the publication. A failure is
    /// logged and left for [`Assessments::publish_approved`]; the approval stands.
    async fn publish(&self, mut assessment: Assessment) -> Published {
        let trust = assessment.trust.clone();
        let outcome: Result<Option<pb::UseOfResourcesRatingApproved>, ServiceError> = async {
            self.resources.republish(&trust).await?;
            let before = assessment.workflow.history().len();
            // Publishing follows approval on its own: the service acts, as itself.
            let system = system_caller();
            assessment
                .workflow
                .publish(system.role)
                .map_err(|e| ServiceError::workflow(record_of(&trust, assessment.number), e))?;
            let mut tx = self.pool.begin().await?;
            save(&mut tx, &mut assessment, before, &system).await?;
            tx.commit().await?;
            Ok(self.resources.latest_event(&trust).await?)
        }
        .await;
        match outcome {
            Ok(event) => Published { assessment, event },
            Err(e) => {
                tracing::error!(trust = %trust, error = %e, "approved use-of-resources rating not yet published; retried at start");
                Published {
                    assessment,
                    event: None,
                }
            }
        }
    }
}

/// Write an assessment's state (insert a new one, or update it if nobody else has) and its new
/// transitions, `history()[before..]`.
async fn save(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &mut Assessment,
    before: usize,
    caller: &Caller,
) -> Result<(), ServiceError> {
    let record = record_of(&a.trust, a.number);
    let now = oversight_runtime::time::now_rfc3339();
    let written = if a.revision == 0 {
        store::workflow::insert(tx, a, &now).await?
    } else {
        store::workflow::update(tx, a, &now).await?
    };
    if !written {
        return Err(ServiceError::Conflict { record });
    }
    a.revision += 1;
    let mut next = store::workflow::next_transition_seq(tx, &a.trust).await?;
    let system = system_caller();
    for entry in a.workflow.history().iter().skip(before) {
        let who = if entry.action == Action::Suggest {
            &system
        } else {
            caller
        };
        if !store::workflow::insert_transition(tx, a, entry, who, next, &now).await? {
            return Err(ServiceError::Conflict { record });
        }
        next += 1;
    }
    Ok(())
}
