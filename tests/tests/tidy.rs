//! Tidy tests (in the style of rust-analyzer's `tidy.rs`): the invariants ARCHITECTURE.md states
//! about the workspace's shape, checked on the source tree so that they hold by test, not by care.
//!
//! * the rules crates stay pure: no IO crate anywhere in their dependency graph, no IO in their code;
//! * subject, stream and durable consumer names are spelled only in the subjects module;
//! * every table ARCHITECTURE.md names exists after the migrations, and every table is named there;
//! * `deploy/jetstream` declares exactly the streams and consumers the subjects module renders, with
//!   the settings the services declare them with;
//! * every service has the one layout (`lib.rs`, `api.rs`, `consumer.rs`, `store.rs`, `error.rs`)
//!   and issues SQL only from its store.
//!
//! (The NATS permissions in `deploy/nats` are checked against the subjects module by behaviour, on a
//! running server: `nats_permissions.rs`.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use oversight_runtime::consumer::{PIN_TIMEOUT, PRIORITY_GROUP};
use oversight_runtime::nats::{ACK_WAIT, MAX_DELIVER};
use oversight_runtime::subjects::{DUPLICATE_WINDOW, SERVICES, Subjects, consumers};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target"
                && name != "node_modules"
                && !name.to_string_lossy().starts_with('.')
            {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "services", "tests", "proto"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} Rust files", files.len());
    files
}

/// The string literals of a Rust source (plain and raw), with their line numbers. Comments are
/// skipped, so prose may name a subject.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    line += usize::from(bytes[i] == b'\n');
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                // A char literal ('"' must not open a string) or a lifetime.
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    i += 1;
                }
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while bytes.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if bytes.get(j) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = src[start..].find(&close).map_or(bytes.len(), |k| start + k);
                out.push((line, src[start..end].to_string()));
                line += src[start..end].matches('\n').count();
                i = end + close.len();
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let end = j.min(bytes.len());
                out.push((line, src[start..end].to_string()));
                line += src[start..end].matches('\n').count();
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn string_literals_are_found_and_comments_skipped() {
    let src = "// \"in a comment\"\nlet a = \"one\"; let c = '\"'; /* \"block\" */\nlet b = r#\"two \"x\" \"#;";
    let found: Vec<(usize, String)> = string_literals(src);
    assert_eq!(
        found,
        vec![(2, "one".to_string()), (3, "two \"x\" ".to_string())]
    );
}

