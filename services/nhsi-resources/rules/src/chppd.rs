//! chppd
