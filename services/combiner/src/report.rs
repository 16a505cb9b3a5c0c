//! The ratings report for people: server-rendered HTML (maud templates, escaped by construction)
//! styled with the vendored NHS.UK frontend stylesheet (`assets/nhsuk-frontend/`), no JavaScript,
//! and the JSON API (`rest`) on the same server.
//!
//! - `GET /` — the national overview: trusts at each rating, overall quality beside combined beside
//!   use of resources; the same by region and by trust type; where the anti-masking flags fall.
//!   SVG charts (`charts`), each with a table of the same numbers.
//! - `GET /trusts` — the list: search, filters, sorting and paging as GET parameters (`listing`);
//!   `GET /trusts.csv`, `GET /trusts.json` — every trust the same filters select.
//! - `GET /trusts/{code}` — one trust: the parts beside the whole with their explanations, what
//!   would change its overall quality and combined rating (`combined_rules::whatif`), a timeline
//!   of its ratings over every version, and the version table; `GET
//!   /trusts/{code}/history.csv`, `GET /trusts/{code}/history.json` — every version.
//! - `GET /api/v1/…` — the JSON API (`rest`); `GET /assets/…` — stylesheets and icons;
//!   `GET /healthz` — `ok`.
//!
//! Ratings are NHS.UK tags: outstanding aqua green, good green, requires improvement orange,
//! inadequate red, no rating grey; the words are always there, colour only repeats them. Flags are
//! yellow "Flag" tags in the list and warning callouts on a trust's page. Pages and downloads are
//! served without a token (the ratings are public; put the report behind the organisation's
//! sign-in at the ingress if it must be private); the JSON API takes gRPC's tokens.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_rating::{KeyQuestion, TrustCode, TrustType};
use oversight_runtime::Shutdown;
use oversight_runtime::auth::Authenticator;
use tokio::net::TcpListener;

use combined_rules::whatif::{Direction, Step, Target, sentence};

use crate::charts::{self, Bar, BarGroup, Scale, TimelinePoint};
use crate::combining::Combiner;
use crate::export::{self, TrustRating, key_question, rating_words};
use crate::listing::{
    FlagFilter, ListQuery, ListQueryError, Measure, Page, RatingBand, SortKey, flag_codes,
    trust_type_words,
};
use crate::overview::{GroupCounts, Overview};
use crate::rest::{self, RawQuery, list_query, stored_history};

/// The vendored NHS.UK frontend stylesheet and where it is served.
const NHSUK_CSS: &[u8] = include_bytes!("../assets/nhsuk-frontend/nhsuk-frontend-10.6.1.min.css");
const NHSUK_CSS_PATH: &str = "/assets/nhsuk-frontend/nhsuk-frontend-10.6.1.min.css";
/// The report's own few rules (chart sizing, compact ratings table).
const REPORT_CSS: &[u8] = include_bytes!("../assets/report.css");
const REPORT_CSS_PATH: &str = "/assets/report-1.css";
/// Icons the stylesheet names (`url(/assets/images/…)`) and the favicon.
const IMAGES: [(&str, &[u8]); 5] = [
    (
        "nhsuk-icon-arrow-down.svg",
        include_bytes!("../assets/nhsuk-frontend/images/nhsuk-icon-arrow-down.svg"),
    ),
    (
        "nhsuk-icon-arrow-up.svg",
        include_bytes!("../assets/nhsuk-frontend/images/nhsuk-icon-arrow-up.svg"),
    ),
    (
        "nhsuk-icon-arrow-up-down.svg",
        include_bytes!("../assets/nhsuk-frontend/images/nhsuk-icon-arrow-up-down.svg"),
    ),
    (
        "nhsuk-icon-cross.svg",
        include_bytes!("../assets/nhsuk-frontend/images/nhsuk-icon-cross.svg"),
    ),
    (
        "favicon.svg",
        include_bytes!("../assets/nhsuk-frontend/images/favicon.svg"),
    ),
];

/// No scripts, no third-party requests (the stylesheet's web font falls back to Arial).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     font-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

const SERVICE_NAME: &str = "NHS trust ratings";

/// Why a report page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    BadQuery(#[from] ListQueryError),
    #[error("{0}")]
    BadTrustCode(String),
    #[error("no rating for trust {0}")]
    UnknownTrust(TrustCode),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ReportError {
    fn into_response(self) -> Response {
        let (status, heading) = match &self {
            ReportError::BadQuery(_) | ReportError::BadTrustCode(_) => (
                StatusCode::BAD_REQUEST,
                "There is a problem with the address",
            ),
            ReportError::UnknownTrust(_) => (StatusCode::NOT_FOUND, "Trust not found"),
            ReportError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "report page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the service",
                )
            }
        };
        let message = match &self {
            ReportError::Internal(_) => "Internal error; see the service log.".to_string(),
            other => other.to_string(),
        };
        let body = layout(
            heading,
            Nav::None,
            &[("Home", "/".to_string())],
            html! {
                h1 { (heading) }
                p.error id="error-message" { (message) }
                p { a href="/trusts" { "Find a trust" } }
            },
        );
        (status, body).into_response()
    }
}

/// The report's and the JSON API's routes.
pub fn router(combiner: Arc<Combiner>, auth: Authenticator) -> Router {
    let mut assets = Router::new()
        .route(
            NHSUK_CSS_PATH,
            get(|| async { asset("text/css", NHSUK_CSS) }),
        )
        .route(
            REPORT_CSS_PATH,
            get(|| async { asset("text/css", REPORT_CSS) }),
        );
    for (name, bytes) in IMAGES {
        assets = assets.route(
            &format!("/assets/images/{name}"),
            get(move || async move { asset("image/svg+xml", bytes) }),
        );
    }
    Router::new()
        .route("/", get(overview_page))
        .route("/trusts", get(list_page))
        .route("/trusts.csv", get(list_csv))
        .route("/trusts.json", get(list_json))
        .route("/trusts/{code}", get(trust_page))
        .route("/trusts/{code}/history.csv", get(history_csv))
        .route("/trusts/{code}/history.json", get(history_json))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(combiner.clone())
        .merge(assets)
        .merge(rest::router(combiner, auth))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn asset(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response()
}

/// Serve the report and the JSON API on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    combiner: Arc<Combiner>,
    auth: Authenticator,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "ratings report and JSON API listening");
    }
    axum::serve(listener, router(combiner, auth))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| anyhow::anyhow!("report server failed: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn overview_page(State(combiner): State<Arc<Combiner>>) -> Markup {
    render_overview(&Overview::of(&combiner.view().all()))
}

async fn list_page(
    State(combiner): State<Arc<Combiner>>,
    query: RawQuery,
) -> Result<Markup, ReportError> {
    let q = list_query(&query)?;
    let all = combiner.view().all();
    let regions = regions_of(&all);
    Ok(render_list(&q, &q.apply(&all), &regions))
}

