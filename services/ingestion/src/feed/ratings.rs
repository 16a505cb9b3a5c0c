//! The oversight ratings feed's records (read by `oversight_feeds::ratings`) as quality evidence
//! (service ratings, well-led assessments) or resource evidence (use-of-resources ratings).

use oversight_feeds::ratings::{RatingKind, RatingRecord};
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::evidence::v1 as ev;

use super::Evidence;

/// A validated ratings feed record as evidence.
pub fn evidence(r: RatingRecord) -> Evidence {
    let report_date = Some(convert::date(r.report_date));
    let rating = common::Rating::from(r.rating) as i32;
    let trust_type = common::TrustType::from(r.trust_type) as i32;
    let quality = |service_ratings, well_led| {
        Evidence::Quality(ev::QualityEvidence {
            provenance: None,
            trust_code: r.trust.to_string(),
            trust_name: r.trust_name.clone(),
            trust_type,
            service_ratings,
            well_led,
            published: vec![],
            region: r.region.clone(),
        })
    };
    match r.kind {
        RatingKind::ServiceRating {
            location_id,
            location_name,
            service,
            key_question,
        } => quality(
            vec![ev::ServiceKeyQuestionRating {
                location_id: location_id.map(|l| l.to_string()).unwrap_or_default(),
                location_name,
                service_id: service.to_string(),
                key_question: common::KeyQuestion::from(key_question) as i32,
                rating,
                report_date,
            }],
            vec![],
        ),
        RatingKind::WellLed => quality(
            vec![],
            vec![ev::WellLedAssessment {
                rating,
                report_date,
            }],
        ),
        RatingKind::UseOfResources => Evidence::Resource(ev::ResourceEvidence {
            provenance: None,
            trust_code: r.trust.to_string(),
            trust_type,
            body: Some(ev::resource_evidence::Body::UseOfResources(
                ev::UseOfResourcesEvidence {
                    rating,
                    report_date,
                },
            )),
        }),
    }
}
