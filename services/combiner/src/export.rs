//! Ratings as JSON and CSV for people and programs without gRPC: the shapes of the JSON API
//! (`/api/v1/…`) and of the report's downloads.
//!
//! Field names follow CQC's public API: lowerCamelCase, the trust's `odsCode`, ratings under
//! `currentRatings.overall` with `keyQuestionRatings[].name/rating/reportDate` and
//! `useOfResources.useOfResourcesRating` / `.combinedQualityRating`, ratings in CQC's words
//! ("Requires improvement"), dates ISO 8601 (report dates `YYYY-MM-DD`, `publishedAt` RFC 3339).
//! A rating that is not there is `null`, never an empty string.

use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_rating::KeyQuestion;
use serde::Serialize;

use crate::listing::{Measure, RatingBand};

/// One version of a trust's ratings (the latest in lists, every one in a history).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRating {
    pub ods_code: String,
    pub name: String,
    /// `acute`, `specialist_acute`, `mental_health`, `community`, `ambulance`; null when unknown.
    pub trust_type: Option<&'static str>,
    /// NHS England region; null when the data does not give it.
    pub region: Option<String>,
    pub version: u64,
    pub published_at: Option<String>,
    pub rule_set: String,
    /// `combined`, or `shadow` (before 5 March 2018: no combined rating).
    pub mode: &'static str,
    pub current_ratings: CurrentRatings,
    pub flags: Vec<Flag>,
    pub quality_version: u64,
    pub use_of_resources_version: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentRatings {
    pub overall: Overall,
}

/// The overall quality rating with its key questions, and use of resources with the combined rating.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overall {
    pub rating: Option<&'static str>,
    pub report_date: Option<String>,
    pub explanation: Option<Explanation>,
    pub key_question_ratings: Vec<KeyQuestionRating>,
    pub use_of_resources: UseOfResources,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyQuestionRating {
    /// `Safe`, `Effective`, `Caring`, `Responsive`, `Well-led`.
    pub name: &'static str,
    pub rating: Option<&'static str>,
    pub report_date: Option<String>,
    pub explanation: Option<Explanation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UseOfResources {
    pub use_of_resources_rating: Option<&'static str>,
    pub use_of_resources_report_date: Option<String>,
    pub use_of_resources_explanation: Option<Explanation>,
    pub combined_quality_rating: Option<&'static str>,
    pub combined_quality_report_date: Option<String>,
    pub combined_quality_explanation: Option<Explanation>,
    /// Why there is no combined rating, when there is none.
    pub no_combined_quality_rating_reason: Option<String>,
}

/// Why a rating is what it is: the rule set, the rule that fired, the inputs and notes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub rule_set: String,
    pub rule: String,
    pub inputs: Vec<String>,
    pub notes: Vec<String>,
}

/// An anti-masking flag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub code: String,
    pub description: String,
}

/// A trust's every version, oldest first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustHistory {
    pub ods_code: String,
    pub versions: Vec<TrustRating>,
}

/// One page of the list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPage {
    pub items: Vec<TrustRating>,
    pub page: usize,
    pub page_size: usize,
    pub total: usize,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A dated rating's report date as text, `YYYY-MM-DD`; `None` when it has none (unset, or not a
/// calendar date: no date, as the rules read it, [`crate::combining::report_date`]).
pub fn report_date(d: Option<&common::DatedRating>) -> Option<String> {
    crate::combining::report_date(d).map(|d| d.to_string())
}

/// When a version was published as text: RFC 3339 in UTC with milliseconds
/// (`2026-01-02T03:04:05.000Z`), as the combiner wrote it before instants were typed; `None` when
/// unset.
pub fn published_at(r: &pb::CombinedRatingPublished) -> Option<String> {
    Some(convert::rfc3339(r.published_at.as_ref())).filter(|s| !s.is_empty())
}

/// The publication mode in words: `combined` or `shadow` (`unknown` for a version without one,
/// which the combiner never publishes).
pub fn mode_words(r: &pb::CombinedRatingPublished) -> &'static str {
    match r.mode() {
        pb::Mode::Combined => "combined",
        pb::Mode::Shadow => "shadow",
        pb::Mode::Unspecified => "unknown",
    }
}

/// CQC's words for a rating on the wire; `None` when it holds nothing.
pub fn rating_words(raw: i32) -> Option<&'static str> {
    convert::rating_value(raw).map(|v| v.cqc_str())
}

fn explanation(e: Option<&common::Explanation>) -> Option<Explanation> {
    e.map(|e| Explanation {
        rule_set: e.rule_set.clone(),
        rule: e.rule.clone(),
        inputs: e.inputs.clone(),
        notes: e.notes.clone(),
    })
}

/// A dated rating's words, date and explanation.
fn parts(
    d: Option<&common::DatedRating>,
) -> (Option<&'static str>, Option<String>, Option<Explanation>) {
    match d {
        Some(d) => (
            rating_words(d.rating),
            report_date(Some(d)),
            explanation(d.explanation.as_ref()),
        ),
        None => (None, None, None),
    }
}

