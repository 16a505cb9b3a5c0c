//! The trust list's query — search, filters, sorting and paging — as one pure module shared by the
//! HTML list (`/trusts`), its downloads and the JSON API (`/api/v1/trusts`): parse the GET query
//! parameters once ([`ListQuery::parse`]), then [`ListQuery::apply`] to the latest versions.
//!
//! Parameters (all optional; an empty value means unset, so a plain HTML form can send every field):
//!
//! | name | values |
//! | --- | --- |
//! | `q` | text found (case-insensitive) in the trust's ODS code or name |
//! | `rating`, `qualityRating`, `uorRating` | the combined, overall quality or use-of-resources rating: `outstanding`, `good`, `requires_improvement`, `inadequate` or `none` (no rating) |
//! | `trustType` | `acute`, `specialist_acute`, `mental_health`, `community`, `ambulance` |
//! | `region` | NHS England region, case-insensitive exact match |
//! | `flag` | a flag code (`uor_lowered_result`, …), `any` (at least one flag) or `none` |
//! | `sort` | `odsCode` (default), `name`, `rating`, `qualityRating`, `uorRating`, `trustType`, `region`, `publishedAt` |
//! | `order` | `asc` (default) or `desc`; ratings sort best first in `asc` |
//! | `page` | from 1 (default 1) |
//! | `pageSize` | 1 to [`MAX_PAGE_SIZE`] (default [`DEFAULT_PAGE_SIZE`]) |
//!
//! A bad value is a [`ListQueryError`] naming the parameter; unknown parameters are ignored.

use std::cmp::Ordering;
use std::sync::Arc;

use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_rating::{Rating, TrustType};

/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 500;
/// Page size when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// Longest search text or region accepted.
pub const MAX_TEXT_CHARS: usize = 100;

/// A rating as the report groups it: the four real ratings, or no rating at all (a non-rating,
/// no part yet, or no combined rating for this trust).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RatingBand {
    Outstanding,
    Good,
    RequiresImprovement,
    Inadequate,
    NoRating,
}

impl RatingBand {
    /// Best first, "no rating" last.
    pub const ALL: [RatingBand; 5] = [
        RatingBand::Outstanding,
        RatingBand::Good,
        RatingBand::RequiresImprovement,
        RatingBand::Inadequate,
        RatingBand::NoRating,
    ];

    /// The query-parameter value (`requires_improvement`, `none`).
    pub fn slug(self) -> &'static str {
        match self {
            RatingBand::Outstanding => "outstanding",
            RatingBand::Good => "good",
            RatingBand::RequiresImprovement => "requires_improvement",
            RatingBand::Inadequate => "inadequate",
            RatingBand::NoRating => "none",
        }
    }

    /// Words for people, as CQC writes them.
    pub fn words(self) -> &'static str {
        match self {
            RatingBand::Outstanding => Rating::Outstanding.cqc_str(),
            RatingBand::Good => Rating::Good.cqc_str(),
            RatingBand::RequiresImprovement => Rating::RequiresImprovement.cqc_str(),
            RatingBand::Inadequate => Rating::Inadequate.cqc_str(),
            RatingBand::NoRating => "No rating",
        }
    }

    fn parse(field: &'static str, s: &str) -> Result<Self, ListQueryError> {
        RatingBand::ALL
            .into_iter()
            .find(|b| b.slug() == s)
            .ok_or_else(|| {
                ListQueryError::new(
                    field,
                    format!(
                        "{s:?} is not a rating (expected one of {})",
                        RatingBand::ALL.map(|b| b.slug()).join(", ")
                    ),
                )
            })
    }

    /// The band of a dated rating on the wire.
    pub fn of(d: Option<&common::DatedRating>) -> Self {
        match d.and_then(|d| convert::real_rating(d.rating)) {
            Some(Rating::Outstanding) => RatingBand::Outstanding,
            Some(Rating::Good) => RatingBand::Good,
            Some(Rating::RequiresImprovement) => RatingBand::RequiresImprovement,
            Some(Rating::Inadequate) => RatingBand::Inadequate,
            None => RatingBand::NoRating,
        }
    }
}

/// The three ratings the report sets side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    OverallQuality,
    Combined,
    UseOfResources,
}

