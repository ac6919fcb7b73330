//! Command-line flags of the in-process benches (`--name value`).

/// The value after flag `name` on the command line, or `default`.
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let v: Vec<String> = std::env::args().collect();
    match v.iter().position(|a| a == name) {
        Some(i) => v
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value")),
        None => default,
    }
}
