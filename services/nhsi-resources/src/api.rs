//! gRPC for NHSI and CQC systems. Writes are role-checked here (NHSI records the assessment's
//! stages — the trust's commentary on its behalf, the site visit, the report — proposes, records
//! segments and oversight statuses; CQC approves, revises and records factual-accuracy changes); errors are mapped onto gRPC codes once, by
//! `From<ServiceError> for Status`.

use std::sync::Arc;

use chrono::NaiveDate;
use nhsi_rules::Direction;
use nhsi_rules::chppd::{ChppdFigures, YearMonth};
use nhsi_rules::nof::NofPeerGroup;
use nhsi_rules::segment::{Trigger, TriggerKind, segment_name};
use nhsi_rules::status::{OversightStatus, StatusKind, standing_on};
use nhsi_rules::workflow::{Action, Kloe, Signed, Stage, UorState};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::google_type::Date;
use oversight_proto::resources::v1 as pb;
use oversight_proto::resources::v1::resources_service_server::ResourcesService;
use oversight_rating::{Rating, TrustCode};
use oversight_runtime::auth::{Role, require};
use rust_decimal::{Decimal, RoundingStrategy};
use tonic::{Request, Response, Status};

use crate::error::ServiceError;
use crate::observations::{Observations, Peers, RecordedDecision};
use crate::resources::Resources;
use crate::statuses::{self, RecordedStatus};
use crate::workflow::{Assessment, Assessments, Published, Transition};

pub struct ResourcesApi {
    pub resources: Arc<Resources>,
    pub metrics: Arc<Observations>,
    pub assessments: Arc<Assessments>,
}

type Reply<T> = Result<Response<T>, Status>;

fn trust_code(s: &str) -> Result<TrustCode, ServiceError> {
    s.parse()
        .map_err(|e| ServiceError::invalid("request", "trust_code", format!("{e}")))
}

/// An optional date of a request; a date that is not a full calendar date is refused, naming
/// `field`.
fn optional_date(field: &str, d: Option<&Date>) -> Result<Option<NaiveDate>, ServiceError> {
    convert::to_opt_date(d).map_err(|e| ServiceError::invalid("request", field, e.to_string()))
}

/// A date a request must carry; `what` says what it is.
fn required_date(field: &str, d: Option<&Date>, what: &str) -> Result<NaiveDate, ServiceError> {
    optional_date(field, d)?
        .ok_or_else(|| ServiceError::invalid("request", field, format!("{what} is required")))
}

fn required_rating(field: &str, raw: i32) -> Result<Rating, ServiceError> {
    convert::real_rating(raw).ok_or_else(|| {
        ServiceError::invalid(
            "request",
            field,
            "must be outstanding, good, requires improvement or inadequate",
        )
    })
}

fn peers(set: Option<pb::PeerSet>) -> Result<Peers, ServiceError> {
    let Some(set) = set else {
        return Ok(Peers::National);
    };
    let name = set.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid(
            "request",
            "peer_set.name",
            "a named peer set needs a name",
        ));
    }
    if set.trust_codes.is_empty() {
        return Err(ServiceError::invalid(
            "request",
            "peer_set.trust_codes",
            format!("peer set {name} has no trusts"),
        ));
    }
    let trusts = set
        .trust_codes
        .iter()
        .map(|c| {
            c.parse().map_err(|e| {
                ServiceError::invalid("request", "peer_set.trust_codes", format!("{e}"))
            })
        })
        .collect::<Result<Vec<TrustCode>, _>>()?;
    Ok(Peers::Named {
        name: name.to_string(),
        trusts,
    })
}

/// An exact decimal for the wire.
fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A ratio for the wire, 2 dp half away from zero (as `oversight score` prints it).
fn dec_2dp(d: Decimal) -> String {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r.to_string()
}

fn rating(r: Option<Rating>) -> i32 {
    convert::rating_or_unspecified(r) as i32
}

fn state(s: UorState) -> i32 {
    (match s {
        UorState::Suggested => pb::UseOfResourcesState::Suggested,
        UorState::Proposed => pb::UseOfResourcesState::Proposed,
        UorState::Approved => pb::UseOfResourcesState::Approved,
        UorState::Published => pb::UseOfResourcesState::Published,
    }) as i32
}

