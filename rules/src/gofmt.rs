//! Go's number formatting as templates print it: `strconv`'s shortest `%g`, `fmt`'s
//! `printf` verbs, and Prometheus' `humanize*` functions.

/// Formats `v` as Go's `fmt.Sprint(float64)` (shortest `%g`: `1e+06`, `0.1`, `+Inf`).
pub fn go_float(v: f64) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let (neg, digits, exp) = shortest_digits(v);
    let exp10 = exp - 1; // exponent of the first digit
    let body = if !(-4..6).contains(&exp10) {
        sci(&digits, exp10, None)
    } else {
        fixed(&digits, exp, None)
    };
    sign(neg, body)
}

fn special(v: f64, _plus_inf: bool) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

fn sign(neg: bool, body: String) -> String {
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Shortest round-trip digits of |v|: (negative, digits, decimal-point position).
fn shortest_digits(v: f64) -> (bool, Vec<u8>, i32) {
    let neg = v.is_sign_negative() && v != 0.0;
    if v == 0.0 {
        return (neg, vec![b'0'], 1);
    }
    let s = format!("{:e}", v.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    let e: i32 = e.parse().unwrap_or(0);
    (neg, digits, e + 1)
}

/// Digits rounded to `n` significant digits: (digits, decimal-point position).
fn round_sig(v: f64, n: usize) -> (Vec<u8>, i32) {
    let n = n.max(1);
    if v == 0.0 {
        return (vec![b'0'; n], 1);
    }
    let s = format!("{:.*e}", n - 1, v.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: Vec<u8> = m.bytes().filter(u8::is_ascii_digit).collect();
    (digits, e.parse::<i32>().unwrap_or(0) + 1)
}

/// `d.ddde±XX` from digits and the first digit's exponent; `prec` pads/limits decimals.
fn sci(digits: &[u8], exp10: i32, prec: Option<usize>) -> String {
    let mut s = String::new();
    s.push(digits[0] as char);
    let rest: String = digits[1..].iter().map(|&b| b as char).collect();
    let rest = match prec {
        Some(p) => format!("{rest:0<p$}"),
        None => rest,
    };
    if !rest.is_empty() {
        s.push('.');
        s.push_str(&rest);
    }
    let (es, ea) = if exp10 < 0 {
        ('-', -exp10)
    } else {
        ('+', exp10)
    };
    format!("{s}e{es}{ea:02}")
}

/// Plain decimal from digits with the point after `dp` digits.
fn fixed(digits: &[u8], dp: i32, prec: Option<usize>) -> String {
    let ds: String = digits.iter().map(|&b| b as char).collect();
    let (int, frac) = if dp <= 0 {
        (
            "0".to_string(),
            format!("{}{}", "0".repeat((-dp) as usize), ds),
        )
    } else if dp as usize >= ds.len() {
        (
            format!("{ds}{}", "0".repeat(dp as usize - ds.len())),
            String::new(),
        )
    } else {
        (ds[..dp as usize].to_string(), ds[dp as usize..].to_string())
    };
    let frac = match prec {
        Some(p) => format!("{frac:0<p$}"),
        None => frac,
    };
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

/// Go's `%.Ng` (`prec` = N, default shortest) for `v`.
pub fn go_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let Some(p) = prec else {
        return go_float(v);
    };
    let p = p.max(1);
    let neg = v.is_sign_negative() && v != 0.0;
    let (mut digits, dp) = round_sig(v, p);
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let exp10 = dp - 1;
    let body = if exp10 < -4 || exp10 >= p as i32 {
        sci(&digits, exp10, None)
    } else {
        fixed(&digits, dp, None)
    };
    sign(neg, body)
}

/// Go's `strconv.FormatFloat(v, 'e' or 'E', -1, 64)` (`1e+00`, `2.5E-01`).
pub fn format_e(v: f64, upper: bool) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let s = format!("{v:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sep = if upper { 'E' } else { 'e' };
    format!("{m}{sep}{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// Go's `%.Ne` for `v`.
fn go_e(v: f64, prec: usize) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let neg = v.is_sign_negative() && v != 0.0;
    let (digits, dp) = round_sig(v, prec + 1);
    let digits = if v == 0.0 {
        vec![b'0'; prec + 1]
    } else {
        digits
    };
    let exp10 = if v == 0.0 { 0 } else { dp - 1 };
    sign(neg, sci(&digits, exp10, Some(prec)))
}

/// Prometheus' `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_g(v, Some(4));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", go_g(v, Some(4)))
}

/// Prometheus' `humanize1024`: binary prefixes.
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return go_g(v, Some(4));
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", go_g(v, Some(4)))
}

/// Prometheus' `humanizeDuration` (seconds → `1d 2h 3m 4s`).
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", go_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", go_g(v, Some(4)))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", go_g(v, Some(4)))
}

/// Prometheus' `humanizeTimestamp`: Go's `time.Time.String()` in UTC.
pub fn humanize_timestamp(v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, Some(4));
    }
    let ms = (v * 1000.0) as i64;
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, mo, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:03}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A `printf` argument.
pub enum Arg<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Go's `nil`.
    Nil,
    /// Anything else, already printed as `%v` would.
    Other(String),
}

/// Go's `strconv.QuoteRune` for a code point.
fn quote_rune(i: i64) -> String {
    let Some(c) = u32::try_from(i).ok().and_then(char::from_u32) else {
        return "'\u{FFFD}'".into();
    };
    let body = match c {
        '\'' => "\\'".to_string(),
        '\\' => "\\\\".to_string(),
        '\u{7}' => "\\a".into(),
        '\u{8}' => "\\b".into(),
        '\u{c}' => "\\f".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\u{b}' => "\\v".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        c if c.is_control() => format!("\\u{:04x}", c as u32),
        c => c.to_string(),
    };
    format!("'{body}'")
}

