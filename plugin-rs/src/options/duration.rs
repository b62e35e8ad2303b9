//! Durations as Go's `time.ParseDuration` reads them and `Duration.String`
//! writes them: the Corefile's durations were Go's before the core owned
//! them, and a value that CoreDNS's other plugins take must mean the same
//! here, down to the nanosecond and the overflow.
//!
//! A duration is a sequence of decimal numbers, each with an optional
//! fraction and a unit (`ns`, `us` or `µs`, `ms`, `s`, `m`, `h`), with an
//! optional sign in front: `300ms`, `1.5h`, `2h45m`. A number without a
//! unit is refused, except `0`.

use std::fmt;

/// Nanoseconds, signed, as Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1000 * NANOSECOND;
const MILLISECOND: u64 = 1000 * MICROSECOND;
const SECOND: u64 = 1000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Largest magnitude the sum may reach: 2^63 (the negative extreme).
const LIMIT: u64 = 1 << 63;

impl Duration {
    pub const fn from_secs(s: i64) -> Duration {
        Duration(s * SECOND as i64)
    }

    pub const fn from_millis(ms: i64) -> Duration {
        Duration(ms * MILLISECOND as i64)
    }

    /// Nanoseconds, for a duration known not to be negative.
    pub fn nanos(self) -> u64 {
        self.0.max(0) as u64
    }

    /// Reads a duration; the error says what is wrong with the text.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let (negative, mut rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "0" {
            return Ok(Duration(0));
        }
        if rest.is_empty() {
            return Err("invalid duration".into());
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let (value, after) = term(rest)?;
            rest = after;
            total = total.checked_add(value).filter(|t| *t <= LIMIT).ok_or("invalid duration: too large")?;
        }
        if negative {
            return Ok(Duration((total as i64).wrapping_neg()));
        }
        i64::try_from(total).map(Duration).map_err(|_| "invalid duration: too large".into())
    }
}

/// One `<number>[.<fraction>]<unit>` term: its nanoseconds and the rest.
fn term(text: &str) -> Result<(u64, &str), String> {
    let starts_number = text.starts_with(|c: char| c == '.' || c.is_ascii_digit());
    if !starts_number {
        return Err("invalid duration".into());
    }
    let (whole, rest) = leading_int(text)?;
    let had_whole = rest.len() != text.len();
    let (fraction, scale, rest, had_fraction) = match rest.strip_prefix('.') {
        Some(after) => {
            let (f, scale, rest) = leading_fraction(after);
            (f, scale, rest, rest.len() != after.len())
        }
        None => (0, 1.0, rest, false),
    };
    if !had_whole && !had_fraction {
        return Err("invalid duration".into());
    }
    let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
    if unit_len == 0 {
        return Err("missing unit in duration".into());
    }
    let (unit, rest) = rest.split_at(unit_len);
    let unit = unit_nanos(unit).ok_or_else(|| format!("unknown unit {unit:?} in duration"))?;
    if whole > LIMIT / unit {
        return Err("invalid duration: too large".into());
    }
    let mut value = whole * unit;
    if fraction > 0 {
        // Floating point, as Go does: exact to the nanosecond for any
        // fraction of the largest unit.
        value += (fraction as f64 * (unit as f64 / scale)) as u64;
        if value > LIMIT {
            return Err("invalid duration: too large".into());
        }
    }
    Ok((value, rest))
}

/// Leading decimal digits as an integer, refusing overflow past 2^63.
fn leading_int(text: &str) -> Result<(u64, &str), String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for b in text[..digits].bytes() {
        if x > LIMIT / 10 {
            return Err("invalid duration: too large".into());
        }
        x = x * 10 + u64::from(b - b'0');
        if x > LIMIT {
            return Err("invalid duration: too large".into());
        }
    }
    Ok((x, &text[digits..]))
}

/// Leading digits of a fraction: their value, the power of ten they are
/// over, and the rest. Digits past what fits are dropped, not refused.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1.0f64, false);
    for b in text[..digits].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &text[digits..])
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        // U+00B5 (micro sign) and U+03BC (Greek mu), as Go takes both.
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

impl fmt::Display for Duration {
    /// Go's form: `1h2m3.5s`, `1m0s`, `1.5ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut u = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        if u < SECOND {
            let (unit, precision) = match u {
                0 => return f.write_str("0s"),
                _ if u < MICROSECOND => ("ns", 0),
                _ if u < MILLISECOND => ("\u{b5}s", 3),
                _ => ("ms", 6),
            };
            let (whole, fraction) = split_fraction(u, precision);
            return write!(f, "{sign}{whole}{fraction}{unit}");
        }
        let (seconds, fraction) = split_fraction(u, 9);
        u = seconds;
        let (hours, minutes, seconds) = (u / 3600, u / 60 % 60, u % 60);
        if hours > 0 {
            write!(f, "{sign}{hours}h{minutes}m{seconds}{fraction}s")
        } else if u >= 60 {
            write!(f, "{sign}{minutes}m{seconds}{fraction}s")
        } else {
            write!(f, "{sign}{seconds}{fraction}s")
        }
    }
}

/// Splits `v` into `v / 10^precision` and its fraction written as `.ddd`
/// without trailing zeros (empty when zero).
fn split_fraction(v: u64, precision: u32) -> (u64, String) {
    let power = 10u64.pow(precision);
    let fraction = v % power;
    if fraction == 0 {
        return (v / power, String::new());
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    (v / power, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("5s", 5 * SECOND as i64),
            ("300ms", 300 * MILLISECOND as i64),
            ("1.5h", 90 * MINUTE as i64),
            ("2h45m", (2 * HOUR + 45 * MINUTE) as i64),
            ("-1.5h", -(90 * MINUTE as i64)),
            ("+5s", 5 * SECOND as i64),
            ("1us", 1000),
            ("1\u{b5}s", 1000),
            ("1\u{3bc}s", 1000),
            ("3ns", 3),
            (".5s", 500 * MILLISECOND as i64),
            ("5.s", 5 * SECOND as i64),
            ("1h1m1s1ms1us1ns", (HOUR + MINUTE + SECOND + MILLISECOND + MICROSECOND + 1) as i64),
            ("0.000000001s", 1),
            ("0.1234567891s", 123_456_789),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("2562047h47m16.854775807s", i64::MAX),
        ];
        for (text, want) in cases {
            assert_eq!(Duration::parse(text), Ok(Duration(*want)), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "",
            "-",
            "5",
            "00",
            "1.5",
            ".s",
            "-.s",
            "s",
            "5 s",
            " 5s",
            "5x",
            "5S",
            "1sm",
            "1e3s",
            "9223372036854775808ns",
            "2562048h",
            "9223372036854775807ns1ns",
            "abc",
        ] {
            assert!(Duration::parse(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn writes_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (MILLISECOND as i64, "1ms"),
            (SECOND as i64, "1s"),
            (1_500_000_000, "1.5s"),
            (MINUTE as i64, "1m0s"),
            (2 * HOUR as i64, "2h0m0s"),
            ((HOUR + 2 * MINUTE + 3 * SECOND) as i64 + 4_000_000, "1h2m3.004s"),
            (-(SECOND as i64), "-1s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(Duration(*nanos).to_string(), *want, "{nanos}");
        }
    }
}
