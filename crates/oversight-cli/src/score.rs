//! `oversight score FILE...`: finance and ward staffing files read by
//! [`oversight_feeds::nhsi::read_score_inputs`], scored by [`nhsi_rules::score`].

use std::io::Read;

use nhsi_rules::chppd::ChppdError;
use nhsi_rules::ruleset::{RuleSetError, SofRuleSet};
use nhsi_rules::score::{ScoreLine, score};
use oversight_feeds::nhsi::{ScoreFileError, read_score_inputs};

/// Something `oversight score` could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// A bad header or record, a feed that is not scored, or finance given twice.
    #[error(transparent)]
    File(ScoreFileError),
    /// Ward data that cannot be used (negative hours, a ward-day given twice), across all files.
    #[error("{0}")]
    Chppd(ChppdError),
    /// The rule set could not be loaded.
    #[error("{0}")]
    RuleSet(RuleSetError),
}

/// Everything `oversight score` prints: the lines and the errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScoreOutput {
    /// Output lines, in the documented order.
    pub lines: Vec<ScoreLine>,
    /// What could not be used: the files' problems, then the ward data's.
    pub errors: Vec<ScoreError>,
}

/// Scores one file with the `sof-2017` rule set.
pub fn score_document(file_name: &str, reader: impl Read) -> ScoreOutput {
    score_documents([(file_name, reader)])
}

/// Scores several files together with the `sof-2017` rule set.
pub fn score_documents<N, R, I>(documents: I) -> ScoreOutput
where
    N: AsRef<str>,
    R: Read,
    I: IntoIterator<Item = (N, R)>,
{
    match SofRuleSet::default_2017() {
        Ok(rules) => score_documents_with(documents, &rules),
        Err(e) => ScoreOutput {
            lines: Vec::new(),
            errors: vec![ScoreError::RuleSet(e)],
        },
    }
}

/// Scores several files together with the given SOF rule set.
pub fn score_documents_with<N, R, I>(documents: I, rules: &SofRuleSet) -> ScoreOutput
where
    N: AsRef<str>,
    R: Read,
    I: IntoIterator<Item = (N, R)>,
{
    let inputs = read_score_inputs(documents);
    let scored = score(&inputs.finance, &inputs.ward_days, rules);
    let errors = inputs
        .errors
        .into_iter()
        .map(ScoreError::File)
        .chain(scored.errors.into_iter().map(ScoreError::Chppd))
        .collect();
    ScoreOutput {
        lines: scored.lines,
        errors,
    }
}
