//! Judgement (DOMAIN.md §2.4): the rules compute, inspectors decide. A published rating that
//! departs from the computed one must carry a rationale; both are kept, departures are listed,
//! and draft → final (factual accuracy) changes are kept as history.

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, LocationId, Rating, ServiceId, TrustCode};
use serde::{Deserialize, Serialize};

use crate::RulesError;

/// What a judgement rates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Entity {
    /// A trust (trust key questions and overall).
    Trust(TrustCode),
    /// A location (hospital).
    Location(LocationId),
    /// A service; `location` is `None` for trusts without a location level.
    Service {
        /// The trust the service belongs to.
        trust: TrustCode,
        /// Its location, if the trust has a location level.
        location: Option<LocationId>,
        /// The inspection area.
        service: ServiceId,
    },
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entity::Trust(t) => write!(f, "trust {t}"),
            Entity::Location(l) => write!(f, "location {l}"),
            Entity::Service {
                trust,
                location: Some(l),
                service,
            } => write!(f, "service {trust}/{l}/{service}"),
            Entity::Service {
                trust,
                location: None,
                service,
            } => write!(f, "service {trust}/{service}"),
        }
    }
}

/// The level an [`Entity`] sits at: the one entity-kind type (stored, on the wire and in the
/// rules alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityKind {
    Trust,
    Location,
    Service,
}

impl EntityKind {
    /// The stored name: `trust`, `location` or `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Trust => "trust",
            EntityKind::Location => "location",
            EntityKind::Service => "service",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<EntityKind> {
        Some(match s {
            "trust" => EntityKind::Trust,
            "location" => EntityKind::Location,
            "service" => EntityKind::Service,
            _ => return None,
        })
    }
}

impl Entity {
    /// The level this entity sits at.
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Trust(_) => EntityKind::Trust,
            Entity::Location(_) => EntityKind::Location,
            Entity::Service { .. } => EntityKind::Service,
        }
    }

    /// The location this entity is or sits at (`None`: a trust, or a trust-wide service).
    pub fn location(&self) -> Option<&LocationId> {
        match self {
            Entity::Trust(_) => None,
            Entity::Location(l) => Some(l),
            Entity::Service { location, .. } => location.as_ref(),
        }
    }

    /// The service this entity is (`None`: a trust or a location).
    pub fn service(&self) -> Option<&ServiceId> {
        match self {
            Entity::Service { service, .. } => Some(service),
            Entity::Trust(_) | Entity::Location(_) => None,
        }
    }
}

/// Whether a decision is still open to factual-accuracy challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// Draft report: may change after factual-accuracy comments.
    Draft,
    /// Published.
    Final,
}

/// A published (or draft) rating beside the computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// What is rated.
    pub entity: Entity,
    /// The key question, or `None` for the overall rating.
    pub key_question: Option<KeyQuestion>,
    /// What the rules computed (`None`: no rating).
    pub computed: Option<Rating>,
    /// What the inspectors decided.
    pub published: Rating,
    /// Why the decision departs from the rules (required when it does).
    pub rationale: Option<String>,
    /// Draft or final.
    pub stage: Stage,
    /// When the decision was recorded.
    pub decided_on: NaiveDate,
}

/// A published rating that departs from the computed one, with its rationale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departure {
    /// What the rules computed.
    pub computed: Option<Rating>,
    /// What was published.
    pub published: Rating,
    /// Why (never blank).
    pub rationale: String,
}

/// `Ok(None)` when the published rating is the computed one; `Ok(Some(_))` for a departure with a
/// non-blank rationale; an error naming `rationale` for a departure without one. A published
/// rating where the rules computed none is a departure too.
pub fn check_departure(
    computed: Option<Rating>,
    published: Rating,
    rationale: Option<&str>,
) -> Result<Option<Departure>, RulesError> {
    if computed == Some(published) {
        return Ok(None);
    }
    match rationale.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Ok(Some(Departure {
            computed,
            published,
            rationale: r.to_string(),
        })),
        None => Err(RulesError::MissingRationale {
            field: "rationale".into(),
            computed,
            published,
        }),
    }
}

impl Judgement {
    /// A judgement, rejected if it departs from the computed rating without a rationale.
    pub fn new(
        entity: Entity,
        key_question: Option<KeyQuestion>,
        computed: Option<Rating>,
        published: Rating,
        rationale: Option<String>,
        stage: Stage,
        decided_on: NaiveDate,
    ) -> Result<Self, RulesError> {
        check_departure(computed, published, rationale.as_deref())?;
        Ok(Judgement {
            entity,
            key_question,
            computed,
            published,
            rationale,
            stage,
            decided_on,
        })
    }

    /// The departure, if the published rating differs from the computed one.
    pub fn departure(&self) -> Result<Option<Departure>, RulesError> {
        check_departure(self.computed, self.published, self.rationale.as_deref())
    }
}

/// The judgements that depart from the rules, each with its departure, in input order.
/// A judgement whose departure lacks a rationale (built without [`Judgement::new`]) is an error.
pub fn departures(judgements: &[Judgement]) -> Result<Vec<(&Judgement, Departure)>, RulesError> {
    let mut out = Vec::new();
    for j in judgements {
        if let Some(d) = j.departure()? {
            out.push((j, d));
        }
    }
    Ok(out)
}

/// The decisions about one rating, oldest first: drafts changed by factual-accuracy challenges,
/// then at most one final decision, after which the history is closed (a later change is a new
/// inspection, hence a new history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgementHistory {
    first: Judgement,
    later: Vec<Judgement>,
}

impl JudgementHistory {
    /// A history starting with its first decision.
    pub fn new(first: Judgement) -> Result<Self, RulesError> {
        first.departure()?;
        Ok(JudgementHistory {
            first,
            later: Vec::new(),
        })
    }

    /// Adds a later decision about the same entity and key question.
    pub fn record(&mut self, next: Judgement) -> Result<(), RulesError> {
        let current = self.current();
        if current.stage == Stage::Final {
            return Err(RulesError::JudgementAlreadyFinal {
                field: "stage".into(),
            });
        }
        if next.entity != current.entity {
            return Err(RulesError::JudgementMismatch {
                field: "entity".into(),
                expected: current.entity.to_string(),
                got: next.entity.to_string(),
            });
        }
        if next.key_question != current.key_question {
            let name =
                |k: Option<KeyQuestion>| k.map_or("overall", KeyQuestion::cqc_str).to_string();
            return Err(RulesError::JudgementMismatch {
                field: "key_question".into(),
                expected: name(current.key_question),
                got: name(next.key_question),
            });
        }
        next.departure()?;
        self.later.push(next);
        Ok(())
    }

    /// The latest decision.
    pub fn current(&self) -> &Judgement {
        self.later.last().unwrap_or(&self.first)
    }

    /// The final decision, once published.
    pub fn final_decision(&self) -> Option<&Judgement> {
        self.entries().rev().find(|j| j.stage == Stage::Final)
    }

    /// Every decision, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Judgement> {
        std::iter::once(&self.first).chain(&self.later)
    }

    /// The changes of published rating between consecutive decisions (factual-accuracy
    /// outcomes): `(from, to)` pairs.
    pub fn changes(&self) -> Vec<(&Judgement, &Judgement)> {
        self.entries()
            .zip(self.entries().skip(1))
            .filter(|(a, b)| a.published != b.published)
            .collect()
    }
}
