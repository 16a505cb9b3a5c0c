//! `oversight rate FILE...`: CQC public API JSON read and validated by
//! [`oversight_feeds::cqc_api::audit`], every record audited by [`cqc_rules::audit`].

use cqc_rules::audit::{AuditRow, AuditRules, audit_location, audit_provider};
use oversight_feeds::cqc_api::audit::{AuditError, AuditRecord, read_audit_records};

/// The rows audited and the errors met, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditOutput {
    /// One row per service, location and provider audited.
    pub rows: Vec<AuditRow>,
    /// Input problems; the records they concern are not audited.
    pub errors: Vec<AuditError>,
}

impl AuditOutput {
    /// Appends another file's output (the CLI audits several files).
    pub fn extend(&mut self, other: AuditOutput) {
        self.rows.extend(other.rows);
        self.errors.extend(other.errors);
    }
}

/// Whether the CLI should exit 0: every record could be read and audited (no errors).
/// Disagreements are findings, not failures — CQC may depart from the rules by judgement — so they
/// do not fail the run; see [`all_agree`] to make them fail.
pub fn exit_ok(output: &AuditOutput) -> bool {
    output.errors.is_empty()
}

/// Whether every row agrees.
pub fn all_agree(output: &AuditOutput) -> bool {
    output.rows.iter().all(|r| r.agrees)
}

/// Audits one file's content with [`AuditRules::cqc_2018`].
pub fn audit_document(file_name: &str, content: &str) -> AuditOutput {
    audit_document_with(file_name, content, &AuditRules::cqc_2018())
}

/// Audits one file's content: a JSON object, a JSON array of objects, or NDJSON.
pub fn audit_document_with(file_name: &str, content: &str, rules: &AuditRules) -> AuditOutput {
    let input = read_audit_records(file_name, content);
    let mut rows = Vec::new();
    for record in &input.records {
        match record {
            AuditRecord::Location(location) => rows.extend(audit_location(location, rules)),
            AuditRecord::Provider(provider) => rows.push(audit_provider(provider, rules)),
        }
    }
    AuditOutput {
        rows,
        errors: input.errors,
    }
}
