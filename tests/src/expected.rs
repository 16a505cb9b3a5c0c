//! A small ratings feed for the crash-point and outage tests (`tests/tests/crash_points.rs`), and
//! the ratings it must produce, computed here by applying the rules crates (`cqc_rules`,
//! `combined_rules`) directly to the generated records: no service, no database, no NATS.
//!
//! The feed is laid out so that the number of rating events per trust is known in advance:
//!
//! - **Use of resources first.** [`Feed::uor_part`] holds one `use_of_resources` record per trust
//!   (one commit group). Sent and settled before any quality record, it makes exactly one UoR
//!   version per trust and no combined version (the combiner waits for a quality rating).
//! - **Quality parts aligned with commit groups.** Each trust in [`Feed::quality_parts`] has
//!   [`LOCATIONS`] locations × 8 core services × 5 key questions, one trust-level well-led
//!   assessment and [`BAD_PER_TRUST`] bad records: [`RECORDS_PER_TRUST`] (250) records, so four
//!   trusts fill one ingestion commit group of 1,000 records (`ingestion::pipeline::GROUP_RECORDS`)
//!   exactly and no trust straddles two groups. Each trust's quality records therefore travel as
//!   one `QualityEvidence` message, make one quality version, and with its UoR already there one
//!   combined version.
//!
//! NHSI's rules are not needed: the feed's UoR records are approved ratings, published as given.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use combined_rules::{ApprovedUor, CombineInput, CombinedRuleSet, DatedRating};
use cqc_rules::{
    KqServiceRating, LocationEvidence, RuleSet, ServiceEvidence, TrustEvidence, WellLedAssessment,
};
use oversight_proto::combined::v1::CombinedRatingPublished;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_rating::{KeyQuestion, Rating, RatingValue, TrustType};

use crate::SERVICES;
use crate::national::{Part, trust_code};

/// Locations per trust.
pub const LOCATIONS: usize = 6;
/// Bad records after each trust's good ones (rejected by ingestion, counted in its commit group).
pub const BAD_PER_TRUST: u64 = 9;
/// Records per trust in the quality parts: 6 × 8 × 5 service ratings, a well-led assessment and
/// the bad records. Four trusts make one 1,000-record commit group.
pub const RECORDS_PER_TRUST: u64 = (LOCATIONS * 8 * 5) as u64 + 1 + BAD_PER_TRUST;
/// Trusts per ingestion commit group.
pub const TRUSTS_PER_GROUP: usize = 4;

/// Each trust draws its service ratings from one of these profiles, so the feed's trusts come
/// out at every rating rather than all dragged down by the few inadequate services of a large
/// trust.
const PROFILES: [[Rating; 8]; 4] = {
    use Rating::{Good as G, Inadequate as I, Outstanding as O, RequiresImprovement as R};
    [
        [G, G, G, G, O, O, O, O],
        [G, G, G, G, G, G, G, O],
        [G, G, G, G, G, R, R, R],
        [G, G, G, G, R, R, I, I],
    ]
};
const HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n";

/// One service × key question rating of the feed.
#[derive(Debug, Clone)]
struct ServiceRating {
    location: usize,
    service: &'static str,
    key_question: KeyQuestion,
    rating: Rating,
    date: NaiveDate,
}

/// One trust of the feed, as generated.
#[derive(Debug, Clone)]
pub struct Trust {
    pub code: String,
    name: String,
    ratings: Vec<ServiceRating>,
    well_led: (Rating, NaiveDate),
    use_of_resources: (Rating, NaiveDate),
}

/// A small deterministic mixer (splitmix64's finaliser), so the feed is the same in every run.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn kq_name(kq: KeyQuestion) -> &'static str {
    match kq {
        KeyQuestion::Safe => "safe",
        KeyQuestion::Effective => "effective",
        KeyQuestion::Caring => "caring",
        KeyQuestion::Responsive => "responsive",
        KeyQuestion::WellLed => "well-led",
    }
}

impl Trust {
    fn generate(i: usize) -> Trust {
        let code = trust_code(i);
        let profile = PROFILES[(mix(i as u64) % PROFILES.len() as u64) as usize];
        let mut ratings = Vec::new();
        for location in 0..LOCATIONS {
            for (s, service) in SERVICES.iter().enumerate() {
                for (k, key_question) in KeyQuestion::ALL.iter().enumerate() {
                    let h = mix((((i * 16 + location) * 8 + s) * 8 + k) as u64 ^ 0x15);
                    ratings.push(ServiceRating {
                        location,
                        service,
                        key_question: *key_question,
                        rating: profile[(h % profile.len() as u64) as usize],
                        date: date(2018, 1, 1) + chrono::Duration::days(((h >> 8) % 330) as i64),
                    });
                }
            }
        }
        let well_led = [
            Rating::Good,
            Rating::RequiresImprovement,
            Rating::Outstanding,
        ][i % 3];
        let uor = [
            Rating::Good,
            Rating::RequiresImprovement,
            Rating::Inadequate,
            Rating::Outstanding,
        ][i % 4];
        Trust {
            name: format!("Trust {i} NHS Foundation Trust"),
            code,
            ratings,
            well_led: (well_led, date(2018, 12, 15)),
            use_of_resources: (uor, date(2019, 1, 10)),
        }
    }

