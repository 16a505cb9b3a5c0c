//! Published decisions beside computed ratings (DOMAIN.md §2.4): finding an entity's rating in the
//! rules' result, and laying final decisions over it for publication. No IO.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cqc_rules::explain::{Note, Rule};
use cqc_rules::{
    CqcExplanation, Entity, Judgement, RatedResult, Stage, TrustQuality, check_departure,
};
use oversight_rating::{KeyQuestion, KeyQuestionMap, Rating};

use crate::store::{EntityKey, EntityKind, JudgementRow};

/// The key questions and overall of one entity in the rules' result.
type Node<'a> = (&'a KeyQuestionMap<RatedResult>, &'a RatedResult);
type NodeMut<'a> = (&'a mut KeyQuestionMap<RatedResult>, &'a mut RatedResult);

/// An entity's ratings in `q`, or `None` if the rules rated no such entity.
pub fn node<'a>(q: &'a TrustQuality, e: &EntityKey) -> Option<Node<'a>> {
    match e.kind {
        EntityKind::Trust => Some((&q.key_questions, &q.overall)),
        EntityKind::Location => q
            .locations
            .iter()
            .find(|l| l.id.as_str() == e.location_id)
            .map(|l| (&l.key_questions, &l.overall)),
        EntityKind::Service => {
            let services = if q.trust_type.has_location_level() {
                &q.locations
                    .iter()
                    .find(|l| l.id.as_str() == e.location_id)?
                    .services
            } else {
                &q.services
            };
            services
                .iter()
                .find(|s| s.service.as_str() == e.service_id)
                .map(|s| (&s.key_questions, &s.overall))
        }
    }
}

fn node_mut<'a>(q: &'a mut TrustQuality, e: &EntityKey) -> Option<NodeMut<'a>> {
    match e.kind {
        EntityKind::Trust => Some((&mut q.key_questions, &mut q.overall)),
        EntityKind::Location => q
            .locations
            .iter_mut()
            .find(|l| l.id.as_str() == e.location_id)
            .map(|l| (&mut l.key_questions, &mut l.overall)),
        EntityKind::Service => {
            let services = if q.trust_type.has_location_level() {
                &mut q
                    .locations
                    .iter_mut()
                    .find(|l| l.id.as_str() == e.location_id)?
                    .services
            } else {
                &mut q.services
            };
            services
                .iter_mut()
                .find(|s| s.service.as_str() == e.service_id)
                .map(|s| (&mut s.key_questions, &mut s.overall))
        }
    }
}

/// What the rules computed for an entity's key question (`None`: overall): `None` when the entity
/// is not rated at all, `Some(None)` when it is but this rating is "no rating".
pub fn computed(
    q: &TrustQuality,
    e: &EntityKey,
    key_question: Option<KeyQuestion>,
) -> Option<Option<Rating>> {
    let (kqs, overall) = node(q, e)?;
    Some(match key_question {
        None => overall.rating,
        Some(kq) => kqs.get(&kq).and_then(|r| r.rating),
    })
}

/// A stored entity as the rules name it.
pub fn rules_entity(e: &EntityKey) -> Result<Entity, oversight_rating::IdError> {
    let location = || -> Result<Option<oversight_rating::LocationId>, oversight_rating::IdError> {
        if e.location_id.is_empty() {
            Ok(None)
        } else {
            e.location_id.parse().map(Some)
        }
    };
    Ok(match e.kind {
        EntityKind::Trust => Entity::Trust(e.trust.clone()),
        EntityKind::Location => Entity::Location(e.location_id.parse()?),
        EntityKind::Service => Entity::Service {
            trust: e.trust.clone(),
            location: location()?,
            service: e.service_id.parse()?,
        },
    })
}

/// A stored decision as the rules' judgement.
pub fn judgement(row: &JudgementRow) -> Result<Judgement, oversight_rating::IdError> {
    Ok(Judgement {
        entity: rules_entity(&row.entity)?,
        key_question: row.key_question,
        computed: row.computed,
        published: row.published,
        rationale: Some(row.rationale.clone()).filter(|r| !r.is_empty()),
        stage: row.stage,
        decided_on: row.decided_on,
    })
}

/// Whether a stored decision is a departure according to the rules' check; a stored departure
/// without a rationale (which the service never writes) counts as one too.
pub fn is_departure(row: &JudgementRow) -> bool {
    !matches!(
        check_departure(row.computed, row.published, Some(&row.rationale)),
        Ok(None)
    )
}

/// Lays the latest final decision of each entity and key question (decided on or before `as_of`,
/// if given) over the computed ratings, so that what is published is what CQC decided. A decision
/// applies while the ratings beneath it are not newer than the decision: a later inspection
/// makes the rules' rating stand again (and says so). Each change is noted in the explanation;
/// the computed rating stays in the rule text.
pub fn apply_final_decisions(
    q: &mut TrustQuality,
    rows: &[JudgementRow],
    as_of: Option<NaiveDate>,
) {
    let mut latest: BTreeMap<(&EntityKey, Option<KeyQuestion>), &JudgementRow> = BTreeMap::new();
    for row in rows.iter().filter(|r| {
        r.stage == Stage::Final
            && r.entity.trust == q.trust
            && as_of.is_none_or(|d| r.decided_on <= d)
    }) {
        // Rows come oldest first within each history.
        latest.insert((&row.entity, row.key_question), row);
    }
    let rule_set = q.overall.explanation.rule_set.clone();
    for ((entity, kq), row) in latest {
        let Some((kqs, overall)) = node_mut(q, entity) else {
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
        if target.rating == Some(row.published) {
            continue;
        }
        let as_new_as = match kq {
            None => target.date.or(beneath),
            Some(_) => target.date,
        };
        if as_new_as.is_some_and(|d| d > row.decided_on) {
            target.explanation.notes.push(Note::FinalDecisionLapsed {
                decided_on: row.decided_on,
                key_question: kq,
                published: row.published,
            });
            continue;
        }
        target.explanation.notes.push(Note::PublishedDeparture {
            decided_on: row.decided_on,
            computed: target.rating,
            published: row.published,
            rationale: row.rationale.clone(),
        });
        target.rating = Some(row.published);
        // A rating carries the date of the report that set it: here, the decision.
        target.date = target.date.or(Some(row.decided_on));
    }
}
