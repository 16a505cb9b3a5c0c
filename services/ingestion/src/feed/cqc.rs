//! CQC public API JSON records (`FeedFormat::CQC_JSON`, read by
//! `oversight_feeds::cqc_api::records`) as evidence.
//!
//! - A **location** → `QualityEvidence.service_ratings`: every key question rating of every
//!   service with its date.
//! - A **provider** → for the trust:
//!   - the provider's `Well-led` key question rating → a `WellLedAssessment`: for an NHS trust
//!     CQC's provider-level well-led rating *is* the published result of the trust-level well-led
//!     assessment (DOMAIN.md §2 level 5), the only input the trust level takes;
//!   - the overall rating, the five key question ratings, the use-of-resources and the combined
//!     rating → `PublishedRating`s (`PublishedLevel` `TRUST_OVERALL`, `TRUST_KEY_QUESTION`,
//!     `USE_OF_RESOURCES`, `COMBINED`), kept for comparison, never used as input;
//!   - a real use-of-resources rating also → `ResourceEvidence.use_of_resources`: a published UoR
//!     rating has been approved by CQC, which is what a feed's UoR rating means.
//!
//! The trust type is not in CQC's API and travels unspecified; the region travels as given.

use oversight_feeds::cqc_api::{LocationRecord, ProviderRecord, PublishedLevel};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;
use oversight_rating::KeyQuestion;

use super::Evidence;

/// A location's service key question ratings as quality evidence.
pub fn location_evidence(l: LocationRecord) -> Evidence {
    let location_id = l.location.id.to_string();
    let location_name = l.location.name.clone().unwrap_or_default();
    let service_ratings = l
        .location
        .services
        .iter()
        .flat_map(|s| {
            s.ratings.iter().map(|r| ev::ServiceKeyQuestionRating {
                location_id: location_id.clone(),
                location_name: location_name.clone(),
                service_id: s.service.to_string(),
                key_question: common::KeyQuestion::from(r.key_question) as i32,
                rating: common::Rating::from(r.rating) as i32,
                report_date: Some(convert::date(r.report_date)),
            })
        })
        .collect();
    Evidence::Quality(ev::QualityEvidence {
        provenance: None,
        trust_code: l.trust.to_string(),
        trust_name: String::new(),
        trust_type: common::TrustType::Unspecified as i32,
        service_ratings,
        well_led: vec![],
        published: vec![],
        region: l.region,
    })
}

/// A provider's published ratings as quality evidence, and its real use-of-resources rating as
/// resource evidence.
pub fn provider_evidence(p: ProviderRecord) -> Vec<Evidence> {
    let mut published = Vec::new();
    let mut well_led = Vec::new();
    let mut resources = Vec::new();
    for r in &p.published {
        let rating = common::Rating::from(r.rating) as i32;
        let report_date = Some(convert::date(r.report_date));
        let (level, key_question) = match r.level {
            PublishedLevel::TrustOverall => (ev::PublishedLevel::TrustOverall, None),
            PublishedLevel::TrustKeyQuestion(kq) => {
                (ev::PublishedLevel::TrustKeyQuestion, Some(kq))
            }
            PublishedLevel::UseOfResources => (ev::PublishedLevel::UseOfResources, None),
            PublishedLevel::Combined => (ev::PublishedLevel::Combined, None),
        };
        if key_question == Some(KeyQuestion::WellLed) {
            well_led.push(ev::WellLedAssessment {
                rating,
                report_date,
            });
        }
        published.push(ev::PublishedRating {
            level: level as i32,
            key_question: key_question
                .map_or(common::KeyQuestion::Unspecified, common::KeyQuestion::from)
                as i32,
            rating,
            report_date,
        });
        if r.level == PublishedLevel::UseOfResources && r.rating.rating().is_some() {
            resources.push(Evidence::Resource(ev::ResourceEvidence {
                provenance: None,
                trust_code: p.trust.to_string(),
                trust_type: common::TrustType::Unspecified as i32,
                body: Some(ev::resource_evidence::Body::UseOfResources(
                    ev::UseOfResourcesEvidence {
                        rating,
                        report_date,
                    },
                )),
            }));
        }
    }
    let mut out = vec![Evidence::Quality(ev::QualityEvidence {
        provenance: None,
        trust_code: p.trust.to_string(),
        trust_name: p.name,
        trust_type: common::TrustType::Unspecified as i32,
        service_ratings: vec![],
        well_led,
        published,
        region: p.region,
    })];
    out.extend(resources);
    out
}
