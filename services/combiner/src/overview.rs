//! The national picture, pure: how many trusts hold each rating — overall quality, combined and use
//! of resources side by side — nationally, by NHS England region and by trust type, and where the
//! anti-masking flags fall. The report draws it (`report`), the tests count it from their feeds.

use std::collections::BTreeMap;
use std::sync::Arc;

use oversight_proto::combined::v1 as pb;

use crate::listing::{Measure, RatingBand, flag_codes, trust_type_words};

/// Trusts per rating band, best first ([`RatingBand::ALL`] order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BandCounts(pub [usize; 5]);

impl BandCounts {
    pub fn get(&self, band: RatingBand) -> usize {
        self.0[band as usize]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

/// One group of trusts (the nation, a region, a trust type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// For people ("London", "mental health", "Region not known").
    pub label: String,
    /// The list filter that selects this group (`region=London`; empty for the nation), `None`
    /// when no filter can (trusts whose region is not known).
    pub filter: Option<Vec<(&'static str, String)>>,
    pub trusts: usize,
    /// One per [`Measure::ALL`].
    pub by_measure: [BandCounts; 3],
    /// Trusts carrying at least one flag.
    pub flagged: usize,
}

impl GroupCounts {
    fn add(&mut self, r: &pb::CombinedRatingPublished) {
        self.trusts += 1;
        for (i, m) in Measure::ALL.into_iter().enumerate() {
            self.by_measure[i].0[m.band(r) as usize] += 1;
        }
        if !r.flags.is_empty() {
            self.flagged += 1;
        }
    }

    pub fn measure(&self, m: Measure) -> &BandCounts {
        let i = Measure::ALL.iter().position(|x| *x == m).unwrap_or(0);
        &self.by_measure[i]
    }
}

/// How many trusts carry a flag, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagCounts {
    pub code: &'static str,
    pub trusts: usize,
    /// Trusts carrying it by the combined rating they hold (best first).
    pub by_combined: BandCounts,
    /// By region label, in label order.
    pub by_region: BTreeMap<String, usize>,
}

/// The national overview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub national: GroupCounts,
    /// Known regions in name order, then "Region not known" if any trust has none.
    pub regions: Vec<GroupCounts>,
    /// Trust types present, in the rating crate's order.
    pub trust_types: Vec<GroupCounts>,
    /// Every flag kind, in the rule set's order (zero counts included).
    pub flags: Vec<FlagCounts>,
}

/// The label for trusts whose region the data does not give.
pub const UNKNOWN_REGION: &str = "Region not known";

impl Overview {
    pub fn of(latest: &[Arc<pb::CombinedRatingPublished>]) -> Overview {
        let mut national = GroupCounts {
            label: "England".into(),
            filter: Some(Vec::new()),
            ..Default::default()
        };
        let mut regions: BTreeMap<(bool, String), GroupCounts> = BTreeMap::new();
        let mut types: BTreeMap<i32, GroupCounts> = BTreeMap::new();
        let mut flags: Vec<FlagCounts> = flag_codes()
            .into_iter()
            .map(|code| FlagCounts {
                code,
                ..Default::default()
            })
            .collect();
        for r in latest {
            national.add(r);
            // Regions group case-insensitively (the list's filter does too), labelled as first seen.
            let key = (r.region.is_empty(), r.region.to_lowercase());
            let region = regions.entry(key).or_insert_with(|| {
                if r.region.is_empty() {
                    GroupCounts {
                        label: UNKNOWN_REGION.into(),
                        ..Default::default()
                    }
                } else {
                    GroupCounts {
                        label: r.region.clone(),
                        filter: Some(vec![("region", r.region.clone())]),
                        ..Default::default()
                    }
                }
            });
            region.add(r);
            let region = region.label.clone();
            types
                .entry(r.trust_type)
                .or_insert_with(|| GroupCounts {
                    label: trust_type_words(r.trust_type).into(),
                    filter: oversight_proto::convert::trust_type(r.trust_type)
                        .map(|t| vec![("trustType", t.as_str().to_string())]),
                    ..Default::default()
                })
                .add(r);
            for f in flags
                .iter_mut()
                .filter(|f| r.flags.iter().any(|x| x.code == f.code))
            {
                f.trusts += 1;
                f.by_combined.0[Measure::Combined.band(r) as usize] += 1;
                *f.by_region.entry(region.clone()).or_default() += 1;
            }
        }
        Overview {
            national,
            regions: regions.into_values().collect(),
            trust_types: types.into_values().collect(),
            flags,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use oversight_proto::common::v1 as common;

    use super::*;

    fn version(
        code: &str,
        ty: common::TrustType,
        region: &str,
        quality: common::Rating,
        combined: Option<common::Rating>,
        flags: &[&str],
    ) -> Arc<pb::CombinedRatingPublished> {
        let dated = |r: common::Rating| {
            Some(common::DatedRating {
                rating: r as i32,
                ..Default::default()
            })
        };
        Arc::new(pb::CombinedRatingPublished {
            trust_code: code.into(),
            trust_type: ty as i32,
            region: region.into(),
            overall_quality: dated(quality),
            use_of_resources: None,
            combined: combined.and_then(dated),
            no_combined_reason: if combined.is_none() {
                "no UoR".into()
            } else {
                String::new()
            },
            flags: flags
                .iter()
                .map(|c| pb::Flag {
                    code: (*c).into(),
                    description: String::new(),
                })
                .collect(),
            ..Default::default()
        })
    }

    #[test]
    fn counts_by_measure_region_type_and_flag() {
        use common::Rating::*;
        use common::TrustType::*;
        let all = [
            version("RAA", Acute, "London", Good, Some(Good), &[]),
            version(
                "RBB",
                Acute,
                "london",
                Good,
                Some(RequiresImprovement),
                &["uor_lowered_result"],
            ),
            version("RCC", MentalHealth, "", Outstanding, None, &[]),
        ];
        let o = Overview::of(&all);
        assert_eq!(o.national.trusts, 3);
        assert_eq!(o.national.flagged, 1);
        assert_eq!(
            o.national.measure(Measure::OverallQuality).0,
            [1, 2, 0, 0, 0]
        );
        assert_eq!(o.national.measure(Measure::Combined).0, [0, 1, 1, 0, 1]);
        // No UoR part at all: every trust is "no rating".
        assert_eq!(
            o.national.measure(Measure::UseOfResources).0,
            [0, 0, 0, 0, 3]
        );
        let regions: Vec<(&str, usize)> = o
            .regions
            .iter()
            .map(|g| (g.label.as_str(), g.trusts))
            .collect();
        assert_eq!(regions, [("London", 2), (UNKNOWN_REGION, 1)]);
        assert!(o.regions[1].filter.is_none());
        let types: Vec<(&str, usize)> = o
            .trust_types
            .iter()
            .map(|g| (g.label.as_str(), g.trusts))
            .collect();
        assert_eq!(types, [("acute", 2), ("mental health", 1)]);
        let lowered = o
            .flags
            .iter()
            .find(|f| f.code == "uor_lowered_result")
            .unwrap();
        assert_eq!(lowered.trusts, 1);
        assert_eq!(lowered.by_combined.get(RatingBand::RequiresImprovement), 1);
        assert_eq!(lowered.by_region.get("London"), Some(&1));
        assert_eq!(o.flags.len(), flag_codes().len());
    }
}
