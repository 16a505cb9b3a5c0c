//! cqc-quality