    fn site(&self, location: usize) -> String {
        format!("{}{:02}", self.code, location + 1)
    }

    /// The trust's quality records (service ratings, well-led, bad records), no header.
    fn quality_csv(&self, out: &mut String) {
        let (code, name) = (&self.code, &self.name);
        for r in &self.ratings {
            out.push_str(&format!(
                "service_rating,{code},{name},acute,{site},Site {l} of {code},{svc},{kq},{rating},{date}\n",
                site = self.site(r.location),
                l = r.location + 1,
                svc = r.service,
                kq = kq_name(r.key_question),
                rating = r.rating.cqc_str(),
                date = r.date,
            ));
        }
        out.push_str(&format!(
            "well_led,{code},{name},acute,,,,,{},{}\n",
            self.well_led.0.cqc_str(),
            self.well_led.1
        ));
        // Bad records: a rating that is no rating, and a trust code that is no ODS code.
        for b in 0..BAD_PER_TRUST {
            if b % 2 == 0 {
                out.push_str(&format!(
                    "service_rating,{code},,acute,{code}01,,urgent,safe,Superb,2018-06-01\n"
                ));
            } else {
                out.push_str("service_rating,1X,,acute,1X001,,urgent,safe,Good,2018-06-01\n");
            }
        }
    }

    fn uor_csv(&self, out: &mut String) {
        out.push_str(&format!(
            "use_of_resources,{},{},acute,,,,,{},{}\n",
            self.code,
            self.name,
            self.use_of_resources.0.cqc_str(),
            self.use_of_resources.1
        ));
    }

    /// The trust as the CQC rules see it.
    fn evidence(&self) -> TrustEvidence {
        let locations = (0..LOCATIONS)
            .map(|l| LocationEvidence {
                id: self.site(l).parse().expect("site code"),
                name: Some(format!("Site {} of {}", l + 1, self.code)),
                services: SERVICES
                    .iter()
                    .map(|service| ServiceEvidence {
                        service: service.parse().expect("service id"),
                        ratings: self
                            .ratings
                            .iter()
                            .filter(|r| r.location == l && r.service == *service)
                            .map(|r| KqServiceRating {
                                key_question: r.key_question,
                                rating: RatingValue::Rated(r.rating),
                                report_date: r.date,
                                limiter: None,
                                statement_scores: vec![],
                            })
                            .collect(),
                        merged_from: None,
                        significantly_small: Vec::new(),
                    })
                    .collect(),
            })
            .collect();
        TrustEvidence {
            trust: self.code.parse().expect("trust code"),
            trust_type: TrustType::Acute,
            locations,
            well_led: vec![WellLedAssessment {
                rating: RatingValue::Rated(self.well_led.0),
                report_date: self.well_led.1,
                statement_scores: vec![],
            }],
        }
    }

    /// The trust's ratings by the rules, applied as DOMAIN.md says: §2 (cqc-2018, chosen by the
    /// date of the latest report) for quality as of its latest report, the approved UoR as given,
    /// §3 (cqc-combined-2018) for the combined rating as of its latest part.
    pub fn expected(&self) -> TrustRatings {
        let evidence = self.evidence();
        let as_of = self
            .ratings
            .iter()
            .map(|r| r.date)
            .chain([self.well_led.1])
            .max()
            .expect("rated");
        let rules = RuleSet::select(as_of, None).expect("a rule set for 2018");
        let quality = cqc_rules::rate_trust(&evidence, as_of, &rules);
        let dated = |r: &cqc_rules::RatedResult| DatedRating {
            rating: r.rating,
            date: r.date,
        };
        let beneath: BTreeMap<KeyQuestion, DatedRating> = quality
            .overall_key_questions()
            .iter()
            .map(|(kq, r)| (*kq, dated(r)))
            .collect();
        let input = CombineInput {
            trust_type: TrustType::Acute,
            key_questions: beneath.clone(),
            overall_quality: dated(&quality.overall),
            uor: Some(ApprovedUor {
                rating: self.use_of_resources.0,
                date: self.use_of_resources.1,
                version: 1,
            }),
            sources: Default::default(),
        };
        let combined_as_of = beneath
            .values()
            .filter_map(|d| d.date)
            .chain(quality.overall.date)
            .chain([self.use_of_resources.1])
            .max()
            .expect("dated");
        let combined = combined_rules::combine(
            &input,
            combined_as_of,
            &CombinedRuleSet::cqc_combined_2018(),
        );
        TrustRatings {
            key_questions: quality
                .key_questions
                .iter()
                .map(|(kq, r)| (*kq, dated(r)))
                .collect(),
            overall: dated(&quality.overall),
            use_of_resources: DatedRating::new(self.use_of_resources.0, self.use_of_resources.1),
            combined: combined.combined,
        }
    }
}

/// A trust's ratings, as the rules give them or as the pipeline published them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRatings {
    /// The trust's five key questions (the newest).
    pub key_questions: BTreeMap<KeyQuestion, DatedRating>,
    /// Overall quality.
    pub overall: DatedRating,
    /// The approved use-of-resources rating.
    pub use_of_resources: DatedRating,
    /// The combined rating (`None`: not eligible).
    pub combined: Option<Rating>,
}

