//! What a CQC service holds about a trust, as recorded (rows, no rules applied), and the rules that
//! turn it into the [`TrustEvidence`] the ratings are computed from: which limiter applies to which
//! key question × service rating (DOMAIN.md §2.2), which merged-organisation exclusion applies to
//! which service (§2.3) and where services without a location sit.
//!
//! A service's store reads these records and nothing more; [`TrustRecords::evidence`] makes every
//! decision.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use oversight_rating::{KeyQuestion, LocationId, ServiceId, TrustCode};
use serde::{Deserialize, Serialize};

use crate::RulesError;
use crate::evidence::{
    EnforcementKind, KqServiceRating, Limiter, LocationEvidence, MergedExclusion, ServiceEvidence,
    SignificantlySmall, TrustEvidence, TrustType, WellLedAssessment,
};

/// The kind of a recorded limiter (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A breach of regulation with a requirement notice.
    RequirementNotice,
    /// Enforcement action: a warning notice.
    WarningNotice,
    /// Enforcement action: a condition of registration.
    Condition,
}

impl ActionKind {
    /// The limiter of an action of this kind (§2.2): a requirement notice limits the rating to at
    /// best requires improvement, enforcement action (warning notice, condition of registration)
    /// makes it inadequate.
    pub fn limiter(self, reason: String) -> Limiter {
        match self {
            ActionKind::RequirementNotice => Limiter::RequirementNotice { reason },
            ActionKind::WarningNotice => Limiter::EnforcementAction {
                action: EnforcementKind::WarningNotice,
                reason,
            },
            ActionKind::Condition => Limiter::EnforcementAction {
                action: EnforcementKind::Condition,
                reason,
            },
        }
    }
}

/// One recorded key question × service judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingRecord {
    /// Where the service is registered; `None`: a trust-wide service (trusts without a location
    /// level, or a feed that named no location).
    pub location: Option<LocationId>,
    /// The location's name as this record gave it (`""`: not given).
    pub location_name: String,
    /// The inspection area.
    pub service: ServiceId,
    /// The judgement (its `limiter` is `None`: limiters are recorded apart).
    pub rating: KqServiceRating,
}

/// One recorded enforcement action or requirement notice on a key question × service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// `None`: a trust-wide service of a trust without a location level, wherever registered.
    pub location: Option<LocationId>,
    pub service: ServiceId,
    pub key_question: KeyQuestion,
    pub kind: ActionKind,
    /// The regulation or reason, in words.
    pub reason: String,
    pub action_date: NaiveDate,
}

impl ActionRecord {
    /// The limiter, with the action's date in its reason ("Regulation 12, 2019-03-01").
    pub fn limiter(&self) -> Limiter {
        self.kind
            .limiter(format!("{}, {}", self.reason, self.action_date))
    }
}

/// One recorded merged-organisation exclusion of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedRecord {
    /// `None`: a trust-wide service of a trust without a location level, wherever registered.
    pub location: Option<LocationId>,
    pub service: ServiceId,
    pub exclusion: MergedExclusion,
}

/// One recorded "significantly small" decision about a service (§2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmallServiceRecord {
    /// `None`: a trust-wide service of a trust without a location level, wherever registered.
    pub location: Option<LocationId>,
    pub service: ServiceId,
    pub decision: SignificantlySmall,
}

/// Everything recorded about one trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRecords {
    pub trust: TrustCode,
    pub trust_type: TrustType,
    /// Ordered by location, service, key question and report date (as a store reads them).
    pub ratings: Vec<RatingRecord>,
    /// Oldest first; on one date, in the order recorded.
    pub actions: Vec<ActionRecord>,
    /// Ordered by location (trust-wide first) and service.
    pub merged: Vec<MergedRecord>,
    pub well_led: Vec<WellLedAssessment>,
    /// "Significantly small" decisions, in the order recorded (append-only).
    #[serde(default)]
    pub significantly_small: Vec<SmallServiceRecord>,
}

