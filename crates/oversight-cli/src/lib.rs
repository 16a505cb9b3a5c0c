//! oversight-cli