/// The key question's rating in a published version.
pub fn key_question(
    r: &pb::CombinedRatingPublished,
    kq: KeyQuestion,
) -> Option<&common::DatedRating> {
    let wire = common::KeyQuestion::from(kq) as i32;
    r.key_questions
        .iter()
        .find(|k| k.key_question == wire)
        .and_then(|k| k.rating.as_ref())
}

impl From<&pb::CombinedRatingPublished> for TrustRating {
    fn from(r: &pb::CombinedRatingPublished) -> Self {
        let (rating, report_date, expl) = parts(r.overall_quality.as_ref());
        let (uor, uor_date, uor_expl) = parts(r.use_of_resources.as_ref());
        let (combined, combined_date, combined_expl) = if r.no_combined_reason.is_empty() {
            parts(r.combined.as_ref())
        } else {
            (
                None,
                None,
                explanation(r.combined.as_ref().and_then(|c| c.explanation.as_ref())),
            )
        };
        TrustRating {
            ods_code: r.trust_code.clone(),
            name: r.trust_name.clone(),
            trust_type: convert::trust_type(r.trust_type).map(|t| t.as_str()),
            region: non_empty(&r.region),
            version: r.version,
            published_at: published_at(r),
            rule_set: r.rule_set.clone(),
            mode: mode_words(r),
            current_ratings: CurrentRatings {
                overall: Overall {
                    rating,
                    report_date,
                    explanation: expl,
                    key_question_ratings: KeyQuestion::ALL
                        .into_iter()
                        .map(|kq| {
                            let (rating, report_date, explanation) = parts(key_question(r, kq));
                            KeyQuestionRating {
                                name: kq.cqc_str(),
                                rating,
                                report_date,
                                explanation,
                            }
                        })
                        .collect(),
                    use_of_resources: UseOfResources {
                        use_of_resources_rating: uor,
                        use_of_resources_report_date: uor_date,
                        use_of_resources_explanation: uor_expl,
                        combined_quality_rating: combined,
                        combined_quality_report_date: combined_date,
                        combined_quality_explanation: combined_expl,
                        no_combined_quality_rating_reason: non_empty(&r.no_combined_reason),
                    },
                },
            },
            flags: r
                .flags
                .iter()
                .map(|f| Flag {
                    code: f.code.clone(),
                    description: f.description.clone(),
                })
                .collect(),
            quality_version: r.quality_version,
            use_of_resources_version: r.use_of_resources_version,
        }
    }
}

/// The CSV columns, one row per version.
pub const CSV_COLUMNS: [&str; 22] = [
    "odsCode",
    "name",
    "trustType",
    "region",
    "version",
    "publishedAt",
    "mode",
    "safe",
    "effective",
    "caring",
    "responsive",
    "wellLed",
    "overallQuality",
    "overallQualityReportDate",
    "useOfResources",
    "useOfResourcesReportDate",
    "combinedQuality",
    "combinedQualityReportDate",
    "noCombinedQualityRatingReason",
    "flags",
    "qualityVersion",
    "useOfResourcesVersion",
];

/// Text a spreadsheet could take for a formula is prefixed with `'` (CSV injection).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn words_or_empty(r: &pb::CombinedRatingPublished, m: Measure) -> String {
    let d = match m {
        Measure::OverallQuality => r.overall_quality.as_ref(),
        Measure::UseOfResources => r.use_of_resources.as_ref(),
        Measure::Combined if !r.no_combined_reason.is_empty() => None,
        Measure::Combined => r.combined.as_ref(),
    };
    d.and_then(|d| rating_words(d.rating))
        .unwrap_or_default()
        .to_string()
}

