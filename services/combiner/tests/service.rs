//! One-service tests of the combiner: its App on ephemeral ports and a private NATS server; quality
//! and UoR events are published by hand, as cqc-quality and nhsi-resources would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use combiner::combining::Part;
use oversight_proto::combined::v1 as pb;
use oversight_proto::combined::v1::trust_ratings_service_client::TrustRatingsServiceClient;
use oversight_proto::common::v1 as common;
use oversight_proto::convert;
use oversight_proto::google_type::Date;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_rating::TrustCode;
use oversight_runtime::Shutdown;
use oversight_runtime::nats::Bus;
use oversight_testkit::{TestEnv, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::transport::Channel;

const DEADLINE: Duration = Duration::from_secs(30);
const READER_TOKEN: &str = "reader-token-0123456789";

/// A wire date from ISO text.
fn d(iso: &str) -> Date {
    convert::date(iso.parse().unwrap())
}

fn dated(r: common::Rating, date: &str) -> Option<common::DatedRating> {
    Some(common::DatedRating {
        rating: r as i32,
        report_date: Some(d(date)),
        explanation: Some(common::Explanation::default()),
    })
}

/// A quality event: safe as given, the other four key questions good.
fn quality(
    trust: &str,
    version: u64,
    safe: common::Rating,
    overall: common::Rating,
) -> QualityRatingIssued {
    let kq = |k: common::KeyQuestion, r: common::Rating| common::KeyQuestionRating {
        key_question: k as i32,
        rating: dated(r, "2018-06-01"),
    };
    QualityRatingIssued {
        event_id: format!("{trust}-quality-v{version}"),
        trust_code: trust.into(),
        trust_name: format!("{trust} Hospitals NHS Trust"),
        trust_type: common::TrustType::Acute as i32,
        version,
        rule_set: "cqc-2018".into(),
        key_questions: vec![
            kq(common::KeyQuestion::Safe, safe),
            kq(common::KeyQuestion::Effective, common::Rating::Good),
            kq(common::KeyQuestion::Caring, common::Rating::Good),
            kq(common::KeyQuestion::Responsive, common::Rating::Good),
            kq(common::KeyQuestion::WellLed, common::Rating::Good),
        ],
        overall: dated(overall, "2018-06-01"),
        ..Default::default()
    }
}

fn uor(trust: &str, version: u64, r: common::Rating) -> UseOfResourcesRatingApproved {
    UseOfResourcesRatingApproved {
        event_id: format!("{trust}-uor-v{version}"),
        trust_code: trust.into(),
        trust_type: common::TrustType::Acute as i32,
        version,
        rating: dated(r, "2018-07-01"),
        approved_by: "cqc".into(),
        ..Default::default()
    }
}

struct Running {
    env: TestEnv,
    bus: Bus,
    grpc: SocketAddr,
    report: SocketAddr,
    combiner: std::sync::Arc<combiner::Combiner>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(auth: bool) -> Running {
    let env = TestEnv::start().await.unwrap();
    let bus = env.nats_client().await.unwrap();
    for s in [bus.subjects().quality_stream(), bus.subjects().uor_stream()] {
        bus.ensure_stream(&s).await.unwrap();
    }
    let mut infra = env.infra("combiner").await.unwrap();
    if auth {
        let path = env.dir().join("tokens");
        std::fs::write(&path, format!("reader dashboard {READER_TOKEN}\n")).unwrap();
        infra.auth_tokens_file = Some(path);
    }
    let app = combiner::App::build(combiner::Config {
        infra,
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        report_addr: Some("127.0.0.1:0".parse().unwrap()),
        force_shadow: false,
        max_months_apart: 12,
        consumer_suffix: None,
    })
    .await
    .unwrap();
    let (grpc, report, combiner) = (
        app.grpc_addr().unwrap(),
        app.report_addr().unwrap(),
        app.combiner(),
    );
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    Running {
        env,
        bus,
        grpc,
        report,
        combiner,
        shutdown,
        task,
    }
}

impl Running {
    async fn client(&self) -> TrustRatingsServiceClient<Channel> {
        let ch = Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        TrustRatingsServiceClient::new(ch)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        drop(self.env);
    }
}

fn as_reader<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {READER_TOKEN}").parse().unwrap(),
    );
    req
}

