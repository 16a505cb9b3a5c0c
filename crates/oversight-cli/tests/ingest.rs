//! `oversight ingest` against a real ingestion App (port 0) on a private NATS server: summaries,
//! duplicates on resend, `--status`, and failing files named in the error with exit status 1.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;

use oversight_runtime::Shutdown;
use oversight_testkit::TestEnv;

const MIXED: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date
service_rating,RXX,Example,acute,RXX01,General,urgent,safe,Requires improvement,2018-06-01
service_rating,RXX,Example,acute,RXX01,General,urgent,kindness,Good,2018-06-01
well_led,RXX,Example,acute,,,,,Good,2018-07-01
use_of_resources,RXX,Example,acute,,,,,Good,2018-13-01
use_of_resources,RXX,Example,acute,,,,,Requires improvement,2018-07-01
";

const ALL_BAD: &str = "trust_code,period_end,metric,value\nRXX,2017-03-31,bed_days,1\n";

const CQC: &str = r#"{"locationId": "1-1000000001", "odsCode": "RXX01",
  "currentRatings": {"serviceRatings": [{"name": "Surgery", "reportDate": "2019-06-05",
    "keyQuestionRatings": [{"name": "Safe", "rating": "Good"}]}]}}"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn oversight(server: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_oversight"))
        .arg("ingest")
        .args(args)
        .args(["--server", server])
        .env_remove("OVERSIGHT_TOKEN")
        .env_remove("OVERSIGHT_INGESTION_URL")
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_sends_files_summarises_and_names_bad_files() {
    let env = TestEnv::start().await.unwrap();
    let app = ingestion::App::build(ingestion::Config {
        infra: env.infra("ingestion").await.unwrap(),
        grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    })
    .await
    .unwrap();
    let server = format!("http://{}", app.grpc_addr().unwrap());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let dir = tempfile::tempdir().unwrap();
    let mixed = write(dir.path(), "mixed.csv", MIXED);
    let cqc = write(dir.path(), "locations.json", CQC);

    let run = oversight(&server, &[&mixed, &cqc]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("5 records, 3 accepted, 0 duplicates, 2 rejected"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rejected: mixed.csv line 3 (record 2): key_question:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rejected: mixed.csv line 5 (record 4): report_date:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("locations.json: batch locations.json-")
            && run.stdout.contains("1 records, 1 accepted"),
        "{}",
        run.stdout
    );

    // The same file again: its default batch id is its content hash, so nothing is new.
    let again = oversight(&server, &[&mixed]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("5 records, 0 accepted, 3 duplicates, 2 rejected"),
        "{}",
        again.stdout
    );

    // A named batch and its stored status.
    let named = oversight(
        &server,
        &["--batch-id", "b-1", "--source", "nhsi-upload", &mixed],
    )
    .await;
    assert_eq!(named.code, 0, "{}", named.stderr);
    let status = oversight(&server, &["--status", "b-1"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status
            .stdout
            .contains("batch b-1: complete (mixed.csv from nhsi-upload, format csv)")
            && status
                .stdout
                .contains("rejected: mixed.csv line 3 (record 2): key_question"),
        "{}",
        status.stdout
    );
    assert_eq!(oversight(&server, &["--status", "nope"]).await.code, 1);

    // An entirely rejected file and an unreadable one: both named, exit status 1; the good
    // file among them is still sent.
    let bad = write(dir.path(), "bad.csv", ALL_BAD);
    let missing = dir.path().join("missing.csv").display().to_string();
    let odd = write(dir.path(), "feed.txt", MIXED);
    let run = oversight(&server, &[&bad, &missing, &odd, &cqc]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("bad.csv was not ingested: every record of bad.csv was rejected"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("rejected: bad.csv line 2 (record 1): metric: unknown metric"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!("cannot read {missing}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot tell the format of") && run.stderr.contains("feed.txt"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("locations.json: batch"),
        "{}",
        run.stdout
    );

    shutdown.cancel();
    task.await.unwrap().unwrap();
}
