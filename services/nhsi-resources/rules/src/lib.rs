//! nhsi-rules
