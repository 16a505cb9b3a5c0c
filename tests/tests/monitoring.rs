//! The operators' files in deploy/monitoring ask only for metrics the services export: every
//! metric name in the Grafana dashboard's panels and variables and in the Prometheus alert rules
//! is one the runtime's registry renders (or Prometheus' own `up`), and the dashboard shows every
//! metric family the services export. The dashboard is also checked for the structure Grafana
//! needs (unique panel ids, a grid position inside 24 columns, a query per panel). PromQL syntax
//! and the rules' behaviour are checked by promtool in deploy/validate.sh.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

/// Series Prometheus makes itself for every scrape target; the files may use them too.
const PROMETHEUS_SERIES: &[&str] = &["up"];

/// PromQL operator keywords and aggregation operators (`sum by (x) (…)` puts a clause between
/// the operator and its parenthesis).
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
];

fn repo_file(path: &str) -> (PathBuf, String) {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", full.display()));
    (full, text)
}

/// Record one value of every metric through the runtime's own entry points (the registry renders a
/// family only once it has a value): a consumed message of each decision, a retry, a batch, a
/// published event, and one gRPC call through the runtime's server and its metrics layer.
async fn record_every_metric() {
    use oversight_runtime::{Shutdown, grpc, metrics};
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let elapsed = std::time::Duration::from_millis(1);
    metrics::message_handled("monitoring-test", "c", "ack", elapsed);
    metrics::message_handled("monitoring-test", "c", "dead_letter", elapsed);
    metrics::handler_retried("monitoring-test", "c");
    metrics::batch_handled("monitoring-test", "c", 1);
    metrics::events_published("monitoring-test", "test.subject", 1);
    metrics::publish_failed("monitoring-test", 1);
    metrics::outbox_pending("monitoring-test", 3);
    metrics::ready("monitoring-test", true);
    let listener = grpc::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (routes, _health) = grpc::base_routes(&[]).await.unwrap();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(grpc::serve(listener, routes.routes(), shutdown.clone()));
    HealthClient::new(oversight_e2e::Stack::channel(addr).await.unwrap())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// The sample names the runtime's Prometheus registry renders, from its `# TYPE` lines: a counter
/// `x` is sampled as `x_total`, a histogram `x` as `x_bucket`, `x_sum` and `x_count`. Returns
/// family name -> sample names.
async fn exported_metrics() -> BTreeMap<String, Vec<String>> {
    record_every_metric().await;
    let text = oversight_runtime::metrics::render();
    let mut families = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
        let samples = match kind {
            "counter" if name.ends_with("_total") => vec![name.to_string()],
            "counter" => vec![format!("{name}_total")],
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{name}{s}"))
                .collect(),
            _ => vec![name.to_string()],
        };
        families.insert(name.to_string(), samples);
    }
    families
}

