//! From the computed ratings to what CQC publishes for a trust: limiters named at every level
//! above the rating they lowered (§2.2) and the previously published trust overall carried
//! forward while the trust is not re-rated (§2.3). Final decisions (§2.4) are laid over the
//! ratings while rating ([`crate::rate_trust_published`]), so the levels above aggregate them.
//! Pure: the service reads the records and the published history, the rules decide.

use chrono::NaiveDate;
use oversight_rating::{
    Items, KeyQuestion, KeyQuestionMap, LocationId, Rating, RatingValue, ServiceId,
};

use crate::explain::{CqcExplanation, Input, Label, LimiterApplied, LimiterBeneath, Note, Rule};
use crate::judgement::Entity;
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

/// A rating as published: the rating (`None`: no rating) and the date it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedRating {
    pub rating: Option<Rating>,
    pub date: Option<NaiveDate>,
}

/// A trust overall as published before: its rating, the date it carries, and the trust key
/// questions it stood on as published with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedOverall {
    pub rating: Rating,
    pub date: Option<NaiveDate>,
    pub key_questions: KeyQuestionMap<PublishedRating>,
}

/// Whether the trust overall published before stands ([`carry_forward`]): the rules did not
/// re-rate the trust and no final decision rated its overall.
pub fn carries_forward(q: &TrustQuality) -> bool {
    matches!(q.overall_basis, OverallBasis::PreviousStands { .. }) && q.overall.rating.is_none()
}

/// §2.3: "The trust overall is only re-rated after a trust-level well-led assessment; otherwise
/// the previous trust rating stands." When the rules did not re-rate the trust
/// ([`OverallBasis::PreviousStands`]) and nothing else rated it (no final decision), the trust
/// overall published before stands, with its date, explained as carried forward, and so do the
/// trust key questions it stood on ([`TrustQuality::overall_key_questions`]): newer key questions
/// are shown beside it but are not what it stands on. Otherwise nothing changes.
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
    let rule_set = &q.overall.explanation.rule_set;
    q.overall_beneath = Some(
        previous
            .key_questions
            .iter()
            .map(|(kq, p)| {
                let mut explanation = CqcExplanation::new(
                    rule_set.clone(),
                    Rule::PublishedBeneathCarried {
                        published: p.rating,
                    },
                );
                explanation.inputs = Items::one(Input {
                    label: Label::KeyQuestion(*kq),
                    value: p.rating.map(RatingValue::Rated),
                    percent: None,
                    date: p.date,
                });
                let r = RatedResult {
                    rating: p.rating,
                    date: p.date,
                    percent: None,
                    explanation,
                };
                (*kq, r)
            })
            .collect(),
    );
}

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