/// Go's `fmt.Sprintf` for the verbs rule templates use (`%s %d %f %g %e %v %q %x %%`,
/// flags `-+0 `, width and precision).
pub fn sprintf(format: &str, args: &[Arg<'_>]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut argi = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = it.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = None;
        while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            it.next();
        }
        let mut prec = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = 0;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                it.next();
            }
            prec = Some(p);
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let mut s = format_one(verb, prec, arg);
        let numeric = matches!(arg, Arg::Int(_) | Arg::Float(_));
        if numeric && !s.starts_with('-') && matches!(verb, 'd' | 'f' | 'g' | 'e' | 'v') {
            if plus {
                s.insert(0, '+');
            } else if space {
                s.insert(0, ' ');
            }
        }
        if let Some(w) = width {
            let n = s.chars().count();
            if n < w {
                let pad = w - n;
                if minus {
                    s.push_str(&" ".repeat(pad));
                } else if zero && numeric {
                    let at = usize::from(s.starts_with(['-', '+']));
                    s.insert_str(at, &"0".repeat(pad));
                } else {
                    s.insert_str(0, &" ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| {
                let kind = match a {
                    Arg::Str(_) => "string",
                    Arg::Int(_) => "int",
                    Arg::Float(_) => "float64",
                    Arg::Bool(_) => "bool",
                    Arg::Nil => "<nil>",
                    Arg::Other(_) => "interface {}",
                };
                format!("{kind}={}", format_one('v', None, a))
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn format_one(verb: char, prec: Option<usize>, arg: &Arg<'_>) -> String {
    match (verb, arg) {
        ('v' | 's', Arg::Str(s)) => match prec {
            Some(p) if verb == 's' => s.chars().take(p).collect(),
            _ => s.to_string(),
        },
        ('q', Arg::Str(s)) => format!("{s:?}"),
        ('x', Arg::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Arg::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('v' | 'd', Arg::Int(i)) => i.to_string(),
        ('x', Arg::Int(i)) => format!("{}{:x}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('X', Arg::Int(i)) => format!("{}{:X}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('q', Arg::Int(i)) => quote_rune(*i),
        ('c', Arg::Int(i)) => u32::try_from(*i)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
            .to_string(),
        ('v', Arg::Float(f)) => go_float(*f),
        ('g', Arg::Float(f)) => go_g(*f, prec),
        ('G', Arg::Float(f)) => go_g(*f, prec).replace('e', "E"),
        ('e', Arg::Float(f)) => go_e(*f, prec.unwrap_or(6)),
        ('E', Arg::Float(f)) => go_e(*f, prec.unwrap_or(6)).replace('e', "E"),
        ('v', Arg::Nil) => "<nil>".into(),
        ('f' | 'F', Arg::Float(f)) => {
            if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if *f > 0.0 { "+Inf" } else { "-Inf" }.into()
            } else {
                format!("{:.*}", prec.unwrap_or(6), f)
            }
        }
        ('v' | 't', Arg::Bool(b)) => b.to_string(),
        ('v' | 's', Arg::Other(s)) => s.clone(),
        (_, Arg::Nil) => format!("%!{verb}(<nil>)"),
        (_, a) => {
            let (kind, v) = match a {
                Arg::Str(s) => ("string", s.to_string()),
                // Go applies the precision (minimum digits) to the wrongly formatted int.
                Arg::Int(i) => ("int", format!("{i:0w$}", w = prec.unwrap_or(0))),
                Arg::Nil => ("", String::new()),
                Arg::Float(f) => ("float64", go_float(*f)),
                Arg::Bool(b) => ("bool", b.to_string()),
                Arg::Other(s) => ("interface {}", s.clone()),
            };
            format!("%!{verb}({kind}={v})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        for (v, want) in [
            (1e6, "1e+06"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
            (1e21, "1e+21"),
        ] {
            assert_eq!(go_float(v), want, "{v}");
        }
    }

    #[test]
    fn printf_verbs() {
        let f = |fmt: &str, a: &[Arg]| sprintf(fmt, a);
        assert_eq!(f("%.2f", &[Arg::Float(3.14259)]), "3.14");
        assert_eq!(f("%d%%", &[Arg::Int(42)]), "42%");
        assert_eq!(f("%s=%q", &[Arg::Str("a"), Arg::Str("b\"")]), "a=\"b\\\"\"");
        assert_eq!(f("%v", &[Arg::Float(1e6)]), "1e+06");
        assert_eq!(f("%.3g", &[Arg::Float(1234.5)]), "1.23e+03");
        assert_eq!(
            f("%5.1f|%-4d|", &[Arg::Float(2.25), Arg::Int(7)]),
            "  2.2|7   |"
        );
        assert_eq!(f("%d", &[Arg::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%s", &[]), "%!s(MISSING)");
        assert_eq!(f("%e", &[Arg::Float(1234.5678)]), "1.234568e+03");
    }

    #[test]
    fn humanize_like_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0012), "1.2m");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(12.0), "12");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(1.0), "1");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(3.5), "3.5s");
        assert_eq!(humanize_duration(0.0025), "2.5ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(
            humanize_timestamp(1435065584.128),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(humanize_timestamp(0.0), "1970-01-01 00:00:00 +0000 UTC");
    }
}