fn download(content_type: &'static str, filename: &str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

fn json_bytes(value: &impl serde::Serialize) -> Result<Vec<u8>, ReportError> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| ReportError::Internal(anyhow::anyhow!("JSON: {e}")))
}

async fn list_csv(
    State(combiner): State<Arc<Combiner>>,
    query: RawQuery,
) -> Result<Response, ReportError> {
    let selected = list_query(&query)?.select(&combiner.view().all());
    let body = export::csv(selected.iter().map(|r| r.as_ref()))?;
    Ok(download("text/csv; charset=utf-8", "trusts.csv", body))
}

async fn list_json(
    State(combiner): State<Arc<Combiner>>,
    query: RawQuery,
) -> Result<Response, ReportError> {
    let selected = list_query(&query)?.select(&combiner.view().all());
    let items: Vec<TrustRating> = selected
        .iter()
        .map(|r| TrustRating::from(r.as_ref()))
        .collect();
    Ok(download(
        "application/json",
        "trusts.json",
        json_bytes(&items)?,
    ))
}

fn parse_code(code: &str) -> Result<TrustCode, ReportError> {
    code.parse()
        .map_err(|e| ReportError::BadTrustCode(format!("trust code {code:?}: {e}")))
}

async fn history_of(
    combiner: &Combiner,
    code: &str,
) -> Result<(TrustCode, Vec<pb::CombinedRatingPublished>), ReportError> {
    let trust = parse_code(code)?;
    let history = stored_history(combiner, &trust).await?;
    if history.is_empty() {
        return Err(ReportError::UnknownTrust(trust));
    }
    Ok((trust, history))
}

async fn trust_page(
    State(combiner): State<Arc<Combiner>>,
    Path(code): Path<String>,
) -> Result<Markup, ReportError> {
    let (_, history) = history_of(&combiner, &code).await?;
    Ok(render_trust(&history))
}

async fn history_csv(
    State(combiner): State<Arc<Combiner>>,
    Path(code): Path<String>,
) -> Result<Response, ReportError> {
    let (trust, history) = history_of(&combiner, &code).await?;
    let body = export::csv(&history)?;
    Ok(download(
        "text/csv; charset=utf-8",
        &format!("{trust}-history.csv"),
        body,
    ))
}

async fn history_json(
    State(combiner): State<Arc<Combiner>>,
    Path(code): Path<String>,
) -> Result<Response, ReportError> {
    let (trust, history) = history_of(&combiner, &code).await?;
    let body = export::TrustHistory {
        ods_code: trust.to_string(),
        versions: history.iter().map(TrustRating::from).collect(),
    };
    Ok(download(
        "application/json",
        &format!("{trust}-history.json"),
        json_bytes(&body)?,
    ))
}

/// The regions the data names, sorted, each once (case-insensitively).
fn regions_of(all: &[Arc<pb::CombinedRatingPublished>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in all {
        if !r.region.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(&r.region)) {
            out.push(r.region.clone());
        }
    }
    out.sort_by_key(|r| r.to_lowercase());
    out
}

// ---------------------------------------------------------------------------------------------
// Layout and components

/// Which header link is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nav {
    Overview,
    Trusts,
    None,
}

const NHS_LOGO: &str = "M200 0v80H0V0h200Zm-27.5 5.5c-14.5 0-29 5-29 22 0 10.2 7.7 13.5 14.7 16.3l.7.3c5.4 2 10.1 3.9 10.1 8.4 0 6.5-8.5 7.5-14 7.5s-12.5-1.5-16-3.5L135 70c5.5 2 13.5 3.5 20 3.5 15.5 0 32-4.5 32-22.5 0-19.5-25.5-16.5-25.5-25.5 0-5.5 5.5-6.5 12.5-6.5a35 35 0 0 1 14.5 3l4-13.5c-4.5-2-12-3-20-3Zm-131 2h-22l-14 65H22l9-45h.5l13.5 45h21.5l14-65H64l-9 45h-.5l-13-45Zm63 0h-18l-13 65h17l6-28H117l-5.5 28H129l13.5-65H125L119.5 32h-20l5-24.5Z";

