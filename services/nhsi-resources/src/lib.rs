//! nhsi-resources
