//! From the computed ratings to what CQC publishes for a trust: limiters named at every level
//! above the rating they lowered (§2.2), final decisions laid over the computed ratings (§2.4),
//! and the previously published trust overall carried forward while the trust is not re-rated
//! (§2.3). Pure: the service reads the records and the published history, the rules decide.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{
    Items, KeyQuestion, KeyQuestionMap, LocationId, Rating, RatingValue, ServiceId,
};

use crate::explain::{CqcExplanation, Input, Label, LimiterApplied, LimiterBeneath, Note, Rule};
use crate::judgement::{Entity, Judgement, Stage};
use crate::rate::{OverallBasis, RatedResult, ServiceQuality, TrustQuality};

/// Names, at every level above a key question × service, the limiters that lowered a rating
/// beneath it (§2.2: "the limiter and its reason are part of the rating's explanation"): the
/// location key question gets a [`Note::LimiterBeneath`] for each limited service of the location,
/// the trust key question one for each limited service of the trust (naming its location). Trust
/// well-led is never aggregated, so no service limiter reaches it.
pub fn note_limiters_beneath(q: &mut TrustQuality) {
    fn limited(services: &[ServiceQuality], kq: KeyQuestion) -> Vec<(ServiceId, LimiterApplied)> {
        services
            .iter()
            .filter_map(|s| match &s.key_questions.get(&kq)?.explanation.rule {
                Rule::Judged {
                    limiter: Some(applied),
                    ..
                } => Some((s.service.clone(), (**applied).clone())),
                _ => None,
            })
            .collect()
    }
    let beneath = |location: Option<&LocationId>, service, key_question, applied| {
        Note::LimiterBeneath(Box::new(LimiterBeneath {
            location: location.cloned(),
            service,
            key_question,
            applied,
        }))
    };
    let mut trust_notes: Vec<(KeyQuestion, Note)> = Vec::new();
    for l in &mut q.locations {
        for kq in KeyQuestion::ALL {
            for (service, applied) in limited(&l.services, kq) {
                if let Some(r) = l.key_questions.get_mut(&kq) {
                    r.explanation
                        .notes
                        .push(beneath(None, service.clone(), kq, applied.clone()));
                }
                trust_notes.push((kq, beneath(Some(&l.id), service, kq, applied)));
            }
        }
    }
    for kq in KeyQuestion::ALL {
        for (service, applied) in limited(&q.services, kq) {
            trust_notes.push((kq, beneath(None, service, kq, applied)));
        }
    }
    for (kq, note) in trust_notes {
        if kq != KeyQuestion::WellLed
            && let Some(r) = q.key_questions.get_mut(&kq)
        {
            r.explanation.notes.push(note);
        }
    }
}

/// A trust overall as published before: its rating and the date it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedOverall {
    pub rating: Rating,
    pub date: Option<NaiveDate>,
}

/// Whether the trust overall published before stands ([`carry_forward`]): the rules did not
/// re-rate the trust and no final decision rated its overall.
pub fn carries_forward(q: &TrustQuality) -> bool {
    matches!(q.overall_basis, OverallBasis::PreviousStands { .. }) && q.overall.rating.is_none()
}

/// §2.3: "The trust overall is only re-rated after a trust-level well-led assessment; otherwise
/// the previous trust rating stands." When the rules did not re-rate the trust
/// ([`OverallBasis::PreviousStands`]) and nothing else rated it (no final decision), the trust
/// overall published before stands, with its date, explained as carried forward. Otherwise
/// nothing changes.
pub fn carry_forward(q: &mut TrustQuality, previous: Option<PublishedOverall>) {
    let Some(previous) = previous.filter(|_| carries_forward(q)) else {
        return;
    };
    let OverallBasis::PreviousStands { reason } = &q.overall_basis else {
        return;
    };
    let mut explanation = CqcExplanation::new(
        q.overall.explanation.rule_set.clone(),
        Rule::CarriedForward {
            published: previous.rating,
        },
    );
    explanation.inputs = Items::one(Input {
        label: Label::PublishedTrustOverall,
        value: Some(RatingValue::Rated(previous.rating)),
        percent: None,
        date: previous.date,
    });
    explanation.notes.push(Note::OverallCarriedForward {
        reason: reason.clone(),
    });
    q.overall = RatedResult {
        rating: Some(previous.rating),
        date: previous.date,
        percent: None,
        explanation,
    };
}

/// The key questions and overall of one entity.
type NodeMut<'a> = (&'a mut KeyQuestionMap<RatedResult>, &'a mut RatedResult);

