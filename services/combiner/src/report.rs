//! The ratings report for people: server-side rendered HTML over HTTP (axum), no JavaScript.
//!
//! - `GET /` — every trust's latest version: the five key questions, overall quality, use of
//!   resources, the combined rating (or why there is none), anti-masking flags as warning badges
//!   and the explanation on click (`<details>`).
//! - `GET /trusts/{code}` — one trust: each part with its explanation, and every published version
//!   (the append-only history), newest first.
//! - `GET /healthz` — `ok`.
//!
//! Rating colours follow the look of CQC's rating graphics: outstanding teal-green, good green,
//! requires improvement amber, inadequate red. CQC publishes no hex palette we could cite, so the
//! values are ours (in [`STYLE`]), chosen for contrast with the text on them (amber takes black text,
//! the others white). Non-ratings are grey. Flags are a black-on-yellow "⚠" badge, a colour no rating
//! uses, and a flagged trust's row is marked too, so a reader cannot miss one.
//!
//! Every piece of text from the data is HTML-escaped ([`escape`]).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use oversight_proto::combined::v1 as pb;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_rating::{KeyQuestion, Rating, RatingValue, TrustCode};
use oversight_runtime::Shutdown;
use oversight_runtime::outbox::StoredEvent;
use prost::Message;
use tokio::net::TcpListener;

use crate::combining::Combiner;

/// Why a report page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    BadTrustCode(String),
    #[error("no rating for trust {0}")]
    UnknownTrust(TrustCode),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ReportError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ReportError::BadTrustCode(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ReportError::UnknownTrust(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ReportError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "report page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the service log".to_string(),
                )
            }
        };
        let body = page(
            "Trust ratings",
            &format!(
                "<p class=\"error\">{}</p><p><a href=\"/\">All trusts</a></p>",
                escape(&message)
            ),
        );
        (status, Html(body)).into_response()
    }
}

/// The report's routes.
pub fn router(combiner: Arc<Combiner>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/trusts/{code}", get(trust))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(combiner)
}

/// Serve the report on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    combiner: Arc<Combiner>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "ratings report listening");
    }
    axum::serve(listener, router(combiner))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| anyhow::anyhow!("report server failed: {e}"))
}

fn decode(events: &[StoredEvent]) -> Result<Vec<pb::CombinedRatingPublished>, ReportError> {
    events
        .iter()
        .map(|e| {
            pb::CombinedRatingPublished::decode(e.payload.as_slice())
                .map_err(|err| ReportError::Internal(anyhow::anyhow!("stored rating: {err}")))
        })
        .collect()
}

async fn index(State(combiner): State<Arc<Combiner>>) -> Result<Html<String>, ReportError> {
    let latest = decode(&combiner.outbox().all_latest().await?)?;
    Ok(Html(render_index(&latest)))
}

