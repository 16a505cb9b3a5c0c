//! gRPC for CQC systems. Writes (inspections, well-led assessments, enforcement actions, merged
//! services, "significantly small" services, published decisions) need the `cqc` role: they are CQC's findings and decisions, so
//! not even an operator records them (with authentication off every caller is the anonymous
//! operator, for development). Reads need any authenticated caller. Errors are mapped to a status
//! in one place ([`status`]).

use std::sync::Arc;

use cqc_rules::{
    Entity, EntityKind, LocationQuality, OverallBasis, ServiceQuality, Stage, TrustQuality,
};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::quality::v1 as pb;
use oversight_proto::quality::v1::quality_service_server::QualityService;
use oversight_rating::{LocationId, TrustCode};
use oversight_runtime::auth::{self, Role};
use tonic::{Request, Response, Status};

use crate::commands;
use crate::error::{InvalidEvidence, RecordError};
use crate::judging;
use crate::rating::{Rater, RatingsView, Recorded, RecordedSmall, dated, kq_ratings};
use crate::store::{JudgementRow, SignificantlySmallRow};

pub struct QualityApi {
    pub rater: Arc<Rater>,
}

/// The one mapping from the service's errors to gRPC statuses.
fn status(e: RecordError) -> Status {
    oversight_runtime::error::status(&e)
}

fn bad(e: InvalidEvidence) -> Status {
    status(RecordError::Invalid(e))
}

fn internal(e: anyhow::Error) -> Status {
    status(RecordError::Other(e))
}

/// Only CQC records findings and decisions.
const WRITERS: &[Role] = &[Role::Cqc];

fn version(v: Option<u64>) -> u64 {
    v.unwrap_or(0)
}

fn wire_stage(s: Stage) -> pb::Stage {
    match s {
        Stage::Draft => pb::Stage::Draft,
        Stage::Final => pb::Stage::Final,
    }
}

/// An entity of `trust` on the wire (`""` for a location or service it does not have).
fn wire_entity(trust: &TrustCode, e: &Entity) -> pb::EntityRef {
    pb::EntityRef {
        kind: match e.kind() {
            EntityKind::Trust => pb::EntityKind::Trust,
            EntityKind::Location => pb::EntityKind::Location,
            EntityKind::Service => pb::EntityKind::Service,
        } as i32,
        trust_code: trust.to_string(),
        location_id: e.location().map(ToString::to_string).unwrap_or_default(),
        service_id: e.service().map(ToString::to_string).unwrap_or_default(),
    }
}

fn wire_decision(j: &JudgementRow) -> pb::Decision {
    pb::Decision {
        entity: Some(wire_entity(&j.trust, &j.entity)),
        key_question: j
            .key_question
            .map_or(common::KeyQuestion::Unspecified, common::KeyQuestion::from)
            as i32,
        computed: convert::rating_or_unspecified(j.computed) as i32,
        published: common::Rating::from(j.published) as i32,
        rationale: j.rationale.clone(),
        stage: wire_stage(j.stage) as i32,
        decided_on: Some(convert::date(j.decided_on)),
        sequence: u64::try_from(j.sequence).unwrap_or(0),
        departs: judging::is_departure(j),
        recorded_by: j.recorded_by.clone(),
        recorded_at: convert::rfc3339_timestamp(&j.recorded_at),
    }
}

fn wire_small(trust: &TrustCode, s: &SignificantlySmallRow) -> pb::SignificantlySmallDecision {
    pb::SignificantlySmallDecision {
        trust_code: trust.to_string(),
        location_id: s.location_id.clone(),
        service_id: s.service_id.to_string(),
        from_date: Some(convert::date(s.decision.from)),
        until: convert::opt_date(s.decision.until),
        reason: s.decision.reason.clone(),
        sequence: u64::try_from(s.sequence).unwrap_or(0),
        recorded_by: s.decision.recorded_by.clone(),
        recorded_at: convert::rfc3339_timestamp(&s.recorded_at),
    }
}

/// The standing "significantly small" decision in words, for `EntityRatings` (rendered here, at
/// the edge).
fn left_out_text(s: &cqc_rules::SignificantlySmall) -> String {
    let mut text = format!(
        "significantly small (DOMAIN §2.1): left out of its location's aggregation from {}",
        s.from
    );
    if let Some(u) = s.until {
        text.push_str(&format!(" until {u}"));
    }
    text.push_str(&format!(": {}", s.reason));
    text
}

/// Builds the wire tree of the rules' result, with each entity's decisions beside it.
struct Tree<'a> {
    trust: &'a TrustCode,
    decisions: &'a [JudgementRow],
    significantly_small: &'a [SignificantlySmallRow],
}

