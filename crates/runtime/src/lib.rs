//! oversight-runtime
