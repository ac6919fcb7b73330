//! Float formatting as Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is what the Go
//! client (and so node_exporter) prints: shortest round-trip digits, `%e` when the
//! decimal exponent is < -4 or >= 6 (e.g. `1.234e+06`).

use std::fmt::Write;

/// Appends `v` as the Go client writes it in text 0.0.4 (`NaN`, `+Inf`, `-Inf`, `1e+06`).
pub fn fmt_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 {
        out.push('0');
    } else {
        go_g(out, v);
    }
}

/// Appends `v` as the Go client writes it in OpenMetrics: like [`fmt_float`], but a value
/// without `.` or `e` gets `.0` (`1.0`, `0.0`, `42.0`).
pub fn fmt_float_om(out: &mut String, v: f64) {
    let start = out.len();
    fmt_float(out, v);
    let s = &out[start..];
    if v.is_finite() && !s.contains(['.', 'e']) {
        out.push_str(".0");
    }
}

/// Go's `'g'` with precision -1: shortest digits; `%e` if exp < -4 || exp >= 6.
fn go_g(out: &mut String, v: f64) {
    let mut buf = StackBuf::default();
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e6", "5e-7".
    let _ = write!(buf, "{:e}", v);
    let text = buf.as_str();
    let (mant, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    if neg {
        out.push('-');
    }
    let mut digits = [0u8; 32];
    let mut nd = 0;
    for b in mant.bytes().filter(|b| b.is_ascii_digit()) {
        if nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let d = &digits[..nd];
    if !(-4..6).contains(&exp) {
        out.push(d[0] as char);
        if nd > 1 {
            out.push('.');
            d[1..].iter().for_each(|&b| out.push(b as char));
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        let _ = write!(out, "{a}");
    } else if exp < 0 {
        out.push_str("0.");
        (0..(-exp - 1)).for_each(|_| out.push('0'));
        d.iter().for_each(|&b| out.push(b as char));
    } else {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(d.get(i).copied().unwrap_or(b'0') as char);
        }
        if nd > int_len {
            out.push('.');
            d[int_len..].iter().for_each(|&b| out.push(b as char));
        }
    }
}

/// A fixed buffer for one formatted float (no heap allocation per sample).
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackBuf {
    fn default() -> Self {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("0")
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut s = String::new();
        fmt_float(&mut s, v);
        s
    }

    #[test]
    fn go_formatting() {
        // Expected strings as printed by node_exporter 1.5 (Go strconv 'g', -1).
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (494.0, "494"),
            (288843.0, "288843"),
            (2466183.0, "2.466183e+06"),
            (1.795912934e9, "1.795912934e+09"),
            (1.795913082261501e9, "1.795913082261501e+09"),
            (43.0 * 0.001, "0.043000000000000003"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (-125000.0, "-125000"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (0.25, "0.25"),
            (123.456, "123.456"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(g(*v), *want, "value {v:?}");
        }
    }

    #[test]
    fn om_formatting() {
        let om = |v: f64| {
            let mut s = String::new();
            fmt_float_om(&mut s, v);
            s
        };
        assert_eq!(om(0.0), "0.0");
        assert_eq!(om(42.0), "42.0");
        assert_eq!(om(1e6), "1e+06");
        assert_eq!(om(0.5), "0.5");
        assert_eq!(om(f64::NAN), "NaN");
    }
}
