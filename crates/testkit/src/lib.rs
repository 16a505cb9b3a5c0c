//! oversight-testkit