fn state_name(s: &str) -> i32 {
    match s {
        "suggested" => state(UorState::Suggested),
        "proposed" => state(UorState::Proposed),
        "approved" => state(UorState::Approved),
        "published" => state(UorState::Published),
        _ => pb::UseOfResourcesState::Unspecified as i32,
    }
}

fn stage_view(s: Stage) -> i32 {
    (match s {
        Stage::TrustCommentary => pb::UseOfResourcesStage::TrustCommentary,
        Stage::SiteVisit => pb::UseOfResourcesStage::SiteVisit,
        Stage::Report => pb::UseOfResourcesStage::Report,
        Stage::Proposal => pb::UseOfResourcesStage::Proposal,
        Stage::Approval => pb::UseOfResourcesStage::Approval,
        Stage::Publication => pb::UseOfResourcesStage::Publication,
        Stage::FactualAccuracyChange => pb::UseOfResourcesStage::FactualAccuracyChange,
    }) as i32
}

fn kloe_view(k: Kloe) -> i32 {
    (match k {
        Kloe::ClinicalServices => pb::KeyLineOfEnquiry::ClinicalServices,
        Kloe::People => pb::KeyLineOfEnquiry::People,
        Kloe::ClinicalSupportServices => pb::KeyLineOfEnquiry::ClinicalSupportServices,
        Kloe::CorporateServicesProcurementEstates => pb::KeyLineOfEnquiry::CorporateServices,
        Kloe::Finance => pb::KeyLineOfEnquiry::Finance,
    }) as i32
}

fn direction_view(d: Direction) -> pb::MetricDirection {
    match d {
        Direction::LowerIsBetter => pb::MetricDirection::LowerIsBetter,
        Direction::HigherIsBetter => pb::MetricDirection::HigherIsBetter,
    }
}

/// The month a CHPPD request asks for: a year and month (day 0, or any day of it).
fn requested_month(d: &Date) -> Result<YearMonth, ServiceError> {
    let bad = |reason: String| ServiceError::invalid("request", "month", reason);
    let (year, month) = convert::to_month(d).map_err(|e| bad(e.to_string()))?;
    NaiveDate::from_ymd_opt(year, month, 1)
        .map(YearMonth::of)
        .ok_or_else(|| bad(format!("{year:04}-{month:02} is not a month")))
}

fn required_kloe(raw: i32) -> Result<Kloe, ServiceError> {
    match pb::KeyLineOfEnquiry::try_from(raw) {
        Ok(pb::KeyLineOfEnquiry::ClinicalServices) => Ok(Kloe::ClinicalServices),
        Ok(pb::KeyLineOfEnquiry::People) => Ok(Kloe::People),
        Ok(pb::KeyLineOfEnquiry::ClinicalSupportServices) => Ok(Kloe::ClinicalSupportServices),
        Ok(pb::KeyLineOfEnquiry::CorporateServices) => {
            Ok(Kloe::CorporateServicesProcurementEstates)
        }
        Ok(pb::KeyLineOfEnquiry::Finance) => Ok(Kloe::Finance),
        Ok(pb::KeyLineOfEnquiry::Unspecified) | Err(_) => Err(ServiceError::invalid(
            "request",
            "kloe",
            "must be one of the five key lines of enquiry: clinical services; people; clinical \
             support services; corporate services, procurement, estates and facilities; finance",
        )),
    }
}

fn role_view(r: Role) -> i32 {
    common::Role::from(r) as i32
}

fn signed_view(s: &Signed) -> pb::StageRecorded {
    pb::StageRecorded {
        role: role_view(s.role),
        caller: s.by.clone(),
        recorded_at: Some(convert::timestamp(s.at)),
    }
}

