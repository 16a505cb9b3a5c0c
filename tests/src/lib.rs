//! oversight-e2e