impl Tree<'_> {
    fn decisions_of(&self, e: &Entity) -> Vec<pb::Decision> {
        self.decisions
            .iter()
            .filter(|j| j.entity == *e)
            .map(wire_decision)
            .collect()
    }

    /// A service at its location (`None`: a trust-wide service).
    fn service(&self, location: Option<&LocationId>, s: &ServiceQuality) -> pb::EntityRatings {
        let key = Entity::Service {
            trust: self.trust.clone(),
            location: location.cloned(),
            service: s.service.clone(),
        };
        pb::EntityRatings {
            entity: Some(wire_entity(self.trust, &key)),
            name: s.service.to_string(),
            key_questions: kq_ratings(&s.key_questions),
            overall: Some(dated(&s.overall)),
            decisions: self.decisions_of(&key),
            excluded_from_trust: s
                .excluded_from_trust
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            locations: vec![],
            services: vec![],
            left_out_significantly_small: s
                .significantly_small
                .as_ref()
                .map(left_out_text)
                .unwrap_or_default(),
            // A trust-wide service has the decisions recorded at any location.
            significantly_small: self
                .significantly_small
                .iter()
                .filter(|x| {
                    x.service_id == s.service
                        && location.is_none_or(|l| x.location_id == l.as_str())
                })
                .map(|x| wire_small(self.trust, x))
                .collect(),
        }
    }

    fn location(&self, l: &LocationQuality) -> pb::EntityRatings {
        let key = Entity::Location(l.id.clone());
        pb::EntityRatings {
            entity: Some(wire_entity(self.trust, &key)),
            name: l.name.clone().unwrap_or_default(),
            key_questions: kq_ratings(&l.key_questions),
            overall: Some(dated(&l.overall)),
            decisions: self.decisions_of(&key),
            excluded_from_trust: String::new(),
            left_out_significantly_small: String::new(),
            significantly_small: vec![],
            locations: vec![],
            services: l
                .services
                .iter()
                .map(|s| self.service(Some(&l.id), s))
                .collect(),
        }
    }

    fn trust(&self, q: &TrustQuality, name: String) -> pb::EntityRatings {
        let key = Entity::Trust(self.trust.clone());
        pb::EntityRatings {
            entity: Some(wire_entity(self.trust, &key)),
            name,
            key_questions: kq_ratings(&q.key_questions),
            overall: Some(dated(&q.overall)),
            decisions: self.decisions_of(&key),
            excluded_from_trust: String::new(),
            left_out_significantly_small: String::new(),
            significantly_small: vec![],
            locations: q.locations.iter().map(|l| self.location(l)).collect(),
            services: q.services.iter().map(|s| self.service(None, s)).collect(),
        }
    }
}

fn recorded_parts(r: Recorded) -> (Option<pb::QualityRatingIssued>, u64) {
    (r.rating, version(r.published_version))
}

#[tonic::async_trait]
impl QualityService for QualityApi {
    async fn get_trust_quality(
        &self,
        request: Request<pb::GetTrustQualityRequest>,
    ) -> Result<Response<pb::GetTrustQualityResponse>, Status> {
        auth::caller(&request)?;
        let trust =
            commands::trust_code("trust_code", &request.get_ref().trust_code).map_err(bad)?;
        match self.rater.latest(&trust).await.map_err(internal)? {
            Some(rating) => Ok(Response::new(pb::GetTrustQualityResponse {
                rating: Some(rating),
            })),
            None => Err(Status::not_found(format!(
                "no quality rating for trust {trust}"
            ))),
        }
    }

