//! combined-rules