/// A full page: NHS.UK header with the service name and navigation, breadcrumbs, main, footer.
fn layout(title: &str, nav: Nav, crumbs: &[(&str, String)], main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – " (SERVICE_NAME) }
                link rel="stylesheet" href=(NHSUK_CSS_PATH);
                link rel="stylesheet" href=(REPORT_CSS_PATH);
                link rel="icon" type="image/svg+xml" href="/assets/images/favicon.svg";
            }
            body {
                a.nhsuk-skip-link href="#maincontent" { "Skip to main content" }
                header.nhsuk-header role="banner" {
                    div class="nhsuk-header__container nhsuk-width-container" {
                        div.nhsuk-header__service {
                            a.nhsuk-header__service-logo href="/" aria-label=(format!("{SERVICE_NAME} homepage")) {
                                svg.nhsuk-header__logo xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 80"
                                    height="40" width="100" focusable="false" role="img" aria-label="NHS" {
                                    title { "NHS" }
                                    path fill="currentcolor" d=(NHS_LOGO) {}
                                }
                                span.nhsuk-header__service-name { (SERVICE_NAME) }
                            }
                        }
                    }
                    nav.nhsuk-header__navigation aria-label="Menu" {
                        div class="nhsuk-header__navigation-container nhsuk-width-container" {
                            ul.nhsuk-header__navigation-list {
                                (nav_item("National overview", "/", nav == Nav::Overview))
                                (nav_item("All trusts", "/trusts", nav == Nav::Trusts))
                                (nav_item("JSON API", "/api/v1/openapi.json", false))
                            }
                        }
                    }
                }
                div.nhsuk-width-container {
                    @if !crumbs.is_empty() {
                        nav.nhsuk-breadcrumb aria-label="Breadcrumb" {
                            ol.nhsuk-breadcrumb__list {
                                @for (label, href) in crumbs {
                                    li.nhsuk-breadcrumb__list-item {
                                        a.nhsuk-breadcrumb__link href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main.nhsuk-main-wrapper id="maincontent" {
                        (main)
                    }
                }
                footer.nhsuk-footer role="contentinfo" {
                    div.nhsuk-width-container {
                        div.nhsuk-footer__meta {
                            h2.nhsuk-u-visually-hidden { "Support links" }
                            ul.nhsuk-footer__list {
                                li.nhsuk-footer__list-item {
                                    a.nhsuk-footer__list-item-link href="/api/v1/openapi.json" { "JSON API (OpenAPI)" }
                                }
                                li.nhsuk-footer__list-item {
                                    a.nhsuk-footer__list-item-link href="/trusts.csv" { "Download every trust (CSV)" }
                                }
                            }
                            p.nhsuk-body-s {
                                "CQC quality ratings and NHSI use of resources, combined under rule set cqc-combined-2018."
                            }
                        }
                    }
                }
            }
        }
    }
}

fn nav_item(label: &str, href: &str, current: bool) -> Markup {
    html! {
        @if current {
            li class="nhsuk-header__navigation-item nhsuk-header__navigation-item--current" {
                a.nhsuk-header__navigation-link href=(href) aria-current="page" {
                    strong.nhsuk-header__navigation-item-current-fallback { (label) }
                }
            }
        } @else {
            li.nhsuk-header__navigation-item {
                a.nhsuk-header__navigation-link href=(href) { (label) }
            }
        }
    }
}

fn tag_colour(band: RatingBand) -> &'static str {
    match band {
        RatingBand::Outstanding => "nhsuk-tag--aqua-green",
        RatingBand::Good => "nhsuk-tag--green",
        RatingBand::RequiresImprovement => "nhsuk-tag--orange",
        RatingBand::Inadequate => "nhsuk-tag--red",
        RatingBand::NoRating => "nhsuk-tag--grey",
    }
}

/// A rating as an NHS.UK tag in CQC's words (non-ratings in theirs), grey when not a real rating.
fn rating_tag(d: Option<&common::DatedRating>) -> Markup {
    let band = RatingBand::of(d);
    let words = d
        .and_then(|d| rating_words(d.rating))
        .unwrap_or("No rating");
    html! {
        strong class={ "nhsuk-tag " (tag_colour(band)) } data-rating=(band.slug()) { (words) }
    }
}

/// The combined rating's tag, or "No combined rating" and why.
fn combined_tag(r: &pb::CombinedRatingPublished, with_reason: bool) -> Markup {
    html! {
        @if r.no_combined_reason.is_empty() {
            (rating_tag(r.combined.as_ref()))
        } @else {
            strong class="nhsuk-tag nhsuk-tag--grey" data-rating="none" { "No combined rating" }
            @if with_reason {
                br;
                span.nhsuk-body-s.no-combined-reason { (r.no_combined_reason) }
            }
        }
    }
}

fn flag_tags(flags: &[pb::Flag]) -> Markup {
    html! {
        @for f in flags {
            strong class="nhsuk-tag nhsuk-tag--yellow flag-tag" data-flag=(f.code) title=(f.description) {
                "Flag: " (f.description)
            }
        }
    }
}

/// "1 trust", "2 trusts".
fn trusts_word(n: usize) -> String {
    if n == 1 {
        "1 trust".to_string()
    } else {
        format!("{n} trusts")
    }
}

fn region_words(region: &str) -> &str {
    if region.is_empty() {
        "Not known"
    } else {
        region
    }
}

// ---------------------------------------------------------------------------------------------
// National overview

fn measure_slug(m: Measure) -> &'static str {
    match m {
        Measure::OverallQuality => "overall-quality",
        Measure::Combined => "combined",
        Measure::UseOfResources => "use-of-resources",
    }
}

fn group_bars(g: &GroupCounts) -> Vec<Bar> {
    Measure::ALL
        .into_iter()
        .map(|m| Bar {
            label: m.words().to_string(),
            counts: g.measure(m).0,
        })
        .collect()
}

