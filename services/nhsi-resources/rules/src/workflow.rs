//! The use of resources rating workflow (DOMAIN.md §4, issue 5) as a pure state machine with
//! history.
//!
//! ```text
//! Suggested ──propose (NHSI, rationale)──▶ Proposed ──approve (CQC; a changed rating needs a reason)──▶ Approved
//!     ▲   │                                  │  ▲                                                          │
//!     │   └──────────────────────────────────┘  └── propose again (NHSI) replaces the proposal              │ publish (CQC or operator)
//!                                                                                                          ▼
//!   revise (CQC, factual accuracy, reason) on an Approved or Published version ──▶ new version, Approved ◀─ Published
//! ```
//!
//! Each version is numbered from 1; a factual-accuracy revision creates the next version, already
//! approved by CQC, which must be published again. Only an approved, unpublished version is
//! publishable, so nothing unapproved can reach the combiner. Times of the state transitions are
//! not recorded here: the service stores every transition as an event with its own timestamp.
//!
//! ## The assessment as recorded stages (issue 14, seed 004, DOMAIN.md §4)
//!
//! ```text
//! trust commentary (all five KLOEs) → site visit → NHSI's report → proposal → CQC approval
//!   → publication → factual-accuracy changes (each a new version, published again)
//! ```
//!
//! Each stage records who ([`Signed::role`], [`Signed::by`]) and when ([`Signed::at`], given by
//! the caller: this crate reads no clock). A stage out of order is refused with
//! [`WorkflowError::OutOfOrder`] naming [`UorWorkflow::next_stage`]. The stages are enforced for
//! an assessment that *started with a recorded stage* (the trust's commentary); an assessment
//! started by a proposal (the direct path, which the existing callers use) keeps the plain
//! workflow above, and its stages cannot be recorded afterwards (the next stage is CQC's approval
//! or later). Decisions **[A]**:
//! - the trust's commentary is required on **all five** key lines of enquiry before the site visit
//!   (the framework asks the trust to comment on each); commentary on a KLOE may be replaced until
//!   the site visit, and every version stays in the history;
//! - the [`Role`] type has no trust role, so NHSI records the commentary on the trust's behalf
//!   (the author is named in [`Commentary::author`]); the site visit, report and proposal are
//!   NHSI's, approval and factual-accuracy changes are CQC's;
//! - a factual-accuracy change **may change the rating** ("factual-accuracy comments can change
//!   it", DOMAIN.md §4): it is allowed after approval (approved or published) and creates the next
//!   version, approved with the corrected (or unchanged) rating, to be published again.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use oversight_rating::{Rating, TrustCode};
use serde::{Deserialize, Serialize};

/// The five key lines of enquiry (DOMAIN.md §4), as the productivity metrics name them.
pub use crate::productivity::Kloe;

/// Who is asking: the one role type, as authenticated at the edge.
pub use oversight_rating::Role;

/// Where a version of the rating is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UorState {
    /// Computed from the metrics; no one has proposed a rating yet.
    Suggested,
    /// NHSI's assessor has proposed a rating with a rationale.
    Proposed,
    /// CQC has approved a rating (possibly changed, with a reason).
    Approved,
    /// The approved rating has been published to the combiner.
    Published,
}

impl fmt::Display for UorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UorState::Suggested => "suggested",
            UorState::Proposed => "proposed",
            UorState::Approved => "approved",
            UorState::Published => "published",
        })
    }
}

/// A transition, for errors and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create the workflow from a suggestion.
    Suggest,
    /// NHSI proposes a rating.
    Propose,
    /// CQC approves.
    Approve,
    /// The approved rating is published.
    Publish,
    /// A factual-accuracy revision after approval.
    Revise,
    /// The trust's commentary on one key line of enquiry.
    TrustCommentary,
    /// NHSI's one-day site visit.
    SiteVisit,
    /// NHSI's brief report.
    Report,
    /// A factual-accuracy change (a correction with a reason) after approval.
    FactualAccuracyChange,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Suggest => "suggest",
            Action::Propose => "propose",
            Action::Approve => "approve",
            Action::Publish => "publish",
            Action::Revise => "revise",
            Action::TrustCommentary => "trust_commentary",
            Action::SiteVisit => "site_visit",
            Action::Report => "report",
            Action::FactualAccuracyChange => "factual_accuracy_change",
        })
    }
}

/// The stages of an assessment, in order (seed 004, DOMAIN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The trust's commentary on the five key lines of enquiry.
    TrustCommentary,
    /// NHSI's one-day site visit (date, agenda, team).
    SiteVisit,
    /// NHSI's brief report.
    Report,
    /// NHSI's proposed rating.
    Proposal,
    /// CQC's approval.
    Approval,
    /// Publication of the approved rating (the service does it right after approval).
    Publication,
    /// A factual-accuracy change after approval.
    FactualAccuracyChange,
}

impl Stage {
    /// The snake_case name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Stage::TrustCommentary => "trust_commentary",
            Stage::SiteVisit => "site_visit",
            Stage::Report => "report",
            Stage::Proposal => "proposal",
            Stage::Approval => "approval",
            Stage::Publication => "publication",
            Stage::FactualAccuracyChange => "factual_accuracy_change",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::TrustCommentary => "the trust's commentary on the key lines of enquiry",
            Stage::SiteVisit => "the site visit",
            Stage::Report => "NHSI's report",
            Stage::Proposal => "NHSI's proposal",
            Stage::Approval => "CQC's approval",
            Stage::Publication => "publication",
            Stage::FactualAccuracyChange => "a factual-accuracy change",
        })
    }
}

/// Who recorded a stage and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The recorder's role.
    pub role: Role,
    /// The recorder's name (the authenticated caller).
    pub by: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The trust's commentary on one key line of enquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commentary {
    pub kloe: Kloe,
    pub text: String,
    /// Who at the trust wrote it (NHSI records it on the trust's behalf).
    pub author: String,
    pub signed: Signed,
}

