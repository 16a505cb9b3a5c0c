//! The shipped NATS configuration (deploy/nats/nats-server.conf): every service connects with its
//! own credentials and the whole flow works within its subject permissions; a feed sender can only
//! submit feeds; and the whole permission matrix — every user × every data subject and JetStream
//! API subject it may or may not publish or subscribe to — holds, with the expectations generated
//! from the subject map (`oversight_runtime::subjects`), not read from the config under test.
//! (deploy/nats/smoke.py, run by deploy/validate.sh, checks that the deploy/jetstream files work
//! with the same config.)

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use oversight_e2e::{Stack, rating_with_uor};
use oversight_proto::common::v1::Rating;
use oversight_proto::ingestion::v1 as ing;
use oversight_runtime::InfraConfig;
use oversight_runtime::config::Secret;
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::{FEED_SENDERS, SERVICES, Subjects, consumers};
use oversight_testkit::{TestEnv, wait_until, workspace_root};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const FEED: &[u8] = include_bytes!("../fixtures/first_flow.csv");

/// The shipped config with the listen, monitoring and store settings left to the test.
fn shipped_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/nats/nats-server.conf"))?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("listen:") || t.starts_with("http:") || t.starts_with("store_dir:"))
        })
        .collect();
    let path = dir.join("nats-server.conf");
    std::fs::write(&path, kept.join("\n"))?;
    Ok(path)
}

fn user_of(service: &str) -> &'static str {
    match service {
        "ingestion" => "ingestion",
        "cqc-quality" => "cqc_quality",
        "nhsi-resources" => "nhsi_resources",
        "combiner" => "combiner",
        _ => "feeds",
    }
}

fn credentials(cfg: &mut InfraConfig, user: &str) {
    cfg.nats_user = Some(user.to_string());
    cfg.nats_password = Some(Secret::new(format!(
        "dev-{}-password",
        user.replace('_', "-")
    )));
}

async fn client_as(env: &TestEnv, user: &str) -> anyhow::Result<Bus> {
    let mut cfg = InfraConfig::new(env.nats_url.clone(), env.namespace.clone(), "unused");
    credentials(&mut cfg, user);
    Bus::connect(&cfg, "test").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_work_within_their_nats_permissions() {
    let env = TestEnv::start_with_nats_config(shipped_config)
        .await
        .unwrap();
    // Without credentials nobody gets in.
    assert!(
        client_as(&env, "nobody").await.is_err(),
        "unknown user must be refused"
    );

    let stack = Stack::start_customised(env, |service, cfg| credentials(cfg, user_of(service)))
        .await
        .unwrap();
    let feeds = client_as(&stack.env, "feeds").await.unwrap();
    let batch = ing::FeedBatch {
        source: "permissions-test".into(),
        batch_id: "perm-1".into(),
        format: ing::FeedFormat::Csv as i32,
        file_name: "first_flow.csv".into(),
        chunk_index: 0,
        last: true,
        content: FEED.to_vec(),
    };
    feeds
        .publish(feeds.subjects().feeds_submit(), "perm-1", &batch)
        .await
        .unwrap();

    let rating = wait_until(Duration::from_secs(60), "combined rating of RXX", || {
        rating_with_uor(stack.combiner, "RXX")
    })
    .await
    .unwrap();
    assert_eq!(rating.combined.unwrap().rating, Rating::Good as i32);

    // A feed sender may not forge a quality rating.
    let forged = feeds
        .publish_bytes(
            feeds.subjects().quality_rated(),
            "forged-1",
            b"forged".to_vec().into(),
        )
        .await;
    assert!(forged.is_err(), "the feeds user must not publish ratings");
    stack.stop().await.unwrap();
}

/// A bare NATS protocol connection (the text protocol, as deploy/nats/smoke.py speaks it): each
/// probe is one `PUB` or `SUB` followed by `PING`, and the server's answer before the `PONG` says
/// whether it was refused. No timeouts stand in for "refused".
struct Probe {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    user: String,
    next_sid: u64,
}

impl Probe {
    async fn connect(port: u16, user: &str, password: &str) -> anyhow::Result<Probe> {
        let (read, writer) = TcpStream::connect(("127.0.0.1", port)).await?.into_split();
        let mut probe = Probe {
            reader: BufReader::new(read),
            writer,
            user: user.to_string(),
            next_sid: 1,
        };
        let info = probe.line().await?;
        anyhow::ensure!(info.starts_with("INFO"), "expected INFO, got {info}");
        let connect = serde_json::json!({
            "user": user, "pass": password, "verbose": false, "pedantic": false,
            "headers": true, "protocol": 1, "name": format!("matrix-{user}"),
        });
        probe.send(format!("CONNECT {connect}\r\nPING\r\n")).await?;
        if let Some(refusal) = probe.sync().await? {
            anyhow::bail!("{user} refused: {refusal}");
        }
        Ok(probe)
    }

    async fn send(&mut self, text: String) -> anyhow::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        Ok(())
    }

    async fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await??;
        anyhow::ensure!(n > 0, "{}: the server closed the connection", self.user);
        Ok(line.trim_end().to_string())
    }

    /// Read up to the `PONG`; the first `-ERR` before it, if any.
    async fn sync(&mut self) -> anyhow::Result<Option<String>> {
        let mut refusal = None;
        loop {
            let line = self.line().await?;
            let op = line.split(' ').next().unwrap_or_default();
            match op {
                "PONG" => return Ok(refusal),
                "PING" => self.send("PONG\r\n".into()).await?,
                "-ERR" => {
                    refusal.get_or_insert(line);
                }
                "MSG" | "HMSG" => {
                    let size: usize = line.rsplit(' ').next().unwrap_or("0").parse()?;
                    let mut skip = vec![0u8; size + 2];
                    self.reader.read_exact(&mut skip).await?;
                }
                _ => {}
            }
        }
    }

    /// Whether the server lets this user publish on `subject`.
    async fn may_publish(&mut self, subject: &str) -> anyhow::Result<bool> {
        self.send(format!("PUB {subject} 0\r\n\r\nPING\r\n"))
            .await?;
        self.verdict(subject).await
    }

    /// Whether the server lets this user subscribe to `subject` (unsubscribed at once).
    async fn may_subscribe(&mut self, subject: &str) -> anyhow::Result<bool> {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.send(format!("SUB {subject} {sid}\r\nUNSUB {sid}\r\nPING\r\n"))
            .await?;
        self.verdict(subject).await
    }

    async fn verdict(&mut self, subject: &str) -> anyhow::Result<bool> {
        match self.sync().await? {
            None => Ok(true),
            Some(e) if e.contains("Permissions Violation") => Ok(false),
            Some(e) => anyhow::bail!("{}: {subject}: unexpected answer {e}", self.user),
        }
    }
}