#[test]
fn subjects_streams_and_consumers_are_spelled_only_in_the_subjects_module() {
    let s = Subjects::new("oversight");
    let namespace = format!("{}.", s.namespace());
    // What a subject or stream name looks like without its namespace.
    let mut needles: BTreeSet<String> = s
        .publishers()
        .into_iter()
        .map(|(subject, _)| subject.trim_start_matches(&namespace).to_string())
        .collect();
    needles.insert("deadletter.".into());
    let stream_prefix = s
        .evidence_stream()
        .name
        .trim_end_matches("EVIDENCE")
        .to_string();
    for stream in s.streams() {
        needles.insert(format!(
            "_{}",
            stream.name.trim_start_matches(&stream_prefix)
        ));
    }
    for (_, durable) in consumers::BY_SERVICE {
        needles.insert(durable.to_string());
    }
    let subjects_module = root().join("crates/runtime/src/subjects.rs");
    let mut offences = Vec::new();
    for file in workspace_rust_files() {
        if file == subjects_module || file.ends_with("tests/tests/tidy.rs") {
            continue;
        }
        for (line, literal) in string_literals(&read(&file)) {
            for needle in &needles {
                // A stream suffix counts only as the end of a word (`X_UOR`, not `X_UORS`).
                let hit = if needle.starts_with('_') {
                    literal
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .any(|w| {
                            w.len() > needle.len()
                                && w.ends_with(needle.as_str())
                                && w.chars().all(|c| {
                                    c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()
                                })
                        })
                } else {
                    literal.contains(needle.as_str())
                };
                if hit {
                    offences.push(format!(
                        "{}:{line}: {literal:?} spells {needle:?}",
                        file.strip_prefix(root()).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "use oversight_runtime::subjects (Subjects, consumers) instead of spelling names:\n{}",
        offences.join("\n")
    );
}

/// Tables that exist after every migration of every service, in order (created and not dropped).
fn migrated_tables() -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let services = root().join("services");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&services)
        .expect("services/")
        .flatten()
        .map(|e| e.path().join("migrations"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs.len(),
        SERVICES.len(),
        "one migrations directory per service"
    );
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("migrations dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for file in files {
            let sql = read(&file).to_lowercase();
            let words: Vec<&str> = sql
                .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
                .filter(|w| !w.is_empty())
                .collect();
            for (i, w) in words.iter().enumerate() {
                let after = |n: usize| words.get(i + n).copied().unwrap_or("");
                let name_after_if_exists = |n: usize| {
                    if after(n) == "if" {
                        after(n + if after(n + 1) == "not" { 3 } else { 2 })
                    } else {
                        after(n)
                    }
                };
                match (*w, after(1)) {
                    ("create", "table") => {
                        tables.insert(name_after_if_exists(2).to_string());
                    }
                    ("drop", "table") => {
                        tables.remove(name_after_if_exists(2));
                    }
                    ("alter", "table") if after(3) == "rename" && after(4) == "to" => {
                        tables.remove(after(2));
                        tables.insert(after(5).to_string());
                    }
                    _ => {}
                }
            }
        }
    }
    tables
}

#[test]
fn architecture_names_exactly_the_tables_the_migrations_create() {
    let tables = migrated_tables();
    assert!(tables.contains("ingestion_evidence") && tables.contains("combiner_events"));
    let doc = read(&root().join("ARCHITECTURE.md"));
    let prefixes: Vec<String> = ["ingestion_", "cqc_", "nhsi_", "combiner_"]
        .map(String::from)
        .to_vec();
    let named: BTreeSet<String> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| {
            prefixes.iter().any(|p| t.starts_with(p.as_str()))
                && t.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        // Modules of the rules crates, named without their path.
        .filter(|t| !t.ends_with("_rules") && *t != "cqc_api")
        .map(String::from)
        .collect();
    let missing: Vec<&String> = named.difference(&tables).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names tables that no migration creates (or that a later one drops): {missing:?}"
    );
    let undocumented: Vec<&String> = tables.difference(&named).collect();
    assert!(
        undocumented.is_empty(),
        "tables the migrations create that ARCHITECTURE.md does not name: {undocumented:?}"
    );
}

/// A deploy/jetstream JSON file.
fn deploy_json(name: &str) -> serde_json::Value {
    let path = root().join("deploy/jetstream").join(name);
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn deploy_jetstream_declares_what_the_subjects_module_renders() {
    // deploy/jetstream is rendered for the default namespace.
    let s = Subjects::new("oversight");
    let files: BTreeSet<String> = std::fs::read_dir(root().join("deploy/jetstream"))
        .expect("deploy/jetstream")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let mut expected = BTreeSet::new();
    for stream in s.streams() {
        let file = format!("stream-{}.json", stream.name);
        let json = deploy_json(&file);
        assert_eq!(json["name"], stream.name.as_str(), "{file}");
        let subjects: Vec<String> = json["subjects"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: subjects"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(subjects, stream.subjects, "{file}: subjects");
        assert_eq!(
            json["duplicate_window"].as_u64(),
            Some(DUPLICATE_WINDOW.as_nanos() as u64),
            "{file}: duplicate_window"
        );
        expected.insert(file);
    }
    let mut by_stream: BTreeMap<String, usize> = BTreeMap::new();
    for (_, durable) in consumers::BY_SERVICE {
        let spec = s.consumer(durable).expect("every listed consumer is known");
        let file = format!("consumer-{}-{}.json", spec.stream, spec.durable);
        let json = deploy_json(&file);
        assert_eq!(json["durable_name"], spec.durable.as_str(), "{file}");
        assert_eq!(
            json["filter_subject"],
            spec.filter_subject.as_str(),
            "{file}"
        );
        assert_eq!(json["ack_policy"], "explicit", "{file}");
        assert_eq!(
            json["ack_wait"].as_u64(),
            Some(ACK_WAIT.as_nanos() as u64),
            "{file}: ack_wait"
        );
        assert_eq!(
            json["max_deliver"].as_i64(),
            Some(MAX_DELIVER),
            "{file}: max_deliver"
        );
        assert_eq!(json["priority_policy"], "pinned_client", "{file}");
        assert_eq!(
            json["priority_groups"],
            serde_json::json!([PRIORITY_GROUP]),
            "{file}: priority_groups"
        );
        assert_eq!(
            json["priority_timeout"].as_u64(),
            Some(PIN_TIMEOUT.as_nanos() as u64),
            "{file}: priority_timeout"
        );
        *by_stream.entry(spec.stream).or_default() += 1;
        expected.insert(file);
    }
    assert_eq!(
        by_stream.values().sum::<usize>(),
        consumers::BY_SERVICE.len()
    );
    assert_eq!(
        files, expected,
        "deploy/jetstream holds exactly one file per stream and per durable consumer"
    );
}

/// Crates that do IO (networking, files through an async runtime, databases); none may appear in
/// a rules crate's dependency graph.
const IO_CRATES: [&str; 14] = [
    "tokio",
    "mio",
    "socket2",
    "async-nats",
    "sqlx",
    "sqlx-core",
    "libsqlite3-sys",
    "tonic",
    "hyper",
    "axum",
    "reqwest",
    "rustls",
    "oversight-runtime",
    "oversight-proto",
];

/// The pure crates: every `*-rules` crate and the shared vocabulary.
fn is_pure_crate(name: &str) -> bool {
    // The feed formats read files through `std::io::Read` only: no IO crate either.
    name.ends_with("-rules") || name == "oversight-rating" || name == "oversight-feeds"
}

#[test]
fn rules_crates_have_no_io_dependency_and_do_no_io() {
    // The graph for this machine's platform (other platforms' crates need not be downloaded).
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    let rustc = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let host = rustc
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", host])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    // Normal (not dev, not build) dependencies of each package id.
    let mut deps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().unwrap_or_default();
        let normal = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].is_null())
            })
            .filter_map(|d| d["pkg"].as_str())
            .collect();
        deps.insert(id, normal);
    }
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let pure: Vec<&str> = members
        .iter()
        .copied()
        .filter(|id| names.get(id).is_some_and(|n| is_pure_crate(n)))
        .collect();
    assert!(
        pure.len() >= 4,
        "expected the rules crates and oversight-rating, found {pure:?}"
    );
    for id in &pure {
        let mut seen = BTreeSet::new();
        let mut stack = vec![*id];
        while let Some(next) = stack.pop() {
            if seen.insert(next) {
                stack.extend(deps.get(next).into_iter().flatten().copied());
            }
        }
        let io: Vec<&str> = seen
            .iter()
            .filter_map(|d| names.get(d).copied())
            .filter(|n| IO_CRATES.contains(n))
            .collect();
        assert!(
            io.is_empty(),
            "{} depends (directly or not) on IO crates {io:?}: rules stay pure; put IO in the service",
            names[id]
        );
    }
    // And no IO in their own code (tests and benches aside).
    let forbidden = [
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "File::",
        "TcpStream",
    ];
    let mut offences = Vec::new();
    for dir in [
        "crates/rating/src",
        "services/cqc-quality/rules/src",
        "services/nhsi-resources/rules/src",
        "services/combiner/rules/src",
        "crates/feeds/src",
    ] {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no sources");
        for file in files {
            let src = read(&file);
            // Unit tests at the end of a file may read fixtures.
            let code = src.split("#[cfg(test)]").next().unwrap_or(&src);
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for f in forbidden {
                    // As a path or a name of its own: `ParsedFile::` is not `File::`.
                    let found = line.match_indices(f).any(|(at, _)| {
                        !line[..at]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    });
                    if found {
                        offences.push(format!("{}:{}: {f}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "IO in a rules crate:\n{}",
        offences.join("\n")
    );
}

/// The services' source files, relative to `services/<service>/src`.
fn service_sources(service: &str) -> Vec<(PathBuf, String)> {
    let src = root().join("services").join(service).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = read(&f);
            (f.strip_prefix(&src).expect("under src").to_path_buf(), text)
        })
        .collect()
}

const SERVICES_DIRS: [&str; 4] = ["ingestion", "cqc-quality", "nhsi-resources", "combiner"];

/// One layout for every service (ARCHITECTURE.md, "Inside each service"): `lib.rs` composes,
/// `api.rs` serves gRPC, `consumer.rs` handles the queue, `store.rs` (or `store/`) holds the SQL,
/// `error.rs` the one error type; and SQL is issued nowhere else (unit tests included).
#[test]
fn every_service_has_the_one_layout_and_sql_only_in_its_store() {
    let mut problems = Vec::new();
    for service in SERVICES_DIRS {
        let sources = service_sources(service);
        let has = |name: &str| {
            sources.iter().any(|(p, _)| {
                p == Path::new(&format!("{name}.rs"))
                    || (p.starts_with(name) && p.components().count() > 1)
            })
        };
        for part in ["main", "lib", "api", "consumer", "store", "error"] {
            if !has(part) {
                problems.push(format!("services/{service}/src/{part}.rs is missing"));
            }
        }
        for (path, text) in &sources {
            if path == Path::new("store.rs") || path.starts_with("store") {
                continue;
            }
            for call in ["sqlx::query", "query_as::<", "query_scalar::<"] {
                if let Some(at) = text.find(call) {
                    let line = text[..at].matches('\n').count() + 1;
                    problems.push(format!(
                        "services/{service}/src/{}:{line}: `{call}` outside the store",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