/// NHSI's one-day site visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteVisit {
    pub date: NaiveDate,
    /// The agenda, in order (at least one item).
    pub agenda: Vec<String>,
    /// NHSI's team (at least one member).
    pub team: Vec<String>,
    pub signed: Signed,
}

/// NHSI's brief report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentReport {
    pub summary: String,
    pub signed: Signed,
}

/// A factual-accuracy change after approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactualAccuracyChange {
    /// The version it created.
    pub version: u32,
    /// What was corrected.
    pub correction: String,
    /// Why.
    pub reason: String,
    /// The rating after the change.
    pub rating: Rating,
    /// The rating before, when the change altered it.
    pub changed_from: Option<Rating>,
    pub signed: Signed,
}

/// The stages recorded for an assessment that started with one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    /// Every commentary recorded, oldest first (the latest per KLOE counts).
    pub commentary: Vec<Commentary>,
    pub site_visit: Option<SiteVisit>,
    pub report: Option<AssessmentReport>,
    /// Every factual-accuracy change, oldest first.
    pub factual_accuracy_changes: Vec<FactualAccuracyChange>,
}

impl Stages {
    /// The latest commentary on each KLOE, in NHSI's order.
    pub fn latest_commentary(&self) -> Vec<&Commentary> {
        Kloe::ALL
            .iter()
            .filter_map(|k| self.commentary.iter().rev().find(|c| c.kloe == *k))
            .collect()
    }

    /// The KLOEs the trust has not commented on yet, in NHSI's order.
    pub fn missing_kloes(&self) -> Vec<Kloe> {
        Kloe::ALL
            .into_iter()
            .filter(|k| !self.commentary.iter().any(|c| c.kloe == *k))
            .collect()
    }
}

/// Why a transition was refused. The variants map onto `PERMISSION_DENIED`,
/// `FAILED_PRECONDITION` and `INVALID_ARGUMENT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// This role may not take this action.
    #[error("permission denied: the {role} role may not {action} a use of resources rating")]
    PermissionDenied { role: Role, action: Action },
    /// The rating's current state does not allow this action.
    #[error("failed precondition: cannot {action} version {version}, which is {state}")]
    FailedPrecondition {
        state: UorState,
        version: u32,
        action: Action,
    },
    /// A field is missing or unusable.
    #[error("invalid argument {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// A stage was attempted out of order; `expected` is the stage that must come next.
    #[error(
        "failed precondition: {attempted} cannot be recorded now: the next stage is {expected}{}",
        missing_note(.missing)
    )]
    OutOfOrder {
        attempted: Stage,
        expected: Stage,
        /// When `expected` is the trust's commentary: the KLOEs still without one.
        missing: Vec<Kloe>,
    },
}

fn missing_note(missing: &[Kloe]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = missing.iter().map(|k| k.label()).collect();
    format!(" (no commentary yet on: {})", names.join("; "))
}

/// The assessor's proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposed rating.
    pub rating: Rating,
    /// Why.
    pub rationale: String,
}

/// CQC's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approved rating.
    pub rating: Rating,
    /// Set when the approval changed the proposed rating (or a revision changed the approved one).
    pub changed_from: Option<Rating>,
    /// Why it was changed (required when it was), or the revision's reason.
    pub reason: Option<String>,
}

/// One version of the rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UorVersion {
    /// 1, 2, …
    pub version: u32,
    /// Where it is.
    pub state: UorState,
    /// The suggested rating it started from (none when the metrics gave no suggestion).
    pub suggested: Option<Rating>,
    /// NHSI's proposal, once made.
    pub proposal: Option<Proposal>,
    /// CQC's approval, once given.
    pub approval: Option<Approval>,
}

/// One transition in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The version it applied to.
    pub version: u32,
    /// What was done.
    pub action: Action,
    /// By whom.
    pub role: Role,
    /// The state before (none for the first suggestion).
    pub from: Option<UorState>,
    /// The state after.
    pub to: UorState,
    /// The rating after the transition, if any.
    pub rating: Option<Rating>,
    /// The rationale or reason given.
    pub note: Option<String>,
}

/// A trust's use of resources rating through its versions, with every transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UorWorkflow {
    trust: TrustCode,
    /// Superseded versions, oldest first.
    earlier: Vec<UorVersion>,
    /// The newest version (so there always is one).
    current: UorVersion,
    history: Vec<HistoryEntry>,
    /// The recorded stages; `None` for an assessment started by a proposal (the direct path),
    /// which is not held to the stage order.
    #[serde(default)]
    stages: Option<Stages>,
}

fn required_list(field: &'static str, items: &[String]) -> Result<Vec<String>, WorkflowError> {
    let items: Vec<String> = items
        .iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect();
    if items.is_empty() {
        return Err(WorkflowError::InvalidArgument {
            field,
            reason: format!("at least one {field} item is required"),
        });
    }
    Ok(items)
}

fn required(field: &'static str, text: &str) -> Result<String, WorkflowError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(WorkflowError::InvalidArgument {
            field,
            reason: format!("{field} is required"),
        });
    }
    Ok(t.to_string())
}

impl UorWorkflow {
    /// Starts the workflow at version 1 from the suggested rating (none when the metrics gave no
    /// suggestion).
    pub fn suggested(trust: TrustCode, suggested: Option<Rating>) -> Self {
        UorWorkflow {
            trust,
            earlier: Vec::new(),
            current: UorVersion {
                version: 1,
                state: UorState::Suggested,
                suggested,
                proposal: None,
                approval: None,
            },
            history: vec![HistoryEntry {
                version: 1,
                action: Action::Suggest,
                role: Role::Operator,
                from: None,
                to: UorState::Suggested,
                rating: suggested,
                note: None,
            }],
            stages: None,
        }
    }

