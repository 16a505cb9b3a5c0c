//! oversight-proto
