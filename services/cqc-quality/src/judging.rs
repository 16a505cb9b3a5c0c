//! Stored decisions (DOMAIN.md §2.4) as the rules' judgements. What a decision does to the
//! published ratings is `cqc_rules::publish`'s to decide. No IO.

use cqc_rules::{Judgement, check_departure};

use crate::store::JudgementRow;

/// A stored decision as the rules' judgement.
pub fn judgement(row: &JudgementRow) -> Judgement {
    Judgement {
        entity: row.entity.clone(),
        key_question: row.key_question,
        computed: row.computed,
        published: row.published,
        rationale: Some(row.rationale.clone()).filter(|r| !r.is_empty()),
        stage: row.stage,
        decided_on: row.decided_on,
    }
}

/// Whether a stored decision is a departure according to the rules' check; a stored departure
/// without a rationale (which the service never writes) counts as one too.
pub fn is_departure(row: &JudgementRow) -> bool {
    !matches!(
        check_departure(row.computed, row.published, Some(&row.rationale)),
        Ok(None)
    )
}

/// The stored decisions of a trust as the rules' judgements, in the order recorded.
pub fn judgements(rows: &[JudgementRow]) -> Vec<Judgement> {
    rows.iter().map(judgement).collect()
}
