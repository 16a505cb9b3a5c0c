//! productivity