/// A link to the list filtered to a group and, optionally, a rating of one measure.
fn list_link(filter: &[(&'static str, String)], rating: Option<(Measure, RatingBand)>) -> String {
    let mut params: Vec<(&str, &str)> = filter.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some((m, b)) = rating {
        let name = match m {
            Measure::OverallQuality => "qualityRating",
            Measure::Combined => "rating",
            Measure::UseOfResources => "uorRating",
        };
        params.push((name, b.slug()));
    }
    match ListQuery::parse(params) {
        Ok(q) => format!("/trusts{}", q.query_string()),
        Err(_) => "/trusts".to_string(),
    }
}

/// The table behind a group chart: one row per group and measure, one column per rating band.
fn counts_table(id: &str, caption: &str, groups: &[&GroupCounts], group_heading: &str) -> Markup {
    html! {
        div.nhsuk-table-container tabindex="0" role="region" aria-label=(caption) {
            table.nhsuk-table id=(id) {
                caption class="nhsuk-table__caption nhsuk-table__caption--s" { (caption) }
                thead.nhsuk-table__head {
                    tr.nhsuk-table__row {
                        th.nhsuk-table__header scope="col" { (group_heading) }
                        th.nhsuk-table__header scope="col" { "Rating of" }
                        @for b in RatingBand::ALL {
                            th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col" { (b.words()) }
                        }
                        th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col" { "Trusts" }
                        th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col" { "Flagged" }
                    }
                }
                tbody.nhsuk-table__body {
                    @for g in groups {
                        @for (i, m) in Measure::ALL.into_iter().enumerate() {
                            tr.nhsuk-table__row data-group=(g.label) data-measure=(measure_slug(m)) {
                                @if i == 0 {
                                    th.nhsuk-table__header scope="rowgroup" rowspan="3" {
                                        @if let Some(filter) = &g.filter {
                                            a href=(list_link(filter, None)) { (g.label) }
                                        } @else {
                                            (g.label)
                                        }
                                    }
                                }
                                th.nhsuk-table__header scope="row" { (m.words()) }
                                @for b in RatingBand::ALL {
                                    @let n = g.measure(m).get(b);
                                    td class="nhsuk-table__cell nhsuk-table__cell--numeric" data-band=(b.slug()) {
                                        @if let (Some(filter), true) = (&g.filter, n > 0) {
                                            a href=(list_link(filter, Some((m, b)))) { (n) }
                                        } @else {
                                            (n)
                                        }
                                    }
                                }
                                td class="nhsuk-table__cell nhsuk-table__cell--numeric" data-total { (g.trusts) }
                                td class="nhsuk-table__cell nhsuk-table__cell--numeric" data-flagged { (g.flagged) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn table_alternative(summary: &str, table: Markup) -> Markup {
    html! {
        details.nhsuk-details {
            summary.nhsuk-details__summary {
                span.nhsuk-details__summary-text { (summary) }
            }
            div.nhsuk-details__text { (table) }
        }
    }
}

/// A chart of the three ratings for each group (regions, trust types) with its table.
fn group_section(
    slug: &str,
    heading: &str,
    grouped_by: &str,
    each: &str,
    column: &str,
    groups: &[GroupCounts],
    note: Option<&str>,
) -> Markup {
    html! {
        h2 id=(format!("by-{slug}")) { (heading) }
        @if let Some(note) = note {
            p.nhsuk-body-s { (note) }
        }
        (charts::stacked_bars(
            &format!("chart-{slug}"),
            &format!("Trusts at each rating by {grouped_by}"),
            &format!("For each {each}, the overall quality, combined and use of resources ratings of its trusts as shares; the table below gives the numbers."),
            &groups.iter().map(|g| BarGroup { heading: Some(format!("{} ({})", g.label, trusts_word(g.trusts))), bars: group_bars(g) }).collect::<Vec<_>>(),
            Scale::Share,
        ))
        (table_alternative(
            &format!("Ratings by {each} as a table"),
            counts_table(&format!("table-{slug}"), &format!("Trusts at each rating by {each}"), &groups.iter().collect::<Vec<_>>(), column),
        ))
    }
}

/// The national overview page.
pub fn render_overview(o: &Overview) -> Markup {
    let n = o.national.trusts;
    let main = html! {
        h1 { "NHS trust ratings in England" }
        p.nhsuk-lede-text {
            "CQC's quality rating and NHSI's use of resources rating, and the combined rating set "
            "beside them so that neither hides the other."
        }
        @if n == 0 {
            p id="no-ratings" { "No trust has a rating yet." }
        } @else {
            p id="trust-count" {
                strong { (n) } " trusts are rated. "
                a href="/trusts" { "Search or filter the trusts" }
                "."
            }
            form id="find" method="get" action="/trusts" novalidate {
                div.nhsuk-form-group {
                    label.nhsuk-label for="find-q" { "Find a trust by name or ODS code" }
                    div.report-find {
                        input.nhsuk-input id="find-q" name="q" type="search" autocomplete="off";
                        button.nhsuk-button type="submit" id="find-trust" { "Find" }
                    }
                }
            }
            @if o.national.flagged > 0 {
                div class="nhsuk-card nhsuk-card--warning" id="flag-summary" {
                    div.nhsuk-card__content {
                        h2.nhsuk-card__heading { "Anti-masking flags" }
                        p.nhsuk-card__description {
                            (o.national.flagged) " of " (n) " trusts carry a flag: their combined rating hides "
                            "something about its parts. "
                            a href="/trusts?flag=any" { "See the flagged trusts" }
                            "."
                        }
                    }
                }
            }
            h2 id="national" { "Ratings in England" }
            (charts::stacked_bars(
                "chart-national",
                "Trusts at each rating in England",
                &format!("Overall quality, combined and use of resources ratings of {n} trusts, as shares of all trusts; the table below gives the numbers."),
                &[BarGroup { heading: None, bars: group_bars(&o.national) }],
                Scale::Share,
            ))
            (table_alternative("Ratings in England as a table", counts_table("table-national", "Trusts at each rating in England", &[&o.national], "Area")))

            (group_section("regions", "By region", "NHS England region", "region", "Region", &o.regions, None))
            (group_section("trust-types", "By trust type", "trust type", "trust type", "Trust type", &o.trust_types,
                Some("Combined ratings apply to non-specialist acute trusts only; other trusts show as no combined rating.")))

            h2 id="flags" { "Where the anti-masking flags fall" }
            @let most = o.flags.iter().map(|f| f.trusts).max().unwrap_or(0);
            (charts::stacked_bars(
                "chart-flags",
                "Trusts carrying each anti-masking flag, by their combined rating",
                "One bar per flag: how many trusts carry it, split by the combined rating they hold; the table below gives the numbers and regions.",
                &[BarGroup { heading: None, bars: o.flags.iter().map(|f| Bar { label: f.code.replace('_', " "), counts: f.by_combined.0 }).collect() }],
                Scale::Of(most),
            ))
            (table_alternative("Flags as a table", html! {
                div.nhsuk-table-container tabindex="0" role="region" aria-label="Trusts carrying each flag" {
                    table.nhsuk-table id="table-flags" {
                        caption class="nhsuk-table__caption nhsuk-table__caption--s" { "Trusts carrying each flag" }
                        thead.nhsuk-table__head {
                            tr.nhsuk-table__row {
                                th.nhsuk-table__header scope="col" { "Flag" }
                                th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col" { "Trusts" }
                                @for b in RatingBand::ALL {
                                    th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col" { "Combined: " (b.words()) }
                                }
                                th.nhsuk-table__header scope="col" { "Regions" }
                            }
                        }
                        tbody.nhsuk-table__body {
                            @for f in &o.flags {
                                tr.nhsuk-table__row data-flag=(f.code) {
                                    th.nhsuk-table__header scope="row" {
                                        @if f.trusts > 0 {
                                            a href=(format!("/trusts?flag={}", f.code)) { code { (f.code) } }
                                        } @else {
                                            code { (f.code) }
                                        }
                                    }
                                    td class="nhsuk-table__cell nhsuk-table__cell--numeric" data-total { (f.trusts) }
                                    @for b in RatingBand::ALL {
                                        td class="nhsuk-table__cell nhsuk-table__cell--numeric" data-band=(b.slug()) { (f.by_combined.get(b)) }
                                    }
                                    td.nhsuk-table__cell {
                                        (f.by_region.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", "))
                                    }
                                }
                            }
                        }
                    }
                }
            }))
        }
    };
    layout("National overview", Nav::Overview, &[], main)
}

// ---------------------------------------------------------------------------------------------
// Trust list

fn select(
    id: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    any_label: Option<&str>,
) -> Markup {
    html! {
        div.nhsuk-form-group {
            label.nhsuk-label for=(id) { (label) }
            select.nhsuk-select id=(id) name=(id) {
                @if let Some(any) = any_label {
                    option value="" selected[selected.is_empty()] { (any) }
                }
                @for (value, words) in options {
                    option value=(value) selected[value == selected] { (words) }
                }
            }
        }
    }
}

fn band_options() -> Vec<(String, String)> {
    RatingBand::ALL
        .iter()
        .map(|b| (b.slug().to_string(), b.words().to_string()))
        .collect()
}

fn slug_of(b: Option<RatingBand>) -> &'static str {
    b.map_or("", |b| b.slug())
}

fn filter_form(q: &ListQuery, regions: &[String]) -> Markup {
    let flag = match &q.flag {
        None => String::new(),
        Some(FlagFilter::Any) => "any".into(),
        Some(FlagFilter::None) => "none".into(),
        Some(FlagFilter::Code(c)) => (*c).to_string(),
    };
    let mut flag_options = vec![
        ("any".to_string(), "Any flag".to_string()),
        ("none".to_string(), "No flag".to_string()),
    ];
    flag_options.extend(
        flag_codes()
            .into_iter()
            .map(|c| (c.to_string(), c.replace('_', " "))),
    );
    // A region asked for that no trust has still shows as chosen.
    let mut region_options: Vec<(String, String)> =
        regions.iter().map(|r| (r.clone(), r.clone())).collect();
    let region_selected = match &q.region {
        None => String::new(),
        Some(r) => match regions.iter().find(|x| x.eq_ignore_ascii_case(r)) {
            Some(known) => known.clone(),
            None => {
                region_options.push((r.clone(), r.clone()));
                r.clone()
            }
        },
    };
    html! {
        form id="filters" method="get" action="/trusts" novalidate {
            div.nhsuk-form-group {
                label.nhsuk-label for="q" { "Search by trust name or ODS code" }
                input.nhsuk-input id="q" name="q" type="search" value=[q.text.as_deref()] autocomplete="off";
            }
            fieldset.nhsuk-fieldset {
                legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s" { "Filter" }
                div.report-filters {
                    (select("rating", "Combined rating", &band_options(), slug_of(q.rating), Some("Any")))
                    (select("qualityRating", "Overall quality", &band_options(), slug_of(q.quality_rating), Some("Any")))
                    (select("uorRating", "Use of resources", &band_options(), slug_of(q.uor_rating), Some("Any")))
                    (select("trustType", "Trust type",
                        &TrustType::ALL.iter().map(|t| (t.as_str().to_string(), t.describe().to_string())).collect::<Vec<_>>(),
                        q.trust_type.map_or("", |t| t.as_str()), Some("Any")))
                    (select("region", "Region", &region_options, &region_selected, Some("Any")))
                    (select("flag", "Anti-masking flag", &flag_options, &flag, Some("Any or none")))
                }
            }
            fieldset.nhsuk-fieldset {
                legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s" { "Sort and page" }
                div.report-filters {
                    (select("sort", "Sort by",
                        &SortKey::ALL.iter().map(|k| (k.param().to_string(), k.words().to_string())).collect::<Vec<_>>(),
                        q.sort.param(), None))
                    (select("order", "Order",
                        &[("asc".to_string(), "Ascending (best rating first)".to_string()), ("desc".to_string(), "Descending".to_string())],
                        if q.descending { "desc" } else { "asc" }, None))
                    (select("pageSize", "Trusts per page",
                        &[10, 25, 50, 100, 500].iter().map(|n: &usize| (n.to_string(), n.to_string())).collect::<Vec<_>>(),
                        &q.page_size.to_string(), None))
                }
            }
            div.nhsuk-button-group {
                button.nhsuk-button type="submit" id="apply-filters" { "Apply" }
                a.nhsuk-link href="/trusts" id="clear-filters" { "Clear filters" }
            }
        }
    }
}

fn sortable_header(q: &ListQuery, key: SortKey, label: &str) -> Markup {
    let sorted = q.sort == key;
    let aria = match (sorted, q.descending) {
        (false, _) => None,
        (true, false) => Some("ascending"),
        (true, true) => Some("descending"),
    };
    html! {
        th.nhsuk-table__header scope="col" aria-sort=[aria] {
            a href=(format!("/trusts{}", q.sorted_by(key).query_string())) data-sort=(key.param()) {
                (label)
                @if let Some(a) = aria {
                    span.nhsuk-u-visually-hidden { " (sorted " (a) ")" }
                }
            }
        }
    }
}

fn pagination(q: &ListQuery, page: &Page) -> Markup {
    let pages = page.pages();
    if pages <= 1 {
        return html! {};
    }
    let current = page.page.min(pages);
    // First, last, and two either side of the current page; gaps as ellipses.
    let shown: Vec<usize> = (1..=pages)
        .filter(|p| *p == 1 || *p == pages || p.abs_diff(current) <= 2)
        .collect();
    html! {
        nav class="nhsuk-pagination nhsuk-pagination--numbered" role="navigation" aria-label="Pagination" {
            @if current > 1 {
                a.nhsuk-pagination__previous href=(format!("/trusts{}", q.with_page(current - 1).query_string())) rel="prev" {
                    span.nhsuk-pagination__title { "Previous" span.nhsuk-u-visually-hidden { " page" } }
                }
            }
            ul.nhsuk-pagination__list {
                @for (i, p) in shown.iter().enumerate() {
                    @if i > 0 && shown[i - 1] + 1 != *p {
                        li class="nhsuk-pagination__item nhsuk-pagination__item--ellipsis" { "⋯" }
                    }
                    @if *p == current {
                        li class="nhsuk-pagination__item nhsuk-pagination__item--current" {
                            a.nhsuk-pagination__link href=(format!("/trusts{}", q.with_page(*p).query_string()))
                                aria-label=(format!("Page {p}")) aria-current="page" { (p) }
                        }
                    } @else {
                        li.nhsuk-pagination__item {
                            a.nhsuk-pagination__link href=(format!("/trusts{}", q.with_page(*p).query_string()))
                                aria-label=(format!("Page {p}")) { (p) }
                        }
                    }
                }
            }
            @if current < pages {
                a.nhsuk-pagination__next href=(format!("/trusts{}", q.with_page(current + 1).query_string())) rel="next" {
                    span.nhsuk-pagination__title { "Next" span.nhsuk-u-visually-hidden { " page" } }
                }
            }
        }
    }
}

/// The list page: the form, the count, downloads, the table and pagination.
pub fn render_list(q: &ListQuery, page: &Page, regions: &[String]) -> Markup {
    let first = (page.page - 1) * page.page_size + 1;
    let last = first + page.items.len().saturating_sub(1);
    // Downloads take every matching trust: the same filters and sort, no paging.
    let everything = ListQuery {
        page: 1,
        page_size: crate::listing::DEFAULT_PAGE_SIZE,
        ..q.clone()
    };
    let main = html! {
        h1 { "All trusts" }
        (filter_form(q, regions))
        p id="result-count" {
            @if page.items.is_empty() {
                @if page.total == 0 { "No trusts match." } @else { "No trusts on this page." }
            } @else {
                "Showing " (first) " to " (last) " of " strong { (page.total) } " trusts"
                @if q.is_filtered() { " matching the filters" }
                "."
            }
        }
        p id="downloads" {
            "Download these trusts: "
            a href=(format!("/trusts.csv{}", everything.query_string())) download id="download-csv" { "CSV" }
            " · "
            a href=(format!("/trusts.json{}", everything.query_string())) download id="download-json" { "JSON" }
        }
        @if !page.items.is_empty() {
            div.nhsuk-table-container tabindex="0" role="region" aria-label="Trusts and their ratings" {
                table class="nhsuk-table report-ratings" id="ratings" {
                    caption class="nhsuk-table__caption nhsuk-u-visually-hidden" { "Trusts and their ratings" }
                    thead.nhsuk-table__head {
                        tr.nhsuk-table__row {
                            (sortable_header(q, SortKey::OdsCode, "Trust"))
                            (sortable_header(q, SortKey::TrustType, "Type"))
                            (sortable_header(q, SortKey::Region, "Region"))
                            (sortable_header(q, SortKey::QualityRating, "Overall quality"))
                            (sortable_header(q, SortKey::UorRating, "Use of resources"))
                            (sortable_header(q, SortKey::Rating, "Combined"))
                            th.nhsuk-table__header scope="col" { "Flags" }
                        }
                    }
                    tbody.nhsuk-table__body {
                        @for r in &page.items {
                            tr.nhsuk-table__row.flagged[!r.flags.is_empty()] id=(format!("trust-{}", r.trust_code)) data-trust=(r.trust_code) {
                                th.nhsuk-table__header scope="row" {
                                    a href=(format!("/trusts/{}", r.trust_code)) {
                                        span.trust-name { (r.trust_name) }
                                    }
                                    br;
                                    span.nhsuk-body-s.ods-code { "ODS " (r.trust_code) }
                                }
                                td.nhsuk-table__cell data-measure="trust-type" { (trust_type_words(r.trust_type)) }
                                td.nhsuk-table__cell data-measure="region" { (region_words(&r.region)) }
                                td.nhsuk-table__cell data-measure="overall-quality" { (rating_tag(r.overall_quality.as_ref())) }
                                td.nhsuk-table__cell data-measure="use-of-resources" { (rating_tag(r.use_of_resources.as_ref())) }
                                td.nhsuk-table__cell data-measure="combined" { (combined_tag(r, false)) }
                                td.nhsuk-table__cell data-measure="flags" { (flag_tags(&r.flags)) }
                            }
                        }
                    }
                }
            }
        }
        (pagination(q, page))
    };
    layout(
        "All trusts",
        Nav::Trusts,
        &[("Home", "/".to_string())],
        main,
    )
}

// ---------------------------------------------------------------------------------------------
// Trust page

fn explanation(e: Option<&common::Explanation>) -> Markup {
    html! {
        @match e {
            None => p.nhsuk-body-s { "No explanation recorded." },
            Some(e) => {
                p.nhsuk-body-s { "Rule set " code { (e.rule_set) } ": " (e.rule) }
                @for (heading, lines) in [("Inputs", &e.inputs), ("Notes", &e.notes)] {
                    @if !lines.is_empty() {
                        p.nhsuk-body-s.nhsuk-u-margin-bottom-1 { strong { (heading) } }
                        ul.nhsuk-list.nhsuk-list--bullet.nhsuk-body-s {
                            @for l in lines { li { (l) } }
                        }
                    }
                }
            }
        }
    }
}

fn why(label: &str, e: Option<&common::Explanation>) -> Markup {
    html! {
        details.nhsuk-details.nhsuk-u-margin-bottom-0 {
            summary.nhsuk-details__summary {
                span.nhsuk-details__summary-text { "Why" span.nhsuk-u-visually-hidden { ": " (label) } }
            }
            div.nhsuk-details__text { (explanation(e)) }
        }
    }
}

/// A real rating as a tag.
fn real_rating_tag(r: oversight_rating::Rating) -> Markup {
    rating_tag(Some(&common::DatedRating {
        rating: common::Rating::from(r) as i32,
        ..Default::default()
    }))
}

/// One direction of a what-if: the sentences of its smallest sets, or why there are none.
fn what_if_step(target: Target, direction: Direction, step: &Step) -> Markup {
    let (slug, heading) = match direction {
        Direction::Up => ("up", "One step up"),
        Direction::Down => ("down", "One step down"),
    };
    html! {
        div class="whatif-step" data-direction=(slug) {
            h4.nhsuk-heading-xs.nhsuk-u-margin-bottom-2 {
                (heading)
                @match step {
                    Step::Changes { to, .. } | Step::NoExactStep { to } => { " (to " (to.cqc_str()) ")" }
                    _ => {}
                }
            }
            @match step {
                Step::Changes { to, sets } => {
                    @if sets.len() > 1 {
                        p.nhsuk-body-s.nhsuk-u-margin-bottom-1 { "Any one of these would do it:" }
                    }
                    ul.nhsuk-list.nhsuk-list--bullet.nhsuk-body-s {
                        @for set in sets {
                            li data-changes=(set.changes.len()) { (sentence(set, target, *to)) }
                        }
                    }
                }
                Step::AlreadyOutstanding => p.nhsuk-body-s { "Already Outstanding: nothing is above it." },
                Step::AlreadyInadequate => p.nhsuk-body-s { "Already Inadequate: nothing is below it." },
                Step::NoExactStep { to } => p.nhsuk-body-s {
                    "No change to single ratings gives exactly " (to.cqc_str())
                    ": with so few ratings counted, every change that moves it moves it further."
                },
            }
        }
    }
}

/// "What would change this rating" (`combined_rules::whatif`, worked from the latest version).
fn what_would_change(latest: &pb::CombinedRatingPublished) -> Markup {
    let changes = crate::api::rating_changes(latest);
    let published_quality = latest
        .overall_quality
        .as_ref()
        .and_then(|d| oversight_proto::convert::real_rating(d.rating));
    // Key questions newer than the ones the overall stands on (a focused inspection without a
    // well-led assessment, §2.3): the what-if counts what was combined, not what is shown above.
    let combined_kqs = crate::api::combined_key_questions(latest);
    let newer: Vec<(KeyQuestion, &'static str, &'static str)> = KeyQuestion::ALL
        .into_iter()
        .filter_map(|kq| {
            let wire = common::KeyQuestion::from(kq) as i32;
            let counted = combined_kqs
                .iter()
                .find(|k| k.key_question == wire)
                .and_then(|k| k.rating.as_ref());
            let shown = key_question(latest, kq);
            let rating = |d: Option<&common::DatedRating>| d.map(|d| d.rating);
            let words = |d: Option<&common::DatedRating>| {
                d.and_then(|d| rating_words(d.rating))
                    .unwrap_or("no rating")
            };
            (rating(counted) != rating(shown)).then(|| (kq, words(counted), words(shown)))
        })
        .collect();
    html! {
        h2 id="what-would-change" { "What would change this rating" }
        p.nhsuk-body-s {
            "The smallest sets of changes to single ratings that would move overall quality or the combined rating one step up or down, worked by the rules: "
            "overall quality from the five key questions (CQC's aggregation), the combined rating from them and use of resources as a sixth rating. "
            "Each set changes as few ratings as possible, each no further than it needs to."
        }
        @if !newer.is_empty() {
            p.nhsuk-body-s id="whatif-key-questions" {
                "Worked from the key questions the overall quality and the combined rating stand on (as of the last well-led assessment): "
                @for (i, (kq, counted, shown)) in newer.iter().enumerate() {
                    @if i > 0 { "; " }
                    (kq.cqc_str().to_lowercase()) " counts as " (counted) ", not the newer " (shown) " shown above"
                }
                ". The trust overall is only re-rated after a well-led assessment."
            }
        }
        @match &changes {
            Err(e) => p.nhsuk-body id="whatif-unavailable" { (e) },
            Ok(changes) => {
                @for (target, id, heading) in [
                    (Target::OverallQuality, "whatif-overall-quality", "Overall quality"),
                    (Target::Combined, "whatif-combined", "Combined rating"),
                ] {
                    div.nhsuk-card id=(id) {
                        div.nhsuk-card__content {
                            h3.nhsuk-card__heading { (heading) }
                            @match changes.of(target) {
                                Err(why) => p.nhsuk-body-s.whatif-unavailable { (why) },
                                Ok(m) => {
                                    p.nhsuk-body-s {
                                        "The rules give " (real_rating_tag(m.current)) " now."
                                        @if target == Target::OverallQuality && published_quality.is_some_and(|p| p != m.current) {
                                            " The published overall quality differs (a judgement, or a rating carried forward); the changes start from what the rules give."
                                        }
                                    }
                                    (what_if_step(target, Direction::Up, &m.up))
                                    (what_if_step(target, Direction::Down, &m.down))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One trust's page from its history (oldest first, as stored).
pub fn render_trust(history: &[pb::CombinedRatingPublished]) -> Markup {
    let Some(latest) = history.last() else {
        return layout("Trust", Nav::Trusts, &[], html! { p { "No versions." } });
    };
    let code = latest.trust_code.as_str();
    let mut parts: Vec<(String, Option<&common::DatedRating>)> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| (kq.cqc_str().to_string(), key_question(latest, kq)))
        .collect();
    parts.push(("Overall quality".into(), latest.overall_quality.as_ref()));
    parts.push(("Use of resources".into(), latest.use_of_resources.as_ref()));
    let points: Vec<TimelinePoint> = history
        .iter()
        .map(|r| TimelinePoint {
            label: export::published_at(r)
                .and_then(|t| t.get(..10).map(str::to_string))
                .unwrap_or_default(),
            bands: Measure::ALL.iter().map(|m| m.band(r)).collect(),
        })
        .collect();
    let main = html! {
        h1 {
            span.nhsuk-caption-l { "ODS code " (code) }
            span id="trust-name" { (latest.trust_name) }
        }
        dl.nhsuk-summary-list id="trust-facts" {
            div.nhsuk-summary-list__row {
                dt.nhsuk-summary-list__key { "Trust type" }
                dd.nhsuk-summary-list__value { (trust_type_words(latest.trust_type)) }
            }
            div.nhsuk-summary-list__row {
                dt.nhsuk-summary-list__key { "Region" }
                dd.nhsuk-summary-list__value.region { (region_words(&latest.region)) }
            }
            div.nhsuk-summary-list__row {
                dt.nhsuk-summary-list__key { "Version" }
                dd.nhsuk-summary-list__value {
                    (latest.version) ", published " (export::published_at(latest).unwrap_or_default()) " (" (export::mode_words(latest)) " mode, rule set " code { (latest.rule_set) } ")"
                }
            }
        }
        @if !latest.flags.is_empty() {
            div class="nhsuk-card nhsuk-card--warning" id="flags" {
                div.nhsuk-card__content {
                    h2.nhsuk-card__heading { "This combined rating may hide something about its parts" }
                    ul.nhsuk-list.nhsuk-list--bullet {
                        @for f in &latest.flags {
                            li data-flag=(f.code) { (f.description) }
                        }
                    }
                    p.nhsuk-card__description { "Read the parts below beside the combined rating." }
                }
            }
        }
        h2 id="parts" { "The parts beside the whole" }
        div.nhsuk-table-container tabindex="0" role="region" aria-label="Each rating with its explanation" {
            table class="nhsuk-table report-parts" id="parts-table" {
                caption class="nhsuk-table__caption nhsuk-u-visually-hidden" { "Each rating with its explanation" }
                thead.nhsuk-table__head {
                    tr.nhsuk-table__row {
                        th.nhsuk-table__header scope="col" { "Rating of" }
                        th.nhsuk-table__header scope="col" { "Rating" }
                        th.nhsuk-table__header scope="col" { "Report date" }
                        th.nhsuk-table__header scope="col" { "Explanation" }
                    }
                }
                tbody.nhsuk-table__body {
                    @for (label, d) in &parts {
                        tr.nhsuk-table__row data-part=(label) {
                            th.nhsuk-table__header scope="row" { (label) }
                            td.nhsuk-table__cell { (rating_tag(*d)) }
                            td.nhsuk-table__cell { (export::report_date(*d).unwrap_or_default()) }
                            td.nhsuk-table__cell { (why(label, d.and_then(|d| d.explanation.as_ref()))) }
                        }
                    }
                    tr class="nhsuk-table__row combined-row" data-part="Combined" {
                        th.nhsuk-table__header scope="row" { "Combined" }
                        td.nhsuk-table__cell { (combined_tag(latest, true)) }
                        td.nhsuk-table__cell {
                            @if latest.no_combined_reason.is_empty() {
                                (export::report_date(latest.combined.as_ref()).unwrap_or_default())
                            }
                        }
                        td.nhsuk-table__cell { (why("Combined", latest.combined.as_ref().and_then(|c| c.explanation.as_ref()))) }
                    }
                }
            }
        }
        (what_would_change(latest))
        h2 id="history" { "Ratings over time" }
        (charts::timeline(
            "chart-timeline",
            &format!("Ratings of {} over its {} published versions", latest.trust_name, history.len()),
            "Overall quality, combined and use of resources rating at each published version, oldest on the left; the table below gives the same.",
            &points,
        ))
        div.nhsuk-table-container tabindex="0" role="region" aria-label="Every published version" {
            table class="nhsuk-table report-history" id="history-table" {
                caption class="nhsuk-table__caption nhsuk-table__caption--s" { "Every published version, newest first" }
                thead.nhsuk-table__head {
                    tr.nhsuk-table__row {
                        th.nhsuk-table__header scope="col" { "Version" }
                        th.nhsuk-table__header scope="col" { "Published" }
                        th.nhsuk-table__header scope="col" { "Overall quality" }
                        th.nhsuk-table__header scope="col" { "Use of resources" }
                        th.nhsuk-table__header scope="col" { "Combined" }
                        th.nhsuk-table__header scope="col" { "Flags" }
                        th.nhsuk-table__header scope="col" { "Parts' versions" }
                    }
                }
                tbody.nhsuk-table__body {
                    @for r in history.iter().rev() {
                        tr.nhsuk-table__row data-version=(r.version) {
                            th.nhsuk-table__header scope="row" { "v" (r.version) }
                            td.nhsuk-table__cell { (export::published_at(r).unwrap_or_default()) }
                            td.nhsuk-table__cell data-measure="overall-quality" { (rating_tag(r.overall_quality.as_ref())) }
                            td.nhsuk-table__cell data-measure="use-of-resources" { (rating_tag(r.use_of_resources.as_ref())) }
                            td.nhsuk-table__cell data-measure="combined" { (combined_tag(r, false)) }
                            td.nhsuk-table__cell { (flag_tags(&r.flags)) }
                            td.nhsuk-table__cell { "quality v" (r.quality_version) ", UoR v" (r.use_of_resources_version) }
                        }
                    }
                }
            }
        }
        p id="downloads" {
            "Download this trust's history: "
            a href=(format!("/trusts/{code}/history.csv")) download id="download-history-csv" { "CSV" }
            " · "
            a href=(format!("/trusts/{code}/history.json")) download id="download-history-json" { "JSON" }
        }
    };
    layout(
        &format!("{} ({code})", latest.trust_name),
        Nav::None,
        &[
            ("Home", "/".to_string()),
            ("All trusts", "/trusts".to_string()),
        ],
        main,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn dated(r: common::Rating, date: &str) -> Option<common::DatedRating> {
        Some(common::DatedRating {
            rating: r as i32,
            // "" for none.
            report_date: (!date.is_empty())
                .then(|| oversight_proto::convert::date(date.parse().unwrap())),
            explanation: Some(common::Explanation {
                rule_set: "cqc-combined-2018".into(),
                rule: "1 of 6 inadequate <limits> to RI".into(),
                inputs: vec!["safe: Good (2018-06-01)".into()],
                notes: vec![],
            }),
        })
    }

    fn sample() -> pb::CombinedRatingPublished {
        pb::CombinedRatingPublished {
            trust_code: "RXX".into(),
            trust_name: "<script>alert('x')</script> & Co".into(),
            trust_type: common::TrustType::Acute as i32,
            region: "North East & Yorkshire".into(),
            version: 2,
            mode: pb::Mode::Combined as i32,
            published_at: oversight_proto::convert::rfc3339_timestamp("2026-01-02T03:04:05Z"),
            key_questions: KeyQuestion::ALL
                .into_iter()
                .map(|kq| common::KeyQuestionRating {
                    key_question: common::KeyQuestion::from(kq) as i32,
                    rating: dated(common::Rating::Good, "2018-06-01"),
                })
                .collect(),
            overall_quality: dated(common::Rating::Good, "2018-06-01"),
            use_of_resources: dated(common::Rating::Inadequate, "2018-07-01"),
            combined: dated(common::Rating::RequiresImprovement, "2018-07-01"),
            flags: vec![pb::Flag {
                code: "uor_lowered_result".into(),
                description: "the use of resources rating lowered the combined rating".into(),
            }],
            ..Default::default()
        }
    }

    fn list_html(r: pb::CombinedRatingPublished) -> String {
        let all = vec![Arc::new(r)];
        let q = ListQuery::default();
        render_list(&q, &q.apply(&all), &regions_of(&all)).into_string()
    }

    #[test]
    fn text_from_the_data_is_escaped() {
        let html = list_html(sample());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; Co"));
        let page = render_trust(&[sample()]).into_string();
        assert!(!page.contains("<script>"));
        assert!(page.contains("1 of 6 inadequate &lt;limits&gt; to RI"));
    }

    #[test]
    fn list_rows_show_tags_flags_and_links() {
        let html = list_html(sample());
        assert!(html.contains("id=\"trust-RXX\""));
        assert!(html.contains("flagged"));
        assert!(html.contains("data-flag=\"uor_lowered_result\""));
        assert!(html.contains(
            "<strong class=\"nhsuk-tag nhsuk-tag--red\" data-rating=\"inadequate\">Inadequate</strong>"
        ));
        assert!(html.contains("data-rating=\"requires_improvement\">Requires improvement"));
        assert!(html.contains("href=\"/trusts/RXX\""));
        assert!(html.contains("North East &amp; Yorkshire"));
        assert!(html.contains("<option value=\"North East &amp; Yorkshire\">"));
        // A region asked for in another case is shown chosen; one no trust has is kept.
        let all = vec![Arc::new(sample())];
        for (asked, shown) in [
            ("north east & yorkshire", "North East &amp; Yorkshire"),
            ("Midlands", "Midlands"),
        ] {
            let q = ListQuery::parse([("region", asked)]).unwrap();
            let html = render_list(&q, &q.apply(&all), &regions_of(&all)).into_string();
            assert!(
                html.contains(&format!("<option value=\"{shown}\" selected>")),
                "{asked}"
            );
        }
    }

    #[test]
    fn no_combined_rating_shows_the_reason_on_the_trust_page() {
        let mut r = sample();
        r.flags.clear();
        r.combined = dated(common::Rating::Unspecified, "");
        r.no_combined_reason = "not an acute trust (mental health)".into();
        let page = render_trust(&[r.clone()]).into_string();
        assert!(page.contains("No combined rating"));
        assert!(page.contains("not an acute trust (mental health)"));
        assert!(!page.contains("id=\"flags\""));
        assert!(list_html(r).contains("data-rating=\"none\">No combined rating"));
    }

    #[test]
    fn the_what_if_says_when_it_counts_key_questions_older_than_those_shown() {
        let r = sample();
        assert!(
            !render_trust(std::slice::from_ref(&r))
                .into_string()
                .contains("whatif-key-questions")
        );
        // A focused inspection after the well-led assessment: effective shown Inadequate, the
        // overall (and the combination) stand on effective Good.
        let mut focused = r;
        focused.overall_key_questions = focused.key_questions.clone();
        focused.key_questions[1].rating = dated(common::Rating::Inadequate, "2019-03-01");
        let page = render_trust(&[focused]).into_string();
        assert!(page.contains("id=\"whatif-key-questions\""), "{page}");
        assert!(
            page.contains("effective counts as Good, not the newer Inadequate shown above"),
            "{page}"
        );
    }

    #[test]
    fn trust_page_lists_every_version_newest_first_with_a_timeline() {
        let mut v1 = sample();
        v1.version = 1;
        v1.flags.clear();
        let v2 = sample();
        let html = render_trust(&[v1, v2]).into_string();
        let (a, b) = (
            html.find("data-version=\"2\"").unwrap(),
            html.find("data-version=\"1\"").unwrap(),
        );
        assert!(a < b);
        assert!(html.contains("id=\"flags\""));
        assert!(html.contains("id=\"chart-timeline\""));
        assert!(html.contains("role=\"img\""));
        assert!(html.contains("href=\"/trusts/RXX/history.csv\""));
    }

    #[test]
    fn pagination_links_keep_the_filters() {
        let all: Vec<_> = (0..30)
            .map(|i| {
                let mut r = sample();
                r.trust_code = format!("R{i:02}");
                Arc::new(r)
            })
            .collect();
        let q = ListQuery::parse([("pageSize", "10"), ("flag", "any"), ("page", "2")]).unwrap();
        let html = render_list(&q, &q.apply(&all), &[]).into_string();
        assert!(html.contains("href=\"/trusts?flag=any&amp;page=3&amp;pageSize=10\" rel=\"next\""));
        assert!(html.contains("href=\"/trusts?flag=any&amp;pageSize=10\" rel=\"prev\""));
        assert!(html.contains("Showing 11 to 20 of <strong>30</strong> trusts"));
        assert!(html.contains("href=\"/trusts.csv?flag=any\""));
    }
}