/// What each user may do, derived from the subject map: who publishes each data subject, which
/// streams each service owns, which durable consumers it runs (and their filters).
struct Expected {
    subjects: Subjects,
}

/// The NATS user of a party (a service, the feed senders or the operator).
fn nats_user(party: &str) -> String {
    party.replace('-', "_")
}

fn password_of(user: &str) -> String {
    format!("dev-{}-password", user.replace('_', "-"))
}

const READ_VIEW_CONSUMER: &str = "read-view-probe";

impl Expected {
    fn consumers_of(&self, service: &str) -> Vec<oversight_runtime::subjects::ConsumerSpec> {
        consumers::BY_SERVICE
            .iter()
            .filter(|(s, _)| *s == service)
            .filter_map(|(_, d)| self.subjects.consumer(d))
            .collect()
    }

    /// Every subject the matrix probes for publishing, may or may not.
    fn publish_probes(&self) -> Vec<String> {
        let s = &self.subjects;
        let mut out: Vec<String> = s.publishers().into_iter().map(|(subj, _)| subj).collect();
        out.push(format!("{}.feeds.other", s.namespace()));
        out.push(s.deadletter("someone-else"));
        out.push("$JS.API.INFO".into());
        out.push("$JS.API.STREAM.LIST".into());
        out.push("$JS.API.STREAM.NAMES".into());
        for stream in s.streams() {
            for verb in ["INFO", "CREATE", "UPDATE", "DELETE", "PURGE"] {
                out.push(format!("$JS.API.STREAM.{verb}.{}", stream.name));
            }
            out.push(format!("$JS.API.STREAM.MSG.DELETE.{}", stream.name));
            out.push(format!("$JS.API.STREAM.MSG.GET.{}", stream.name));
            // An ephemeral consumer, and a durable one of any name.
            out.push(format!("$JS.API.CONSUMER.CREATE.{}", stream.name));
            out.push(format!(
                "$JS.API.CONSUMER.CREATE.{}.{READ_VIEW_CONSUMER}.{}",
                stream.name,
                stream.subjects[0].replace(".>", ".x")
            ));
        }
        let view = s.combined_stream().name;
        out.push(format!(
            "$JS.API.CONSUMER.CREATE.{view}.{READ_VIEW_CONSUMER}.{}",
            s.combined_published()
        ));
        for verb in ["INFO", "DELETE", "MSG.NEXT"] {
            out.push(format!(
                "$JS.API.CONSUMER.{verb}.{view}.{READ_VIEW_CONSUMER}"
            ));
        }
        for (_, durable) in consumers::BY_SERVICE {
            let c = s.consumer(durable).expect("known consumer");
            let (st, d) = (&c.stream, &c.durable);
            out.push(format!("$JS.API.CONSUMER.INFO.{st}.{d}"));
            out.push(format!(
                "$JS.API.CONSUMER.CREATE.{st}.{d}.{}",
                c.filter_subject
            ));
            // The same durable with no filter, or another filter, or the pre-2.9 unfiltered form.
            out.push(format!("$JS.API.CONSUMER.CREATE.{st}.{d}"));
            for (other, _) in s.publishers() {
                if other != c.filter_subject {
                    out.push(format!("$JS.API.CONSUMER.CREATE.{st}.{d}.{other}"));
                }
            }
            out.push(format!("$JS.API.CONSUMER.DURABLE.CREATE.{st}.{d}"));
            out.push(format!("$JS.API.CONSUMER.DELETE.{st}.{d}"));
            out.push(format!("$JS.API.CONSUMER.MSG.NEXT.{st}.{d}"));
            out.push(format!("$JS.ACK.{st}.{d}.1.7.7.1700000000000000000.0"));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether `party` may publish on `subject`.
    fn may_publish(&self, party: &str, subject: &str) -> bool {
        let s = &self.subjects;
        if party == "operator" {
            return true;
        }
        if s.publishers()
            .iter()
            .any(|(subj, p)| subj == subject && *p == party)
        {
            return true;
        }
        if !SERVICES.contains(&party) {
            return false;
        }
        if subject == "$JS.API.INFO" {
            return true;
        }
        let mine = self.consumers_of(party);
        for stream in s.streams() {
            let owned = stream.owner == party || stream.owner == "all";
            let consumed = mine.iter().any(|c| c.stream == stream.name);
            if subject == format!("$JS.API.STREAM.INFO.{}", stream.name) {
                return owned || consumed;
            }
            if subject == format!("$JS.API.STREAM.CREATE.{}", stream.name) {
                return owned;
            }
        }
        for c in &mine {
            let (st, d) = (&c.stream, &c.durable);
            let allowed = [
                format!("$JS.API.CONSUMER.INFO.{st}.{d}"),
                format!("$JS.API.CONSUMER.CREATE.{st}.{d}.{}", c.filter_subject),
                format!("$JS.API.CONSUMER.MSG.NEXT.{st}.{d}"),
            ];
            if allowed.iter().any(|a| a == subject)
                || subject.starts_with(&format!("$JS.ACK.{st}.{d}."))
            {
                return true;
            }
        }
        // The combiner's read view: ordered consumers of its own combined ratings, any name.
        if party == s.combined_stream().owner {
            let view = s.combined_stream().name;
            let any_name = [
                format!("$JS.API.CONSUMER.INFO.{view}."),
                format!("$JS.API.CONSUMER.DELETE.{view}."),
                format!("$JS.API.CONSUMER.MSG.NEXT.{view}."),
            ];
            if any_name.iter().any(|p| {
                subject
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| !rest.contains('.'))
            }) {
                return true;
            }
            if let Some(rest) = subject.strip_prefix(&format!("$JS.API.CONSUMER.CREATE.{view}.")) {
                return rest
                    .split_once('.')
                    .is_some_and(|(_, filter)| filter == s.combined_published());
            }
        }
        false
    }

    fn subscribe_probes(&self) -> Vec<String> {
        let s = &self.subjects;
        let mut out: Vec<String> = s.publishers().into_iter().map(|(subj, _)| subj).collect();
        out.extend([
            "_INBOX.matrix.1".to_string(),
            ">".to_string(),
            format!("{}.>", s.namespace()),
            "$JS.API.>".to_string(),
            "$JS.ACK.>".to_string(),
        ]);
        out
    }

    fn may_subscribe(&self, party: &str, subject: &str) -> bool {
        party == "operator"
            || subject.starts_with("_INBOX.")
            || self
                .consumers_of(party)
                .iter()
                .any(|c| c.filter_subject == subject)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_may_publish_and_subscribe_exactly_what_the_subject_map_gives_it() {
    let env = TestEnv::start_with_nats_config(shipped_config)
        .await
        .unwrap();
    let port = env.nats.as_ref().expect("a private nats-server").port;
    let expected = Expected {
        subjects: Subjects::new(env.namespace.clone()),
    };
    // Unknown users and wrong passwords are refused.
    assert!(
        Probe::connect(port, "nobody", "dev-nobody-password")
            .await
            .is_err()
    );
    assert!(
        Probe::connect(port, "combiner", "dev-feeds-password")
            .await
            .is_err()
    );

    let mut parties: Vec<&str> = SERVICES.to_vec();
    parties.extend([FEED_SENDERS, "operator"]);
    let publish = expected.publish_probes();
    let subscribe = expected.subscribe_probes();
    let mut wrong = Vec::new();
    let (mut allowed, mut refused) = (0, 0);
    for party in &parties {
        let user = nats_user(party);
        let mut probe = Probe::connect(port, &user, &password_of(&user))
            .await
            .unwrap();
        for subject in &publish {
            let want = expected.may_publish(party, subject);
            let got = probe.may_publish(subject).await.unwrap();
            if want != got {
                wrong.push(format!(
                    "{user} publish {subject}: expected allowed={want}, server said {got}"
                ));
            }
            if got { allowed += 1 } else { refused += 1 }
        }
        for subject in &subscribe {
            let want = expected.may_subscribe(party, subject);
            let got = probe.may_subscribe(subject).await.unwrap();
            if want != got {
                wrong.push(format!(
                    "{user} subscribe {subject}: expected allowed={want}, server said {got}"
                ));
            }
            if got { allowed += 1 } else { refused += 1 }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} permission checks differ from the subject map:\n{}",
        wrong.len(),
        allowed + refused,
        wrong.join("\n")
    );
    // The matrix is not vacuous: both sides are well exercised.
    assert!(
        allowed > 100 && refused > 400,
        "allowed {allowed}, refused {refused}"
    );
}