/// \[A\] Where services recorded without a location are rated when the trust has a location level:
/// one location named after the trust, `<trust code>HQ` (a valid ODS site code). For trusts
/// without a location level the location does not matter: their services go straight into the
/// trust.
pub fn trust_wide_location(trust: &TrustCode) -> Result<LocationId, RulesError> {
    let id = format!("{}HQ", trust.as_str());
    id.parse().map_err(|e| RulesError::InvalidValue {
        field: "location_id".into(),
        value: id.clone(),
        reason: format!("{e}"),
    })
}

/// The services of one location, each with its ratings.
type Services = BTreeMap<ServiceId, Vec<KqServiceRating>>;

impl TrustRecords {
    /// The rules' input as of `as_of` (every action when `None`):
    ///
    /// - each action dated on or before `as_of` limits the rating that stands on its date: the
    ///   latest rating of its service and key question reported on or before the action (§2.2);
    ///   for a trust without a location level an action without a location reaches the service
    ///   wherever it is registered;
    /// - one limiter per rating: the strictest stands (enforcement action over requirement
    ///   notice); among equals the later action;
    /// - a service's merged-organisation exclusion is the first recorded for its location (or,
    ///   for a trust without a location level, without one) and service (§2.3);
    /// - a service carries every "significantly small" decision recorded for its location (or,
    ///   for a trust without a location level, without one) and service, in the order recorded;
    ///   the rating date decides which stands ([`SignificantlySmall::standing`], §2.1);
    /// - a location is named by the last of its records that gives a name;
    /// - services recorded without a location sit at [`trust_wide_location`].
    pub fn evidence(&self, as_of: Option<NaiveDate>) -> Result<TrustEvidence, RulesError> {
        let mut locations: BTreeMap<Option<&LocationId>, (&str, Services)> = BTreeMap::new();
        for r in &self.ratings {
            let entry = locations
                .entry(r.location.as_ref())
                .or_insert_with(|| ("", BTreeMap::new()));
            if !r.location_name.is_empty() {
                entry.0 = &r.location_name;
            }
            entry
                .1
                .entry(r.service.clone())
                .or_default()
                .push(r.rating.clone());
        }
        let trust_wide = !self.trust_type.has_location_level();
        let at = |stored: Option<&LocationId>, given: Option<&LocationId>| {
            stored == given || (trust_wide && given.is_none())
        };
        let mut actions: Vec<&ActionRecord> = self
            .actions
            .iter()
            .filter(|a| as_of.is_none_or(|d| a.action_date <= d))
            .collect();
        // Stable: actions of one date stay in the order recorded.
        actions.sort_by_key(|a| a.action_date);
        for a in actions {
            let standing = locations
                .iter_mut()
                .filter(|(id, _)| at(**id, a.location.as_ref()))
                .filter_map(|(_, (_, services))| services.get_mut(&a.service))
                .flat_map(|ratings| ratings.iter_mut())
                .filter(|r| r.key_question == a.key_question && r.report_date <= a.action_date)
                .max_by_key(|r| r.report_date);
            if let Some(r) = standing {
                let limiter = a.limiter();
                if r.limiter.as_ref().is_none_or(|l| limiter.cap() <= l.cap()) {
                    r.limiter = Some(limiter);
                }
            }
        }
        let mut evidence = Vec::with_capacity(locations.len());
        for (id, (name, services)) in locations {
            let location = match id {
                Some(id) => id.clone(),
                None => trust_wide_location(&self.trust)?,
            };
            let services = services
                .into_iter()
                .map(|(service, ratings)| {
                    let merged_from = self
                        .merged
                        .iter()
                        .find(|m| at(id, m.location.as_ref()) && m.service == service)
                        .map(|m| m.exclusion.clone());
                    let significantly_small = self
                        .significantly_small
                        .iter()
                        .filter(|s| at(id, s.location.as_ref()) && s.service == service)
                        .map(|s| s.decision.clone())
                        .collect();
                    ServiceEvidence {
                        service,
                        ratings,
                        merged_from,
                        significantly_small,
                    }
                })
                .collect();
            evidence.push(LocationEvidence {
                id: location,
                name: (!name.is_empty()).then(|| name.to_string()),
                services,
            });
        }
        Ok(TrustEvidence {
            trust: self.trust.clone(),
            trust_type: self.trust_type,
            locations: evidence,
            well_led: self.well_led.clone(),
        })
    }
}