impl Measure {
    /// In the order the report shows them: the combined rating between its parts.
    pub const ALL: [Measure; 3] = [
        Measure::OverallQuality,
        Measure::Combined,
        Measure::UseOfResources,
    ];

    pub fn words(self) -> &'static str {
        match self {
            Measure::OverallQuality => "Overall quality",
            Measure::Combined => "Combined",
            Measure::UseOfResources => "Use of resources",
        }
    }

    /// The band of this rating in a version. A version without a combined rating (its reason is
    /// set) has no combined band whatever the wire holds.
    pub fn band(self, r: &pb::CombinedRatingPublished) -> RatingBand {
        match self {
            Measure::OverallQuality => RatingBand::of(r.overall_quality.as_ref()),
            Measure::UseOfResources => RatingBand::of(r.use_of_resources.as_ref()),
            Measure::Combined if !r.no_combined_reason.is_empty() => RatingBand::NoRating,
            Measure::Combined => RatingBand::of(r.combined.as_ref()),
        }
    }
}

/// The flag filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagFilter {
    /// At least one flag.
    Any,
    /// No flag.
    None,
    /// This flag code.
    Code(&'static str),
}

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    OdsCode,
    Name,
    Rating,
    QualityRating,
    UorRating,
    TrustType,
    Region,
    PublishedAt,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::OdsCode,
        SortKey::Name,
        SortKey::Rating,
        SortKey::QualityRating,
        SortKey::UorRating,
        SortKey::TrustType,
        SortKey::Region,
        SortKey::PublishedAt,
    ];

    pub fn param(self) -> &'static str {
        match self {
            SortKey::OdsCode => "odsCode",
            SortKey::Name => "name",
            SortKey::Rating => "rating",
            SortKey::QualityRating => "qualityRating",
            SortKey::UorRating => "uorRating",
            SortKey::TrustType => "trustType",
            SortKey::Region => "region",
            SortKey::PublishedAt => "publishedAt",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            SortKey::OdsCode => "ODS code",
            SortKey::Name => "Name",
            SortKey::Rating => "Combined rating",
            SortKey::QualityRating => "Overall quality",
            SortKey::UorRating => "Use of resources",
            SortKey::TrustType => "Trust type",
            SortKey::Region => "Region",
            SortKey::PublishedAt => "Last published",
        }
    }
}

/// A bad query parameter: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter {field}: {reason}")]
pub struct ListQueryError {
    pub field: &'static str,
    pub reason: String,
}

impl ListQueryError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        ListQueryError {
            field,
            reason: reason.into(),
        }
    }
}

/// A parsed list query. `Default` is every trust, by ODS code, first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub text: Option<String>,
    pub rating: Option<RatingBand>,
    pub quality_rating: Option<RatingBand>,
    pub uor_rating: Option<RatingBand>,
    pub trust_type: Option<TrustType>,
    pub region: Option<String>,
    pub flag: Option<FlagFilter>,
    pub sort: SortKey,
    pub descending: bool,
    /// From 1.
    pub page: usize,
    pub page_size: usize,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            text: None,
            rating: None,
            quality_rating: None,
            uor_rating: None,
            trust_type: None,
            region: None,
            flag: None,
            sort: SortKey::OdsCode,
            descending: false,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// One page of the list.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Arc<pb::CombinedRatingPublished>>,
    /// From 1, as asked (may be past the last page: then `items` is empty).
    pub page: usize,
    pub page_size: usize,
    /// Trusts matching the filters, over every page.
    pub total: usize,
}

impl Page {
    /// How many pages the matching trusts fill (at least 1).
    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.page_size).max(1)
    }
}