    /// The recorded stages, if the assessment started with one.
    pub fn stages(&self) -> Option<&Stages> {
        self.stages.as_ref()
    }

    /// The stage that must come next. For an assessment with no stage recorded yet that is the
    /// trust's commentary (a direct proposal is still accepted there, see the module docs).
    pub fn next_stage(&self) -> Stage {
        match self.state() {
            UorState::Suggested => match &self.stages {
                None => Stage::TrustCommentary,
                Some(s) if !s.missing_kloes().is_empty() => Stage::TrustCommentary,
                Some(s) if s.site_visit.is_none() => Stage::SiteVisit,
                Some(s) if s.report.is_none() => Stage::Report,
                Some(_) => Stage::Proposal,
            },
            UorState::Proposed => Stage::Approval,
            UorState::Approved => Stage::Publication,
            UorState::Published => Stage::FactualAccuracyChange,
        }
    }

    /// Refuse `attempted` unless `allowed`, naming the next stage.
    fn out_of_order(&self, attempted: Stage) -> WorkflowError {
        let expected = self.next_stage();
        let missing = match (expected, &self.stages) {
            (Stage::TrustCommentary, Some(s)) => s.missing_kloes(),
            (Stage::TrustCommentary, None) => Kloe::ALL.to_vec(),
            _ => Vec::new(),
        };
        WorkflowError::OutOfOrder {
            attempted,
            expected,
            missing,
        }
    }

    fn push_stage_entry(&mut self, action: Action, role: Role, note: String) {
        let state = self.state();
        self.record(action, role, state, None, Some(note));
    }

    /// The trust's commentary on one key line of enquiry, recorded by NHSI on the trust's behalf.
    /// Allowed while the assessment is suggested and before the site visit; it starts the staged
    /// assessment. A second commentary on a KLOE replaces the first (both stay in the history).
    pub fn record_commentary(
        &mut self,
        signed: Signed,
        kloe: Kloe,
        author: &str,
        text: &str,
    ) -> Result<(), WorkflowError> {
        Self::check_role(signed.role, &[Role::Nhsi], Action::TrustCommentary)?;
        let open = self.state() == UorState::Suggested
            && match &self.stages {
                // Only a fresh assessment may start with a commentary.
                None => self.history.len() == 1,
                Some(s) => s.site_visit.is_none(),
            };
        if !open {
            return Err(self.out_of_order(Stage::TrustCommentary));
        }
        let text = required("text", text)?;
        let author = required("author", author)?;
        let role = signed.role;
        let note = format!("{}: {text} ({author})", kloe.label());
        self.stages
            .get_or_insert_with(Stages::default)
            .commentary
            .push(Commentary {
                kloe,
                text,
                author,
                signed,
            });
        self.push_stage_entry(Action::TrustCommentary, role, note);
        Ok(())
    }

    /// NHSI's one-day site visit: after the commentary on all five KLOEs, once.
    pub fn record_site_visit(
        &mut self,
        signed: Signed,
        date: NaiveDate,
        agenda: &[String],
        team: &[String],
    ) -> Result<(), WorkflowError> {
        Self::check_role(signed.role, &[Role::Nhsi], Action::SiteVisit)?;
        if self.stages.is_none() || self.next_stage() != Stage::SiteVisit {
            return Err(self.out_of_order(Stage::SiteVisit));
        }
        let agenda = required_list("agenda", agenda)?;
        let team = required_list("team", team)?;
        let role = signed.role;
        let note = format!(
            "site visit on {date}; agenda: {}; team: {}",
            agenda.join("; "),
            team.join(", ")
        );
        if let Some(s) = self.stages.as_mut() {
            s.site_visit = Some(SiteVisit {
                date,
                agenda,
                team,
                signed,
            });
        }
        self.push_stage_entry(Action::SiteVisit, role, note);
        Ok(())
    }

    /// NHSI's brief report: after the site visit, once.
    pub fn record_report(&mut self, signed: Signed, summary: &str) -> Result<(), WorkflowError> {
        Self::check_role(signed.role, &[Role::Nhsi], Action::Report)?;
        if self.stages.is_none() || self.next_stage() != Stage::Report {
            return Err(self.out_of_order(Stage::Report));
        }
        let summary = required("summary", summary)?;
        let role = signed.role;
        if let Some(s) = self.stages.as_mut() {
            s.report = Some(AssessmentReport {
                summary: summary.clone(),
                signed,
            });
        }
        self.push_stage_entry(Action::Report, role, summary);
        Ok(())
    }

    /// A factual-accuracy change by CQC after approval (approved or published): a correction with
    /// a reason, which may change the rating. Creates the next version, approved, to be published
    /// again; returns its number.
    pub fn record_factual_accuracy_change(
        &mut self,
        signed: Signed,
        rating: Rating,
        correction: &str,
        reason: &str,
    ) -> Result<u32, WorkflowError> {
        Self::check_role(signed.role, &[Role::Cqc], Action::FactualAccuracyChange)?;
        if !matches!(self.state(), UorState::Approved | UorState::Published) {
            return Err(self.out_of_order(Stage::FactualAccuracyChange));
        }
        let correction = required("correction", correction)?;
        let reason = required("reason", reason)?;
        let before = self.current().approval.as_ref().map(|a| a.rating);
        let version = self.revise(signed.role, rating, &format!("{correction}: {reason}"))?;
        if let Some(last) = self.history.last_mut() {
            last.action = Action::FactualAccuracyChange;
        }
        self.stages
            .get_or_insert_with(Stages::default)
            .factual_accuracy_changes
            .push(FactualAccuracyChange {
                version,
                correction,
                reason,
                rating,
                changed_from: before.filter(|b| *b != rating),
                signed,
            });
        Ok(version)
    }

