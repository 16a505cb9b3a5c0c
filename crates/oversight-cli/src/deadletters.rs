//! `oversight deadletters`: what the services gave up on, why, and putting it back after a fix.
//!
//! Dead letters are `common.v1.DeadLetter` records on the dead-letter stream (one subject per
//! service, `<ns>.deadletter.<service>`), each holding the original message's subject, body and
//! headers and the reason. A dead letter is named by its sequence on that stream.
//!
//! `requeue` republishes the original body to its original subject with its original headers,
//! except the server's `Nats-*` headers: the message id becomes `<original id>-requeue-<seq>`, so
//! that JetStream's duplicate window does not drop it as the original again, while requeuing the
//! same dead letter twice (a retry after a failure in between) is still one message. Then the dead
//! letter is deleted from the stream, so a second `requeue` of it finds nothing and republishes
//! nothing. The services' handlers are idempotent, so a message that had been applied before it
//! failed changes nothing when it comes back.

use std::process::ExitCode;

use anyhow::{Context, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use oversight_proto::common::v1::DeadLetter;
use oversight_proto::evidence::v1 as ev;
use oversight_proto::ingestion::v1::FeedBatch;
use oversight_proto::quality::v1::QualityRatingIssued;
use oversight_proto::resources::v1::UseOfResourcesRatingApproved;
use oversight_runtime::InfraConfig;
use oversight_runtime::config::Secret;
use oversight_runtime::nats::Bus;
use oversight_runtime::subjects::Subjects;
use prost::Message;

use crate::Format;

/// The header naming the dead letter a requeued message came from (`<stream>/<seq>`).
pub const REQUEUED_FROM_HEADER: &str = "Oversight-Requeued-From";

#[derive(clap::Args, Debug)]
pub struct DeadLettersArgs {
    /// NATS server URL.
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    nats_url: String,
    /// NATS user (the `operator` user of deploy/nats/nats-server.conf may read, republish and
    /// delete dead letters).
    #[arg(long, env = "NATS_USER", global = true)]
    nats_user: Option<String>,
    /// NATS password for `--nats-user`.
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true, global = true)]
    nats_password: Option<String>,
    /// Subject namespace of the deployment.
    #[arg(
        long,
        env = "OVERSIGHT_NAMESPACE",
        default_value = "oversight",
        global = true
    )]
    namespace: String,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Every dead letter: sequence, service, time, original subject, deliveries, reason.
    List {
        /// Only this service's dead letters (ingestion, cqc-quality, nhsi-resources, combiner).
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One dead letter: the reason, where it came from, and the original message decoded.
    Show {
        /// The dead letter's sequence on the dead-letter stream (from `list`).
        seq: u64,
    },
    /// Republish dead letters' original messages to their original subjects (after a fix), and
    /// remove them from the dead-letter stream.
    Requeue {
        /// Sequences on the dead-letter stream (from `list`).
        #[arg(required = true)]
        seqs: Vec<u64>,
    },
}

pub fn run(args: DeadLettersArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run_async(args))
}

struct DeadLetters {
    bus: Bus,
    stream: Stream,
    subjects: Subjects,
}

async fn run_async(args: DeadLettersArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = InfraConfig::new(args.nats_url.clone(), args.namespace.clone(), "unused");
    cfg.nats_user = args.nats_user.clone();
    cfg.nats_password = args.nats_password.clone().map(Secret::new);
    let bus = Bus::connect(&cfg, "oversight-cli").await?;
    let subjects = bus.subjects().clone();
    let name = subjects.deadletter_stream().name;
    let stream = bus.jetstream().get_stream(&name).await.with_context(|| {
        format!("failed to open the dead-letter stream {name} (no service has started yet?)")
    })?;
    let dl = DeadLetters {
        bus,
        stream,
        subjects,
    };
    match args.action {
        Action::List { service, format } => dl.list(service.as_deref(), format).await,
        Action::Show { seq } => dl.show(seq).await,
        Action::Requeue { seqs } => dl.requeue(&seqs).await,
    }
}

impl DeadLetters {
    fn all_subjects(&self) -> String {
        self.subjects.deadletter(">")
    }

