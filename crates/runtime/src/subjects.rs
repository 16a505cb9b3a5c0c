//! The one place where subjects, stream names and consumer names are spelled. Everything is derived
//! from a configurable namespace so that several deployments (or tests) can share a NATS server.

use std::time::Duration;

/// Durable consumer names (stable across restarts).
pub mod consumers {
    pub const INGESTION_FEEDS: &str = "ingestion-feeds";
    pub const CQC_EVIDENCE: &str = "cqc-quality-evidence";
    pub const NHSI_EVIDENCE: &str = "nhsi-resources-evidence";
    pub const NHSI_QUALITY: &str = "nhsi-resources-quality";
    pub const COMBINER_QUALITY: &str = "combiner-quality";
    pub const COMBINER_UOR: &str = "combiner-uor";

    /// Every durable consumer with the service that runs it.
    pub const BY_SERVICE: [(&str, &str); 6] = [
        ("ingestion", INGESTION_FEEDS),
        ("cqc-quality", CQC_EVIDENCE),
        ("nhsi-resources", NHSI_EVIDENCE),
        ("nhsi-resources", NHSI_QUALITY),
        ("combiner", COMBINER_QUALITY),
        ("combiner", COMBINER_UOR),
    ];
}

/// The services, by the names they dead-letter and own streams under.
pub const SERVICES: [&str; 4] = ["ingestion", "cqc-quality", "nhsi-resources", "combiner"];

/// The publisher of the feeds subject: external feed senders (the CLI, regulators' batch jobs).
pub const FEED_SENDERS: &str = "feeds";

/// How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate publish. Beyond it, the
/// stores' uniqueness constraints keep handlers idempotent.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// A stream: its name, the subjects it captures, and the service that declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub name: String,
    pub subjects: Vec<String>,
    pub owner: &'static str,
}

/// A durable pull consumer on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub stream: String,
    pub durable: String,
    pub filter_subject: String,
}

/// Subjects and streams for one namespace (default `oversight`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    namespace: String,
}

impl Subjects {
    pub fn new(namespace: impl Into<String>) -> Self {
        Subjects {
            namespace: namespace.into(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn subject(&self, tail: &str) -> String {
        format!("{}.{tail}", self.namespace)
    }

    fn stream(&self, tail: &str) -> String {
        let ns: String = self
            .namespace
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{ns}_{tail}")
    }

    /// Batch feeds published by senders (ingestion consumes).
    pub fn feeds_submit(&self) -> String {
        self.subject("feeds.submit")
    }
    /// Canonical quality evidence (ingestion publishes, cqc-quality consumes).
    pub fn evidence_quality(&self) -> String {
        self.subject("evidence.quality")
    }
    /// Canonical resource evidence (ingestion publishes, nhsi-resources consumes).
    pub fn evidence_resources(&self) -> String {
        self.subject("evidence.resources")
    }
    /// Trust quality ratings (cqc-quality publishes; combiner and nhsi-resources consume).
    pub fn quality_rated(&self) -> String {
        self.subject("quality.rated")
    }
    /// CQC-approved use-of-resources ratings (nhsi-resources publishes; combiner consumes).
    pub fn uor_approved(&self) -> String {
        self.subject("uor.approved")
    }
    /// Combined ratings (combiner publishes; external readers consume).
    pub fn combined_published(&self) -> String {
        self.subject("combined.published")
    }
    /// Dead letters of one service.
    pub fn deadletter(&self, service: &str) -> String {
        self.subject(&format!("deadletter.{service}"))
    }

    /// Every data subject with the one party that may publish on it (a service, or
    /// [`FEED_SENDERS`]).
    pub fn publishers(&self) -> Vec<(String, &'static str)> {
        let mut out = vec![
            (self.feeds_submit(), FEED_SENDERS),
            (self.evidence_quality(), "ingestion"),
            (self.evidence_resources(), "ingestion"),
            (self.quality_rated(), "cqc-quality"),
            (self.uor_approved(), "nhsi-resources"),
            (self.combined_published(), "combiner"),
        ];
        out.extend(SERVICES.iter().map(|s| (self.deadletter(s), *s)));
        out
    }

    /// Every stream.
    pub fn streams(&self) -> Vec<StreamSpec> {
        vec![
            self.feeds_stream(),
            self.evidence_stream(),
            self.quality_stream(),
            self.uor_stream(),
            self.combined_stream(),
            self.deadletter_stream(),
        ]
    }

    pub fn feeds_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("FEEDS"),
            subjects: vec![self.subject("feeds.>")],
            owner: "ingestion",
        }
    }
    pub fn evidence_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("EVIDENCE"),
            subjects: vec![self.subject("evidence.>")],
            owner: "ingestion",
        }
    }
    pub fn quality_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("QUALITY"),
            subjects: vec![self.subject("quality.>")],
            owner: "cqc-quality",
        }
    }
    pub fn uor_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("UOR"),
            subjects: vec![self.subject("uor.>")],
            owner: "nhsi-resources",
        }
    }
    pub fn combined_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("COMBINED"),
            subjects: vec![self.subject("combined.>")],
            owner: "combiner",
        }
    }
    /// Every service declares this one (idempotently) because every service dead-letters.
    pub fn deadletter_stream(&self) -> StreamSpec {
        StreamSpec {
            name: self.stream("DEADLETTER"),
            subjects: vec![self.subject("deadletter.>")],
            owner: "all",
        }
    }

    pub fn consumer(&self, durable: &'static str) -> Option<ConsumerSpec> {
        let (stream, filter) = match durable {
            consumers::INGESTION_FEEDS => (self.feeds_stream(), self.feeds_submit()),
            consumers::CQC_EVIDENCE => (self.evidence_stream(), self.evidence_quality()),
            consumers::NHSI_EVIDENCE => (self.evidence_stream(), self.evidence_resources()),
            consumers::NHSI_QUALITY => (self.quality_stream(), self.quality_rated()),
            consumers::COMBINER_QUALITY => (self.quality_stream(), self.quality_rated()),
            consumers::COMBINER_UOR => (self.uor_stream(), self.uor_approved()),
            _ => return None,
        };
        Some(ConsumerSpec {
            stream: stream.name,
            durable: durable.to_string(),
            filter_subject: filter,
        })
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects::new("oversight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_namespace() {
        let s = Subjects::new("t-42");
        assert_eq!(s.evidence_quality(), "t-42.evidence.quality");
        assert_eq!(s.evidence_stream().name, "T_42_EVIDENCE");
        assert_eq!(s.deadletter("combiner"), "t-42.deadletter.combiner");
        let c = s.consumer(consumers::COMBINER_UOR).expect("known consumer");
        assert_eq!(c.stream, "T_42_UOR");
        assert_eq!(c.filter_subject, "t-42.uor.approved");
        assert!(s.consumer("nope").is_none());
    }
}