async fn trust(
    State(combiner): State<Arc<Combiner>>,
    Path(code): Path<String>,
) -> Result<Html<String>, ReportError> {
    let trust: TrustCode = code
        .parse()
        .map_err(|e| ReportError::BadTrustCode(format!("trust code {code:?}: {e}")))?;
    let history = decode(&combiner.outbox().history(trust.as_str()).await?)?;
    if history.is_empty() {
        return Err(ReportError::UnknownTrust(trust));
    }
    Ok(Html(render_trust(&history)))
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours and layout; see the module documentation for the palette.
pub const STYLE: &str = r#"
body { font-family: system-ui, Arial, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { margin: 0 0 .25rem 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #c8c8c8; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
small, .muted { color: #555; }
.rating { display: inline-block; padding: .1rem .4rem; border-radius: .25rem; font-weight: 600; }
.rating-outstanding { background: #00796b; color: #fff; }
.rating-good { background: #2e7d32; color: #fff; }
.rating-requires-improvement { background: #f0a202; color: #000; }
.rating-inadequate { background: #c62828; color: #fff; }
.rating-none { background: #e0e0e0; color: #1b1b1b; font-weight: 400; }
.flag-badge { display: inline-block; margin: .1rem 0; padding: .15rem .45rem; background: #ffdd00; color: #000;
  border: 2px solid #000; border-radius: .25rem; font-weight: 700; max-width: 16rem; }
tr.flagged td { background: #fffbe0; }
tr.flagged td:first-child { border-left: 6px solid #ffdd00; }
.flag-banner { background: #ffdd00; border: 3px solid #000; padding: .5rem .75rem; font-weight: 700; }
details summary { cursor: pointer; color: #1d70b8; }
details[open] { min-width: 22rem; }
details ul { margin: .25rem 0; padding-left: 1.2rem; }
.legend span { margin-right: .5rem; }
.error { color: #c62828; font-weight: 700; }
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

/// The CSS class and words for a wire rating.
fn rating_view(raw: i32) -> (&'static str, &'static str) {
    match convert::rating_value(raw) {
        Some(RatingValue::Rated(r)) => (
            match r {
                Rating::Outstanding => "rating-outstanding",
                Rating::Good => "rating-good",
                Rating::RequiresImprovement => "rating-requires-improvement",
                Rating::Inadequate => "rating-inadequate",
            },
            r.cqc_str(),
        ),
        Some(RatingValue::Unrated(n)) => ("rating-none", n.cqc_str()),
        None => ("rating-none", "No rating"),
    }
}

/// A rating badge with its report date beneath.
fn rating_cell(d: Option<&common::DatedRating>) -> String {
    let Some(d) = d else {
        return "<span class=\"rating rating-none\">No rating</span>".to_string();
    };
    let (class, words) = rating_view(d.rating);
    let mut out = format!("<span class=\"rating {class}\">{}</span>", escape(words));
    if !d.report_date.is_empty() {
        let _ = write!(out, "<br><small>{}</small>", escape(&d.report_date));
    }
    out
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

fn combined_cell(r: &pb::CombinedRatingPublished) -> String {
    if r.no_combined_reason.is_empty() {
        rating_cell(r.combined.as_ref())
    } else {
        format!(
            "<span class=\"rating rating-none\">No combined rating</span><br>\
             <small class=\"no-combined-reason\">{}</small>",
            escape(&r.no_combined_reason)
        )
    }
}

fn flag_badges(flags: &[pb::Flag]) -> String {
    flags
        .iter()
        .map(|f| {
            format!(
                "<span class=\"flag-badge\" data-flag=\"{code}\" title=\"{desc}\">⚠ {desc}</span>",
                code = escape(&f.code),
                desc = escape(&f.description)
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn explanation_block(label: &str, e: Option<&common::Explanation>) -> String {
    let Some(e) = e else {
        return format!("<p><b>{}</b>: no explanation</p>", escape(label));
    };
    let mut out = format!(
        "<p><b>{}</b> — rule set <code>{}</code>: {}</p>",
        escape(label),
        escape(&e.rule_set),
        escape(&e.rule)
    );
    for (heading, lines) in [("Inputs", &e.inputs), ("Notes", &e.notes)] {
        if lines.is_empty() {
            continue;
        }
        let _ = write!(out, "<div>{heading}:<ul>");
        for l in lines {
            let _ = write!(out, "<li>{}</li>", escape(l));
        }
        out.push_str("</ul></div>");
    }
    out
}

/// The combined rating's explanation behind a click (`open`: shown from the start).
fn combined_explanation(r: &pb::CombinedRatingPublished, open: bool) -> String {
    format!(
        "<details class=\"explanation\"{}><summary>Why?</summary>\
         <p class=\"muted\">Mode: {}</p>{}</details>",
        if open { " open" } else { "" },
        escape(&r.mode),
        explanation_block(
            "Combined rating",
            r.combined.as_ref().and_then(|c| c.explanation.as_ref())
        )
    )
}

fn trust_type_words(raw: i32) -> &'static str {
    convert::trust_type(raw).map_or("unknown", |t| match t {
        oversight_rating::TrustType::Acute => "acute",
        oversight_rating::TrustType::SpecialistAcute => "specialist acute",
        oversight_rating::TrustType::MentalHealth => "mental health",
        oversight_rating::TrustType::Community => "community",
        oversight_rating::TrustType::Ambulance => "ambulance",
    })
}

const COLUMNS: &str = "<th>S</th><th>E</th><th>C</th><th>R</th><th>W</th>\
    <th>Overall quality</th><th>Use of resources</th><th>Combined</th><th>Flags</th>";

/// The trust's NHS England region under its type, when known.
fn region_line(region: &str) -> String {
    if region.is_empty() {
        String::new()
    } else {
        format!("<br><small class=\"region\">{}</small>", escape(region))
    }
}

/// The cells from S to Flags for one version.
fn rating_cells(r: &pb::CombinedRatingPublished) -> String {
    let mut out = String::new();
    for kq in KeyQuestion::ALL {
        let _ = write!(
            out,
            "<td class=\"kq\" data-kq=\"{}\">{}</td>",
            kq.cqc_str().to_lowercase(),
            rating_cell(key_question(r, kq))
        );
    }
    let _ = write!(
        out,
        "<td class=\"overall-quality\">{}</td><td class=\"use-of-resources\">{}</td>\
         <td class=\"combined\">{}</td><td class=\"flags\">{}</td>",
        rating_cell(r.overall_quality.as_ref()),
        rating_cell(r.use_of_resources.as_ref()),
        combined_cell(r),
        flag_badges(&r.flags)
    );
    out
}

fn legend() -> String {
    let mut out = String::from("<p class=\"legend\">Ratings: ");
    for r in [
        Rating::Outstanding,
        Rating::Good,
        Rating::RequiresImprovement,
        Rating::Inadequate,
    ] {
        let (class, words) = rating_view(common::Rating::from(r) as i32);
        let _ = write!(out, "<span class=\"rating {class}\">{words}</span>");
    }
    out.push_str(
        "<span class=\"flag-badge\">⚠ flag</span> the combination may mask a part: read the parts.</p>",
    );
    out
}

/// The page of every trust's latest version (sorted by trust code, as stored).
pub fn render_index(latest: &[pb::CombinedRatingPublished]) -> String {
    let flagged = latest.iter().filter(|r| !r.flags.is_empty()).count();
    let mut body = String::from(
        "<header><h1>NHS trust ratings</h1><p>CQC quality with NHSI use of resources: the combined \
         rating beside its parts. Each trust links to its parts' explanations and its history.</p>\
         </header>",
    );
    body.push_str(&legend());
    if flagged > 0 {
        let _ = write!(
            body,
            "<p class=\"flag-banner\" id=\"flag-summary\">⚠ {flagged} of {} trusts carry \
             anti-masking flags: their combined rating hides something about its parts.</p>",
            latest.len()
        );
    }
    if latest.is_empty() {
        body.push_str("<p id=\"no-ratings\">No trust has a rating yet.</p>");
        return page("NHS trust ratings", &body);
    }
    let _ = write!(
        body,
        "<table id=\"ratings\"><thead><tr><th>Trust</th><th>Type</th>{COLUMNS}\
         <th>Explanation</th></tr></thead><tbody>"
    );
    for r in latest {
        let code = escape(&r.trust_code);
        let _ = write!(
            body,
            "<tr id=\"trust-{code}\" data-trust=\"{code}\"{class}>\
             <td class=\"trust\"><a href=\"/trusts/{code}\">{code}</a><br>\
             <span class=\"trust-name\">{name}</span><br>\
             <small><a href=\"/trusts/{code}#history\">history (v{version})</a></small></td>\
             <td>{ty}{region}</td>{cells}<td>{why}</td></tr>",
            class = if r.flags.is_empty() {
                ""
            } else {
                " class=\"flagged\""
            },
            name = escape(&r.trust_name),
            ty = trust_type_words(r.trust_type),
            region = region_line(&r.region),
            cells = rating_cells(r),
            why = combined_explanation(r, false),
            version = r.version,
        );
    }
    body.push_str("</tbody></table>");
    page("NHS trust ratings", &body)
}

/// One trust's page from its history (oldest first, as stored): the latest parts with their
/// explanations, then every version, newest first.
pub fn render_trust(history: &[pb::CombinedRatingPublished]) -> String {
    let Some(latest) = history.last() else {
        return page("Trust ratings", "<p>No versions.</p>");
    };
    let code = escape(&latest.trust_code);
    let name = escape(&latest.trust_name);
    let mut body = format!(
        "<p><a href=\"/\">All trusts</a></p><h1>{code} {name}</h1>\
         <p class=\"muted\">{} trust{} · version {} · published {} · mode {}</p>",
        trust_type_words(latest.trust_type),
        if latest.region.is_empty() {
            String::new()
        } else {
            format!(
                " · <span class=\"region\">{}</span>",
                escape(&latest.region)
            )
        },
        latest.version,
        escape(&latest.published_at),
        escape(&latest.mode)
    );
    body.push_str(&legend());
    if !latest.flags.is_empty() {
        let _ = write!(
            body,
            "<div class=\"flag-banner\" id=\"flags\">{}</div>",
            flag_badges(&latest.flags)
        );
    }
    body.push_str("<h2>Parts</h2><table id=\"parts\"><thead><tr><th>Part</th><th>Rating</th><th>Explanation</th></tr></thead><tbody>");
    let mut parts: Vec<(String, Option<&common::DatedRating>)> = KeyQuestion::ALL
        .into_iter()
        .map(|kq| (kq.cqc_str().to_string(), key_question(latest, kq)))
        .collect();
    parts.push(("Overall quality".into(), latest.overall_quality.as_ref()));
    parts.push(("Use of resources".into(), latest.use_of_resources.as_ref()));
    for (label, d) in parts {
        let _ = write!(
            body,
            "<tr><th>{l}</th><td>{}</td><td><details><summary>Why?</summary>{}</details></td></tr>",
            rating_cell(d),
            explanation_block(&label, d.and_then(|d| d.explanation.as_ref())),
            l = escape(&label),
        );
    }
    let _ = write!(
        body,
        "<tr class=\"combined-row\"><th>Combined</th><td>{}</td><td>{}</td></tr></tbody></table>",
        combined_cell(latest),
        combined_explanation(latest, true)
    );
    let _ = write!(
        body,
        "<h2 id=\"history\">History</h2><table id=\"history-table\"><thead><tr><th>Version</th>\
         <th>Published</th><th>Mode</th>{COLUMNS}<th>Explanation</th><th>Parts' versions</th></tr>\
         </thead><tbody>"
    );
    for r in history.iter().rev() {
        let _ = write!(
            body,
            "<tr class=\"version{flagged}\" data-version=\"{v}\"><td>v{v}</td><td>{at}</td>\
             <td>{mode}</td>{cells}<td>{why}</td><td>quality v{q}, UoR v{u}</td></tr>",
            flagged = if r.flags.is_empty() { "" } else { " flagged" },
            v = r.version,
            at = escape(&r.published_at),
            mode = escape(&r.mode),
            cells = rating_cells(r),
            why = combined_explanation(r, false),
            q = r.quality_version,
            u = r.use_of_resources_version,
        );
    }
    body.push_str("</tbody></table>");
    page(&format!("{} — trust ratings", latest.trust_code), &body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn dated(r: common::Rating, date: &str) -> Option<common::DatedRating> {
        Some(common::DatedRating {
            rating: r as i32,
            report_date: date.into(),
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
            mode: "combined".into(),
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

    #[test]
    fn text_from_the_data_is_escaped() {
        let html = render_index(&[sample()]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
        assert!(html.contains("1 of 6 inadequate &lt;limits&gt; to RI"));
        assert_eq!(escape("a\"b"), "a&quot;b");
    }

    #[test]
    fn index_shows_parts_colours_flags_and_explanation() {
        let html = render_index(&[sample()]);
        assert!(html.contains("id=\"trust-RXX\""));
        assert!(html.contains("class=\"flagged\""));
        assert!(html.contains("data-flag=\"uor_lowered_result\""));
        assert!(html.contains("id=\"flag-summary\""));
        assert!(html.contains("rating rating-inadequate\">Inadequate"));
        assert!(html.contains("rating rating-requires-improvement\">Requires improvement"));
        assert!(html.contains("<details class=\"explanation\"><summary>Why?</summary>"));
        assert!(html.contains("href=\"/trusts/RXX\""));
        assert!(html.contains(
            "<td>acute<br><small class=\"region\">North East &amp; Yorkshire</small></td>"
        ));
        let mut unknown = sample();
        unknown.region.clear();
        assert!(!render_index(&[unknown]).contains("class=\"region\""));
    }

    #[test]
    fn no_combined_rating_shows_the_reason() {
        let mut r = sample();
        r.flags.clear();
        r.combined = dated(common::Rating::Unspecified, "");
        r.no_combined_reason = "not an acute trust (mental health)".into();
        let html = render_index(&[r]);
        assert!(html.contains("No combined rating"));
        assert!(html.contains("not an acute trust (mental health)"));
        assert!(!html.contains("flag-summary"));
    }

    #[test]
    fn trust_page_lists_every_version_newest_first() {
        let mut v1 = sample();
        v1.version = 1;
        v1.flags.clear();
        let v2 = sample();
        let html = render_trust(&[v1, v2]);
        let (a, b) = (
            html.find("data-version=\"2\"").unwrap(),
            html.find("data-version=\"1\"").unwrap(),
        );
        assert!(a < b);
        assert!(html.contains("id=\"flags\""));
        assert!(html.contains("<th>Use of resources</th>"));
        assert!(html.contains(
            "acute trust · <span class=\"region\">North East &amp; Yorkshire</span> · version 2"
        ));
    }
}
