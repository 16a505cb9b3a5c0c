//! The combiner's ratings report, checked in a real headless browser (Debian `chromium`, driven by
//! `tests/browser/drive.cjs` with the npm packages `playwright-core` and `axe-core` from
//! `.tools/npm`, as `.ci/run` installs them): feeds go through the whole stack, then Chromium
//! loads the report of a combiner App with the report server on (the stack's own runs without
//! one). The test asserts on the DOM Chromium rendered, follows the search form, filters, sort
//! links and pagination with JavaScript off, fetches the downloads, runs axe on every page type
//! (no serious or critical violation allowed), and saves screenshots in `test-artifacts/`.
//!
//! Expected values come from the feeds the test submits and the rules worked by hand
//! (DOMAIN.md §2.1 and §3), never from the report itself.
//!
//! Chromium, node and the npm packages are required: without them the test fails and says how to
//! install them (`CHROMIUM_BIN` names another browser binary, `NPM_MODULES` another node_modules).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use oversight_e2e::{Stack, feed_for, rating_history, rating_with_uor};
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::Shutdown;
use oversight_testkit::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(60);
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM_BIN") {
        return PathBuf::from(p);
    }
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(on_path)
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is required for the ratings report test but was not found on \
                 PATH: install it (Debian: `apt-get install -y chromium`) or set CHROMIUM_BIN"
            )
        })
}

fn npm_modules() -> PathBuf {
    let dir = std::env::var_os("NPM_MODULES").map_or_else(
        || oversight_testkit::workspace_root().join(".tools/npm/node_modules"),
        PathBuf::from,
    );
    for package in ["playwright-core", "axe-core"] {
        assert!(
            dir.join(package).join("package.json").is_file(),
            "the ratings report test needs the npm package {package} in {}: run `.ci/run` or \
             `mkdir -p .tools/npm && (cd .tools/npm && npm install playwright-core axe-core)`, \
             or set NPM_MODULES",
            dir.display()
        );
    }
    dir
}

/// What the browser saw at the end of one visit.
struct Seen {
    url: String,
    status: u64,
    html: String,
    violations: Vec<serde_json::Value>,
}

