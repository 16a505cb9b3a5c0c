//! The read view: the latest combined version of every trust, in memory, kept current from the
//! combined stream (`<ns>.combined.published`, followed by [`crate::consumer::follow_combined`])
//! so that every replica sees every version — including those another replica made — and
//! `GetTrustRating`, `ListTrustRatings` and `WatchRatings` never touch the database. The database
//! stays the record: the view starts from it and the stream only ever moves a trust to a newer
//! version.
//!
//! Each version is held twice: decoded (for filters, the report and watchers) and encoded once as
//! the `rating = 1` field that `GetTrustRatingResponse`, `ListTrustRatingsResponse` and
//! `WatchRatingsResponse` share, so a read copies bytes instead of cloning and encoding a
//! message per call (see [`crate::wire`]).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use oversight_proto::combined::v1 as pb;
use oversight_runtime::outbox::StoredEvent;
use prost::Message;
use prost::bytes::{Bytes, BytesMut};
use tokio::sync::broadcast;

/// A version as the view holds it.
struct Held {
    rating: Arc<pb::CombinedRatingPublished>,
    /// The version encoded as protobuf field 1 (key, length, message).
    field_1: Bytes,
}

/// `payload` (an encoded message) as protobuf field 1 of an enclosing message.
pub fn as_field_1(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 11);
    prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out.freeze()
}

/// The latest versions, by trust code.
pub struct RatingsView {
    latest: RwLock<BTreeMap<String, Held>>,
    published: broadcast::Sender<Arc<pb::CombinedRatingPublished>>,
}

impl Default for RatingsView {
    fn default() -> Self {
        let (published, _) = broadcast::channel(4096);
        RatingsView {
            latest: RwLock::new(BTreeMap::new()),
            published,
        }
    }
}

impl RatingsView {
    /// Start from the stored latest versions.
    pub fn load(&self, stored: &[StoredEvent]) -> anyhow::Result<()> {
        for e in stored {
            let rating = pb::CombinedRatingPublished::decode(e.payload.as_slice())
                .with_context(|| format!("stored combined version of {} is corrupt", e.key))?;
            self.apply_quietly(Arc::new(rating), as_field_1(&e.payload));
        }
        Ok(())
    }

    /// Take a version if it is newer than the one held; watchers hear of it once.
    pub fn apply(&self, rating: pb::CombinedRatingPublished) {
        let field_1 = as_field_1(&rating.encode_to_vec());
        self.apply_held(rating, field_1);
    }

    /// [`RatingsView::apply`] for a version as it came off the stream (`payload` is its encoding).
    pub fn apply_encoded(&self, payload: &[u8]) -> Result<(), prost::DecodeError> {
        let rating = pb::CombinedRatingPublished::decode(payload)?;
        self.apply_held(rating, as_field_1(payload));
        Ok(())
    }

    fn apply_held(&self, rating: pb::CombinedRatingPublished, field_1: Bytes) {
        let rating = Arc::new(rating);
        if self.apply_quietly(rating.clone(), field_1) {
            // No watcher is fine.
            let _ = self.published.send(rating);
        }
    }

    fn apply_quietly(&self, rating: Arc<pb::CombinedRatingPublished>, field_1: Bytes) -> bool {
        let Ok(mut latest) = self.latest.write() else {
            return false;
        };
        match latest.get(&rating.trust_code) {
            Some(held) if held.rating.version >= rating.version => false,
            _ => {
                latest.insert(rating.trust_code.clone(), Held { rating, field_1 });
                true
            }
        }
    }

    /// The latest version of a trust.
    pub fn get(&self, trust: &str) -> Option<Arc<pb::CombinedRatingPublished>> {
        Some(self.latest.read().ok()?.get(trust)?.rating.clone())
    }

    /// The latest version of a trust, encoded as protobuf field 1.
    pub fn get_field_1(&self, trust: &str) -> Option<Bytes> {
        Some(self.latest.read().ok()?.get(trust)?.field_1.clone())
    }

    /// The latest versions of the trusts after `after` (all when empty), in trust-code order,
    /// that `keep` accepts, at most `limit` of them, and whether more follow.
    pub fn page(
        &self,
        after: &str,
        limit: usize,
        keep: impl Fn(&pb::CombinedRatingPublished) -> bool,
    ) -> (Vec<Arc<pb::CombinedRatingPublished>>, bool) {
        self.page_with(after, limit, keep, |h| h.rating.clone())
    }

    /// [`RatingsView::page`] as each version's field-1 encoding, with the last trust's code.
    pub fn page_field_1(
        &self,
        after: &str,
        limit: usize,
        keep: impl Fn(&pb::CombinedRatingPublished) -> bool,
    ) -> (Vec<(String, Bytes)>, bool) {
        self.page_with(after, limit, keep, |h| {
            (h.rating.trust_code.clone(), h.field_1.clone())
        })
    }

    fn page_with<T>(
        &self,
        after: &str,
        limit: usize,
        keep: impl Fn(&pb::CombinedRatingPublished) -> bool,
        take: impl Fn(&Held) -> T,
    ) -> (Vec<T>, bool) {
        let Ok(latest) = self.latest.read() else {
            return (Vec::new(), false);
        };
        let range = if after.is_empty() {
            latest.range::<str, _>(..)
        } else {
            latest.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
        };
        let mut out = Vec::new();
        for (_, held) in range {
            if !keep(&held.rating) {
                continue;
            }
            if out.len() == limit {
                return (out, true);
            }
            out.push(take(held));
        }
        (out, false)
    }

    /// Every latest version, in trust-code order.
    pub fn all(&self) -> Vec<Arc<pb::CombinedRatingPublished>> {
        self.latest
            .read()
            .map(|l| l.values().map(|h| h.rating.clone()).collect())
            .unwrap_or_default()
    }

    /// New versions as this replica learns of them (made here or by another replica).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<pb::CombinedRatingPublished>> {
        self.published.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(trust: &str, version: u64) -> pb::CombinedRatingPublished {
        pb::CombinedRatingPublished {
            trust_code: trust.into(),
            version,
            ..Default::default()
        }
    }

    #[test]
    fn only_newer_versions_replace_and_are_announced_once() {
        let view = RatingsView::default();
        let mut rx = view.subscribe();
        view.apply(rating("RXX", 2));
        view.apply(rating("RXX", 1));
        view.apply(rating("RXX", 2));
        view.apply(rating("RYY", 1));
        assert_eq!(view.get("RXX").map(|r| r.version), Some(2));
        let heard: Vec<(String, u64)> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| (r.trust_code.clone(), r.version))
            .collect();
        assert_eq!(heard, vec![("RXX".into(), 2), ("RYY".into(), 1)]);
    }

    #[test]
    fn pages_follow_trust_code_order() {
        let view = RatingsView::default();
        for t in ["RC1", "RA1", "RB1"] {
            view.apply(rating(t, 1));
        }
        let (first, more) = view.page("", 2, |_| true);
        let codes: Vec<&str> = first.iter().map(|r| r.trust_code.as_str()).collect();
        assert_eq!((codes, more), (vec!["RA1", "RB1"], true));
        let (rest, more) = view.page("RB1", 2, |_| true);
        assert_eq!(rest.len(), 1);
        assert!(!more);
    }
}
