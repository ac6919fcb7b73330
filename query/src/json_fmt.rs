//! Fast writers for the pieces of Prometheus' query JSON: sample values (Go's
//! `strconv.FormatFloat(v, 'f', -1, 64)`), timestamps in seconds and label strings.

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: the shortest digits
/// that read back as `v`, never in exponent form (`NaN`, `+Inf`, `-Inf` for the others).
pub(crate) fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Integers below 2^53 print as themselves.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 && !(v == 0.0 && v.is_sign_negative())
    {
        out.push_str(itoa::Buffer::new().format(v as i64));
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    // Without an exponent and not integral (`….0`), ryu's digits are already Go's.
    if !s.ends_with(".0") && !s.contains('e') {
        out.push_str(s);
        return;
    }
    push_ryu_digits(out, s);
}

/// Appends ryu's output `s` (`d.ddd`, `0.000ddd` or `d.ddde±x`) in Go's `'f'` form.
fn push_ryu_digits(out: &mut String, s: &str) {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    // ryu writes `d.ddd`, `0.000ddd` or `d.ddde±x`: collect the digits and where the point goes.
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().expect("BUG: ryu exponent")),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = [0u8; 40];
    let mut n = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        digits[n] = b;
        n += 1;
    }
    let mut point = int_part.len() as i32 + exp;
    let mut first = 0;
    while first < n && digits[first] == b'0' {
        first += 1;
        point -= 1;
    }
    while n > first && digits[n - 1] == b'0' {
        n -= 1;
    }
    if neg {
        out.push('-');
    }
    let d = std::str::from_utf8(&digits[first..n]).expect("BUG: ascii digits");
    if d.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        (0..-point).for_each(|_| out.push('0'));
        out.push_str(d);
    } else if point as usize >= d.len() {
        out.push_str(d);
        (0..point as usize - d.len()).for_each(|_| out.push('0'));
    } else {
        out.push_str(&d[..point as usize]);
        out.push('.');
        out.push_str(&d[point as usize..]);
    }
}

/// Appends a timestamp (ms) as JSON seconds with up to three decimals.
pub(crate) fn push_time(out: &mut String, t: i64) {
    let secs = t.div_euclid(1000);
    let ms = t.rem_euclid(1000);
    if ms == 0 {
        out.push_str(itoa::Buffer::new().format(secs));
    } else if t < 0 && secs < 0 {
        // -1.5 s is secs=-2, ms=500 → print as a float.
        push_float(out, t as f64 / 1000.0);
    } else {
        out.push_str(itoa::Buffer::new().format(secs));
        out.push('.');
        let digits = [ms / 100, ms / 10 % 10, ms % 10];
        let keep = if ms % 100 == 0 {
            1
        } else if ms % 10 == 0 {
            2
        } else {
            3
        };
        for d in &digits[..keep] {
            out.push(char::from(b'0' + *d as u8));
        }
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn push_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).expect("BUG: a string serializes"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn float(v: f64) -> String {
        let mut s = String::new();
        push_float(&mut s, v);
        s
    }

    #[test]
    fn floats_as_go_writes_them() {
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.001, "0.001"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (123456.789, "123456.789"),
            (0.30000000000000004, "0.30000000000000004"),
            (9007199254740993.0, "9007199254740992"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(float(v), want, "{v:e}");
        }
        // Halfway between two 17-digit candidates: Go (checked against Prometheus 2.42)
        // rounds to even, as ryu does; Rust's `Display` writes ...365.3.
        let tie: f64 = "1220327572403365.25".parse().unwrap();
        assert_eq!(float(tie), "1220327572403365.2");
        for v in [f64::MAX, f64::MIN_POSITIVE, 5e-324, -1e-300, 1e300] {
            assert_eq!(float(v), format!("{v}"));
        }
    }

    #[test]
    fn times() {
        let mut s = String::new();
        for t in [
            1_435_781_451_781,
            4000,
            1500,
            1520,
            1_000_100,
            0,
            -1500,
            -2000,
        ] {
            push_time(&mut s, t);
            s.push(' ');
        }
        assert_eq!(s, "1435781451.781 4 1.5 1.52 1000.1 0 -1.5 -2 ");
    }

    #[test]
    fn strings_escaped_as_serde_json() {
        for v in [
            "plain",
            "a\"b",
            "back\\slash",
            "tab\there",
            "nl\n",
            "ünï",
            "\u{1}",
        ] {
            let mut s = String::new();
            push_str(&mut s, v);
            assert_eq!(s, serde_json::to_string(v).unwrap());
        }
    }

    proptest! {
        /// Shortest digits that read back as `v`: as many as Rust's `Display` writes (it
        /// differs only in the choice between two equally near candidates).
        #[test]
        fn float_round_trips_with_fewest_digits(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let s = float(v);
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits());
            prop_assert_eq!(s.len(), format!("{v}").len());
        }

        /// ryu's own output, where it is taken as it is, equals its rewriting digit by digit.
        #[test]
        fn ryu_decimals_need_no_rewriting(bits in any::<u64>(), m in -1_000_000i64..1_000_000, e in 0u32..20) {
            for v in [f64::from_bits(bits), m as f64 / 10f64.powi(e as i32)] {
                prop_assume!(v.is_finite());
                let mut buf = ryu::Buffer::new();
                let r = buf.format_finite(v);
                let mut slow = String::new();
                push_ryu_digits(&mut slow, r);
                if !r.ends_with(".0") && !r.contains('e') {
                    prop_assert_eq!(r, slow);
                }
            }
        }

        #[test]
        fn float_equals_display_small_decimals(m in -1_000_000i64..1_000_000, e in 0u32..12) {
            let v = m as f64 / 10f64.powi(e as i32);
            prop_assert_eq!(float(v), format!("{v}"));
        }
    }
}