    async fn record_inspection(
        &self,
        request: Request<pb::RecordInspectionRequest>,
    ) -> Result<Response<pb::RecordInspectionResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::inspection(request.get_ref()).map_err(bad)?;
        let recorded = self
            .rater
            .record_inspection(&cmd, &caller.name)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordInspectionResponse {
            rating,
            published_version,
        }))
    }

    async fn record_well_led_assessment(
        &self,
        request: Request<pb::RecordWellLedAssessmentRequest>,
    ) -> Result<Response<pb::RecordWellLedAssessmentResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::well_led(request.get_ref()).map_err(bad)?;
        let recorded = self
            .rater
            .record_well_led(&cmd, &caller.name)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordWellLedAssessmentResponse {
            rating,
            published_version,
        }))
    }

    async fn record_enforcement_action(
        &self,
        request: Request<pb::RecordEnforcementActionRequest>,
    ) -> Result<Response<pb::RecordEnforcementActionResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::enforcement_action(request.get_ref()).map_err(bad)?;
        let recorded = self
            .rater
            .record_enforcement_action(&cmd, &caller.name)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordEnforcementActionResponse {
            rating,
            published_version,
        }))
    }

    async fn record_merged_service(
        &self,
        request: Request<pb::RecordMergedServiceRequest>,
    ) -> Result<Response<pb::RecordMergedServiceResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::merged_service(request.get_ref()).map_err(bad)?;
        let recorded = self
            .rater
            .record_merged_service(&cmd, &caller.name)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordMergedServiceResponse {
            rating,
            published_version,
        }))
    }

    async fn record_significantly_small_service(
        &self,
        request: Request<pb::RecordSignificantlySmallServiceRequest>,
    ) -> Result<Response<pb::RecordSignificantlySmallServiceResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::significantly_small(request.get_ref(), &caller.name).map_err(bad)?;
        let RecordedSmall {
            row,
            history,
            recorded,
        } = self
            .rater
            .record_significantly_small(&cmd)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordSignificantlySmallServiceResponse {
            decision: Some(wire_small(&cmd.trust, &row)),
            history: history.iter().map(|s| wire_small(&cmd.trust, s)).collect(),
            rating,
            published_version,
        }))
    }

    async fn record_published_decision(
        &self,
        request: Request<pb::RecordPublishedDecisionRequest>,
    ) -> Result<Response<pb::RecordPublishedDecisionResponse>, Status> {
        let caller = auth::require(&request, WRITERS)?;
        let cmd = commands::published_decision(request.get_ref()).map_err(bad)?;
        let (decision, history, recorded) = self
            .rater
            .record_decision(&cmd, &caller.name)
            .await
            .map_err(status)?;
        let (rating, published_version) = recorded_parts(recorded);
        Ok(Response::new(pb::RecordPublishedDecisionResponse {
            decision: Some(wire_decision(&decision)),
            history: history.iter().map(wire_decision).collect(),
            rating,
            published_version,
        }))
    }

    async fn get_ratings(
        &self,
        request: Request<pb::GetRatingsRequest>,
    ) -> Result<Response<pb::GetRatingsResponse>, Status> {
        auth::caller(&request)?;
        let r = request.get_ref();
        let trust = commands::trust_code("trust_code", &r.trust_code).map_err(bad)?;
        let as_of = commands::as_of(r.as_of.as_ref()).map_err(bad)?;
        let location_id = if r.location_id.trim().is_empty() {
            String::new()
        } else {
            r.location_id
                .parse::<oversight_rating::LocationId>()
                .map_err(|e| bad(crate::error::invalid("location_id", format!("{e}"))))?
                .to_string()
        };
        let service_id = r.service_id.trim().to_ascii_lowercase();
        let RatingsView {
            trust_name,
            quality,
            decisions,
            significantly_small,
        } = self.rater.ratings(&trust, as_of).await.map_err(status)?;
        let tree = Tree {
            trust: &trust,
            decisions: &decisions,
            significantly_small: &significantly_small,
        };
        let not_found = |what: String| {
            Status::not_found(format!(
                "{what} of trust {trust} has no ratings on or before {}",
                quality.as_of
            ))
        };
        let ratings = match (location_id.as_str(), service_id.as_str()) {
            ("", "") => tree.trust(&quality, trust_name),
            (l, "") => quality
                .locations
                .iter()
                .find(|x| x.id.as_str() == l)
                .map(|x| tree.location(x))
                .ok_or_else(|| not_found(format!("location_id: location {l}")))?,
            (l, s) if quality.trust_type.has_location_level() => quality
                .locations
                .iter()
                .find(|x| x.id.as_str() == l)
                .and_then(|x| {
                    x.services
                        .iter()
                        .find(|y| y.service.as_str() == s)
                        .map(|y| tree.service(Some(&x.id), y))
                })
                .ok_or_else(|| not_found(format!("service_id: service {s} at location {l:?}")))?,
            (_, s) => quality
                .services
                .iter()
                .find(|y| y.service.as_str() == s)
                .map(|y| tree.service(None, y))
                .ok_or_else(|| not_found(format!("service_id: service {s}")))?,
        };
        let overall_basis = match &quality.overall_basis {
            OverallBasis::Rerated { well_led_date } => {
                format!("re-rated on the trust-level well-led assessment of {well_led_date}")
            }
            OverallBasis::PreviousStands { reason } => reason.clone(),
        };
        Ok(Response::new(pb::GetRatingsResponse {
            rule_set: quality.rule_set.clone(),
            as_of: Some(convert::date(quality.as_of)),
            ratings: Some(ratings),
            overall_basis,
        }))
    }

    async fn list_departures(
        &self,
        request: Request<pb::ListDeparturesRequest>,
    ) -> Result<Response<pb::ListDeparturesResponse>, Status> {
        auth::caller(&request)?;
        let r = request.get_ref();
        let trust = if r.trust_code.trim().is_empty() {
            None
        } else {
            Some(commands::trust_code("trust_code", &r.trust_code).map_err(bad)?)
        };
        let departures = self
            .rater
            .departures(trust.as_ref(), r.final_only)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListDeparturesResponse {
            departures: departures.iter().map(wire_decision).collect(),
        }))
    }
}
