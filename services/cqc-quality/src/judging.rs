//! Stored decisions (DOMAIN.md §2.4) as the rules' judgements. What a decision does to the
//! published ratings is `cqc_rules::publish`'s to decide. No IO.

use cqc_rules::{Entity, Judgement, check_departure};

use crate::store::{EntityKey, EntityKind, JudgementRow};

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

/// The stored decisions of a trust as the rules' judgements, in the order recorded. A stored row
/// whose ids no longer parse (never written by this service) is logged and left out.
pub fn judgements(rows: &[JudgementRow]) -> Vec<Judgement> {
    rows.iter()
        .filter_map(|row| match judgement(row) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::warn!(trust = %row.entity.trust, location = %row.entity.location_id,
                    service = %row.entity.service_id, error = %e, "stored decision not applied");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored entity keeps its kind as the rules name it, and stored kind names round-trip.
    #[test]
    fn stored_entities_keep_their_kind() {
        let trust: oversight_rating::TrustCode = "RXX".parse().unwrap();
        for (kind, location, service) in [
            (EntityKind::Trust, "", ""),
            (EntityKind::Location, "RXX01", ""),
            (EntityKind::Service, "RXX01", "urgent"),
            (EntityKind::Service, "", "urgent"),
        ] {
            let key = EntityKey {
                trust: trust.clone(),
                kind,
                location_id: location.into(),
                service_id: service.into(),
            };
            assert_eq!(rules_entity(&key).unwrap().kind(), kind, "{key:?}");
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EntityKind::parse("ward"), None);
    }
}