    /// The trust.
    pub fn trust(&self) -> &TrustCode {
        &self.trust
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl DoubleEndedIterator<Item = &UorVersion> {
        self.earlier.iter().chain(std::iter::once(&self.current))
    }

    /// Every transition, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// The newest version.
    pub fn current(&self) -> &UorVersion {
        &self.current
    }

    /// The newest version's state.
    pub fn state(&self) -> UorState {
        self.current().state
    }

    /// Whether the newest version is approved and not yet published. Only such a version may go
    /// to the combiner.
    pub fn is_publishable(&self) -> bool {
        self.state() == UorState::Approved
    }

    /// The newest approved rating (published or not), with its version.
    pub fn approved_rating(&self) -> Option<(u32, Rating)> {
        self.versions()
            .rev()
            .find_map(|v| v.approval.as_ref().map(|a| (v.version, a.rating)))
    }

    /// The newest published rating, with its version.
    pub fn published_rating(&self) -> Option<(u32, Rating)> {
        self.versions().rev().find_map(|v| {
            (v.state == UorState::Published)
                .then_some(v.approval.as_ref().map(|a| (v.version, a.rating)))
                .flatten()
        })
    }

    fn check_role(role: Role, allowed: &[Role], action: Action) -> Result<(), WorkflowError> {
        if allowed.contains(&role) {
            Ok(())
        } else {
            Err(WorkflowError::PermissionDenied { role, action })
        }
    }

    fn check_state(&self, allowed: &[UorState], action: Action) -> Result<(), WorkflowError> {
        let v = self.current();
        if allowed.contains(&v.state) {
            Ok(())
        } else {
            Err(WorkflowError::FailedPrecondition {
                state: v.state,
                version: v.version,
                action,
            })
        }
    }

    fn record(
        &mut self,
        action: Action,
        role: Role,
        from: UorState,
        rating: Option<Rating>,
        note: Option<String>,
    ) {
        let v = self.current();
        let entry = HistoryEntry {
            version: v.version,
            action,
            role,
            from: Some(from),
            to: v.state,
            rating,
            note,
        };
        self.history.push(entry);
    }

    /// NHSI's assessor proposes a rating with a rationale. Allowed while the newest version is
    /// suggested or proposed (a new proposal replaces the previous one; both stay in the history).
    pub fn propose(
        &mut self,
        role: Role,
        rating: Rating,
        rationale: &str,
    ) -> Result<(), WorkflowError> {
        Self::check_role(role, &[Role::Nhsi], Action::Propose)?;
        if self.stages.is_some() && !matches!(self.next_stage(), Stage::Proposal | Stage::Approval)
        {
            return Err(self.out_of_order(Stage::Proposal));
        }
        self.check_state(&[UorState::Suggested, UorState::Proposed], Action::Propose)?;
        let rationale = required("rationale", rationale)?;
        let v = &mut self.current;
        let from = v.state;
        v.state = UorState::Proposed;
        v.proposal = Some(Proposal {
            rating,
            rationale: rationale.clone(),
        });
        self.record(Action::Propose, role, from, Some(rating), Some(rationale));
        Ok(())
    }

    /// CQC approves the proposed rating, or changes it (a changed rating needs a reason).
    pub fn approve(
        &mut self,
        role: Role,
        rating: Option<Rating>,
        reason: Option<&str>,
    ) -> Result<(), WorkflowError> {
        Self::check_role(role, &[Role::Cqc], Action::Approve)?;
        if self.stages.is_some() && self.state() != UorState::Proposed {
            return Err(self.out_of_order(Stage::Approval));
        }
        self.check_state(&[UorState::Proposed], Action::Approve)?;
        let proposed = self.current().proposal.as_ref().map(|p| p.rating).ok_or(
            WorkflowError::FailedPrecondition {
                state: self.state(),
                version: self.current().version,
                action: Action::Approve,
            },
        )?;
        let approved = rating.unwrap_or(proposed);
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let changed_from = (approved != proposed).then_some(proposed);
        if changed_from.is_some() && reason.is_none() {
            return Err(WorkflowError::InvalidArgument {
                field: "reason",
                reason: format!(
                    "approving {approved} instead of the proposed {proposed} needs a reason"
                ),
            });
        }
        let reason = reason.map(str::to_string);
        let v = &mut self.current;
        v.state = UorState::Approved;
        v.approval = Some(Approval {
            rating: approved,
            changed_from,
            reason: reason.clone(),
        });
        self.record(
            Action::Approve,
            role,
            UorState::Proposed,
            Some(approved),
            reason,
        );
        Ok(())
    }

    /// Marks the approved newest version as published (to the combiner). CQC or the operator.
    pub fn publish(&mut self, role: Role) -> Result<(u32, Rating), WorkflowError> {
        Self::check_role(role, &[Role::Cqc, Role::Operator], Action::Publish)?;
        self.check_state(&[UorState::Approved], Action::Publish)?;
        let v = &mut self.current;
        let approval = v.approval.as_ref().map(|a| a.rating);
        let (version, rating) = match approval {
            Some(rating) => (v.version, rating),
            None => {
                return Err(WorkflowError::FailedPrecondition {
                    state: v.state,
                    version: v.version,
                    action: Action::Publish,
                });
            }
        };
        v.state = UorState::Published;
        self.record(
            Action::Publish,
            role,
            UorState::Approved,
            Some(rating),
            None,
        );
        Ok((version, rating))
    }

    /// A factual-accuracy revision after approval: creates the next version, approved by CQC with
    /// the (possibly unchanged) rating and the reason, to be published again.
    pub fn revise(
        &mut self,
        role: Role,
        rating: Rating,
        reason: &str,
    ) -> Result<u32, WorkflowError> {
        Self::check_role(role, &[Role::Cqc], Action::Revise)?;
        self.check_state(&[UorState::Approved, UorState::Published], Action::Revise)?;
        let reason = required("reason", reason)?;
        let prev = self.current().clone();
        let prev_rating = prev.approval.as_ref().map(|a| a.rating);
        let next = UorVersion {
            version: prev.version + 1,
            state: UorState::Approved,
            suggested: prev.suggested,
            proposal: prev.proposal.clone(),
            approval: Some(Approval {
                rating,
                changed_from: prev_rating.filter(|r| *r != rating),
                reason: Some(reason.clone()),
            }),
        };
        let version = next.version;
        let superseded = std::mem::replace(&mut self.current, next);
        self.earlier.push(superseded);
        self.record(Action::Revise, role, prev.state, Some(rating), Some(reason));
        Ok(version)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use Rating::*;

    fn wf() -> UorWorkflow {
        UorWorkflow::suggested("RXX".parse().expect("trust"), Some(Good))
    }

    #[test]
    fn happy_path_with_history() {
        let mut w = wf();
        assert_eq!(w.state(), UorState::Suggested);
        assert!(!w.is_publishable());
        w.propose(
            Role::Nhsi,
            RequiresImprovement,
            "agency spend well above peers",
        )
        .expect("propose");
        assert!(!w.is_publishable());
        w.approve(Role::Cqc, None, None).expect("approve");
        assert!(w.is_publishable());
        assert_eq!(w.approved_rating(), Some((1, RequiresImprovement)));
        assert_eq!(w.published_rating(), None);
        assert_eq!(w.publish(Role::Operator), Ok((1, RequiresImprovement)));
        assert!(!w.is_publishable());
        assert_eq!(w.published_rating(), Some((1, RequiresImprovement)));
        let steps: Vec<_> = w
            .history()
            .iter()
            .map(|h| (h.action, h.role, h.from, h.to))
            .collect();
        assert_eq!(
            steps,
            vec![
                (Action::Suggest, Role::Operator, None, UorState::Suggested),
                (
                    Action::Propose,
                    Role::Nhsi,
                    Some(UorState::Suggested),
                    UorState::Proposed
                ),
                (
                    Action::Approve,
                    Role::Cqc,
                    Some(UorState::Proposed),
                    UorState::Approved
                ),
                (
                    Action::Publish,
                    Role::Operator,
                    Some(UorState::Approved),
                    UorState::Published
                ),
            ]
        );
    }

    #[test]
    fn roles_are_checked() {
        let mut w = wf();
        for role in [Role::Cqc, Role::Operator, Role::Reader] {
            assert_eq!(
                w.propose(role, Good, "x"),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::Propose
                })
            );
        }
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        for role in [Role::Nhsi, Role::Operator, Role::Reader] {
            assert_eq!(
                w.approve(role, None, None),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::Approve
                })
            );
        }
        w.approve(Role::Cqc, None, None).expect("approve");
        for role in [Role::Nhsi, Role::Reader] {
            assert_eq!(
                w.publish(role),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::Publish
                })
            );
        }
        for role in [Role::Nhsi, Role::Operator, Role::Reader] {
            assert_eq!(
                w.revise(role, Good, "typo"),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::Revise
                })
            );
        }
        assert_eq!(
            WorkflowError::PermissionDenied {
                role: Role::Reader,
                action: Action::Propose
            }
            .to_string(),
            "permission denied: the reader role may not propose a use of resources rating"
        );
    }

    #[test]
    fn states_are_checked() {
        let mut w = wf();
        assert_eq!(
            w.approve(Role::Cqc, None, None),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Suggested,
                version: 1,
                action: Action::Approve
            })
        );
        assert!(matches!(
            w.publish(Role::Cqc),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Suggested,
                ..
            })
        ));
        assert!(matches!(
            w.revise(Role::Cqc, Good, "x"),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Suggested,
                ..
            })
        ));
        w.propose(Role::Nhsi, Good, "first").expect("propose");
        assert!(matches!(
            w.publish(Role::Operator),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Proposed,
                ..
            })
        ));
        // Proposing again replaces the proposal.
        w.propose(Role::Nhsi, Outstanding, "second look")
            .expect("re-propose");
        assert_eq!(
            w.current().proposal.as_ref().map(|p| p.rating),
            Some(Outstanding)
        );
        w.approve(Role::Cqc, None, None).expect("approve");
        assert!(matches!(
            w.propose(Role::Nhsi, Good, "late"),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Approved,
                ..
            })
        ));
        assert!(matches!(
            w.approve(Role::Cqc, None, None),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Approved,
                ..
            })
        ));
        w.publish(Role::Cqc).expect("publish");
        assert!(matches!(
            w.publish(Role::Cqc),
            Err(WorkflowError::FailedPrecondition {
                state: UorState::Published,
                ..
            })
        ));
    }

    #[test]
    fn arguments_are_checked() {
        let mut w = wf();
        assert!(matches!(
            w.propose(Role::Nhsi, Good, "   "),
            Err(WorkflowError::InvalidArgument {
                field: "rationale",
                ..
            })
        ));
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        assert!(matches!(
            w.approve(Role::Cqc, Some(RequiresImprovement), None),
            Err(WorkflowError::InvalidArgument {
                field: "reason",
                ..
            })
        ));
        assert!(matches!(
            w.approve(Role::Cqc, Some(RequiresImprovement), Some(" ")),
            Err(WorkflowError::InvalidArgument {
                field: "reason",
                ..
            })
        ));
        // Approving the proposed rating explicitly needs no reason.
        w.approve(Role::Cqc, Some(Good), None)
            .expect("approve same");
        assert!(matches!(
            w.revise(Role::Cqc, Good, ""),
            Err(WorkflowError::InvalidArgument {
                field: "reason",
                ..
            })
        ));
    }

    #[test]
    fn cqc_may_change_the_rating_with_a_reason() {
        let mut w = wf();
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        w.approve(
            Role::Cqc,
            Some(RequiresImprovement),
            Some("estates backlog not reflected"),
        )
        .expect("approve");
        let a = w.current().approval.clone().expect("approved");
        assert_eq!(a.rating, RequiresImprovement);
        assert_eq!(a.changed_from, Some(Good));
        assert_eq!(w.current().proposal.as_ref().map(|p| p.rating), Some(Good));
    }

    #[test]
    fn factual_accuracy_revision_creates_a_new_version_to_republish() {
        let mut w = wf();
        w.propose(Role::Nhsi, RequiresImprovement, "costs")
            .expect("propose");
        w.approve(Role::Cqc, None, None).expect("approve");
        w.publish(Role::Operator).expect("publish");
        assert_eq!(
            w.revise(
                Role::Cqc,
                Good,
                "factual accuracy: pay cost figure corrected"
            ),
            Ok(2)
        );
        assert_eq!(w.current().version, 2);
        assert!(w.is_publishable());
        assert_eq!(w.published_rating(), Some((1, RequiresImprovement)));
        assert_eq!(w.approved_rating(), Some((2, Good)));
        assert_eq!(
            w.current().approval.as_ref().and_then(|a| a.changed_from),
            Some(RequiresImprovement)
        );
        assert_eq!(w.publish(Role::Operator), Ok((2, Good)));
        let states: Vec<_> = w.versions().map(|v| (v.version, v.state)).collect();
        assert_eq!(
            states,
            vec![(1, UorState::Published), (2, UorState::Published)]
        );
        // A revision of an approved, unpublished version also works.
        assert_eq!(w.revise(Role::Cqc, Good, "wording"), Ok(3));
        assert_eq!(w.revise(Role::Cqc, Good, "again"), Ok(4));
        assert_eq!(
            w.history().last().map(|h| (h.version, h.from)),
            Some((4, Some(UorState::Approved)))
        );
    }

    #[test]
    fn round_trips_through_json() {
        let mut w = wf();
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        let json = serde_json::to_string(&w).expect("serialise");
        let back: UorWorkflow = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, w);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod stage_tests {
    use super::*;
    use Rating::*;

    fn at(hour: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2018, 1, 15)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("time")
            .and_utc()
    }

    fn by(role: Role, hour: u32) -> Signed {
        Signed {
            role,
            by: format!("{role} person"),
            at: at(hour),
        }
    }

    fn wf() -> UorWorkflow {
        UorWorkflow::suggested("RXX".parse().expect("trust"), Some(Good))
    }

    fn visit_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2018, 1, 22).expect("date")
    }

    fn items(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn commented(w: &mut UorWorkflow) {
        for (i, k) in Kloe::ALL.into_iter().enumerate() {
            w.record_commentary(by(Role::Nhsi, 9), k, "trust director", &format!("view {i}"))
                .expect("commentary");
        }
    }

    fn visited(w: &mut UorWorkflow) {
        w.record_site_visit(
            by(Role::Nhsi, 10),
            visit_date(),
            &items(&["opening with the chief executive", "finance", "workforce"]),
            &items(&["A Assessor", "B Lead"]),
        )
        .expect("site visit");
    }

    fn out_of_order(attempted: Stage, expected: Stage) -> WorkflowError {
        WorkflowError::OutOfOrder {
            attempted,
            expected,
            missing: Vec::new(),
        }
    }

    #[test]
    fn the_five_kloes_are_named_as_in_domain_md() {
        let labels: Vec<_> = Kloe::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(
            labels,
            vec![
                "clinical services",
                "people",
                "clinical support services",
                "corporate services, procurement, estates and facilities",
                "finance"
            ]
        );
    }

    #[test]
    fn happy_path_in_order_records_who_and_when() {
        let mut w = wf();
        assert_eq!(w.next_stage(), Stage::TrustCommentary);
        commented(&mut w);
        assert_eq!(w.next_stage(), Stage::SiteVisit);
        visited(&mut w);
        assert_eq!(w.next_stage(), Stage::Report);
        w.record_report(by(Role::Nhsi, 11), "pay costs high; estates efficient")
            .expect("report");
        assert_eq!(w.next_stage(), Stage::Proposal);
        w.propose(Role::Nhsi, RequiresImprovement, "agency spend")
            .expect("propose");
        assert_eq!(w.next_stage(), Stage::Approval);
        w.approve(Role::Cqc, None, None).expect("approve");
        assert_eq!(w.next_stage(), Stage::Publication);
        assert_eq!(w.publish(Role::Operator), Ok((1, RequiresImprovement)));
        assert_eq!(w.next_stage(), Stage::FactualAccuracyChange);
        // A factual-accuracy change may change the rating: a new version, approved, to publish.
        assert_eq!(
            w.record_factual_accuracy_change(
                by(Role::Cqc, 12),
                Good,
                "agency spend was 4.1 %, not 6.1 %",
                "trust's factual-accuracy comment"
            ),
            Ok(2)
        );
        assert_eq!(w.approved_rating(), Some((2, Good)));
        assert_eq!(w.published_rating(), Some((1, RequiresImprovement)));
        assert_eq!(w.publish(Role::Operator), Ok((2, Good)));

        let s = w.stages().expect("staged");
        assert_eq!(s.latest_commentary().len(), 5);
        assert!(s.commentary.iter().all(|c| c.signed.role == Role::Nhsi
            && c.signed.by == "NHSI person"
            && c.signed.at == at(9)));
        let v = s.site_visit.as_ref().expect("visit");
        assert_eq!(v.date, visit_date());
        assert_eq!(v.agenda.len(), 3);
        assert_eq!(v.team, items(&["A Assessor", "B Lead"]));
        assert_eq!(v.signed.at, at(10));
        let r = s.report.as_ref().expect("report");
        assert_eq!((r.signed.role, r.signed.at), (Role::Nhsi, at(11)));
        let fa = &s.factual_accuracy_changes;
        assert_eq!(fa.len(), 1);
        assert_eq!(
            (
                fa[0].version,
                fa[0].rating,
                fa[0].changed_from,
                fa[0].signed.role
            ),
            (2, Good, Some(RequiresImprovement), Role::Cqc)
        );
        let actions: Vec<_> = w.history().iter().map(|h| h.action).collect();
        let mut expected = vec![Action::Suggest];
        expected.extend([Action::TrustCommentary; 5]);
        expected.extend([
            Action::SiteVisit,
            Action::Report,
            Action::Propose,
            Action::Approve,
            Action::Publish,
            Action::FactualAccuracyChange,
            Action::Publish,
        ]);
        assert_eq!(actions, expected);
    }

    #[test]
    fn stages_out_of_order_name_the_expected_stage() {
        let mut w = wf();
        // Nothing recorded: the commentary on all five KLOEs comes first.
        assert_eq!(
            w.record_site_visit(
                by(Role::Nhsi, 10),
                visit_date(),
                &items(&["a"]),
                &items(&["t"])
            ),
            Err(WorkflowError::OutOfOrder {
                attempted: Stage::SiteVisit,
                expected: Stage::TrustCommentary,
                missing: Kloe::ALL.to_vec()
            })
        );
        assert_eq!(
            w.record_report(by(Role::Nhsi, 11), "x"),
            Err(WorkflowError::OutOfOrder {
                attempted: Stage::Report,
                expected: Stage::TrustCommentary,
                missing: Kloe::ALL.to_vec()
            })
        );
        assert_eq!(
            w.record_factual_accuracy_change(by(Role::Cqc, 12), Good, "x", "y"),
            Err(WorkflowError::OutOfOrder {
                attempted: Stage::FactualAccuracyChange,
                expected: Stage::TrustCommentary,
                missing: Kloe::ALL.to_vec()
            })
        );
        // Four of five is not enough for the site visit; the missing one is named.
        for k in &Kloe::ALL[..4] {
            w.record_commentary(by(Role::Nhsi, 9), *k, "trust", "text")
                .expect("commentary");
        }
        let err = w
            .record_site_visit(
                by(Role::Nhsi, 10),
                visit_date(),
                &items(&["a"]),
                &items(&["t"]),
            )
            .expect_err("finance missing");
        assert_eq!(
            err,
            WorkflowError::OutOfOrder {
                attempted: Stage::SiteVisit,
                expected: Stage::TrustCommentary,
                missing: vec![Kloe::Finance]
            }
        );
        assert_eq!(
            err.to_string(),
            "failed precondition: the site visit cannot be recorded now: the next stage is the \
             trust's commentary on the key lines of enquiry (no commentary yet on: finance)"
        );
        // Once staged, a proposal needs the report.
        assert_eq!(
            w.propose(Role::Nhsi, Good, "early"),
            Err(WorkflowError::OutOfOrder {
                attempted: Stage::Proposal,
                expected: Stage::TrustCommentary,
                missing: vec![Kloe::Finance]
            })
        );
        w.record_commentary(by(Role::Nhsi, 9), Kloe::Finance, "trust", "text")
            .expect("commentary");
        assert_eq!(
            w.record_report(by(Role::Nhsi, 11), "x"),
            Err(out_of_order(Stage::Report, Stage::SiteVisit))
        );
        assert_eq!(
            w.propose(Role::Nhsi, Good, "early"),
            Err(out_of_order(Stage::Proposal, Stage::SiteVisit))
        );
        assert_eq!(
            w.approve(Role::Cqc, None, None),
            Err(out_of_order(Stage::Approval, Stage::SiteVisit))
        );
        visited(&mut w);
        // Commentary closes at the site visit; the visit happens once.
        assert_eq!(
            w.record_commentary(by(Role::Nhsi, 12), Kloe::People, "trust", "late"),
            Err(out_of_order(Stage::TrustCommentary, Stage::Report))
        );
        assert_eq!(
            w.record_site_visit(
                by(Role::Nhsi, 12),
                visit_date(),
                &items(&["a"]),
                &items(&["t"])
            ),
            Err(out_of_order(Stage::SiteVisit, Stage::Report))
        );
        assert_eq!(
            w.propose(Role::Nhsi, Good, "early"),
            Err(out_of_order(Stage::Proposal, Stage::Report))
        );
        w.record_report(by(Role::Nhsi, 13), "summary")
            .expect("report");
        assert_eq!(
            w.record_report(by(Role::Nhsi, 13), "again"),
            Err(out_of_order(Stage::Report, Stage::Proposal))
        );
        assert_eq!(
            w.approve(Role::Cqc, None, None),
            Err(out_of_order(Stage::Approval, Stage::Proposal))
        );
        assert_eq!(
            w.record_factual_accuracy_change(by(Role::Cqc, 14), Good, "x", "y"),
            Err(out_of_order(Stage::FactualAccuracyChange, Stage::Proposal))
        );
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        assert_eq!(
            w.record_factual_accuracy_change(by(Role::Cqc, 14), Good, "x", "y"),
            Err(out_of_order(Stage::FactualAccuracyChange, Stage::Approval))
        );
        assert_eq!(
            w.record_report(by(Role::Nhsi, 14), "late"),
            Err(out_of_order(Stage::Report, Stage::Approval))
        );
        w.approve(Role::Cqc, None, None).expect("approve");
        assert_eq!(
            w.propose(Role::Nhsi, Good, "late"),
            Err(out_of_order(Stage::Proposal, Stage::Publication))
        );
        w.publish(Role::Operator).expect("publish");
        assert_eq!(
            w.approve(Role::Cqc, None, None),
            Err(out_of_order(Stage::Approval, Stage::FactualAccuracyChange))
        );
        assert_eq!(
            w.record_commentary(by(Role::Nhsi, 15), Kloe::People, "trust", "late"),
            Err(out_of_order(
                Stage::TrustCommentary,
                Stage::FactualAccuracyChange
            ))
        );
    }

    #[test]
    fn roles_of_the_stages() {
        let mut w = wf();
        for role in [Role::Cqc, Role::Operator, Role::Reader] {
            assert_eq!(
                w.record_commentary(by(role, 9), Kloe::People, "trust", "text"),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::TrustCommentary
                })
            );
        }
        commented(&mut w);
        for role in [Role::Cqc, Role::Operator, Role::Reader] {
            assert_eq!(
                w.record_site_visit(by(role, 10), visit_date(), &items(&["a"]), &items(&["t"])),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::SiteVisit
                })
            );
        }
        visited(&mut w);
        for role in [Role::Cqc, Role::Operator, Role::Reader] {
            assert_eq!(
                w.record_report(by(role, 11), "summary"),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::Report
                })
            );
        }
        w.record_report(by(Role::Nhsi, 11), "summary")
            .expect("report");
        assert!(matches!(
            w.propose(Role::Cqc, Good, "x"),
            Err(WorkflowError::PermissionDenied { .. })
        ));
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        assert!(matches!(
            w.approve(Role::Nhsi, None, None),
            Err(WorkflowError::PermissionDenied { .. })
        ));
        w.approve(Role::Cqc, None, None).expect("approve");
        for role in [Role::Nhsi, Role::Operator, Role::Reader] {
            assert_eq!(
                w.record_factual_accuracy_change(by(role, 12), Good, "x", "y"),
                Err(WorkflowError::PermissionDenied {
                    role,
                    action: Action::FactualAccuracyChange
                })
            );
        }
        // Approved but not yet published: a change is allowed ("before/at publication"), and an
        // unchanged rating records no change of rating.
        assert_eq!(
            w.record_factual_accuracy_change(by(Role::Cqc, 12), Good, "ward name", "typo"),
            Ok(2)
        );
        let fa = &w.stages().expect("staged").factual_accuracy_changes;
        assert_eq!(fa[0].changed_from, None);
    }

    #[test]
    fn stage_arguments_are_checked() {
        let mut w = wf();
        assert!(matches!(
            w.record_commentary(by(Role::Nhsi, 9), Kloe::People, "trust", "  "),
            Err(WorkflowError::InvalidArgument { field: "text", .. })
        ));
        assert!(matches!(
            w.record_commentary(by(Role::Nhsi, 9), Kloe::People, "", "text"),
            Err(WorkflowError::InvalidArgument {
                field: "author",
                ..
            })
        ));
        // A refused commentary does not start the staged assessment.
        assert!(w.stages().is_none());
        commented(&mut w);
        // Replacing a KLOE's commentary before the visit: the latest counts, both are kept.
        w.record_commentary(by(Role::Nhsi, 9), Kloe::People, "trust", "revised view")
            .expect("replace");
        let s = w.stages().expect("staged");
        assert_eq!(s.commentary.len(), 6);
        assert_eq!(s.latest_commentary()[1].text, "revised view");
        assert!(matches!(
            w.record_site_visit(
                by(Role::Nhsi, 10),
                visit_date(),
                &items(&[" "]),
                &items(&["t"])
            ),
            Err(WorkflowError::InvalidArgument {
                field: "agenda",
                ..
            })
        ));
        assert!(matches!(
            w.record_site_visit(by(Role::Nhsi, 10), visit_date(), &items(&["a"]), &[]),
            Err(WorkflowError::InvalidArgument { field: "team", .. })
        ));
        visited(&mut w);
        assert!(matches!(
            w.record_report(by(Role::Nhsi, 11), ""),
            Err(WorkflowError::InvalidArgument {
                field: "summary",
                ..
            })
        ));
        w.record_report(by(Role::Nhsi, 11), "summary")
            .expect("report");
        w.propose(Role::Nhsi, Good, "fine").expect("propose");
        w.approve(Role::Cqc, None, None).expect("approve");
        assert!(matches!(
            w.record_factual_accuracy_change(by(Role::Cqc, 12), Good, "", "why"),
            Err(WorkflowError::InvalidArgument {
                field: "correction",
                ..
            })
        ));
        assert!(matches!(
            w.record_factual_accuracy_change(by(Role::Cqc, 12), Good, "what", " "),
            Err(WorkflowError::InvalidArgument {
                field: "reason",
                ..
            })
        ));
    }

    #[test]
    fn a_direct_proposal_keeps_the_plain_workflow_and_closes_the_stages() {
        let mut w = wf();
        // The existing callers propose directly; that is still accepted.
        w.propose(Role::Nhsi, Good, "direct").expect("propose");
        assert!(w.stages().is_none());
        assert_eq!(
            w.record_commentary(by(Role::Nhsi, 9), Kloe::People, "trust", "text"),
            Err(out_of_order(Stage::TrustCommentary, Stage::Approval))
        );
        w.approve(Role::Cqc, None, None).expect("approve");
        w.publish(Role::Operator).expect("publish");
        assert_eq!(
            w.record_factual_accuracy_change(by(Role::Cqc, 12), Inadequate, "deficit", "restated"),
            Ok(2)
        );
        assert_eq!(w.approved_rating(), Some((2, Inadequate)));
    }

    #[test]
    fn staged_workflow_round_trips_and_old_json_still_loads() {
        let mut w = wf();
        commented(&mut w);
        let json = serde_json::to_string(&w).expect("serialise");
        let back: UorWorkflow = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, w);
        // JSON stored before the stages existed has no "stages" key.
        let mut old = serde_json::to_value(wf()).expect("value");
        old.as_object_mut().expect("object").remove("stages");
        let back: UorWorkflow = serde_json::from_value(old).expect("old json");
        assert_eq!(back, wf());
    }
}
