//! PromQL functions.
