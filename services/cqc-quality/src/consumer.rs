//! The queue handler: quality evidence from `<ns>.evidence.quality`, decoded and validated at the
//! edge ([`commands::evidence`]), stored and re-rated by the core ([`Rater`]), and each message
//! settled (ack, retry in place, or dead-letter through `oversight_runtime::error::settle`).

use oversight_proto::evidence::v1 as ev;
use oversight_rating::TrustCode;
use oversight_runtime::consumer::{BatchOutcome, check_each, evidence_name, retry_in_place};
use oversight_runtime::nats::Incoming;

use crate::commands::{self, Evidence};
use crate::error::RecordError;
use crate::rating::Rater;

/// The consumer's batch handler for `<ns>.evidence.quality`: validate every message (an invalid
/// one is poison, alone), store the valid ones in one transaction, re-rate each trust they touch
/// once, then publish the new versions together. A failure to store or re-rate is transient for
/// the messages it concerns; a failure to publish is not (the versions wait in the outbox for the
/// sweep).
pub async fn handle_evidence_batch(rater: &Rater, batch: Vec<Incoming>) -> BatchOutcome {
    let (mut outcomes, checked) = check_each(
        &batch,
        |e: &ev::QualityEvidence| commands::evidence(e).map_err(RecordError::Invalid),
        |e| evidence_name(e.provenance.as_ref(), &e.trust_code),
    );
    // The valid messages, and where each stands in the batch.
    let (positions, valid): (Vec<usize>, Vec<Evidence>) = checked.into_iter().unzip();
    if valid.is_empty() {
        return outcomes;
    }
    if let Err(e) = rater.store_evidence(&valid).await {
        let reason = format!("failed to store quality evidence: {e}");
        retry_in_place(&mut outcomes, positions.iter().copied(), reason);
        return outcomes;
    }
    // Each trust once, in the order of its first message.
    let mut trusts: Vec<&TrustCode> = Vec::new();
    for v in &valid {
        if !trusts.contains(&&v.trust) {
            trusts.push(&v.trust);
        }
    }
    for trust in trusts {
        if let Err(e) = rater.rerate_queued(trust).await {
            let of_trust = positions
                .iter()
                .zip(&valid)
                .filter(|(_, v)| &v.trust == trust);
            let reason = format!("failed to re-rate {trust}: {e:#}");
            retry_in_place(&mut outcomes, of_trust.map(|(i, _)| *i), reason);
        }
    }
    rater.outbox().publish_pending_or_defer().await;
    outcomes
}