/// Versions as CSV (header first): ratings in CQC's words, empty where there is none; flags are
/// their codes joined with `;`.
pub fn csv<'a>(
    versions: impl IntoIterator<Item = &'a pb::CombinedRatingPublished>,
) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    for r in versions {
        let date = |d: Option<&common::DatedRating>| report_date(d).unwrap_or_default();
        let mut row = vec![
            r.trust_code.clone(),
            cell(&r.trust_name),
            convert::trust_type(r.trust_type)
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            cell(&r.region),
            r.version.to_string(),
            published_at(r).unwrap_or_default(),
            mode_words(r).to_string(),
        ];
        for kq in KeyQuestion::ALL {
            row.push(
                key_question(r, kq)
                    .and_then(|d| rating_words(d.rating))
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        row.extend([
            words_or_empty(r, Measure::OverallQuality),
            date(r.overall_quality.as_ref()),
            words_or_empty(r, Measure::UseOfResources),
            date(r.use_of_resources.as_ref()),
            words_or_empty(r, Measure::Combined),
            if Measure::Combined.band(r) == RatingBand::NoRating {
                String::new()
            } else {
                date(r.combined.as_ref())
            },
            cell(&r.no_combined_reason),
            r.flags
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            r.quality_version.to_string(),
            r.use_of_resources_version.to_string(),
        ]);
        w.write_record(&row)?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("failed to write CSV: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> pb::CombinedRatingPublished {
        let dated = |r: common::Rating, date: &str| {
            Some(common::DatedRating {
                rating: r as i32,
                report_date: Some(convert::date(date.parse().unwrap())),
                explanation: Some(common::Explanation {
                    rule_set: "cqc-combined-2018".into(),
                    rule: "r".into(),
                    inputs: vec![],
                    notes: vec![],
                }),
            })
        };
        pb::CombinedRatingPublished {
            trust_code: "RXX".into(),
            trust_name: "=HYPERLINK(\"x\"), Trust".into(),
            trust_type: common::TrustType::Acute as i32,
            version: 3,
            mode: pb::Mode::Combined as i32,
            key_questions: vec![common::KeyQuestionRating {
                key_question: common::KeyQuestion::WellLed as i32,
                rating: dated(common::Rating::Inadequate, "2018-06-15"),
            }],
            overall_quality: dated(common::Rating::Good, "2018-06-01"),
            use_of_resources: dated(common::Rating::RequiresImprovement, "2018-07-01"),
            combined: dated(common::Rating::Good, "2018-07-01"),
            flags: vec![pb::Flag {
                code: "good_while_kq_inadequate".into(),
                description: "d".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn json_follows_cqc_names_and_nulls_what_is_missing() {
        let v = serde_json::to_value(TrustRating::from(&sample())).unwrap();
        assert_eq!(v["odsCode"], "RXX");
        assert_eq!(v["trustType"], "acute");
        assert!(v["region"].is_null());
        assert!(v["publishedAt"].is_null());
        let overall = &v["currentRatings"]["overall"];
        assert_eq!(overall["rating"], "Good");
        assert_eq!(overall["reportDate"], "2018-06-01");
        let kqs = overall["keyQuestionRatings"].as_array().unwrap();
        assert_eq!(kqs.len(), 5);
        assert_eq!(kqs[4]["name"], "Well-led");
        assert_eq!(kqs[4]["rating"], "Inadequate");
        assert!(kqs[0]["rating"].is_null());
        let uor = &overall["useOfResources"];
        assert_eq!(uor["useOfResourcesRating"], "Requires improvement");
        assert_eq!(uor["combinedQualityRating"], "Good");
        assert_eq!(
            uor["combinedQualityExplanation"]["ruleSet"],
            "cqc-combined-2018"
        );
        assert!(uor["noCombinedQualityRatingReason"].is_null());
        assert_eq!(v["flags"][0]["code"], "good_while_kq_inadequate");
    }

    #[test]
    fn instants_and_dates_are_text_as_before_they_were_typed() {
        let mut r = sample();
        r.published_at = convert::rfc3339_timestamp("2026-01-02T03:04:05.678Z");
        // Not a calendar date (2023 is not a leap year): no date, as the rules read it.
        r.use_of_resources.as_mut().unwrap().report_date =
            Some(oversight_proto::google_type::Date {
                year: 2023,
                month: 2,
                day: 29,
            });
        let v = serde_json::to_value(TrustRating::from(&r)).unwrap();
        assert_eq!(v["publishedAt"], "2026-01-02T03:04:05.678Z");
        assert_eq!(v["mode"], "combined");
        let uor = &v["currentRatings"]["overall"]["useOfResources"];
        assert!(uor["useOfResourcesReportDate"].is_null());
        assert_eq!(uor["combinedQualityReportDate"], "2018-07-01");
        let text = String::from_utf8(csv([&r]).unwrap()).unwrap();
        let row = csv::Reader::from_reader(text.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        let get = |name: &str| &row[CSV_COLUMNS.iter().position(|c| *c == name).unwrap()];
        assert_eq!(get("publishedAt"), "2026-01-02T03:04:05.678Z");
        assert_eq!(get("mode"), "combined");
        assert_eq!(get("overallQualityReportDate"), "2018-06-01");
        assert_eq!(get("useOfResourcesReportDate"), "");
    }

    #[test]
    fn no_combined_rating_is_null_with_the_reason() {
        let mut r = sample();
        r.no_combined_reason = "not an acute trust".into();
        let v = serde_json::to_value(TrustRating::from(&r)).unwrap();
        let uor = &v["currentRatings"]["overall"]["useOfResources"];
        assert!(uor["combinedQualityRating"].is_null());
        assert!(uor["combinedQualityReportDate"].is_null());
        assert_eq!(uor["noCombinedQualityRatingReason"], "not an acute trust");
    }

    #[test]
    fn csv_has_a_header_quotes_text_and_defuses_formulas() {
        let text = String::from_utf8(csv([&sample()]).unwrap()).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            rdr.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_COLUMNS
        );
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let get = |name: &str| {
            let i = CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
            rows[0][i].to_string()
        };
        assert_eq!(get("name"), "'=HYPERLINK(\"x\"), Trust");
        assert_eq!(get("wellLed"), "Inadequate");
        assert_eq!(get("safe"), "");
        assert_eq!(get("combinedQuality"), "Good");
        assert_eq!(get("useOfResources"), "Requires improvement");
        assert_eq!(get("flags"), "good_while_kq_inadequate");
        assert_eq!(get("version"), "3");
    }
}
