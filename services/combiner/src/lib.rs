//! combiner
