//! cqc-rules