/// Run `visits` (see `tests/browser/drive.cjs` for the plan's shape) in one browser.
async fn drive(dir: &Path, visits: serde_json::Value) -> Vec<Seen> {
    let plan = dir.join(format!("plan-{}.json", std::process::id()));
    std::fs::write(&plan, serde_json::json!({ "visits": visits }).to_string()).unwrap();
    let node =
        on_path("node").expect("node is required for the browser test (apt-get install nodejs)");
    let script = oversight_testkit::workspace_root().join("tests/browser/drive.cjs");
    let mut cmd = tokio::process::Command::new(node);
    cmd.arg(&script)
        .arg(&plan)
        .env("NPM_MODULES", npm_modules())
        .env("CHROMIUM_BIN", chromium())
        .kill_on_drop(true);
    let out = tokio::time::timeout(BROWSER_DEADLINE, cmd.output())
        .await
        .expect("the browser finished in time")
        .expect("node ran");
    assert!(
        out.status.success(),
        "the browser driver failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    seen.into_iter()
        .map(|v| Seen {
            url: v["url"].as_str().unwrap().to_string(),
            status: v["status"].as_u64().unwrap(),
            html: v["html"].as_str().unwrap().to_string(),
            violations: v["violations"].as_array().unwrap().clone(),
        })
        .collect()
}

/// A raw HTTP/1.1 GET: status, headers and body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Text with tags removed and entities for `&`, `<`, `>` decoded, trimmed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// The markup of the element whose start tag contains `marker`, up to the first `end` after it.
fn element<'a>(html: &'a str, marker: &str, end: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the rendered DOM"));
    let rest = &html[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// One direction of a trust page's "What would change this rating" card (`whatif-combined` or
/// `whatif-overall-quality`): its heading and the text of each listed set of changes.
fn what_if(page: &str, card: &str, direction: &str) -> (String, Vec<String>) {
    let card = element(page, &format!("id=\"{card}\""), "id=\"history\"");
    let step = element(card, &format!("data-direction=\"{direction}\""), "</ul>");
    let heading = text(element(step, "<h4", "</h4>"));
    let items = step
        .split("<li")
        .skip(1)
        .map(|li| text(&li[li.find('>').unwrap() + 1..]))
        .collect();
    (heading, items)
}

/// Trust codes of the list's rows, in order.
fn listed(html: &str) -> Vec<String> {
    html.match_indices("data-trust=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The number in a counts table's cell: table `id`, row of `group` and `measure`, column `band`.
fn count(html: &str, table: &str, group: &str, measure: &str, band: &str) -> usize {
    let table = element(html, &format!("id=\"{table}\""), "</table>");
    let row = element(
        table,
        &format!("data-group=\"{group}\" data-measure=\"{measure}\""),
        "</tr>",
    );
    let cell = element(row, &format!("data-band=\"{band}\""), "</td>");
    text(&cell[cell.find('>').unwrap() + 1..])
        .parse()
        .unwrap_or_else(|e| panic!("{table} {group} {measure} {band}: {cell}: {e}"))
}

/// One trust of the test's feeds and its ratings worked by hand.
struct Trust {
    code: &'static str,
    name: String,
    trust_type: &'static str,
    region: &'static str,
    uor: &'static str,
}

impl Trust {
    /// The first-flow feed for this trust, with a `region` column.
    fn feed(&self) -> String {
        let mut out = String::new();
        for (i, line) in feed_for(self.code, &self.name, self.trust_type, self.uor)
            .lines()
            .enumerate()
        {
            let mut fields: Vec<&str> = line.split(',').collect();
            fields.insert(4, if i == 0 { "region" } else { self.region });
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// Quality: in the first-flow fixture safe is requires improvement (two of three services)
    /// and the other four key questions good, so overall quality is Good (one RI of five, below
    /// the threshold of two).
    fn quality(&self) -> &'static str {
        "good"
    }

    /// Combined (§3, acute trusts only): UoR as a sixth rating beside S=RI and four good ones. An
    /// inadequate UoR limits the result to requires improvement; outstanding, good or RI leave it
    /// good (one outstanding is below two; two RI are below three).
    fn combined(&self) -> &'static str {
        match (self.trust_type, self.uor) {
            ("acute", "Inadequate") => "requires_improvement",
            ("acute", _) => "good",
            _ => "none",
        }
    }

    fn uor_slug(&self) -> &'static str {
        match self.uor {
            "Outstanding" => "outstanding",
            "Good" => "good",
            "Requires improvement" => "requires_improvement",
            _ => "inadequate",
        }
    }

    /// Combined below overall quality: the use of resources rating lowered it.
    fn lowered(&self) -> bool {
        self.combined() == "requires_improvement"
    }

    fn region_label(&self) -> &'static str {
        if self.region.is_empty() {
            "Region not known"
        } else {
            self.region
        }
    }
}

fn trusts() -> Vec<Trust> {
    let t = |code, name: &str, trust_type, region, uor| Trust {
        code,
        name: name.to_string(),
        trust_type,
        region,
        uor,
    };
    vec![
        // The hand example: quality Good, UoR RI, combined Good.
        t(
            "RXX",
            "Example Hospitals NHS Trust",
            "acute",
            "London",
            "Requires improvement",
        ),
        // UoR inadequate lowers the combined rating; the name tests escaping.
        t(
            "RYY",
            "RYY <Example> & Hospitals NHS Trust",
            "acute",
            "London",
            "Inadequate",
        ),
        t(
            "RWW",
            "Westfield Hospitals NHS Trust",
            "acute",
            "North West",
            "Good",
        ),
        // Specialist acute: no combined rating.
        t(
            "RZZ",
            "Zedbury Specialist NHS Trust",
            "specialist_acute",
            "North West",
            "Good",
        ),
        // No region in the feed.
        t(
            "RVV",
            "Valley Hospitals NHS Trust",
            "acute",
            "",
            "Inadequate",
        ),
    ]
}

fn codes_where(trusts: &[Trust], keep: impl Fn(&Trust) -> bool) -> Vec<String> {
    let mut out: Vec<String> = trusts
        .iter()
        .filter(|t| keep(t))
        .map(|t| t.code.to_string())
        .collect();
    out.sort();
    out
}

fn assert_accessible(seen: &Seen) {
    let serious: Vec<&serde_json::Value> = seen
        .violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(
        serious.is_empty(),
        "axe found serious or critical violations on {}: {serious:#?}",
        seen.url
    );
    if !seen.violations.is_empty() {
        eprintln!(
            "axe (minor/moderate) on {}: {:?}",
            seen.url, seen.violations
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratings_report_works_in_headless_chromium_and_passes_axe() {
    chromium();
    npm_modules();
    let stack = Stack::start().await.unwrap();
    // The stack's combiner runs without a report; this one serves it. It is the same App with
    // consumers of its own, so it builds its state from the quality and UoR streams.
    let reporting = combiner::App::build(combiner::Config {
        infra: stack.env.infra("combiner-report").await.unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        report_addr: Some("127.0.0.1:0".parse().unwrap()),
        force_shadow: false,
        max_months_apart: 12,
        consumer_suffix: Some("report".into()),
    })
    .await
    .unwrap();
    let (report, reporting_grpc) = (
        reporting.report_addr().expect("report server bound"),
        reporting.grpc_addr().unwrap(),
    );
    let reporting_stop = Shutdown::new();
    let reporting_task = tokio::spawn(reporting.run_until_stopped(reporting_stop.clone()));
    let trusts = trusts();
    for t in &trusts {
        let receipt = stack
            .submit(
                &t.code.to_lowercase(),
                ing::FeedFormat::Csv,
                "feed.csv",
                t.feed().as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(receipt.rejected, 0, "{receipt:?}");
    }
    for t in &trusts {
        wait_until(DEADLINE, t.code, || rating_with_uor(reporting_grpc, t.code))
            .await
            .unwrap();
    }
    let base = format!("http://{report}");
    let artifacts = oversight_testkit::workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = |name: &str| artifacts.join(name).display().to_string();

    // Pages carry no script at all: everything below works with JavaScript off.
    for path in ["/", "/trusts", "/trusts/RYY"] {
        let (status, headers, body) = http_get(report, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<script"), "{path} has a script");
        assert!(headers.contains("content-security-policy: default-src 'self'"));
    }

    let seen = drive(
        stack.env.dir(),
        serde_json::json!([
            // 0–2: every page type under axe, with screenshots.
            { "url": format!("{base}/"), "axe": true,
              "actions": [{ "screenshot": shot("combiner-report.png") }] },
            { "url": format!("{base}/trusts"), "axe": true,
              "actions": [{ "screenshot": shot("combiner-report-list.png") }] },
            { "url": format!("{base}/trusts/RYY"), "axe": true,
              "actions": [{ "screenshot": shot("combiner-report-RYY.png") }] },
            // 3: search by code through the form.
            { "url": format!("{base}/trusts"),
              "actions": [{ "fill": { "q": "ryy" } }, { "click": "#apply-filters" }] },
            // 4: filters: combined good in London.
            { "url": format!("{base}/trusts"),
              "actions": [{ "select": { "rating": "good", "region": "London" } },
                          { "click": "#apply-filters" }] },
            // 5: the flag filter.
            { "url": format!("{base}/trusts"),
              "actions": [{ "select": { "flag": "uor_lowered_result" } },
                          { "click": "#apply-filters" }] },
            // 6, 7: sort by combined rating (best first), then the same link again (worst first).
            { "url": format!("{base}/trusts"),
              "actions": [{ "click": "a[data-sort=rating]" }] },
            { "url": format!("{base}/trusts"),
              "actions": [{ "click": "a[data-sort=rating]" }, { "click": "a[data-sort=rating]" }] },
            // 8, 9: pages of two: the next page, then the last through its number.
            { "url": format!("{base}/trusts?pageSize=2"),
              "actions": [{ "click": "a.nhsuk-pagination__next" }] },
            { "url": format!("{base}/trusts?pageSize=2"),
              "actions": [{ "click": "a[aria-label='Page 3']" }] },
            // 10: from the overview's regions table to the list of one region.
            { "url": format!("{base}/"),
              "actions": [{ "toggle": "details:has(#table-regions) > summary" },
                          { "click": "#table-regions a[href='/trusts?region=North%20West']" }] },
            // 11: a filtered list under axe too (errors, tags, pagination present).
            { "url": format!("{base}/trusts?flag=any&pageSize=1"), "axe": true },
            // 12: an unknown trust.
            { "url": format!("{base}/trusts/RQQ"), "axe": true },
            // 13: find a trust from the overview by part of its name.
            { "url": format!("{base}/"),
              "actions": [{ "fill": { "find-q": "westfield" } }, { "click": "#find-trust" }] },
        ]),
    )
    .await;
    for s in &seen[..3] {
        assert_accessible(s);
    }
    assert_accessible(&seen[11]);
    assert_accessible(&seen[12]);

    // The national overview: counts from the feeds.
    let overview = &seen[0].html;
    assert!(overview.contains("nhsuk-header"), "NHS.UK header missing");
    for id in [
        "chart-national",
        "chart-regions",
        "chart-trust-types",
        "chart-flags",
    ] {
        let svg = element(overview, &format!("id=\"{id}\""), ">");
        assert!(svg.contains("role=\"img\""), "{id}: {svg}");
        assert!(
            overview.contains(&format!("<title id=\"{id}-title\">")),
            "{id}"
        );
    }
    let n = |keep: &dyn Fn(&Trust) -> bool| trusts.iter().filter(|t| keep(t)).count();
    for band in [
        "outstanding",
        "good",
        "requires_improvement",
        "inadequate",
        "none",
    ] {
        let (quality, combined, uor) = (
            n(&|t| t.quality() == band),
            n(&|t| t.combined() == band),
            n(&|t| t.uor_slug() == band),
        );
        assert_eq!(
            count(
                overview,
                "table-national",
                "England",
                "overall-quality",
                band
            ),
            quality,
            "quality {band}"
        );
        assert_eq!(
            count(overview, "table-national", "England", "combined", band),
            combined,
            "combined {band}"
        );
        assert_eq!(
            count(
                overview,
                "table-national",
                "England",
                "use-of-resources",
                band
            ),
            uor,
            "UoR {band}"
        );
        for region in ["London", "North West", "Region not known"] {
            assert_eq!(
                count(overview, "table-regions", region, "combined", band),
                n(&|t| t.region_label() == region && t.combined() == band),
                "{region} combined {band}"
            );
        }
        for (ty, label) in [("acute", "acute"), ("specialist_acute", "specialist acute")] {
            assert_eq!(
                count(
                    overview,
                    "table-trust-types",
                    label,
                    "use-of-resources",
                    band
                ),
                n(&|t| t.trust_type == ty && t.uor_slug() == band),
                "{label} UoR {band}"
            );
        }
    }
    let flags_row = element(
        element(overview, "id=\"table-flags\"", "</table>"),
        "data-flag=\"uor_lowered_result\"",
        "</tr>",
    );
    let total = element(flags_row, "data-total", "</td>");
    assert_eq!(
        text(&total[total.find('>').unwrap() + 1..]),
        n(&|t| t.lowered()).to_string()
    );
    assert!(flags_row.contains("London: 1") && flags_row.contains("Region not known: 1"));
    assert!(overview.contains("id=\"flag-summary\""));

    // The list: every trust, code order, tags and escaped names.
    let list = &seen[1].html;
    assert_eq!(listed(list), codes_where(&trusts, |_| true));
    let ryy = element(list, "id=\"trust-RYY\"", "</tr>");
    assert!(
        ryy.contains("RYY &lt;Example&gt; &amp; Hospitals NHS Trust"),
        "{ryy}"
    );
    assert!(ryy.contains("data-flag=\"uor_lowered_result\""), "{ryy}");
    assert!(
        element(ryy, "data-measure=\"combined\"", "</td>")
            .contains("data-rating=\"requires_improvement\">Requires improvement"),
        "{ryy}"
    );
    let rzz = element(list, "id=\"trust-RZZ\"", "</tr>");
    assert!(rzz.contains("No combined rating"), "{rzz}");

    // The trust page: parts with explanations, flags, the timeline and every version.
    let page = &seen[2].html;
    assert!(page.contains("id=\"flags\""), "flag callout missing");
    assert!(page.contains("nhsuk-card--warning"));
    assert!(page.contains("id=\"chart-timeline\""));
    let combined_row = element(page, "data-part=\"Combined\"", "</tr>");
    assert!(
        combined_row.contains("Requires improvement"),
        "{combined_row}"
    );
    assert!(combined_row.contains("cqc-combined-2018"), "{combined_row}");
    assert!(
        combined_row.contains("use of resources: Inadequate (2018-07-01"),
        "{combined_row}"
    );
    // What would change this rating (worked from DOMAIN.md for RYY: S=RI, E=C=R=W=G, UoR=I).
    // Combined (§3): one inadequate of six, below the threshold of 2, limits it to RI. Up to
    // Good: only use of resources leaving inadequate lifts the limit, and RI is enough (2 RI of
    // 6 are below 3). Down to Inadequate: a second inadequate — safe one step, or a good key
    // question all the way (to RI it would only add an RI).
    assert_eq!(
        what_if(page, "whatif-combined", "up"),
        (
            "One step up (to Good)".to_string(),
            vec!["use of resources from Inadequate to Requires improvement would make the combined rating Good".to_string()]
        )
    );
    let (heading, down) = what_if(page, "whatif-combined", "down");
    assert_eq!(heading, "One step down (to Inadequate)");
    let expected: Vec<String> = [
        "safe from Requires improvement",
        "effective from Good",
        "caring from Good",
        "responsive from Good",
        "well-led from Good",
    ]
    .iter()
    .map(|from| format!("{from} to Inadequate would make the combined rating Inadequate"))
    .collect();
    assert_eq!(down, expected);
    // Overall quality (§2.1, n = 5, X = 2): 1 RI + 4 G → Good. Up to Outstanding: 2 outstanding
    // with the rest good, so safe must go to Outstanding with one other key question. Down: a
    // second RI, or safe inadequate (one inadequate limits to RI).
    let (heading, up) = what_if(page, "whatif-overall-quality", "up");
    assert_eq!(heading, "One step up (to Outstanding)");
    let expected: Vec<String> = ["effective", "caring", "responsive", "well-led"]
        .iter()
        .map(|kq| format!("safe from Requires improvement to Outstanding and {kq} from Good to Outstanding would make overall quality Outstanding"))
        .collect();
    assert_eq!(up, expected);
    let (heading, down) = what_if(page, "whatif-overall-quality", "down");
    assert_eq!(heading, "One step down (to Requires improvement)");
    assert_eq!(down.len(), 5, "{down:?}");
    assert_eq!(
        down[0],
        "safe from Requires improvement to Inadequate would make overall quality Requires improvement"
    );
    // A specialist acute trust has no combined rating, so nothing changes it; its overall
    // quality still has its what-ifs.
    let (status, _, rzz_page) = http_get(report, "/trusts/RZZ").await;
    assert_eq!(status, 200);
    let rzz_combined = element(&rzz_page, "id=\"whatif-combined\"", "id=\"history\"");
    assert!(
        text(rzz_combined).contains("no combined rating: specialist acute trust"),
        "{rzz_combined}"
    );
    assert!(!rzz_combined.contains("data-direction"), "{rzz_combined}");
    assert_eq!(
        what_if(&rzz_page, "whatif-overall-quality", "up").1.len(),
        4
    );

    let versions = rating_history(reporting_grpc, "RYY").await;
    assert!(!versions.is_empty());
    for v in &versions {
        assert!(
            page.contains(&format!("data-version=\"{}\"", v.version)),
            "v{} missing",
            v.version
        );
    }

    // Search, filters, sorting and paging, followed in the browser without JavaScript.
    assert!(seen[3].url.contains("q=ryy"), "{}", seen[3].url);
    assert_eq!(listed(&seen[3].html), ["RYY"]);
    assert_eq!(
        listed(&seen[4].html),
        codes_where(&trusts, |t| t.region == "London" && t.combined() == "good")
    );
    assert_eq!(listed(&seen[5].html), codes_where(&trusts, |t| t.lowered()));
    let rank = |t: &Trust| match t.combined() {
        "outstanding" => 0,
        "good" => 1,
        "requires_improvement" => 2,
        "inadequate" => 3,
        _ => 4,
    };
    let mut best_first: Vec<&Trust> = trusts.iter().collect();
    best_first.sort_by_key(|t| (rank(t), t.code));
    let best_first: Vec<String> = best_first.iter().map(|t| t.code.to_string()).collect();
    assert_eq!(listed(&seen[6].html), best_first);
    let mut worst_first: Vec<&Trust> = trusts.iter().collect();
    worst_first.sort_by_key(|t| (std::cmp::Reverse(rank(t)), t.code));
    let worst_first: Vec<String> = worst_first.iter().map(|t| t.code.to_string()).collect();
    assert_eq!(listed(&seen[7].html), worst_first);
    let all = codes_where(&trusts, |_| true);
    assert_eq!(listed(&seen[8].html), all[2..4]);
    assert_eq!(listed(&seen[9].html), all[4..]);
    assert_eq!(
        listed(&seen[10].html),
        codes_where(&trusts, |t| t.region == "North West")
    );
    assert_eq!(listed(&seen[13].html), ["RWW"]);
    assert_eq!(seen[12].status, 404);
    assert!(seen[12].html.contains("no rating for trust RQQ"));

    // Downloads: the links on a filtered list return the same trusts, all of them.
    let london = &seen[4].html;
    let href = |html: &str, id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).unwrap();
        let tag = &html[html[..at].rfind('<').unwrap()..at];
        let start = tag.find("href=\"").unwrap() + "href=\"".len();
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].replace("&amp;", "&")
    };
    let csv_link = href(london, "download-csv");
    assert!(csv_link.starts_with("/trusts.csv?"), "{csv_link}");
    let (status, headers, body) = http_get(report, &csv_link).await;
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: text/csv"));
    assert!(headers.contains("attachment; filename=\"trusts.csv\""));
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let columns = rows.headers().unwrap().clone();
    let col = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let expected = codes_where(&trusts, |t| t.region == "London" && t.combined() == "good");
    assert_eq!(
        records
            .iter()
            .map(|r| r[col("odsCode")].to_string())
            .collect::<Vec<_>>(),
        expected
    );
    for r in &records {
        assert_eq!(&r[col("combinedQuality")], "Good");
        assert_eq!(&r[col("overallQuality")], "Good");
    }
    let json_link = href(london, "download-json");
    let (status, _, body) = http_get(report, &json_link).await;
    assert_eq!(status, 200);
    let items: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["odsCode"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        expected
    );
    // Every flagged trust, whatever the page size.
    let (_, _, body) = http_get(report, "/trusts.csv?flag=any&pageSize=1").await;
    assert_eq!(
        csv::Reader::from_reader(body.as_bytes()).records().count(),
        trusts.iter().filter(|t| t.lowered()).count()
    );
    // A trust's history: one row per published version.
    let history_link = href(page, "download-history-csv");
    assert_eq!(history_link, "/trusts/RYY/history.csv");
    let (status, _, body) = http_get(report, &history_link).await;
    assert_eq!(status, 200);
    let history: Vec<u64> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap()[col("version")].parse().unwrap())
        .collect();
    assert_eq!(
        history,
        versions.iter().map(|v| v.version).collect::<Vec<_>>()
    );
    let (status, _, body) = http_get(report, "/trusts/RYY/history.json").await;
    assert_eq!(status, 200);
    let history: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        versions.len()
    );

    for name in [
        "combiner-report.png",
        "combiner-report-list.png",
        "combiner-report-RYY.png",
    ] {
        let png = std::fs::read(artifacts.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }
    reporting_stop.cancel();
    reporting_task.await.unwrap().unwrap();
    stack.stop().await.unwrap();
}
