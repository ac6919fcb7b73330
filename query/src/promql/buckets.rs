//! Classic (`le`-labelled) histogram math: bucket normalisation, quantiles and fractions.

/// The upper bound of a bucket from its `le` label value.
pub fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse::<f64>().ok(),
    }
}

/// Sorts `(upper bound, cumulative count)` buckets, merges equal bounds and forces the
/// counts to be monotonic; returns the buckets and whether counts had to be raised.
pub fn normalize(raw: &mut [(f64, f64)]) -> (Vec<(f64, f64)>, bool) {
    raw.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut m: Vec<(f64, f64)> = Vec::with_capacity(raw.len());
    for &x in raw.iter() {
        match m.last_mut() {
            Some(l) if l.0 == x.0 => l.1 += x.1,
            _ => m.push(x),
        }
    }
    let mut fixed = false;
    let mut max = f64::NEG_INFINITY;
    for x in &mut m {
        // NaN counts stay NaN, as in Prometheus.
        if x.1 > max {
            max = x.1;
        } else if x.1 < max {
            fixed = true;
            x.1 = max;
        }
    }
    (m, fixed)
}

/// The `q`-quantile of normalised buckets (Prometheus' `histogram_quantile` on classic buckets).
pub fn quantile(q: f64, m: &[(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if m.last().map(|x| x.0) != Some(f64::INFINITY) || m.len() < 2 {
        return f64::NAN;
    }
    let obs = m[m.len() - 1].1;
    if obs == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * obs;
    let idx = go_search(m.len() - 1, |i| m[i].1 >= rank);
    if idx == m.len() - 1 {
        return m[m.len() - 2].0;
    }
    if idx == 0 && m[0].0 <= 0.0 {
        return m[0].0;
    }
    let (mut start, end, mut count) = (0.0, m[idx].0, m[idx].1);
    if idx > 0 {
        start = m[idx - 1].0;
        count -= m[idx - 1].1;
        rank -= m[idx - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Go's `sort.Search`: the same binary search, so NaN counts (which break monotonicity)
/// land on the same bucket as in Prometheus.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}

/// The fraction of observations between `lower` and `upper` in normalised buckets,
/// interpolating linearly inside finite buckets. The lowest bucket starts at 0 when its
/// upper bound is positive, else at -Inf; inside a bucket of infinite width the rank is
/// that of its finite edge (no interpolation).
pub fn fraction(lower: f64, upper: f64, m: &[(f64, f64)]) -> f64 {
    if m.last().map(|x| x.0) != Some(f64::INFINITY) {
        return f64::NAN;
    }
    let count = m[m.len() - 1].1;
    if count == 0.0 || count.is_nan() || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    (rank_at(upper, m) - rank_at(lower, m)) / count
}

/// The estimated number of observations `<= v`.
fn rank_at(v: f64, m: &[(f64, f64)]) -> f64 {
    let mut prev = 0.0;
    for (i, &(ub, c)) in m.iter().enumerate() {
        let lb = match i {
            0 if ub > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => m[i - 1].0,
        };
        if v <= lb {
            return prev;
        }
        if v < ub {
            return match (lb.is_infinite(), ub.is_infinite()) {
                (true, _) => c,
                (false, true) => prev,
                _ => prev + (c - prev) * (v - lb) / (ub - lb),
            };
        }
        if v == ub {
            return c;
        }
        prev = c;
    }
    prev
}

#[cfg(test)]
mod tests {
    use super::*;

    const POS: &[(f64, f64)] = &[(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (f64::INFINITY, 100.0)];
    const NEG: &[(f64, f64)] = &[
        (-3.0, 10.0),
        (-2.0, 12.0),
        (-1.0, 15.0),
        (f64::INFINITY, 100.0),
    ];

    #[test]
    fn fractions() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(fraction(0.0, 1.5, POS), 0.02));
        assert!(close(fraction(-4.0, -2.0, NEG), 0.02));
        assert!(close(fraction(f64::NEG_INFINITY, -1.5, NEG), 0.135));
        assert!(close(fraction(f64::NEG_INFINITY, f64::INFINITY, POS), 1.0));
        assert!(close(fraction(4.0, 5.0, POS), 0.0));
        assert!(close(fraction(400.0, f64::INFINITY, POS), 0.94));
        assert!(close(fraction(0.5, 2.0, POS), 0.025));
        assert!(close(fraction(3.0, 2.0, POS), 0.0));
        assert!(fraction(f64::NAN, 1.0, POS).is_nan());
        assert!(fraction(0.0, 1.0, &[(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
        assert!(fraction(0.0, 1.0, &[(1.0, 1.0)]).is_nan());
    }

    #[test]
    fn nan_bucket_counts_fall_through_as_in_prometheus() {
        // Prometheus leaves NaN counts alone; rank NaN matches no bucket, so the answer is
        // the second-highest upper bound.
        let mut raw = vec![(0.1, f64::NAN), (1.0, f64::NAN), (f64::INFINITY, f64::NAN)];
        let (m, fixed) = normalize(&mut raw);
        assert!(!fixed);
        assert_eq!(quantile(0.5, &m), 1.0);
    }

    #[test]
    fn normalizes() {
        let mut raw = vec![(f64::INFINITY, 5.0), (1.0, 2.0), (1.0, 1.0), (2.0, 2.0)];
        let (m, fixed) = normalize(&mut raw);
        assert_eq!(m, vec![(1.0, 3.0), (2.0, 3.0), (f64::INFINITY, 5.0)]);
        assert!(fixed);
    }
}