impl TrustQuality {
    /// The key questions and overall of an entity of this trust, if the rules rated it.
    fn node(&self, e: &Entity) -> Option<(&KeyQuestionMap<RatedResult>, &RatedResult)> {
        match e {
            Entity::Trust(t) => (*t == self.trust).then_some((&self.key_questions, &self.overall)),
            Entity::Location(id) => self
                .locations
                .iter()
                .find(|l| l.id == *id)
                .map(|l| (&l.key_questions, &l.overall)),
            Entity::Service {
                trust,
                location,
                service,
            } => {
                if *trust != self.trust {
                    return None;
                }
                let services = if self.trust_type.has_location_level() {
                    let location = location.as_ref()?;
                    &self.locations.iter().find(|l| l.id == *location)?.services
                } else {
                    &self.services
                };
                services
                    .iter()
                    .find(|s| s.service == *service)
                    .map(|s| (&s.key_questions, &s.overall))
            }
        }
    }

    fn node_mut(&mut self, e: &Entity) -> Option<NodeMut<'_>> {
        match e {
            Entity::Trust(t) => {
                (*t == self.trust).then_some((&mut self.key_questions, &mut self.overall))
            }
            Entity::Location(id) => self
                .locations
                .iter_mut()
                .find(|l| l.id == *id)
                .map(|l| (&mut l.key_questions, &mut l.overall)),
            Entity::Service {
                trust,
                location,
                service,
            } => {
                if *trust != self.trust {
                    return None;
                }
                let services = if self.trust_type.has_location_level() {
                    let location = location.as_ref()?;
                    &mut self
                        .locations
                        .iter_mut()
                        .find(|l| l.id == *location)?
                        .services
                } else {
                    &mut self.services
                };
                services
                    .iter_mut()
                    .find(|s| s.service == *service)
                    .map(|s| (&mut s.key_questions, &mut s.overall))
            }
        }
    }

    /// What the rules rated an entity's key question (`None`: its overall): `None` when the
    /// entity is not rated at all, `Some(None)` when it is but this rating is "no rating".
    pub fn rating_of(
        &self,
        entity: &Entity,
        key_question: Option<KeyQuestion>,
    ) -> Option<Option<Rating>> {
        let (kqs, overall) = self.node(entity)?;
        Some(match key_question {
            None => overall.rating,
            Some(kq) => kqs.get(&kq).and_then(|r| r.rating),
        })
    }
}

/// §2.4: what is published is what CQC decided. Lays the latest final decision of each entity and
/// key question (decided on or before `as_of`, if given; `decisions` in the order recorded, so the
/// last of a history is its latest) over the computed ratings.
///
/// A decision applies while the ratings beneath it are not newer than the decision: a later
/// inspection makes the rules' rating stand again, noted as [`Note::FinalDecisionLapsed`]. An
/// applied decision that changes the rating is noted as [`Note::PublishedDeparture`] with the
/// computed rating beside it (the rule that computed it stays the explanation's rule), and the
/// rating takes the decision's date if it had none.
pub fn apply_final_decisions(
    q: &mut TrustQuality,
    decisions: &[Judgement],
    as_of: Option<NaiveDate>,
) {
    let mut latest: BTreeMap<(&Entity, Option<KeyQuestion>), &Judgement> = BTreeMap::new();
    for j in decisions
        .iter()
        .filter(|j| j.stage == Stage::Final && as_of.is_none_or(|d| j.decided_on <= d))
    {
        latest.insert((&j.entity, j.key_question), j);
    }
    let rule_set = q.overall.explanation.rule_set.clone();
    for ((entity, kq), j) in latest {
        let Some((kqs, overall)) = q.node_mut(entity) else {
            continue;
        };
        // An overall with no date of its own (the trust overall when the previous rating stands)
        // is as new as the key questions beneath it.
        let beneath = kqs.values().filter_map(|r| r.date).max();
        let target = match kq {
            None => overall,
            Some(k) => kqs.entry(k).or_insert_with(|| RatedResult {
                rating: None,
                date: None,
                percent: None,
                explanation: CqcExplanation::new(rule_set.clone(), Rule::NothingRatedBeneath),
            }),
        };
        decide(target, j, kq.map_or(beneath, |_| None));
    }
}

/// Lays one final decision over one rating; `beneath` dates an overall that has no date.
fn decide(target: &mut RatedResult, j: &Judgement, beneath: Option<NaiveDate>) {
    if target.rating == Some(j.published) {
        return;
    }
    if target.date.or(beneath).is_some_and(|d| d > j.decided_on) {
        target.explanation.notes.push(Note::FinalDecisionLapsed {
            decided_on: j.decided_on,
            key_question: j.key_question,
            published: j.published,
        });
        return;
    }
    target.explanation.notes.push(Note::PublishedDeparture {
        decided_on: j.decided_on,
        computed: target.rating,
        published: j.published,
        rationale: j.rationale.clone().unwrap_or_default(),
    });
    target.rating = Some(j.published);
    // A rating carries the date of the report that set it: here, the decision.
    target.date = target.date.or(Some(j.decided_on));
}
