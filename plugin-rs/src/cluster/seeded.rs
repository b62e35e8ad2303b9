//! Hash tables keyed with a seed from the host: names come from cluster
//! users, and fixed keys (all wasm32-unknown-unknown offers) would let
//! them choose colliding names.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

/// SipHash-1-3 with keys derived from the host's seed.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    k0: u64,
    k1: u64,
}

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded { k0: seed, k1: seed.rotate_left(29) ^ 0x6b75_6265_726e_6574 }
    }
}

impl BuildHasher for Seeded {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

pub type Map<K, V> = HashMap<K, V, Seeded>;
pub type Set<T> = HashSet<T, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_key_the_hash() {
        assert_ne!(Seeded::new(1).hash_one("web"), Seeded::new(2).hash_one("web"));
    }
}
