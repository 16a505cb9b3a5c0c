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
//! publishable, so nothing unapproved can reach the combiner. Times are not recorded here: the
//! service stores every transition as an event with its own timestamp.

use std::fmt;

use oversight_rating::{Rating, TrustCode};
use serde::{Deserialize, Serialize};

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
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Suggest => "suggest",
            Action::Propose => "propose",
            Action::Approve => "approve",
            Action::Publish => "publish",
            Action::Revise => "revise",
        })
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
        }
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