    /// The dead letters from `from` on, in stream order (deleted ones are skipped by the server).
    async fn next_from(&self, from: u64) -> anyhow::Result<Option<(u64, DeadLetter)>> {
        match self
            .stream
            .get_first_raw_message_by_subject(self.all_subjects(), from)
            .await
        {
            Ok(m) => Ok(Some((m.sequence, decode_record(m.sequence, &m.payload)?))),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!(e).context("failed to read the dead-letter stream")),
        }
    }

    /// The dead letter at `seq`, or an error saying why there is none.
    async fn get(&self, seq: u64) -> anyhow::Result<DeadLetter> {
        let name = &self.subjects.deadletter_stream().name;
        if seq == 0 {
            bail!("dead-letter sequences start at 1");
        }
        match self.stream.get_raw_message(seq).await {
            Ok(m) => {
                let prefix = self.subjects.deadletter("");
                if !m.subject.as_str().starts_with(prefix.as_str()) {
                    bail!(
                        "sequence {seq} of {name} is on {}, not a dead-letter subject",
                        m.subject
                    );
                }
                decode_record(seq, &m.payload)
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                let info = self.stream.get_info().await.ok();
                let range = info.map(|i| {
                    format!(
                        " ({} dead letters between {} and {})",
                        i.state.messages, i.state.first_sequence, i.state.last_sequence
                    )
                });
                bail!(
                    "no dead letter at sequence {seq} of {name}: never written, or already requeued or removed{}",
                    range.unwrap_or_default()
                )
            }
            Err(e) => Err(anyhow::anyhow!(e).context(format!("failed to read sequence {seq}"))),
        }
    }

    async fn list(&self, service: Option<&str>, format: Format) -> anyhow::Result<ExitCode> {
        let mut from = 1;
        let mut rows = Vec::new();
        while let Some((seq, d)) = self.next_from(from).await? {
            from = seq + 1;
            if service.is_none_or(|s| s == d.service) {
                rows.push((seq, d));
            }
        }
        match format {
            Format::Json => {
                for (seq, d) in &rows {
                    let row = serde_json::json!({
                        "seq": seq, "service": d.service, "failed_at": oversight_proto::convert::rfc3339(d.failed_at.as_ref()),
                        "subject": d.subject, "stream": d.stream,
                        "stream_sequence": d.stream_sequence, "deliveries": d.deliveries,
                        "reason": d.reason,
                    });
                    println!("{row}");
                }
            }
            Format::Table => {
                println!(
                    "{:>6}  {:<15} {:<25} {:<32} {:>4}  REASON",
                    "SEQ", "SERVICE", "FAILED AT", "ORIGINAL SUBJECT", "DELV"
                );
                for (seq, d) in &rows {
                    println!(
                        "{seq:>6}  {:<15} {:<25} {:<32} {:>4}  {}",
                        d.service,
                        oversight_proto::convert::rfc3339(d.failed_at.as_ref()),
                        d.subject,
                        d.deliveries,
                        one_line(&d.reason)
                    );
                }
                println!("{} dead letter(s)", rows.len());
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn show(&self, seq: u64) -> anyhow::Result<ExitCode> {
        let d = self.get(seq).await?;
        println!("dead letter {seq}");
        println!("service:    {}", d.service);
        println!(
            "failed at:  {}",
            oversight_proto::convert::rfc3339(d.failed_at.as_ref())
        );
        println!("reason:     {}", d.reason);
        println!(
            "original:   {} (stream {} sequence {}, delivered {} time(s))",
            d.subject, d.stream, d.stream_sequence, d.deliveries
        );
        for (k, v) in &d.headers {
            println!("header:     {k}: {v}");
        }
        println!("{}", self.describe(&d.subject, &d.payload));
        Ok(ExitCode::SUCCESS)
    }

    /// The original message decoded as the type its subject carries, where that is known.
    fn describe(&self, subject: &str, payload: &[u8]) -> String {
        let s = &self.subjects;
        fn decoded<M: Message + Default + std::fmt::Debug>(payload: &[u8]) -> String {
            match M::decode(payload) {
                Ok(m) => format!("message:    {}\n{m:#?}", short_type::<M>()),
                Err(e) => format!(
                    "message:    not a valid {} ({e}); {} byte(s): {}",
                    short_type::<M>(),
                    payload.len(),
                    preview(payload)
                ),
            }
        }
        if subject == s.feeds_submit() {
            return match FeedBatch::decode(payload) {
                Ok(mut b) => {
                    let content = std::mem::take(&mut b.content);
                    format!(
                        "message:    FeedBatch\n{b:#?}\ncontent ({} byte(s)):\n{}",
                        content.len(),
                        preview(&content)
                    )
                }
                Err(_) => decoded::<FeedBatch>(payload),
            };
        }
        if subject == s.evidence_quality() {
            return decoded::<ev::QualityEvidence>(payload);
        }
        if subject == s.evidence_resources() {
            return decoded::<ev::ResourceEvidence>(payload);
        }
        if subject == s.quality_rated() {
            return decoded::<QualityRatingIssued>(payload);
        }
        if subject == s.uor_approved() {
            return decoded::<UseOfResourcesRatingApproved>(payload);
        }
        format!(
            "message:    of no known type on {subject}; {} byte(s): {}",
            payload.len(),
            preview(payload)
        )
    }

    async fn requeue(&self, seqs: &[u64]) -> anyhow::Result<ExitCode> {
        let mut failed = 0usize;
        for (i, seq) in seqs.iter().enumerate() {
            match self.requeue_one(*seq).await {
                Ok(line) => println!("[{}/{}] {line}", i + 1, seqs.len()),
                Err(e) => {
                    failed += 1;
                    eprintln!("[{}/{}] error: {e:#}", i + 1, seqs.len());
                }
            }
        }
        println!(
            "requeued {} of {} dead letter(s)",
            seqs.len() - failed,
            seqs.len()
        );
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    async fn requeue_one(&self, seq: u64) -> anyhow::Result<String> {
        let d = self.get(seq).await?;
        let data_subjects = self.subjects.publishers();
        if !data_subjects
            .iter()
            .any(|(s, _)| *s == d.subject && !s.starts_with(&self.subjects.deadletter("")))
        {
            bail!(
                "dead letter {seq} came from {:?}, which is not a data subject of namespace {}",
                d.subject,
                self.subjects.namespace()
            );
        }
        let dl_stream = self.subjects.deadletter_stream().name;
        let headers = requeue_headers(&d, &format!("{dl_stream}/{seq}"), seq);
        let ack = self
            .bus
            .jetstream()
            .publish_with_headers(d.subject.clone(), headers, d.payload.clone().into())
            .await
            .with_context(|| format!("failed to republish dead letter {seq} to {}", d.subject))?
            .await
            .with_context(|| {
                format!(
                    "JetStream did not acknowledge dead letter {seq} republished to {}",
                    d.subject
                )
            })?;
        self.stream.delete_message(seq).await.with_context(|| {
            format!(
                "dead letter {seq} was republished (stream sequence {}) but could not be removed; \
                 requeuing it again within {} s publishes nothing new",
                ack.sequence,
                oversight_runtime::subjects::DUPLICATE_WINDOW.as_secs()
            )
        })?;
        Ok(format!(
            "requeued dead letter {seq} ({}: {}) to {} as stream sequence {}{}",
            d.service,
            one_line(&d.reason),
            d.subject,
            ack.sequence,
            if ack.duplicate {
                " (already republished earlier)"
            } else {
                ""
            }
        ))
    }
}

/// The original headers without the server's `Nats-*` ones, a message id unique to this dead
/// letter, and where it came from.
fn requeue_headers(d: &DeadLetter, from: &str, seq: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut original_id = None;
    for (k, v) in &d.headers {
        if k.eq_ignore_ascii_case(async_nats::header::NATS_MESSAGE_ID.as_ref()) {
            original_id = Some(v.clone());
        } else if !k.to_ascii_lowercase().starts_with("nats-") && k != REQUEUED_FROM_HEADER {
            headers.insert(k.as_str(), v.as_str());
        }
    }
    let id = format!(
        "{}-requeue-{seq}",
        original_id.unwrap_or_else(|| format!("{}-{}", d.stream, d.stream_sequence))
    );
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    headers.insert(REQUEUED_FROM_HEADER, from);
    headers
}

fn decode_record(seq: u64, payload: &[u8]) -> anyhow::Result<DeadLetter> {
    DeadLetter::decode(payload)
        .with_context(|| format!("sequence {seq} is not a DeadLetter record"))
}

fn short_type<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first 4 KiB as text (invalid UTF-8 replaced).
fn preview(bytes: &[u8]) -> String {
    let cut = bytes.len().min(4096);
    let mut out = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    if cut < bytes.len() {
        out.push_str(&format!("… ({} more byte(s))", bytes.len() - cut));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_headers_keep_the_originals_and_make_a_new_message_id() {
        let d = DeadLetter {
            stream: "S".into(),
            stream_sequence: 7,
            headers: [
                ("Nats-Msg-Id".to_string(), "ev-1".to_string()),
                ("Nats-Expected-Stream".to_string(), "S".to_string()),
                ("Oversight-Key".to_string(), "RXX".to_string()),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let h = requeue_headers(&d, "DL/3", 3);
        assert_eq!(
            h.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("ev-1-requeue-3")
        );
        assert_eq!(h.get("Oversight-Key").map(|v| v.as_str()), Some("RXX"));
        assert_eq!(
            h.get(REQUEUED_FROM_HEADER).map(|v| v.as_str()),
            Some("DL/3")
        );
        assert!(h.get("Nats-Expected-Stream").is_none());
        let no_id = DeadLetter {
            stream: "S".into(),
            stream_sequence: 7,
            ..Default::default()
        };
        let h = requeue_headers(&no_id, "DL/4", 4);
        assert_eq!(
            h.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("S-7-requeue-4")
        );
    }
}
