//! A small seeded generator and the mutations the fuzz targets apply.

/// SplitMix64: small, fast, and the same sequence for the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Octets and runs that wire formats treat specially.
const SPECIAL: &[&[u8]] = &[
    &[0],
    &[0xFF],
    &[0xC0, 0x0C],
    &[0xC0],
    &[0x3F],
    &[0x40],
    &[0x80],
    &[0xFF, 0xFF],
    &[0, 0, 0, 0],
    &[0x7F, 0xFF, 0xFF, 0xFF],
    b"\x01*",
];

/// Text that object JSON and Corefile values treat specially.
pub const TOKENS: &[&str] = &[
    "",
    "None",
    "0",
    "-1",
    "65536",
    "4294967296",
    "1e400",
    "0.5",
    "::",
    "fd00::",
    "::ffff:10.0.0.1",
    "10.0.0.256",
    "10.0.0.0/33",
    "255.255.255.255",
    "*",
    ".",
    "..",
    "a..b",
    "xn--bcher-kva",
    "_http._tcp",
    "\\\\",
    "\\u0000",
    "é",
    "-",
    "1h1h",
    "-5s",
    "9999999999h",
    "0s",
    "1Mi",
    "0Mi",
    "99999999999999Gi",
    "app in (web",
    "app!=web",
    "!app",
    "a=b,c in (d,e)",
    "http://[::1",
    "https://127.0.0.1:0",
    "ExternalName",
    "Headless",
    "IPv6",
    "FQDN",
    "Running",
    "Succeeded",
    "true",
    "null",
    "{}",
    "[]",
];

/// A long label and a long name, as tokens.
fn long_token(rng: &mut Rng) -> String {
    let label = "x".repeat(1 + rng.below(70));
    if rng.chance(2) { label } else { vec![label; 1 + rng.below(6)].join(".") }
}

pub fn token(rng: &mut Rng) -> String {
    if rng.chance(6) { long_token(rng) } else { rng.pick(TOKENS).to_string() }
}

/// One to four byte-level changes: flips, overwrites, inserts, deletions,
/// repeated or cut runs, special octets, and splices from `other`.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        let at = if len == 0 { 0 } else { rng.below(len) };
        match rng.below(9) {
            0 if len > 0 => data[at] ^= 1 << rng.below(8),
            1 if len > 0 => data[at] = rng.next() as u8,
            2 => data.insert(at, rng.next() as u8),
            3 if len > 0 => {
                let end = (at + 1 + rng.below(8)).min(len);
                data.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                let run = data[at..end].to_vec();
                data.splice(at..at, run);
            }
            5 => data.truncate(at),
            6 => {
                let special = rng.pick(SPECIAL);
                let end = (at + special.len()).min(len);
                data.splice(at..end, special.iter().copied());
            }
            7 if !other.is_empty() => {
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(32)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            _ if len > 1 => {
                let b = rng.below(len);
                data.swap(at, b);
            }
            _ => data.push(rng.next() as u8),
        }
    }
}

/// Replaces the contents of one JSON string or number in `json` with a
/// token, so that most mutants still parse and reach the code past it.
pub fn json_value(rng: &mut Rng, json: &str) -> String {
    let quotes: Vec<usize> = json.match_indices('"').map(|(i, _)| i).collect();
    if quotes.len() < 2 {
        return json.to_string();
    }
    let pair = rng.below(quotes.len() / 2) * 2;
    let (open, close) = (quotes[pair], quotes[pair + 1]);
    let replacement = token(rng).replace('"', "");
    format!("{}{}{}", &json[..=open], replacement, &json[close..])
}
