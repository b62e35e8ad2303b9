//! Memory sizes (`wasm_memory`): a number of bytes, or a number with a
//! binary suffix `Ki`, `Mi`, `Gi` (optionally followed by `B`: `64Mi`,
//! `256MiB`) or a decimal one `K`, `M`, `G` (powers of 1000, as Kubernetes
//! quantities read them), or `B` alone.

/// Suffixes and their factors, longest first so that `MiB` is not read as
/// `B` after `Mi`.
const UNITS: [(&str, u64); 13] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("K", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("B", 1),
];

/// Reads a size in bytes and checks it lies in `min..=max`.
pub fn parse(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let (number, factor) =
        UNITS.iter().find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor))).unwrap_or((text, 1));
    let not_a_size = || format!("{text:?} is not a size such as 64Mi or 256MiB");
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_size());
    }
    let n: u64 = number.parse().map_err(|_| not_a_size())?;
    match n.checked_mul(factor) {
        Some(bytes) if (min..=max).contains(&bytes) => Ok(bytes),
        _ => Err(format!("{text:?} is out of range: want between {} and {}", show(min), show(max))),
    }
}

/// A size with the largest binary suffix that divides it.
fn show(bytes: u64) -> String {
    let unit = UNITS[3..6].iter().rev().find(|(_, factor)| bytes > 0 && bytes.is_multiple_of(*factor));
    match unit {
        Some((suffix, factor)) => format!("{}{suffix}", bytes / factor),
        None => bytes.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 4 << 20;
    const MAX: u64 = 4 << 30;

    fn size(text: &str) -> Result<u64, String> {
        parse(text, MIN, MAX)
    }

    #[test]
    fn sizes() {
        let cases: &[(&str, u64)] = &[
            ("4194304", MIN),
            ("64Mi", 64 << 20),
            ("256MiB", 256 << 20),
            ("4Gi", MAX),
            ("4GiB", MAX),
            ("4096Ki", MIN),
            ("4096KiB", MIN),
            ("5M", 5_000_000),
            ("5MB", 5_000_000),
            ("1G", 1_000_000_000),
            ("4200K", 4_200_000),
            ("4200KB", 4_200_000),
            ("4194304B", MIN),
        ];
        for (text, want) in cases {
            assert_eq!(size(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn bounds_are_written_with_binary_suffixes() {
        assert_eq!([show(MIN), show(MAX), show(3072), show(1000), show(0)], ["4Mi", "4Gi", "3Ki", "1000", "0"]);
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, &str)] = &[
            ("lots", "\"lots\" is not a size such as 64Mi or 256MiB"),
            ("64Xi", "\"64Xi\" is not a size"),
            ("-1Mi", "\"-1Mi\" is not a size"),
            ("+8Mi", "\"+8Mi\" is not a size"),
            ("Mi", "\"Mi\" is not a size"),
            ("", "\"\" is not a size"),
            ("1.5Gi", "\"1.5Gi\" is not a size"),
            ("8 Mi", "\"8 Mi\" is not a size"),
            ("99999999999999999999999", "is not a size"),
            ("1Mi", "\"1Mi\" is out of range: want between 4Mi and 4Gi"),
            ("5Gi", "\"5Gi\" is out of range"),
            ("4294967297", "is out of range"),
            ("99999999999999999Gi", "\"99999999999999999Gi\" is out of range"),
            ("0", "\"0\" is out of range"),
        ];
        for (text, want) in cases {
            let err = size(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
