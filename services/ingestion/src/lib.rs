//! ingestion