/// The metric names a PromQL expression selects: identifiers that are not functions, keywords,
/// label names (inside `{…}` or a `by (…)`-style clause), strings, durations, numbers or Grafana
/// variables (`$service`, `${datasource}`, `$__rate_interval`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // After `by`, `on`, …: the next parenthesised group holds label names.
    let mut label_clause = false;
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let skip_to = |from: usize, close: char| {
        let mut j = from + 1;
        while j < chars.len() && chars[j] != close {
            j += 1;
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                i = j + 1;
            }
            '{' => i = skip_to(i, '}'),
            '[' => i = skip_to(i, ']'),
            '(' if label_clause => {
                label_clause = false;
                i = skip_to(i, ')');
            }
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = skip_to(i, '}');
                } else {
                    while i < chars.len() && is_part(chars[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (is_part(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if is_start(c) => {
                let start = i;
                while i < chars.len() && is_part(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    label_clause = true;
                } else if next == Some(&'(') || KEYWORDS.contains(&word.as_str()) {
                    // A function or aggregation, or an operator keyword.
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// A Grafana variable's query: `label_values(metric, label)` names one metric; anything else
/// is PromQL.
fn variable_metric_names(query: &str) -> BTreeSet<String> {
    match query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.rsplit_once(','))
    {
        Some((metric, _label)) => metric_names(metric),
        None => metric_names(query),
    }
}

/// Every `expr:` of a Prometheus rules file: inline, or a block scalar (`|`, `>`) indented below.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let indent = line.len() - line.trim_start().len();
            let block: Vec<&str> = lines[n + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .copied()
                .collect();
            exprs.push(block.join("\n"));
        } else {
            exprs.push(value.to_string());
        }
    }
    exprs
}

/// Panels at any depth (a row may hold its panels).
fn all_panels(panels: &[Value], out: &mut Vec<Value>) {
    for p in panels {
        out.push(p.clone());
        if let Some(inner) = p["panels"].as_array() {
            all_panels(inner, out);
        }
    }
}

#[test]
fn the_name_extractor_finds_metrics_and_nothing_else() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"sum by (service) (increase(oversight_dead_letters_total{service=~"a|b"}[15m])) > 0"#,
            &["oversight_dead_letters_total"],
        ),
        (
            r#"histogram_quantile(0.99, sum by (le, method) (rate(x_seconds_bucket{service=~"$service"}[$__rate_interval])))"#,
            &["x_seconds_bucket"],
        ),
        (
            r#"label_replace(sum(rate(a_total{subject=~".+\\.uor"}[10m])), "consumer", "c", "", "") > 0 unless on (consumer) sum by (consumer) (rate(b_total[10m])) > 0"#,
            &["a_total", "b_total"],
        ),
        (r#"up{job="oversight"} == 0"#, &["up"]),
        ("absent(up)", &["up"]),
        ("a_sum / a_count offset 5m", &["a_count", "a_sum"]),
    ];
    for (expr, want) in cases {
        let got: Vec<String> = metric_names(expr).into_iter().collect();
        assert_eq!(got, *want, "{expr}");
    }
    assert_eq!(
        variable_metric_names("label_values(m_total, service)"),
        BTreeSet::from(["m_total".to_string()])
    );
    let exprs = rule_exprs(
        "    - alert: A\n      expr: a_total > 0\n      for: 5m\n    - alert: B\n      expr: |\n        b_total\n          unless c_total\n      labels: {}\n",
    );
    assert_eq!(exprs.len(), 2, "{exprs:?}");
    assert_eq!(exprs[0], "a_total > 0");
    assert!(
        exprs[1].contains("b_total") && exprs[1].contains("c_total"),
        "{exprs:?}"
    );
}

#[tokio::test]
async fn dashboard_and_alerts_use_only_exported_metrics() {
    let exported = exported_metrics().await;
    // The families metrics.rs documents.
    for family in [
        "oversight_messages_handled",
        "oversight_dead_letters",
        "oversight_handler_duration_seconds",
        "oversight_grpc_requests",
        "oversight_grpc_request_duration_seconds",
        "oversight_events_published",
        "oversight_handler_retries",
        "oversight_batch_size",
        "oversight_publish_failures",
        "oversight_outbox_pending",
        "oversight_ready",
    ] {
        assert!(
            exported.contains_key(family),
            "{family} not rendered: {exported:?}"
        );
    }
    let known: BTreeSet<String> = exported
        .values()
        .flatten()
        .cloned()
        .chain(PROMETHEUS_SERIES.iter().map(|s| s.to_string()))
        .collect();

    let (path, text) = repo_file("deploy/monitoring/oversight-dashboard.json");
    let dashboard: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    for key in ["title", "uid", "schemaVersion", "panels", "templating"] {
        assert!(!dashboard[key].is_null(), "dashboard has no {key}");
    }
    let mut panels = Vec::new();
    all_panels(dashboard["panels"].as_array().expect("panels"), &mut panels);
    let mut ids = BTreeSet::new();
    let mut unknown = Vec::new();
    let mut used = BTreeSet::new();
    for p in &panels {
        let title = p["title"].as_str().expect("every panel has a title");
        let id = p["id"].as_u64().expect("every panel has an id");
        assert!(ids.insert(id), "panel id {id} ({title}) is not unique");
        let grid = &p["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(grid[k].is_u64(), "panel {title}: gridPos.{k}");
        }
        assert!(
            grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
            "panel {title} overflows the 24-column grid"
        );
        if p["type"] == "row" {
            continue;
        }
        assert!(p["type"].is_string(), "panel {title}: type");
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert!(!targets.is_empty(), "panel {title} has no query");
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "panel {title}: empty expr");
            assert!(t["refId"].is_string(), "panel {title}: refId");
            for name in metric_names(expr) {
                if !known.contains(&name) {
                    unknown.push(format!("panel {title:?}: {name}"));
                }
                used.insert(name);
            }
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if var["type"] != "query" {
            continue;
        }
        let query = var["query"]["query"]
            .as_str()
            .or(var["query"].as_str())
            .expect("a query variable has a query");
        for name in variable_metric_names(query) {
            if !known.contains(&name) {
                unknown.push(format!("variable {}: {name}", var["name"]));
            }
        }
    }

    let (_, rules) = repo_file("deploy/monitoring/alerts.yml");
    let exprs = rule_exprs(&rules);
    assert_eq!(
        exprs.len(),
        rules.matches("- alert:").count(),
        "one expr per alert"
    );
    for expr in &exprs {
        for name in metric_names(expr) {
            if !known.contains(&name) {
                unknown.push(format!("alert rule {:?}: {name}", expr.trim()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metric names the services do not export (exported: {known:?}):\n{}",
        unknown.join("\n")
    );

    let unshown: Vec<&String> = exported
        .iter()
        .filter(|(_, samples)| !samples.iter().any(|s| used.contains(s)))
        .map(|(family, _)| family)
        .collect();
    assert!(
        unshown.is_empty(),
        "exported metrics the dashboard does not show: {unshown:?}"
    );
}