fn assessment_view(a: &Assessment) -> pb::UseOfResourcesAssessment {
    let v = a.workflow.current();
    let approval = v.approval.as_ref();
    let stages = a.workflow.stages();
    pb::UseOfResourcesAssessment {
        next_stage: stage_view(a.workflow.next_stage()),
        staged: stages.is_some(),
        commentary: stages
            .map(|s| {
                s.commentary
                    .iter()
                    .map(|c| pb::TrustCommentary {
                        kloe: kloe_view(c.kloe),
                        text: c.text.clone(),
                        author: c.author.clone(),
                        recorded: Some(signed_view(&c.signed)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        site_visit: stages
            .and_then(|s| s.site_visit.as_ref())
            .map(|v| pb::SiteVisit {
                date: Some(convert::date(v.date)),
                agenda: v.agenda.clone(),
                team: v.team.clone(),
                recorded: Some(signed_view(&v.signed)),
            }),
        report: stages
            .and_then(|s| s.report.as_ref())
            .map(|r| pb::AssessmentReport {
                summary: r.summary.clone(),
                recorded: Some(signed_view(&r.signed)),
            }),
        factual_accuracy_changes: stages
            .map(|s| {
                s.factual_accuracy_changes
                    .iter()
                    .map(|f| pb::FactualAccuracyChange {
                        version: f.version,
                        correction: f.correction.clone(),
                        reason: f.reason.clone(),
                        rating: rating(Some(f.rating)),
                        changed_from: rating(f.changed_from),
                        recorded: Some(signed_view(&f.signed)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        trust_code: a.trust.to_string(),
        assessment: a.number,
        version: v.version,
        state: state(v.state),
        report_date: convert::opt_date(a.report_date),
        suggested_rating: rating(v.suggested),
        proposed_rating: rating(v.proposal.as_ref().map(|p| p.rating)),
        proposal_rationale: v
            .proposal
            .as_ref()
            .map(|p| p.rationale.clone())
            .unwrap_or_default(),
        approved_rating: rating(approval.map(|x| x.rating)),
        changed_from: rating(approval.and_then(|x| x.changed_from)),
        approval_reason: approval.and_then(|x| x.reason.clone()).unwrap_or_default(),
    }
}

fn transition_view(t: &Transition) -> pb::UseOfResourcesTransition {
    pb::UseOfResourcesTransition {
        sequence: t.seq,
        assessment: t.assessment,
        version: t.version,
        action: action_view(t.action) as i32,
        role: role_view(t.role),
        caller: t.caller.clone(),
        from_state: state_name(&t.from_state),
        to_state: state_name(&t.to_state),
        rating: rating(t.rating),
        note: t.note.clone(),
        recorded_at: convert::rfc3339_timestamp(&t.recorded_at),
    }
}

fn action_view(a: Action) -> pb::WorkflowAction {
    match a {
        Action::Suggest => pb::WorkflowAction::Suggest,
        Action::Propose => pb::WorkflowAction::Propose,
        Action::Approve => pb::WorkflowAction::Approve,
        Action::Publish => pb::WorkflowAction::Publish,
        Action::Revise => pb::WorkflowAction::Revise,
        Action::TrustCommentary => pb::WorkflowAction::TrustCommentary,
        Action::SiteVisit => pb::WorkflowAction::SiteVisit,
        Action::Report => pb::WorkflowAction::Report,
        Action::FactualAccuracyChange => pb::WorkflowAction::FactualAccuracyChange,
    }
}

/// A status for the wire; `record` adds who recorded it, when, and its number.
fn status_view(
    trust: &TrustCode,
    s: &OversightStatus,
    record: Option<&RecordedStatus>,
) -> pb::OversightStatus {
    pb::OversightStatus {
        trust_code: trust.to_string(),
        kind: statuses::kind_view(s.kind) as i32,
        from_date: Some(convert::date(s.from)),
        to_date: convert::opt_date(s.to),
        source: s.source.clone(),
        recorded_by: record.map(|r| r.recorded_by.clone()).unwrap_or_default(),
        recorded_at: record.and_then(|r| convert::rfc3339_timestamp(&r.recorded_at)),
        sequence: record.map_or(0, |r| r.seq),
    }
}

fn recorded_view(r: &RecordedStatus) -> pb::OversightStatus {
    status_view(&r.trust, &r.status, Some(r))
}

fn required_status_kind(raw: i32) -> Result<StatusKind, ServiceError> {
    statuses::kind(raw)
        .ok_or_else(|| ServiceError::invalid("request", "kind", statuses::unknown_kind(raw)))
}

fn trigger_view(t: &Trigger) -> pb::SegmentTrigger {
    let kind = match t.kind {
        TriggerKind::SpecialMeasures { .. } => pb::TriggerKind::SpecialMeasures,
        TriggerKind::CqcOverallRating { .. } => pb::TriggerKind::CqcOverallRating,
        TriggerKind::FinanceScore { .. } => pb::TriggerKind::FinanceScore,
        TriggerKind::UseOfResourcesRating { .. } => pb::TriggerKind::UseOfResourcesRating,
        TriggerKind::OperationalStandardMissed { .. } => pb::TriggerKind::OperationalStandardMissed,
    };
    pb::SegmentTrigger {
        kind: kind as i32,
        description: t.description.clone(),
        serious: t.serious,
    }
}

fn decision_view(d: &RecordedDecision) -> pb::SegmentDecision {
    pb::SegmentDecision {
        trust_code: d.trust.to_string(),
        segment: u32::from(d.decision.segment),
        suggested_segment: u32::from(d.decision.suggested_segment),
        rationale: d.decision.rationale.clone(),
        triggers: d.decision.triggers.iter().map(trigger_view).collect(),
        decided_by: d.decided_by.clone(),
        decided_at: convert::rfc3339_timestamp(&d.decided_at),
    }
}

/// A ward's (or the trust's) figures; without patient days `chppd` is empty and `by_staff_group`
/// unset (no figure), while `care_hours` still shows the hours counted at trust level.
fn chppd_view(ward: Option<&str>, month: YearMonth, f: &ChppdFigures) -> pb::ChppdFigure {
    pb::ChppdFigure {
        ward_code: ward.unwrap_or_default().to_string(),
        month: Some(convert::month(month.year(), month.month())),
        patient_days: f.patient_days,
        chppd: f.chppd().map(dec_2dp).unwrap_or_default(),
        by_staff_group: f.per_patient_day.map(|p| {
            let by = &p.by_staff_group;
            pb::StaffGroupChppd {
                registered_nurse: dec_2dp(by.registered_nurse),
                registered_midwife: dec_2dp(by.registered_midwife),
                allied_health_professional: dec_2dp(by.allied_health_professional),
                healthcare_support_worker: dec_2dp(by.healthcare_support_worker),
            }
        }),
        care_hours: dec_2dp(f.hours.total()),
    }
}

fn peer_group_view(g: NofPeerGroup) -> pb::NofPeerGroup {
    match g {
        NofPeerGroup::Acute => pb::NofPeerGroup::Acute,
        NofPeerGroup::NonAcute => pb::NofPeerGroup::NonAcute,
        NofPeerGroup::Ambulance => pb::NofPeerGroup::Ambulance,
    }
}

impl ResourcesApi {
    /// The peer group a league-table request asks for: `peer_group`, or the peer group of
    /// `trust_type`; `None` for every table. The two must agree when both are given.
    fn league_table_peer_group(
        &self,
        r: &pb::GetLeagueTableRequest,
    ) -> Result<Option<NofPeerGroup>, ServiceError> {
        let asked = match pb::NofPeerGroup::try_from(r.peer_group) {
            Ok(pb::NofPeerGroup::Unspecified) => None,
            Ok(pb::NofPeerGroup::Acute) => Some(NofPeerGroup::Acute),
            Ok(pb::NofPeerGroup::NonAcute) => Some(NofPeerGroup::NonAcute),
            Ok(pb::NofPeerGroup::Ambulance) => Some(NofPeerGroup::Ambulance),
            Err(_) => {
                return Err(ServiceError::invalid(
                    "request",
                    "peer_group",
                    format!("unknown peer group {}", r.peer_group),
                ));
            }
        };
        let nof = &self.metrics.rules().nof;
        let of_type = convert::trust_type(r.trust_type).map(|t| (t, nof.peer_group(t)));
        match (asked, of_type) {
            (Some(g), Some((t, h))) if g != h => Err(ServiceError::invalid(
                "request",
                "peer_group",
                format!("{} trusts are in the {h} peer group, not {g}", t.describe()),
            )),
            (Some(g), _) => Ok(Some(g)),
            (None, of_type) => Ok(of_type.map(|(_, h)| h)),
        }
    }

    async fn latest_approved_event(
        &self,
        trust: &TrustCode,
    ) -> Result<pb::UseOfResourcesRatingApproved, ServiceError> {
        self.resources.latest_event(trust).await?.ok_or_else(|| {
            ServiceError::not_found(
                format!("use-of-resources rating of trust {trust}"),
                "no approved use-of-resources rating",
            )
        })
    }
}

#[tonic::async_trait]
impl ResourcesService for ResourcesApi {
    async fn get_use_of_resources(
        &self,
        request: Request<pb::GetUseOfResourcesRequest>,
    ) -> Reply<pb::GetUseOfResourcesResponse> {
        let trust = trust_code(&request.into_inner().trust_code)?;
        let rating = self.latest_approved_event(&trust).await?;
        Ok(Response::new(pb::GetUseOfResourcesResponse {
            rating: Some(rating),
        }))
    }

    async fn get_finance_score(
        &self,
        request: Request<pb::GetFinanceScoreRequest>,
    ) -> Reply<pb::GetFinanceScoreResponse> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let period = optional_date("period", r.period.as_ref())?;
        let f = self.metrics.finance_score(&trust, period).await?;
        let scores = f.score.scores.as_array();
        Ok(Response::new(pb::GetFinanceScoreResponse {
            trust_code: trust.to_string(),
            period: Some(convert::date(f.period)),
            rule_set: f.score.explanation.rule_set.clone(),
            metrics: f
                .values
                .iter()
                .zip(scores)
                .map(|((name, value), score)| pb::FinanceMetricScore {
                    metric: (*name).to_string(),
                    value: dec(*value),
                    score: u32::from(score),
                })
                .collect(),
            overall: u32::from(f.score.overall),
            explanation: Some((&f.score.explanation).into()),
            computed_overall: u32::from(f.score.computed),
            financial_special_measures: f
                .financial_special_measures
                .as_ref()
                .map(|s| status_view(&trust, s, None)),
        }))
    }

    async fn get_metric_positions(
        &self,
        request: Request<pb::GetMetricPositionsRequest>,
    ) -> Reply<pb::GetMetricPositionsResponse> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let peers = peers(r.peer_set)?;
        let (group, positions) = self.metrics.positions(&trust, &peers).await?;
        Ok(Response::new(pb::GetMetricPositionsResponse {
            trust_code: trust.to_string(),
            peer_group: group.to_string(),
            positions: positions
                .iter()
                .map(|d| {
                    let p = &d.position;
                    pb::MetricPosition {
                        metric: p.metric.name().to_string(),
                        kloe: kloe_view(p.metric.kloe()),
                        direction: direction_view(p.metric.direction()) as i32,
                        period: Some(convert::date(d.period)),
                        value: dec(p.trust_value),
                        quartile: u32::from(p.quartile),
                        peer_median: dec(p.peer_median),
                        distance_from_median: dec(p.distance_from_median),
                        peer_count: u32::try_from(p.n_peers).unwrap_or(u32::MAX),
                    }
                })
                .collect(),
        }))
    }

    async fn get_chppd(
        &self,
        request: Request<pb::GetChppdRequest>,
    ) -> Reply<pb::GetChppdResponse> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let month = r.month.as_ref().map(requested_month).transpose()?;
        let (report, problems) = self.metrics.chppd(&trust, month).await?;
        if report.wards.is_empty() && problems.is_empty() {
            return Err(ServiceError::not_found(
                format!("ward staffing of trust {trust}"),
                match month {
                    Some(m) => format!("no ward staffing data recorded for {m}"),
                    None => "no ward staffing data recorded".to_string(),
                },
            )
            .into());
        }
        Ok(Response::new(pb::GetChppdResponse {
            trust_code: trust.to_string(),
            wards: report
                .wards
                .iter()
                .map(|w| chppd_view(Some(w.ward.as_str()), w.month, &w.figures))
                .collect(),
            trust: report
                .trusts
                .iter()
                .map(|t| chppd_view(None, t.month, &t.figures))
                .collect(),
            problems,
        }))
    }

    async fn get_suggested_rating(
        &self,
        request: Request<pb::GetSuggestedRatingRequest>,
    ) -> Reply<pb::GetSuggestedRatingResponse> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let peers = peers(r.peer_set)?;
        let (group, s) = self.metrics.suggestion(&trust, &peers).await?;
        Ok(Response::new(pb::GetSuggestedRatingResponse {
            trust_code: trust.to_string(),
            peer_group: group.to_string(),
            kloes: s
                .kloes
                .iter()
                .map(|k| pb::KloeSuggestion {
                    kloe: kloe_view(k.kloe),
                    rating: common::Rating::from(k.rating) as i32,
                    reasons: k.reasons.clone(),
                })
                .collect(),
            overall: common::Rating::from(s.overall) as i32,
            explanation: Some((&s.explanation).into()),
        }))
    }

    async fn propose_use_of_resources(
        &self,
        request: Request<pb::ProposeUseOfResourcesRequest>,
    ) -> Reply<pb::ProposeUseOfResourcesResponse> {
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let proposed = required_rating("rating", r.rating)?;
        let report_date = required_date("report_date", r.report_date.as_ref(), "the report date")?;
        let a = self
            .assessments
            .propose(&trust, &caller, proposed, &r.rationale, report_date)
            .await?;
        Ok(Response::new(pb::ProposeUseOfResourcesResponse {
            assessment: Some(assessment_view(&a)),
        }))
    }

    async fn approve_use_of_resources(
        &self,
        request: Request<pb::ApproveUseOfResourcesRequest>,
    ) -> Reply<pb::ApproveUseOfResourcesResponse> {
        let caller = require(&request, &[Role::Cqc])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let changed = if r.rating == common::Rating::Unspecified as i32 {
            None
        } else {
            Some(required_rating("rating", r.rating)?)
        };
        let Published { assessment, event } = self
            .assessments
            .approve(&trust, &caller, changed, Some(r.reason.as_str()))
            .await?;
        Ok(Response::new(pb::ApproveUseOfResourcesResponse {
            assessment: Some(assessment_view(&assessment)),
            published: event,
        }))
    }

    async fn revise_use_of_resources(
        &self,
        request: Request<pb::ReviseUseOfResourcesRequest>,
    ) -> Reply<pb::ReviseUseOfResourcesResponse> {
        let caller = require(&request, &[Role::Cqc])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let revised = required_rating("rating", r.rating)?;
        let Published { assessment, event } = self
            .assessments
            .revise(&trust, &caller, revised, &r.reason)
            .await?;
        Ok(Response::new(pb::ReviseUseOfResourcesResponse {
            assessment: Some(assessment_view(&assessment)),
            published: event,
        }))
    }

    async fn get_use_of_resources_history(
        &self,
        request: Request<pb::GetUseOfResourcesHistoryRequest>,
    ) -> Reply<pb::GetUseOfResourcesHistoryResponse> {
        let trust = trust_code(&request.into_inner().trust_code)?;
        let current = self.assessments.latest(&trust).await?;
        let transitions = self.assessments.transitions(&trust).await?;
        let published = self
            .resources
            .published_history(&trust)
            .await
            .map_err(ServiceError::from)?;
        if current.is_none() && published.is_empty() {
            return Err(ServiceError::not_found(
                format!("use-of-resources history of trust {trust}"),
                "no assessment and no approved rating",
            )
            .into());
        }
        Ok(Response::new(pb::GetUseOfResourcesHistoryResponse {
            current: current.as_ref().map(assessment_view),
            transitions: transitions.iter().map(transition_view).collect(),
            published,
        }))
    }

    async fn record_trust_commentary(
        &self,
        request: Request<pb::RecordTrustCommentaryRequest>,
    ) -> Reply<pb::RecordTrustCommentaryResponse> {
        // No trust role exists: NHSI records the trust's commentary on its behalf.
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let kloe = required_kloe(r.kloe)?;
        let a = self
            .assessments
            .record_commentary(&trust, &caller, kloe, &r.author, &r.text)
            .await?;
        Ok(Response::new(pb::RecordTrustCommentaryResponse {
            assessment: Some(assessment_view(&a)),
        }))
    }

    async fn record_site_visit(
        &self,
        request: Request<pb::RecordSiteVisitRequest>,
    ) -> Reply<pb::RecordSiteVisitResponse> {
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let date = required_date("date", r.date.as_ref(), "the site visit's date")?;
        let a = self
            .assessments
            .record_site_visit(&trust, &caller, date, &r.agenda, &r.team)
            .await?;
        Ok(Response::new(pb::RecordSiteVisitResponse {
            assessment: Some(assessment_view(&a)),
        }))
    }

    async fn record_assessment_report(
        &self,
        request: Request<pb::RecordAssessmentReportRequest>,
    ) -> Reply<pb::RecordAssessmentReportResponse> {
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let a = self
            .assessments
            .record_report(&trust, &caller, &r.summary)
            .await?;
        Ok(Response::new(pb::RecordAssessmentReportResponse {
            assessment: Some(assessment_view(&a)),
        }))
    }

    async fn record_factual_accuracy_change(
        &self,
        request: Request<pb::RecordFactualAccuracyChangeRequest>,
    ) -> Reply<pb::RecordFactualAccuracyChangeResponse> {
        let caller = require(&request, &[Role::Cqc])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let changed = required_rating("rating", r.rating)?;
        let Published { assessment, event } = self
            .assessments
            .record_factual_accuracy_change(&trust, &caller, changed, &r.correction, &r.reason)
            .await?;
        Ok(Response::new(pb::RecordFactualAccuracyChangeResponse {
            assessment: Some(assessment_view(&assessment)),
            published: event,
        }))
    }

    async fn suggest_segment(
        &self,
        request: Request<pb::SuggestSegmentRequest>,
    ) -> Reply<pb::SuggestSegmentResponse> {
        let trust = trust_code(&request.into_inner().trust_code)?;
        let s = self.metrics.suggest_segment(&trust).await?;
        let latest = self.metrics.latest_segment_decision(&trust).await?;
        Ok(Response::new(pb::SuggestSegmentResponse {
            trust_code: trust.to_string(),
            segment: u32::from(s.segment),
            segment_name: segment_name(s.segment).to_string(),
            triggers: s.triggers.iter().map(trigger_view).collect(),
            explanation: Some((&s.explanation).into()),
            latest_decision: latest.as_ref().map(decision_view),
        }))
    }

    async fn record_segment_decision(
        &self,
        request: Request<pb::RecordSegmentDecisionRequest>,
    ) -> Reply<pb::RecordSegmentDecisionResponse> {
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let segment = u8::try_from(r.segment).map_err(|_| {
            ServiceError::invalid(
                "request",
                "segment",
                format!("must be from 1 to 4, found {}", r.segment),
            )
        })?;
        let d = self
            .metrics
            .record_segment_decision(&trust, segment, &r.rationale, &caller.name)
            .await?;
        Ok(Response::new(pb::RecordSegmentDecisionResponse {
            decision: Some(decision_view(&d)),
        }))
    }

    async fn get_league_table(
        &self,
        request: Request<pb::GetLeagueTableRequest>,
    ) -> Reply<pb::GetLeagueTableResponse> {
        let r = request.into_inner();
        let peer_group = self.league_table_peer_group(&r)?;
        let rows = self.metrics.league_table(peer_group).await?;
        Ok(Response::new(pb::GetLeagueTableResponse {
            rule_set: self.metrics.rules().nof.name.clone(),
            rows: rows
                .iter()
                .map(|(row, a)| pb::LeagueTableRow {
                    rank: u32::try_from(row.rank).unwrap_or(u32::MAX),
                    trust_code: row.trust.to_string(),
                    trust_type: common::TrustType::from(row.org_type) as i32,
                    segment: u32::from(row.segment),
                    delivery_score: row.delivery_score.to_string(),
                    explanation: Some((&a.explanation).into()),
                    peer_group: peer_group_view(row.peer_group) as i32,
                })
                .collect(),
        }))
    }

    async fn record_oversight_status(
        &self,
        request: Request<pb::RecordOversightStatusRequest>,
    ) -> Reply<pb::RecordOversightStatusResponse> {
        let caller = require(&request, &[Role::Nhsi])?;
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let kind = required_status_kind(r.kind)?;
        let from = required_date(
            "from_date",
            r.from_date.as_ref(),
            "the date the status starts",
        )?;
        let to = optional_date("to_date", r.to_date.as_ref())?;
        let record = format!("oversight status of trust {trust}");
        let status = statuses::checked(&record, kind, from, to, &r.source)?;
        let recorded = statuses::record(self.metrics.pool(), &trust, &status, &caller.name).await?;
        Ok(Response::new(pb::RecordOversightStatusResponse {
            status: Some(recorded_view(&recorded.record)),
            recorded: recorded.appended,
        }))
    }

    async fn list_oversight_statuses(
        &self,
        request: Request<pb::ListOversightStatusesRequest>,
    ) -> Reply<pb::ListOversightStatusesResponse> {
        let r = request.into_inner();
        let trust = trust_code(&r.trust_code)?;
        let as_of = optional_date("as_of", r.as_of.as_ref())?
            .unwrap_or_else(oversight_runtime::time::today);
        let history = statuses::history(self.metrics.pool(), &trust).await?;
        let standing = standing_on(history.iter().map(|h| &h.status), as_of);
        // The record each standing status comes from (the latest of its kind and start date).
        let standing = standing
            .statuses
            .iter()
            .map(|s| {
                let from = history.iter().rev().find(|h| h.status == *s);
                status_view(&trust, s, from)
            })
            .collect();
        Ok(Response::new(pb::ListOversightStatusesResponse {
            trust_code: trust.to_string(),
            history: history.iter().map(recorded_view).collect(),
            as_of: Some(convert::date(as_of)),
            standing,
        }))
    }
}
