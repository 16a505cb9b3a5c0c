//! CQC's final decisions (DOMAIN.md §2.4) applied while rating, level by level, so that the
//! levels above aggregate the published rating, as CQC does, with the computed one kept beside it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{
    KeyQuestion, KeyQuestionMap, LocationId, Rating, RuleSetVersion, ServiceId, TrustCode,
};

use crate::explain::{CqcExplanation, Note, Rule};
use crate::judgement::{Entity, Judgement, Stage};
use crate::rate::{RatedResult, ServiceQuality, TrustQuality};

/// The latest final decision of each entity and key question of one trust.
pub(crate) struct Decided<'a> {
    /// `None` only without decisions.
    trust: Option<&'a TrustCode>,
    /// Every final decision that applies, in the order recorded.
    all: Vec<&'a Judgement>,
    latest: BTreeMap<(&'a Entity, Option<KeyQuestion>), &'a Judgement>,
}

impl<'a> Decided<'a> {
    /// No decisions: the rules' ratings as computed.
    pub(crate) fn none() -> Self {
        Decided {
            trust: None,
            all: Vec::new(),
            latest: BTreeMap::new(),
        }
    }

    /// The final decisions about `trust` decided on or before `decided_by` (all when `None`);
    /// `decisions` in the order recorded, so the last of each history is its latest.
    pub(crate) fn new(
        trust: &'a TrustCode,
        decisions: &'a [Judgement],
        decided_by: Option<NaiveDate>,
    ) -> Self {
        let all = decisions
            .iter()
            .filter(|j| {
                j.stage == Stage::Final
                    && decided_by.is_none_or(|d| j.decided_on <= d)
                    && match &j.entity {
                        Entity::Trust(t) | Entity::Service { trust: t, .. } => t == trust,
                        Entity::Location(_) => true,
                    }
            })
            .collect();
        Decided::of(trust, all)
    }

    fn of(trust: &'a TrustCode, all: Vec<&'a Judgement>) -> Self {
        let mut latest = BTreeMap::new();
        for j in &all {
            latest.insert((&j.entity, j.key_question), *j);
        }
        Decided {
            trust: Some(trust),
            all,
            latest,
        }
    }

    /// Only the decisions made before `date` (all when `None`).
    pub(crate) fn made_before(&self, date: Option<NaiveDate>) -> Decided<'a> {
        match self.trust {
            Some(trust) => Decided::of(
                trust,
                self.all
                    .iter()
                    .copied()
                    .filter(|j| date.is_none_or(|d| j.decided_on < d))
                    .collect(),
            ),
            None => Decided::none(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The trust, as decisions name it.
    pub(crate) fn trust(&self) -> Option<Entity> {
        Some(Entity::Trust(self.trust?.clone()))
    }

    /// A service of the trust, as decisions name it.
    pub(crate) fn service(
        &self,
        location: Option<&LocationId>,
        service: &ServiceId,
    ) -> Option<Entity> {
        Some(Entity::Service {
            trust: self.trust?.clone(),
            location: location.cloned(),
            service: service.clone(),
        })
    }

    /// Lays the decisions about `entity`'s key questions over them; a decision about a key
    /// question the rules did not rate adds it.
    pub(crate) fn key_questions(
        &self,
        entity: impl FnOnce() -> Option<Entity>,
        kqs: &mut KeyQuestionMap<RatedResult>,
        rule_set: &RuleSetVersion,
    ) {
        let Some(entity) = entity().filter(|_| !self.is_empty()) else {
            return;
        };
        for kq in KeyQuestion::ALL {
            if let Some(j) = self.latest.get(&(&entity, Some(kq))) {
                let target = kqs.entry(kq).or_insert_with(|| RatedResult {
                    rating: None,
                    date: None,
                    percent: None,
                    explanation: CqcExplanation::new(rule_set.clone(), Rule::NothingRatedBeneath),
                });
                decide(target, j, None);
            }
        }
    }

    /// Lays one key question's decision over it, if there is one.
    pub(crate) fn key_question(
        &self,
        entity: impl FnOnce() -> Option<Entity>,
        kq: KeyQuestion,
        target: &mut RatedResult,
    ) {
        let Some(entity) = entity().filter(|_| !self.is_empty()) else {
            return;
        };
        if let Some(j) = self.latest.get(&(&entity, Some(kq))) {
            decide(target, j, None);
        }
    }

    /// Lays the decision about `entity`'s overall over it; `kqs` date an overall without a date.
    pub(crate) fn overall(
        &self,
        entity: impl FnOnce() -> Option<Entity>,
        overall: &mut RatedResult,
        kqs: &KeyQuestionMap<RatedResult>,
    ) {
        let Some(entity) = entity().filter(|_| !self.is_empty()) else {
            return;
        };
        if let Some(j) = self.latest.get(&(&entity, None)) {
            decide(overall, j, kqs.values().filter_map(|r| r.date).max());
        }
    }
}

/// Lays one final decision over one rating. A decision applies while the ratings beneath it are
/// not newer than the decision (a later inspection makes the rules' rating stand again, noted);
/// an overall with no date of its own is as new as `beneath`. An applied decision that changes
/// the rating is noted with the computed rating beside it, and the rating takes the decision's
/// date if it had none (a rating carries the date of the report that set it).
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
    target.date = target.date.or(Some(j.decided_on));
}

/// The rating a level aggregated before its own decision (if one replaced it).
fn aggregated(r: &RatedResult) -> Option<Rating> {
    r.explanation
        .notes
        .iter()
        .find_map(|n| match n {
            Note::PublishedDeparture { computed, .. } => Some(*computed),
            _ => None,
        })
        .unwrap_or(r.rating)
}

/// Where a level aggregated CQC's published ratings beneath it and so differs from what the
/// computed ratings give, says so with the computed rating beside it
/// ([`Note::PublishedBeneath`]). `computed` is the same trust rated without decisions.
pub(crate) fn note_computed_beside(published: &mut TrustQuality, computed: &TrustQuality) {
    fn node(
        kqs: &mut KeyQuestionMap<RatedResult>,
        overall: &mut RatedResult,
        c_kqs: &KeyQuestionMap<RatedResult>,
        c_overall: &RatedResult,
    ) {
        for (kq, r) in kqs.iter_mut() {
            if let Some(c) = c_kqs.get(kq) {
                beside(r, c);
            }
        }
        beside(overall, c_overall);
    }
    fn beside(r: &mut RatedResult, c: &RatedResult) {
        if aggregated(r) != c.rating {
            r.explanation
                .notes
                .push(Note::PublishedBeneath { computed: c.rating });
        }
    }
    fn services(ps: &mut [ServiceQuality], cs: &[ServiceQuality]) {
        for p in ps {
            if let Some(c) = cs.iter().find(|c| c.service == p.service) {
                node(
                    &mut p.key_questions,
                    &mut p.overall,
                    &c.key_questions,
                    &c.overall,
                );
            }
        }
    }
    for l in &mut published.locations {
        if let Some(c) = computed.locations.iter().find(|c| c.id == l.id) {
            services(&mut l.services, &c.services);
            node(
                &mut l.key_questions,
                &mut l.overall,
                &c.key_questions,
                &c.overall,
            );
        }
    }
    services(&mut published.services, &computed.services);
    node(
        &mut published.key_questions,
        &mut published.overall,
        &computed.key_questions,
        &computed.overall,
    );
}
