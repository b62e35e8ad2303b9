//! Reading an option's arguments: how many it takes, and numbers as the
//! Corefile's Go readers took them.

use crate::contract::Property;

/// An option that takes no arguments.
pub fn flag(p: &Property) -> Result<(), String> {
    if p.args.is_empty() { Ok(()) } else { Err(format!("takes no arguments, got {:?}", p.args.join(" "))) }
}

/// An option that takes exactly one argument.
pub fn one(p: &Property) -> Result<&str, String> {
    match p.args.as_slice() {
        [value] => Ok(value),
        [] => Err("needs a value: takes one value, got 0".into()),
        _ => Err(format!("takes one value, got {}: {:?}", p.args.len(), p.args.join(" "))),
    }
}

/// Go's strconv.Atoi (ports, and the kubernetes plugin's `ttl`): an
/// optional sign and decimal digits.
pub fn go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An integer argument of at least `min` that fits a u32.
pub fn count(p: &Property, min: u32) -> Result<u32, String> {
    let v = one(p)?;
    let n = go_int(v).filter(|n| *n >= i64::from(min)).ok_or_else(|| format!("{v:?} is not an integer >= {min}"))?;
    u32::try_from(n).map_err(|_| format!("{v:?} is out of range: at most {}", u32::MAX))
}
