//! PromQL tokens.
