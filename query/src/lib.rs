//! Prometheus HTTP API (being written).