fn from_wire(d: Option<&common::DatedRating>) -> DatedRating {
    DatedRating {
        rating: d.and_then(|d| convert::real_rating(d.rating)),
        date: d.and_then(|d| convert::to_opt_date(d.report_date.as_ref()).ok().flatten()),
    }
}

impl TrustRatings {
    /// What the pipeline published last for a trust: its newest quality, UoR and combined events.
    pub fn published(
        quality: &QualityRatingIssued,
        uor: &UseOfResourcesRatingApproved,
        combined: &CombinedRatingPublished,
    ) -> TrustRatings {
        TrustRatings {
            key_questions: quality
                .key_questions
                .iter()
                .filter_map(|k| {
                    Some((
                        convert::key_question(k.key_question)?,
                        from_wire(k.rating.as_ref()),
                    ))
                })
                .collect(),
            overall: from_wire(quality.overall.as_ref()),
            use_of_resources: from_wire(uor.rating.as_ref()),
            combined: combined
                .combined
                .as_ref()
                .and_then(|c| convert::real_rating(c.rating)),
        }
    }
}

/// The feed: its trusts, the UoR part and the quality parts.
pub struct Feed {
    pub trusts: Vec<Trust>,
    /// Every trust's use-of-resources record, in one part.
    pub uor_part: Part,
    /// The quality records, [`TRUSTS_PER_GROUP`] × `groups_per_part` trusts per part.
    pub quality_parts: Vec<Part>,
}

impl Feed {
    /// `trusts` trusts, their quality records in parts of `groups_per_part` commit groups.
    pub fn generate(trusts: usize, groups_per_part: usize) -> Feed {
        let all: Vec<Trust> = (0..trusts).map(Trust::generate).collect();
        let mut csv = String::from(HEADER);
        for t in &all {
            t.uor_csv(&mut csv);
        }
        let uor_part = Part {
            id: "crash-uor".into(),
            csv: csv.into_bytes(),
            trusts: all.iter().map(|t| t.code.clone()).collect(),
            good: trusts as u64,
            bad: 0,
        };
        let quality_parts = all
            .chunks(TRUSTS_PER_GROUP * groups_per_part.max(1))
            .enumerate()
            .map(|(i, group)| {
                let mut csv = String::from(HEADER);
                for t in group {
                    t.quality_csv(&mut csv);
                }
                Part {
                    id: format!("crash-quality-{i:02}"),
                    csv: csv.into_bytes(),
                    trusts: group.iter().map(|t| t.code.clone()).collect(),
                    good: group.len() as u64 * (RECORDS_PER_TRUST - BAD_PER_TRUST),
                    bad: group.len() as u64 * BAD_PER_TRUST,
                }
            })
            .collect();
        Feed {
            trusts: all,
            uor_part,
            quality_parts,
        }
    }

    pub fn codes(&self) -> Vec<String> {
        self.trusts.iter().map(|t| t.code.clone()).collect()
    }

    /// Every trust's expected ratings, by the rules.
    pub fn expected(&self) -> BTreeMap<String, TrustRatings> {
        self.trusts
            .iter()
            .map(|t| (t.code.clone(), t.expected()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_trusts_fill_one_commit_group() {
        assert_eq!(RECORDS_PER_TRUST * TRUSTS_PER_GROUP as u64, 1000);
        let feed = Feed::generate(8, 2);
        let part = &feed.quality_parts[0];
        // Lines after the header are the records.
        let lines = part.csv.iter().filter(|b| **b == b'\n').count() as u64 - 1;
        assert_eq!(lines, 8 * RECORDS_PER_TRUST);
        assert_eq!(part.good + part.bad, lines);
    }

    #[test]
    fn the_feed_rates_every_trust_and_combines_the_eligible() {
        let expected = Feed::generate(12, 1).expected();
        assert_eq!(expected.len(), 12);
        for (code, r) in &expected {
            assert!(
                r.overall.rating.is_some(),
                "{code}: re-rated on its well-led"
            );
            assert_eq!(r.key_questions.len(), 5, "{code}");
        }
        // Acute trusts rated after 5 March 2018 with six real ratings all get a combined rating.
        assert!(expected.values().all(|r| r.combined.is_some()));
        // The feed reaches every rating, overall and combined, and use of resources moves some
        // combined ratings away from overall quality (so a lost or stale UoR part would show).
        let feed = Feed::generate(24, 2);
        let expected = feed.expected();
        for rating in [
            Rating::Outstanding,
            Rating::Good,
            Rating::RequiresImprovement,
            Rating::Inadequate,
        ] {
            assert!(
                expected.values().any(|r| r.overall.rating == Some(rating)),
                "overall {rating:?}"
            );
            assert!(
                expected.values().any(|r| r.combined == Some(rating)),
                "combined {rating:?}"
            );
        }
        assert!(
            expected.values().any(|r| r.combined != r.overall.rating),
            "use of resources changes some combined ratings"
        );
    }
}