async fn history(
    client: &mut TrustRatingsServiceClient<Channel>,
    trust: &str,
) -> Option<Vec<pb::CombinedRatingPublished>> {
    client
        .get_trust_history(as_reader(pb::GetTrustHistoryRequest {
            trust_code: trust.into(),
        }))
        .await
        .ok()
        .map(|r| r.into_inner().versions)
}

/// A raw HTTP/1.1 GET: status code and body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    (status, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_part_version_is_kept_and_each_change_is_a_new_combined_version() {
    let run = start(false).await;
    let subjects = run.bus.subjects().clone();
    let mut client = run.client().await;

    run.bus
        .publish(
            subjects.quality_rated(),
            "q-RAA-1",
            &quality(
                "RAA",
                1,
                common::Rating::RequiresImprovement,
                common::Rating::Good,
            ),
        )
        .await
        .unwrap();
    run.bus
        .publish(
            subjects.uor_approved(),
            "u-RAA-1",
            &uor("RAA", 1, common::Rating::RequiresImprovement),
        )
        .await
        .unwrap();
    let v = wait_until(DEADLINE, "combined rating with both parts", || async {
        let h = history(&mut run.client().await, "RAA").await?;
        h.last()
            .filter(|l| l.use_of_resources_version == 1)
            .cloned()
    })
    .await
    .unwrap();
    assert_eq!(
        v.combined.as_ref().unwrap().rating,
        common::Rating::Good as i32
    );
    let explanation = v.combined.as_ref().unwrap().explanation.as_ref().unwrap();
    assert!(
        explanation.inputs[0].ends_with("source: CQC quality rating cqc-2018, version 1"),
        "{explanation:?}"
    );
    assert!(
        explanation.inputs[5].ends_with("source: NHSI use of resources, approved by cqc"),
        "{explanation:?}"
    );

    // UoR v2 inadequate: a new combined version, lowered and flagged.
    run.bus
        .publish(
            subjects.uor_approved(),
            "u-RAA-2",
            &uor("RAA", 2, common::Rating::Inadequate),
        )
        .await
        .unwrap();
    let lowered = wait_until(DEADLINE, "combined version from UoR v2", || async {
        let h = history(&mut run.client().await, "RAA").await?;
        h.last()
            .filter(|l| l.use_of_resources_version == 2)
            .cloned()
    })
    .await
    .unwrap();
    assert_eq!(
        lowered.combined.as_ref().unwrap().rating,
        common::Rating::RequiresImprovement as i32
    );
    assert_eq!(
        lowered
            .flags
            .iter()
            .map(|f| f.code.as_str())
            .collect::<Vec<_>>(),
        ["uor_lowered_result"]
    );

    // A late, older UoR version is kept but changes nothing; the same version again is a no-op.
    run.bus
        .publish(
            subjects.uor_approved(),
            "u-RAA-1-late",
            &uor("RAA", 1, common::Rating::Outstanding),
        )
        .await
        .unwrap();
    run.bus
        .publish(
            subjects.uor_approved(),
            "u-RAA-2-again",
            &uor("RAA", 2, common::Rating::Inadequate),
        )
        .await
        .unwrap();
    // A sentinel trust: once it is combined, the messages published before it were handled.
    run.bus
        .publish(
            subjects.uor_approved(),
            "u-RZZ-1",
            &uor("RZZ", 1, common::Rating::Good),
        )
        .await
        .unwrap();
    run.bus
        .publish(
            subjects.quality_rated(),
            "q-RZZ-1",
            &quality("RZZ", 1, common::Rating::Good, common::Rating::Good),
        )
        .await
        .unwrap();
    wait_until(DEADLINE, "sentinel", || async {
        history(&mut run.client().await, "RZZ")
            .await?
            .last()
            .filter(|l| l.use_of_resources_version == 1)
            .cloned()
    })
    .await
    .unwrap();
    let all = history(&mut client, "RAA").await.unwrap();
    assert_eq!(
        all.last().unwrap().version,
        lowered.version,
        "no version from old or repeated parts"
    );
    let versions: Vec<u64> = all.iter().map(|v| v.version).collect();
    assert_eq!(versions, (1..=lowered.version).collect::<Vec<_>>());
    let trust: TrustCode = "RAA".parse().unwrap();
    assert_eq!(
        run.combiner.part_versions(Part::Uor, &trust).await.unwrap(),
        [1, 2]
    );
    assert_eq!(
        run.combiner
            .part_versions(Part::Quality, &trust)
            .await
            .unwrap(),
        [1]
    );

    // The report serves the same.
    let (status, page) = http_get(run.report, "/trusts").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"trust-RAA\"") && page.contains("data-flag=\"uor_lowered_result\""));
    let (status, page) = http_get(run.report, "/trusts/RAA").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-version=\"{}\"", lowered.version)));
    assert_eq!(http_get(run.report, "/trusts/RQQ").await.0, 404);
    assert_eq!(http_get(run.report, "/trusts/not%20a%20code").await.0, 400);
    assert_eq!(http_get(run.report, "/healthz").await.0, 200);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_may_read_and_bad_requests_are_refused_with_the_right_code() {
    let run = start(true).await;
    let subjects = run.bus.subjects().clone();
    // Two trusts in different regions and one whose region is unknown.
    for (t, region) in [
        ("RAA", "London"),
        ("RBB", "North East and Yorkshire"),
        ("RCC", ""),
    ] {
        let q = QualityRatingIssued {
            region: region.into(),
            ..quality(t, 1, common::Rating::Good, common::Rating::Good)
        };
        run.bus
            .publish(subjects.quality_rated(), &format!("q-{t}"), &q)
            .await
            .unwrap();
    }
    let mut client = run.client().await;
    wait_until(DEADLINE, "three trusts", || async {
        let mut c = run.client().await;
        let r = c
            .list_trust_ratings(as_reader(pb::ListTrustRatingsRequest::default()))
            .await
            .ok()?;
        (r.into_inner().ratings.len() == 3).then_some(())
    })
    .await
    .unwrap();

    // No token: unauthenticated. A reader may make every call.
    let err = client
        .get_trust_rating(pb::GetTrustRatingRequest {
            trust_code: "RAA".into(),
            as_of: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let got = client
        .get_trust_rating(as_reader(pb::GetTrustRatingRequest {
            trust_code: "RAA".into(),
            as_of: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(
        got.no_combined_reason,
        "no approved use of resources rating"
    );
    assert!(history(&mut client, "RAA").await.is_some());
    let mut watching = client
        .watch_ratings(as_reader(pb::WatchRatingsRequest {}))
        .await
        .unwrap()
        .into_inner();

    // Pages of one, in trust order, with page tokens.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_trust_ratings(as_reader(pb::ListTrustRatingsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.ratings.iter().map(|r| r.trust_code.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["RAA", "RBB", "RCC"]);
    // Filters that match nothing are fine.
    let none = client
        .list_trust_ratings(as_reader(pb::ListTrustRatingsRequest {
            combined_rating: common::Rating::Good as i32,
            trust_type: common::TrustType::MentalHealth as i32,
            flag: "parts_far_apart".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(none.ratings.is_empty());

    // Unknown trust → NOT_FOUND (also as of a date before any rating).
    for req in [
        pb::GetTrustRatingRequest {
            trust_code: "RQQ".into(),
            as_of: None,
        },
        pb::GetTrustRatingRequest {
            trust_code: "RAA".into(),
            as_of: Some(d("2001-01-01")),
        },
    ] {
        let e = client.get_trust_rating(as_reader(req)).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
    }
    let e = client
        .get_trust_history(as_reader(pb::GetTrustHistoryRequest {
            trust_code: "RQQ".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Bad arguments → INVALID_ARGUMENT, naming the field.
    let bad_gets = [
        (
            "trust_code",
            pb::GetTrustRatingRequest {
                trust_code: "not a code".into(),
                as_of: None,
            },
            None,
        ),
        // Not calendar dates: 2023 is not a leap year; day 0 is a month, not a date.
        (
            "as_of",
            pb::GetTrustRatingRequest {
                trust_code: "RAA".into(),
                as_of: Some(Date {
                    year: 2023,
                    month: 2,
                    day: 29,
                }),
            },
            Some("2023-02-29 is not a calendar date"),
        ),
        (
            "as_of",
            pb::GetTrustRatingRequest {
                trust_code: "RAA".into(),
                as_of: Some(Date {
                    year: 2024,
                    month: 5,
                    day: 0,
                }),
            },
            Some("2024-05-00 is not a full date (month and day are required)"),
        ),
    ];
    for (field, req, why) in bad_gets {
        let e = client.get_trust_rating(as_reader(req)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().starts_with(field), "{e:?}");
        let details =
            tonic_types::StatusExt::get_details_bad_request(&e).expect("BadRequest details");
        assert_eq!(details.field_violations[0].field, field, "{e:?}");
        if let Some(why) = why {
            assert_eq!(details.field_violations[0].description, why, "{e:?}");
        }
    }
    // A real date after the rating was published: the version published on or before it.
    let as_of_today = client
        .get_trust_rating(as_reader(pb::GetTrustRatingRequest {
            trust_code: "RAA".into(),
            as_of: Some(convert::date(chrono::Utc::now().date_naive())),
        }))
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(as_of_today.trust_code, "RAA");
    assert_eq!(as_of_today.version, 1);
    let bad_lists = [
        (
            "page_size",
            pb::ListTrustRatingsRequest {
                page_size: 501,
                ..Default::default()
            },
        ),
        (
            "combined_rating",
            pb::ListTrustRatingsRequest {
                combined_rating: 99,
                ..Default::default()
            },
        ),
        (
            "trust_type",
            pb::ListTrustRatingsRequest {
                trust_type: 99,
                ..Default::default()
            },
        ),
        (
            "flag",
            pb::ListTrustRatingsRequest {
                flag: "nope".into(),
                ..Default::default()
            },
        ),
        (
            "page_token",
            pb::ListTrustRatingsRequest {
                page_token: "???".into(),
                ..Default::default()
            },
        ),
        (
            "region",
            pb::ListTrustRatingsRequest {
                region: "x".repeat(65),
                ..Default::default()
            },
        ),
    ];
    for (field, req) in bad_lists {
        let e = client.list_trust_ratings(as_reader(req)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().starts_with(field), "{e:?}");
        let details =
            tonic_types::StatusExt::get_details_bad_request(&e).expect("BadRequest details");
        assert_eq!(details.field_violations[0].field, field, "{e:?}");
    }
    let e = client
        .get_trust_history(as_reader(pb::GetTrustHistoryRequest {
            trust_code: "??".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Region: copied from the quality rating; the filter is a case-insensitive exact match.
    let by_region = |region: &str| {
        let mut client = client.clone();
        let req = as_reader(pb::ListTrustRatingsRequest {
            region: region.into(),
            ..Default::default()
        });
        async move {
            client
                .list_trust_ratings(req)
                .await
                .unwrap()
                .into_inner()
                .ratings
                .into_iter()
                .map(|r| (r.trust_code, r.region))
                .collect::<Vec<_>>()
        }
    };
    let london = vec![("RAA".to_string(), "London".to_string())];
    assert_eq!(by_region("London").await, london);
    assert_eq!(by_region("lONDON").await, london);
    assert_eq!(
        by_region("NORTH EAST AND YORKSHIRE").await,
        vec![("RBB".to_string(), "North East and Yorkshire".to_string())]
    );
    assert!(
        by_region("North East").await.is_empty(),
        "exact, not prefix"
    );
    assert!(by_region("Midlands").await.is_empty());
    assert_eq!(by_region("").await.len(), 3, "empty: no filter");

    // An open WatchRatings stream does not hold up a graceful shutdown: it ends.
    tokio::time::timeout(DEADLINE, run.stop())
        .await
        .expect("graceful shutdown with a watcher open");
    assert!(matches!(watching.message().await, Ok(None) | Err(_)));
}

/// A raw HTTP/1.1 GET with extra headers: status, response headers (lower-cased names) and body.
async fn http_get_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Check `value` against an OpenAPI 3.1 schema: `$ref`, `oneOf`, `type` (one or several), `enum`,
/// `required`, `properties` with `additionalProperties: false`, and `items`. Returns the first
/// mismatch with its JSON path.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .ok_or_else(|| format!("{at}: dangling $ref {r}"))?;
        return conforms(doc, target, value, at);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        return if options.iter().any(|o| conforms(doc, o, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} matches no oneOf option"))
        };
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let allowed = types.contains(&actual) || actual == "integer" && types.contains(&"number");
        if !allowed {
            return Err(format!("{at}: {actual} where the document says {types:?}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        return Err(format!("{at}: {value} is not in the enum {e:?}"));
    }
    if let Value::Object(map) = value {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(r) {
                return Err(format!("{at}: required {r} missing"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in map {
                match props.get(k) {
                    Some(s) => conforms(doc, s, v, &format!("{at}.{k}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("{at}.{k}: not in the document"));
                    }
                    None => {}
                }
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(doc, s, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The schema of the 200 response of `path` in the OpenAPI document.
fn ok_schema<'a>(doc: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_filters_pages_caches_authenticates_and_matches_its_openapi_document() {
    let run = start(true).await;
    let subjects = run.bus.subjects().clone();
    // Four trusts whose ratings are worked by hand from DOMAIN.md §3 (UoR a sixth rating; one
    // inadequate of six → at best requires improvement; two outstanding and the rest good →
    // outstanding) and the flags' definitions (combined below / above overall quality).
    use common::Rating::{Good, Inadequate, Outstanding};
    let trusts = [
        // code, region, type, safe, overall quality, UoR
        (
            "RAA",
            "London",
            common::TrustType::Acute,
            Good,
            Good,
            Some(Inadequate),
        ),
        (
            "RBB",
            "london",
            common::TrustType::Acute,
            Good,
            Good,
            Some(Good),
        ),
        (
            "RCC",
            "North East and Yorkshire",
            common::TrustType::Acute,
            Outstanding,
            Good,
            Some(Outstanding),
        ),
        ("RDD", "", common::TrustType::MentalHealth, Good, Good, None),
    ];
    for (code, region, ty, safe, overall, uor_rating) in trusts {
        let q = QualityRatingIssued {
            region: region.into(),
            trust_type: ty as i32,
            ..quality(code, 1, safe, overall)
        };
        run.bus
            .publish(subjects.quality_rated(), &format!("q-{code}"), &q)
            .await
            .unwrap();
        if let Some(r) = uor_rating {
            run.bus
                .publish(
                    subjects.uor_approved(),
                    &format!("u-{code}"),
                    &uor(code, 1, r),
                )
                .await
                .unwrap();
        }
    }
    wait_until(DEADLINE, "four trusts with their parts", || async {
        let view = run.combiner.view();
        trusts
            .iter()
            .all(|(code, _, _, _, _, u)| {
                view.get(code)
                    .is_some_and(|r| r.use_of_resources_version == u64::from(u.is_some()))
            })
            .then_some(())
    })
    .await
    .unwrap();

    let bearer = format!("Bearer {READER_TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let get = |path: &str| {
        let path = path.to_string();
        async move {
            let (status, headers, body) = http_get_with(run.report, &path, &auth).await;
            assert_eq!(status, 200, "{path}: {body}");
            (
                headers,
                serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let codes = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["odsCode"].as_str().unwrap().to_string())
            .collect()
    };

    // Filters.
    for (query, expected) in [
        ("", vec!["RAA", "RBB", "RCC", "RDD"]),
        ("?rating=requires_improvement", vec!["RAA"]),
        ("?rating=good", vec!["RBB"]),
        ("?rating=outstanding", vec!["RCC"]),
        ("?rating=none", vec!["RDD"]),
        ("?uorRating=inadequate", vec!["RAA"]),
        (
            "?qualityRating=good&trustType=acute",
            vec!["RAA", "RBB", "RCC"],
        ),
        ("?region=LONDON", vec!["RAA", "RBB"]),
        ("?trustType=mental_health", vec!["RDD"]),
        ("?flag=uor_lowered_result", vec!["RAA"]),
        ("?flag=uor_raised_result", vec!["RCC"]),
        ("?flag=any", vec!["RAA", "RCC"]),
        ("?q=rcc", vec!["RCC"]),
        ("?q=hospitals&region=london&rating=good", vec!["RBB"]),
        ("?sort=rating", vec!["RCC", "RBB", "RAA", "RDD"]),
        ("?sort=rating&order=desc", vec!["RDD", "RAA", "RBB", "RCC"]),
    ] {
        let (_, page) = get(&format!("/api/v1/trusts{query}")).await;
        assert_eq!(codes(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len(), "{query}");
    }
    // Paging: pages of three.
    let (_, second) = get("/api/v1/trusts?pageSize=3&page=2").await;
    assert_eq!(codes(&second), ["RDD"]);
    assert_eq!(
        (&second["page"], &second["pageSize"], &second["total"]),
        (&2.into(), &3.into(), &4.into())
    );
    // Field names and values in CQC's style.
    let (_, raa) = get("/api/v1/trusts/RAA").await;
    assert_eq!(raa["odsCode"], "RAA");
    assert_eq!(raa["region"], "London");
    assert_eq!(raa["trustType"], "acute");
    let overall = &raa["currentRatings"]["overall"];
    assert_eq!(overall["rating"], "Good");
    assert_eq!(overall["reportDate"], "2018-06-01");
    assert_eq!(overall["keyQuestionRatings"][0]["name"], "Safe");
    assert_eq!(
        overall["useOfResources"]["useOfResourcesRating"],
        "Inadequate"
    );
    assert_eq!(
        overall["useOfResources"]["combinedQualityRating"],
        "Requires improvement"
    );
    let (_, rdd) = get("/api/v1/trusts/RDD").await;
    assert!(rdd["region"].is_null());
    assert!(rdd["currentRatings"]["overall"]["useOfResources"]["combinedQualityRating"].is_null());
    // History, oldest first, ending at the latest version.
    let (_, history) = get("/api/v1/trusts/RAA/history").await;
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=raa["version"].as_u64().unwrap()).collect::<Vec<_>>()
    );

    // What would change RAA's ratings (S=E=C=R=W=G, UoR=I), worked from DOMAIN.md:
    // - combined (§3): one inadequate of six (threshold 2) limits it to RI. Up to Good: use of
    //   resources to RI lifts the limit (1 RI of 6 < 3). Down to Inadequate: a second inadequate
    //   — a good key question all the way (to RI it would only add an RI).
    // - overall quality (§2.1, n = 5, X = 2): all good → Good. Down: one RI of 5 is below X, so
    //   the smallest change is a key question to Inadequate (any inadequate limits to RI). Up:
    //   two outstanding with the rest good: any 2 of the 5 (10 sets).
    let (_, changes) = get("/api/v1/trusts/RAA/rating-changes").await;
    assert_eq!(changes["odsCode"], "RAA");
    assert_eq!(changes["version"], raa["version"]);
    let combined = &changes["combined"];
    assert_eq!(combined["current"], "Requires improvement");
    assert!(combined["unavailable"].is_null());
    assert_eq!(
        combined["up"],
        serde_json::json!({
            "outcome": "changes",
            "to": "Good",
            "changeSets": [{
                "changes": [{"rating": "useOfResources", "from": "Inadequate", "to": "Requires improvement"}],
                "description": "use of resources from Inadequate to Requires improvement would make the combined rating Good",
            }],
        })
    );
    let sets = |v: &serde_json::Value| -> Vec<String> {
        v["changeSets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|set| {
                set["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {}>{}",
                            c["rating"].as_str().unwrap(),
                            c["from"].as_str().unwrap(),
                            c["to"].as_str().unwrap()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .collect()
    };
    let every_kq = ["safe", "effective", "caring", "responsive", "wellLed"];
    let to_inadequate: Vec<String> = every_kq
        .iter()
        .map(|kq| format!("{kq} Good>Inadequate"))
        .collect();
    assert_eq!(combined["down"]["to"], "Inadequate");
    assert_eq!(sets(&combined["down"]), to_inadequate);
    let quality = &changes["overallQuality"];
    assert_eq!(quality["current"], "Good");
    assert_eq!(quality["down"]["to"], "Requires improvement");
    assert_eq!(sets(&quality["down"]), to_inadequate);
    assert_eq!(quality["up"]["to"], "Outstanding");
    assert_eq!(sets(&quality["up"]).len(), 10);
    assert_eq!(
        sets(&quality["up"])[0],
        "safe Good>Outstanding + effective Good>Outstanding"
    );
    // A mental health trust: no combined rating, so nothing is worked for it.
    let (_, rdd_changes) = get("/api/v1/trusts/RDD/rating-changes").await;
    assert_eq!(
        rdd_changes["combined"]["unavailable"]["reason"],
        "noCombinedRating"
    );
    assert!(rdd_changes["combined"]["current"].is_null());
    assert_eq!(rdd_changes["overallQuality"]["current"], "Good");

    // Bad input names the parameter; unknown and malformed trusts.
    for (path, status, field) in [
        ("/api/v1/trusts?pageSize=0", 400, Some("pageSize")),
        ("/api/v1/trusts?rating=great", 400, Some("rating")),
        ("/api/v1/trusts?sort=colour", 400, Some("sort")),
        ("/api/v1/trusts/RQQ", 404, None),
        ("/api/v1/trusts/not-a-code", 400, Some("odsCode")),
        ("/api/v1/trusts/RQQ/history", 404, None),
        ("/api/v1/trusts/RQQ/rating-changes", 404, None),
        (
            "/api/v1/trusts/not-a-code/rating-changes",
            400,
            Some("odsCode"),
        ),
    ] {
        let (got, _, body) = http_get_with(run.report, path, &auth).await;
        assert_eq!(got, status, "{path}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["status"], status, "{path}");
        assert_eq!(body["error"]["field"].as_str(), field, "{path}");
    }

    // ETag: the same tag again is 304 with no body; a stale tag gets the body.
    let (headers, _) = get("/api/v1/trusts?region=london").await;
    let tag = header(&headers, "etag").expect("ETag").to_string();
    let (status, headers, body) = http_get_with(
        run.report,
        "/api/v1/trusts?region=london",
        &[auth[0], ("If-None-Match", &tag)],
    )
    .await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&headers, "etag"), Some(tag.as_str()));
    let (status, ..) = http_get_with(
        run.report,
        "/api/v1/trusts?region=london",
        &[auth[0], ("If-None-Match", "\"stale\"")],
    )
    .await;
    assert_eq!(status, 200);

    // Authentication is gRPC's: no token or an unknown one is 401.
    for headers in [
        vec![],
        vec![("Authorization", "Bearer not-a-known-token-at-all")],
    ] {
        for path in [
            "/api/v1/trusts",
            "/api/v1/trusts/RAA",
            "/api/v1/trusts/RAA/history",
            "/api/v1/trusts/RAA/rating-changes",
        ] {
            let (status, h, body) = http_get_with(run.report, path, &headers).await;
            assert_eq!(status, 401, "{path}: {body}");
            assert!(
                header(&h, "www-authenticate")
                    .unwrap()
                    .starts_with("Bearer")
            );
        }
    }

    // The OpenAPI document: served without a token, lists every path, and describes the real
    // responses exactly (no field missing, none undocumented).
    let (status, _, doc) = http_get_with(run.report, "/api/v1/openapi.json", &[]).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in combiner::rest::PATHS {
        assert!(paths.iter().any(|x| *x == p), "{p} not documented");
    }
    assert_eq!(paths.len(), combiner::rest::PATHS.len());
    for (path, documented, value) in [
        (
            "/api/v1/trusts",
            "/api/v1/trusts",
            get("/api/v1/trusts").await.1,
        ),
        (
            "/api/v1/trusts/RAA",
            "/api/v1/trusts/{odsCode}",
            raa.clone(),
        ),
        (
            "/api/v1/trusts/RDD",
            "/api/v1/trusts/{odsCode}",
            rdd.clone(),
        ),
        (
            "/api/v1/trusts/RAA/history",
            "/api/v1/trusts/{odsCode}/history",
            history.clone(),
        ),
        (
            "/api/v1/trusts/RAA/rating-changes",
            "/api/v1/trusts/{odsCode}/rating-changes",
            changes.clone(),
        ),
        (
            "/api/v1/trusts/RDD/rating-changes",
            "/api/v1/trusts/{odsCode}/rating-changes",
            rdd_changes.clone(),
        ),
    ] {
        conforms(&doc, ok_schema(&doc, documented), &value, "$")
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let (_, _, bad) = http_get_with(run.report, "/api/v1/trusts?page=0", &auth).await;
    conforms(
        &doc,
        &doc["components"]["schemas"]["Error"],
        &serde_json::from_str(&bad).unwrap(),
        "$",
    )
    .unwrap();
    run.stop().await;
}