fn text_param(field: &'static str, v: &str) -> Result<String, ListQueryError> {
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(ListQueryError::new(
            field,
            format!("longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(v.to_string())
}

fn number_param(field: &'static str, v: &str, max: usize) -> Result<usize, ListQueryError> {
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ListQueryError::new(
            field,
            format!("{v:?} is not a whole number from 1 to {max}"),
        )),
    }
}

impl ListQuery {
    /// Parse GET query parameters (name, value), in the order given; a repeated name keeps its
    /// last value.
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ListQueryError> {
        let mut q = ListQuery::default();
        for (name, value) in params {
            let v = value.trim();
            if v.is_empty() {
                continue;
            }
            match name {
                "q" => q.text = Some(text_param("q", v)?),
                "rating" => q.rating = Some(RatingBand::parse("rating", v)?),
                "qualityRating" => q.quality_rating = Some(RatingBand::parse("qualityRating", v)?),
                "uorRating" => q.uor_rating = Some(RatingBand::parse("uorRating", v)?),
                "trustType" => {
                    q.trust_type = Some(
                        TrustType::ALL
                            .into_iter()
                            .find(|t| t.as_str() == v)
                            .ok_or_else(|| {
                                ListQueryError::new(
                                    "trustType",
                                    format!(
                                        "{v:?} is not a trust type (expected one of {})",
                                        TrustType::ALL.map(|t| t.as_str()).join(", ")
                                    ),
                                )
                            })?,
                    );
                }
                "region" => q.region = Some(text_param("region", v)?),
                "flag" => {
                    q.flag = Some(match v {
                        "any" => FlagFilter::Any,
                        "none" => FlagFilter::None,
                        code => FlagFilter::Code(
                            combined_rules::Flag::KINDS
                                .iter()
                                .map(|f| f.code())
                                .find(|c| *c == code)
                                .ok_or_else(|| {
                                    ListQueryError::new(
                                        "flag",
                                        format!(
                                            "{code:?} is not a flag code, `any` or `none` (codes: {})",
                                            flag_codes().join(", ")
                                        ),
                                    )
                                })?,
                        ),
                    });
                }
                "sort" => {
                    q.sort = SortKey::ALL
                        .into_iter()
                        .find(|k| k.param() == v)
                        .ok_or_else(|| {
                            ListQueryError::new(
                                "sort",
                                format!(
                                    "{v:?} is not a sort key (expected one of {})",
                                    SortKey::ALL.map(|k| k.param()).join(", ")
                                ),
                            )
                        })?;
                }
                "order" => {
                    q.descending = match v {
                        "asc" => false,
                        "desc" => true,
                        other => {
                            return Err(ListQueryError::new(
                                "order",
                                format!("{other:?} is not `asc` or `desc`"),
                            ));
                        }
                    }
                }
                "page" => q.page = number_param("page", v, u32::MAX as usize)?,
                "pageSize" => q.page_size = number_param("pageSize", v, MAX_PAGE_SIZE)?,
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether a version passes the search and every filter.
    pub fn matches(&self, r: &pb::CombinedRatingPublished) -> bool {
        if let Some(text) = &self.text {
            let text = text.to_lowercase();
            if !r.trust_code.to_lowercase().contains(&text)
                && !r.trust_name.to_lowercase().contains(&text)
            {
                return false;
            }
        }
        let bands = [
            (self.rating, Measure::Combined),
            (self.quality_rating, Measure::OverallQuality),
            (self.uor_rating, Measure::UseOfResources),
        ];
        if bands
            .iter()
            .any(|(want, m)| want.is_some_and(|w| m.band(r) != w))
        {
            return false;
        }
        if let Some(t) = self.trust_type
            && convert::trust_type(r.trust_type) != Some(t)
        {
            return false;
        }
        if let Some(region) = &self.region
            && !r.region.eq_ignore_ascii_case(region)
        {
            return false;
        }
        match &self.flag {
            None => true,
            Some(FlagFilter::Any) => !r.flags.is_empty(),
            Some(FlagFilter::None) => r.flags.is_empty(),
            Some(FlagFilter::Code(c)) => r.flags.iter().any(|f| f.code == *c),
        }
    }

    fn compare(
        &self,
        a: &pb::CombinedRatingPublished,
        b: &pb::CombinedRatingPublished,
    ) -> Ordering {
        let by = match self.sort {
            SortKey::OdsCode => Ordering::Equal,
            SortKey::Name => a
                .trust_name
                .to_lowercase()
                .cmp(&b.trust_name.to_lowercase()),
            SortKey::Rating => Measure::Combined.band(a).cmp(&Measure::Combined.band(b)),
            SortKey::QualityRating => Measure::OverallQuality
                .band(a)
                .cmp(&Measure::OverallQuality.band(b)),
            SortKey::UorRating => Measure::UseOfResources
                .band(a)
                .cmp(&Measure::UseOfResources.band(b)),
            SortKey::TrustType => {
                trust_type_words(a.trust_type).cmp(trust_type_words(b.trust_type))
            }
            // Unknown regions last.
            SortKey::Region => (a.region.is_empty(), a.region.to_lowercase())
                .cmp(&(b.region.is_empty(), b.region.to_lowercase())),
            // Unset first, as the empty string sorted before RFC 3339 text.
            SortKey::PublishedAt => {
                let at = |r: &pb::CombinedRatingPublished| {
                    r.published_at.as_ref().map(|t| (t.seconds, t.nanos))
                };
                at(a).cmp(&at(b))
            }
        };
        // Ties in ODS code order, whichever the direction: a stable order for paging.
        let by = if self.descending { by.reverse() } else { by };
        by.then_with(|| {
            let codes = a.trust_code.cmp(&b.trust_code);
            if self.sort == SortKey::OdsCode && self.descending {
                codes.reverse()
            } else {
                codes
            }
        })
    }

    /// Every matching version, sorted (for downloads and counting).
    pub fn select(
        &self,
        latest: &[Arc<pb::CombinedRatingPublished>],
    ) -> Vec<Arc<pb::CombinedRatingPublished>> {
        let mut out: Vec<_> = latest.iter().filter(|r| self.matches(r)).cloned().collect();
        out.sort_by(|a, b| self.compare(a, b));
        out
    }

    /// The requested page of the matching versions.
    pub fn apply(&self, latest: &[Arc<pb::CombinedRatingPublished>]) -> Page {
        let all = self.select(latest);
        let total = all.len();
        let start = (self.page - 1).saturating_mul(self.page_size);
        let items = all.into_iter().skip(start).take(self.page_size).collect();
        Page {
            items,
            page: self.page,
            page_size: self.page_size,
            total,
        }
    }

    /// The query as GET parameters, defaults left out, in a fixed order (for links). Values are
    /// percent-encoded.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(t) = &self.text {
            out.push(("q", t.clone()));
        }
        for (name, band) in [
            ("rating", self.rating),
            ("qualityRating", self.quality_rating),
            ("uorRating", self.uor_rating),
        ] {
            if let Some(b) = band {
                out.push((name, b.slug().to_string()));
            }
        }
        if let Some(t) = self.trust_type {
            out.push(("trustType", t.as_str().to_string()));
        }
        if let Some(r) = &self.region {
            out.push(("region", r.clone()));
        }
        if let Some(f) = &self.flag {
            out.push((
                "flag",
                match f {
                    FlagFilter::Any => "any".to_string(),
                    FlagFilter::None => "none".to_string(),
                    FlagFilter::Code(c) => (*c).to_string(),
                },
            ));
        }
        if self.sort != SortKey::OdsCode {
            out.push(("sort", self.sort.param().to_string()));
        }
        if self.descending {
            out.push(("order", "desc".to_string()));
        }
        if self.page != 1 {
            out.push(("page", self.page.to_string()));
        }
        if self.page_size != DEFAULT_PAGE_SIZE {
            out.push(("pageSize", self.page_size.to_string()));
        }
        out
    }

    /// `?a=b&c=d` (or empty) for [`ListQuery::to_params`].
    pub fn query_string(&self) -> String {
        let params = self.to_params();
        if params.is_empty() {
            return String::new();
        }
        let joined: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        format!("?{}", joined.join("&"))
    }

    /// The same filters and sort on another page.
    pub fn with_page(&self, page: usize) -> ListQuery {
        ListQuery {
            page: page.max(1),
            ..self.clone()
        }
    }

    /// The same filters sorted by `key`: ascending, or the other way round when already sorted by
    /// it ascending; back to the first page.
    pub fn sorted_by(&self, key: SortKey) -> ListQuery {
        ListQuery {
            sort: key,
            descending: self.sort == key && !self.descending,
            page: 1,
            ..self.clone()
        }
    }

    /// Whether any search or filter is set.
    pub fn is_filtered(&self) -> bool {
        self.text.is_some()
            || self.rating.is_some()
            || self.quality_rating.is_some()
            || self.uor_rating.is_some()
            || self.trust_type.is_some()
            || self.region.is_some()
            || self.flag.is_some()
    }
}

/// Every flag code, in the rule set's order.
pub fn flag_codes() -> Vec<&'static str> {
    combined_rules::Flag::KINDS
        .iter()
        .map(|f| f.code())
        .collect()
}

/// "mental health", or "unknown".
pub fn trust_type_words(raw: i32) -> &'static str {
    convert::trust_type(raw).map_or("unknown", TrustType::describe)
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn dated(r: common::Rating) -> Option<common::DatedRating> {
        Some(common::DatedRating {
            rating: r as i32,
            report_date: Some(convert::date("2018-06-01".parse().unwrap())),
            explanation: None,
        })
    }

    /// A version with the given ratings (quality, UoR, combined); `None` combined means "no
    /// combined rating" with a reason.
    fn trust(
        code: &str,
        name: &str,
        ty: common::TrustType,
        region: &str,
        ratings: (common::Rating, common::Rating, Option<common::Rating>),
        flags: &[&str],
    ) -> Arc<pb::CombinedRatingPublished> {
        Arc::new(pb::CombinedRatingPublished {
            trust_code: code.into(),
            trust_name: name.into(),
            trust_type: ty as i32,
            region: region.into(),
            overall_quality: dated(ratings.0),
            use_of_resources: dated(ratings.1),
            combined: ratings
                .2
                .map_or_else(|| dated(common::Rating::Unspecified), dated),
            no_combined_reason: if ratings.2.is_none() {
                "not an acute trust".into()
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
            published_at: convert::rfc3339_timestamp(&format!("2026-01-0{}T00:00:00Z", code.len())),
            ..Default::default()
        })
    }

    fn sample() -> Vec<Arc<pb::CombinedRatingPublished>> {
        use common::Rating::*;
        use common::TrustType::*;
        vec![
            trust(
                "RAA",
                "Northfield Hospitals NHS Trust",
                Acute,
                "London",
                (Good, RequiresImprovement, Some(Good)),
                &[],
            ),
            trust(
                "RBB",
                "Southgate Hospitals NHS Trust",
                Acute,
                "North East and Yorkshire",
                (Good, Inadequate, Some(RequiresImprovement)),
                &["uor_lowered_result"],
            ),
            trust(
                "RCC",
                "Eastbank Mental Health NHS Trust",
                MentalHealth,
                "",
                (Outstanding, Good, None),
                &[],
            ),
            trust(
                "RDD",
                "Westcliff Hospitals NHS Trust",
                Acute,
                "london",
                (Outstanding, Outstanding, Some(Outstanding)),
                &[],
            ),
        ]
    }

    fn codes(items: &[Arc<pb::CombinedRatingPublished>]) -> Vec<&str> {
        items.iter().map(|r| r.trust_code.as_str()).collect()
    }

    fn parse(params: &[(&str, &str)]) -> Result<ListQuery, ListQueryError> {
        ListQuery::parse(params.iter().copied())
    }

    #[test]
    fn no_parameters_is_every_trust_by_code_first_page() {
        let q = parse(&[]).unwrap();
        assert_eq!(q, ListQuery::default());
        let page = q.apply(&sample());
        assert_eq!(codes(&page.items), ["RAA", "RBB", "RCC", "RDD"]);
        assert_eq!((page.page, page.page_size, page.total), (1, 25, 4));
        assert_eq!(q.query_string(), "");
    }

    #[test]
    fn search_matches_code_or_name_ignoring_case() {
        let all = sample();
        assert_eq!(
            codes(&parse(&[("q", "rbb")]).unwrap().select(&all)),
            ["RBB"]
        );
        assert_eq!(
            codes(&parse(&[("q", "HOSPITALS")]).unwrap().select(&all)),
            ["RAA", "RBB", "RDD"]
        );
        assert!(parse(&[("q", "nowhere")]).unwrap().select(&all).is_empty());
    }

    #[test]
    fn filters_combine() {
        let all = sample();
        let sel = |p: &[(&str, &str)]| codes(&parse(p).unwrap().select(&all)).join(",");
        assert_eq!(sel(&[("rating", "good")]), "RAA");
        assert_eq!(sel(&[("rating", "none")]), "RCC");
        assert_eq!(sel(&[("qualityRating", "outstanding")]), "RCC,RDD");
        assert_eq!(sel(&[("uorRating", "inadequate")]), "RBB");
        assert_eq!(sel(&[("trustType", "mental_health")]), "RCC");
        // Region: case-insensitive exact match; unknown regions match no region filter.
        assert_eq!(sel(&[("region", "LONDON")]), "RAA,RDD");
        assert_eq!(sel(&[("region", "North")]), "");
        assert_eq!(sel(&[("flag", "any")]), "RBB");
        assert_eq!(sel(&[("flag", "none")]), "RAA,RCC,RDD");
        assert_eq!(sel(&[("flag", "uor_lowered_result")]), "RBB");
        assert_eq!(sel(&[("flag", "uor_raised_result")]), "");
        assert_eq!(
            sel(&[("trustType", "acute"), ("qualityRating", "good")]),
            "RAA,RBB"
        );
        // Empty values are unset (a form sends every field).
        assert_eq!(sel(&[("rating", ""), ("region", " ")]), "RAA,RBB,RCC,RDD");
    }

    #[test]
    fn sorting_by_ratings_is_best_first_and_ties_keep_code_order() {
        let all = sample();
        let sel = |p: &[(&str, &str)]| codes(&parse(p).unwrap().select(&all)).join(",");
        assert_eq!(sel(&[("sort", "rating")]), "RDD,RAA,RBB,RCC");
        assert_eq!(
            sel(&[("sort", "rating"), ("order", "desc")]),
            "RCC,RBB,RAA,RDD"
        );
        assert_eq!(sel(&[("sort", "qualityRating")]), "RCC,RDD,RAA,RBB");
        assert_eq!(
            sel(&[("sort", "qualityRating"), ("order", "desc")]),
            "RAA,RBB,RCC,RDD"
        );
        assert_eq!(sel(&[("order", "desc")]), "RDD,RCC,RBB,RAA");
        assert_eq!(sel(&[("sort", "name")]), "RCC,RAA,RBB,RDD");
        // Unknown region last.
        assert_eq!(sel(&[("sort", "region")]), "RAA,RDD,RBB,RCC");
        assert_eq!(sel(&[("sort", "trustType")]), "RAA,RBB,RDD,RCC");
    }

    #[test]
    fn pages_split_the_sorted_matches() {
        let all = sample();
        let q = parse(&[("pageSize", "3"), ("page", "2")]).unwrap();
        let page = q.apply(&all);
        assert_eq!(codes(&page.items), ["RDD"]);
        assert_eq!((page.total, page.pages()), (4, 2));
        let past = parse(&[("pageSize", "3"), ("page", "9")])
            .unwrap()
            .apply(&all);
        assert!(past.items.is_empty());
        assert_eq!(past.total, 4);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (params, field) in [
            (vec![("rating", "great")], "rating"),
            (vec![("qualityRating", "RI")], "qualityRating"),
            (vec![("uorRating", "x")], "uorRating"),
            (vec![("trustType", "hospital")], "trustType"),
            (vec![("flag", "masked")], "flag"),
            (vec![("sort", "colour")], "sort"),
            (vec![("order", "up")], "order"),
            (vec![("page", "0")], "page"),
            (vec![("page", "-1")], "page"),
            (vec![("pageSize", "501")], "pageSize"),
            (vec![("pageSize", "ten")], "pageSize"),
        ] {
            let err = parse(&params).unwrap_err();
            assert_eq!(err.field, field, "{params:?}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("query parameter {field}: "))
            );
        }
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(parse(&[("q", &long)]).unwrap_err().field, "q");
        // Unknown parameters are ignored.
        assert_eq!(parse(&[("colour", "blue")]).unwrap(), ListQuery::default());
    }

    #[test]
    fn links_round_trip_and_toggle_the_sort() {
        let q = parse(&[
            ("q", "north & south"),
            ("rating", "good"),
            ("trustType", "acute"),
            ("region", "London"),
            ("flag", "any"),
            ("sort", "name"),
            ("page", "2"),
            ("pageSize", "10"),
        ])
        .unwrap();
        let s = q.query_string();
        assert_eq!(
            s,
            "?q=north%20%26%20south&rating=good&trustType=acute&region=London&flag=any&sort=name&page=2&pageSize=10"
        );
        let back: Vec<(String, String)> = s[1..]
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.replace("%20", " ").replace("%26", "&"))
            })
            .collect();
        assert_eq!(
            ListQuery::parse(back.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap(),
            q
        );
        let toggled = q.sorted_by(SortKey::Name);
        assert!(toggled.descending && toggled.page == 1);
        assert!(!toggled.sorted_by(SortKey::Name).descending);
        assert!(!q.sorted_by(SortKey::Rating).descending);
        assert_eq!(q.with_page(0).page, 1);
    }
}
