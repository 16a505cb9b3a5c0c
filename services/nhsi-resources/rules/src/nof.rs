//! nof
