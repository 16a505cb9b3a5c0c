//! The offline parts of the `oversight` command, as a library so that they can be tested on
//! their own: `oversight rate` ([`rate`]: CQC API JSON read by `oversight-feeds`, audited by
//! `cqc-rules`), `oversight score` ([`score`]: NHSI files read by `oversight-feeds`, scored by
//! `nhsi-rules`) and their tables and JSON lines ([`render`]).

pub mod rate;
pub mod render;
pub mod score;
