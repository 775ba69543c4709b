//! One pairing attempt: the SMP commands of both sides in capture order, the
//! method they select, the keys that can be recovered from them, and the
//! findings they give rise to.

use std::collections::HashMap;

use crate::analysis::findings::{Finding, Kind};
use crate::bytes::to_hex;
use crate::codec::ll::Address;
use crate::codec::smp::{PairingFeatures, SmpPdu, failure_reason, io_capability_name};
use crate::crack::{
    ConfirmSearch, EachTk, KnownBits, LegacyExchange, PasskeyRound, brute_force_tk, passkey_of,
    round_bits, tk_from_passkey,
};
use crate::crypto::{DEBUG_PRIVATE_KEY, DEBUG_PUBLIC_X, Key128, f5, f6, g2, p256_dhkey};
use crate::report::{self, DistributedKey, LearnedBits, Method, Outcome, PairingFailure, Role};

/// SMP command timeout (Vol 3 Part H §3.4).
pub const SMP_TIMEOUT_NS: i64 = 30_000_000_000;
/// Passkey entry runs one round per passkey bit.
const PASSKEY_ROUNDS: usize = 20;

fn index(role: Role) -> usize {
    match role {
        Role::Initiator => 0,
        Role::Responder => 1,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator (central)",
        Role::Responder => "responder (peripheral)",
    }
}

/// The association model of Vol 3 Part H §2.3.5.1 (Tables 2.6 to 2.8), with the
/// device that displays the passkey in passkey entry (None: both type it).
pub fn select_method(req: &PairingFeatures, rsp: &PairingFeatures) -> (Method, Option<Role>) {
    let sc = req.secure_connections() && rsp.secure_connections();
    let oob = if sc {
        req.oob || rsp.oob
    } else {
        req.oob && rsp.oob
    };
    if oob {
        return (Method::Oob, None);
    }
    if !req.mitm() && !rsp.mitm() {
        return (Method::JustWorks, None);
    }
    const DISPLAY_ONLY: u8 = 0;
    const DISPLAY_YES_NO: u8 = 1;
    const KEYBOARD_ONLY: u8 = 2;
    const KEYBOARD_DISPLAY: u8 = 4;
    let comparison_or = |legacy: (Method, Option<Role>)| {
        if sc {
            (Method::NumericComparison, None)
        } else {
            legacy
        }
    };
    let initiator_shows = (Method::PasskeyEntry, Some(Role::Initiator));
    let responder_shows = (Method::PasskeyEntry, Some(Role::Responder));
    match (req.io_capability, rsp.io_capability) {
        (DISPLAY_YES_NO, DISPLAY_YES_NO) => comparison_or((Method::JustWorks, None)),
        (DISPLAY_ONLY | DISPLAY_YES_NO, KEYBOARD_ONLY) | (DISPLAY_ONLY, KEYBOARD_DISPLAY) => {
            initiator_shows
        }
        (DISPLAY_YES_NO, KEYBOARD_DISPLAY) | (KEYBOARD_DISPLAY, KEYBOARD_DISPLAY) => {
            comparison_or(initiator_shows)
        }
        (KEYBOARD_ONLY, DISPLAY_ONLY | DISPLAY_YES_NO | KEYBOARD_DISPLAY)
        | (KEYBOARD_DISPLAY, DISPLAY_ONLY) => responder_shows,
        (KEYBOARD_DISPLAY, DISPLAY_YES_NO) => comparison_or(responder_shows),
        (KEYBOARD_ONLY, KEYBOARD_ONLY) => (Method::PasskeyEntry, None),
        (KEYBOARD_DISPLAY, KEYBOARD_ONLY) => initiator_shows,
        _ => (Method::JustWorks, None),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PublicKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
    pub packet: u64,
}

/// The first encrypted PDU after a legacy pairing, for checking a TK by its
/// MIC when the confirm values were not captured.
pub struct MicProbe<'a> {
    pub check: &'a (dyn Fn(&Key128) -> bool + Sync),
}

/// What the capture offers for key recovery beyond the SMP commands.
pub struct CrackContext<'a> {
    pub initiator: Option<Address>,
    pub responder: Option<Address>,
    /// Keys a host handed to its controller (HCI logs show them in the clear).
    pub controller_keys: &'a [Key128],
    pub mic_probe: Option<MicProbe<'a>>,
    pub brute_force: bool,
    /// TKs the user gave (most-significant octet first): checked instead of a
    /// brute force, and the only way to the keys of legacy OOB pairing.
    pub given_tks: &'a [Key128],
    /// TKs already found for identical exchanges: a capture that repeats a
    /// pairing (same commands, confirm and random values) is searched once.
    pub tk_cache: &'a mut HashMap<LegacyExchange, Option<u32>>,
    pub progress: &'a mut dyn FnMut(u64),
}

/// How a legacy pairing's TK was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TkFound {
    BruteForce,
    Given,
}

/// What proves a legacy TK candidate right.
enum TkProof<'c> {
    /// One side's confirm value and random: that side's TK.
    Confirm(Box<ConfirmSearch>, Role),
    /// The STK the host gave its controller (a host log): STK = s1(TK, Srand, Mrand).
    ControllerStk,
    /// The MIC of the first encrypted PDU under the STK.
    Mic(&'c MicProbe<'c>),
}

#[derive(Debug, Clone, Default)]
pub struct Recovered {
    /// Legacy pairing: the TK, how it was found, and when a confirm value
    /// proved it, whose: in a failed pairing the two sides may have used
    /// different TKs.
    pub tk: Option<(Key128, TkFound)>,
    pub tk_of: Option<Role>,
    /// TKs were given but none matches this pairing.
    pub given_tk_rejected: bool,
    /// Legacy OOB without a given TK: 128 bits of out-of-band data, not searched.
    pub oob_tk_needed: bool,
    pub stk: Option<Key128>,
    pub passkey: Option<u32>,
    pub passkey_rounds: usize,
    pub learned: Option<(Role, KnownBits)>,
    /// Passkey-entry rounds, before the last one recovered, whose bit is unknown.
    pub passkey_gaps: Vec<usize>,
    pub derived_ltk: Option<Key128>,
    /// Numeric comparison: the six digits both devices showed (g2 mod 10^6).
    pub numeric_comparison: Option<u32>,
}

/// The confirm and random values of one round, in the order they are sent in
/// every method: initiator's confirm, responder's confirm, initiator's random,
/// responder's random (legacy pairing and the Secure Connections methods other
/// than passkey entry run one round, some slots empty).
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    slots: [Option<(Key128, u64)>; 4],
}

impl Round {
    fn value(&self, slot: usize) -> Option<Key128> {
        self.slots[slot].map(|(value, _)| value)
    }
}

const INITIATOR_CONFIRM: usize = 0;
const RESPONDER_CONFIRM: usize = 1;
const INITIATOR_RANDOM: usize = 2;
const RESPONDER_RANDOM: usize = 3;

#[derive(Default)]
pub struct PairingLog {
    pub request: Option<(PairingFeatures, u64)>,
    pub response: Option<(PairingFeatures, u64)>,
    /// Rounds in order. A value goes into the current round unless that round
    /// already holds it or a value sent after it: then a new round has begun.
    /// So a packet the sniffer missed leaves a gap in its round, and the later
    /// rounds keep their numbers.
    rounds: Vec<Round>,
    public_keys: [Option<PublicKey>; 2],
    dhkey_checks: [Option<(Key128, u64)>; 2],
    pub failed: Option<(Role, u8, u64)>,
    failed_time_ns: i64,
    /// Who sent the last command, and the last key distributed (by whom, its code).
    last_sender: Option<Role>,
    last_key: Option<(Role, u8)>,
    pub distributed: Vec<DistributedKey>,
    pub first_packet: u64,
    pub last_packet: u64,
    pub last_time_ns: i64,
    /// Encryption started after the pairing's key generation.
    pub encrypted: bool,
    pub recovered: Option<Recovered>,
}

impl PairingLog {
    pub fn new(packet: u64, time_ns: i64) -> PairingLog {
        PairingLog {
            first_packet: packet,
            last_packet: packet,
            last_time_ns: time_ns,
            ..Default::default()
        }
    }

    /// Who sent an SMP command (by its code) in a log that does not record
    /// directions (LINKTYPE 187): the command and its place in the exchange say
    /// it (Vol 3 Part H §2.3, Appendix C). Request, public key and DHKey check
    /// come first from the initiator; in a round, the initiator's confirm and
    /// random come before the responder's (in Secure Connections Just Works and
    /// numeric comparison only the responder sends a confirm); the responder
    /// distributes its keys before the initiator, each in ascending code order;
    /// Pairing Failed answers the last command, so comes from the side that did
    /// not send it. Keypress notifications cannot be placed.
    pub fn sender_by_order(&self, code: u8) -> Option<Role> {
        use Role::{Initiator, Responder};
        let first_or_second =
            |first_sent: bool| Some(if first_sent { Responder } else { Initiator });
        let round = self.rounds.last();
        let filled = |slot: usize| round.is_some_and(|r| r.slots[slot].is_some());
        match code {
            0x01 => Some(Initiator),
            0x02 | 0x0b => Some(Responder),
            0x0c => first_or_second(self.public_keys[0].is_some()),
            0x0d => first_or_second(self.dhkey_checks[0].is_some()),
            0x03 => {
                let responder_only = self.secure_connections()
                    && matches!(
                        self.method(),
                        Some((Method::JustWorks | Method::NumericComparison, _))
                    );
                let answers = filled(INITIATOR_CONFIRM) && !(RESPONDER_CONFIRM..4).any(&filled);
                first_or_second(responder_only || answers)
            }
            0x04 => first_or_second(filled(INITIATOR_RANDOM) && !filled(RESPONDER_RANDOM)),
            0x05 => self.last_sender.map(other_role),
            0x06..=0x0a => Some(match self.last_key {
                Some((sender, last)) if code > last => sender,
                Some((sender, _)) => other_role(sender),
                None => {
                    // Key distribution bits EncKey (1), IdKey (2), SignKey (4); in
                    // Secure Connections the LTK is not sent, so EncKey gives no command.
                    let with_commands = if self.secure_connections() {
                        0b110
                    } else {
                        0b111
                    };
                    let responder_sends = self
                        .response
                        .is_some_and(|(rsp, _)| rsp.responder_keys & with_commands != 0);
                    if responder_sends {
                        Responder
                    } else {
                        Initiator
                    }
                }
            }),
            _ => None,
        }
    }

    /// Records one SMP command. Returns false when it belongs to a new pairing
    /// (a Pairing Request after this one began).
    pub fn record(&mut self, sender: Role, pdu: &SmpPdu, packet: u64, time_ns: i64) -> bool {
        let side = index(sender);
        match pdu {
            SmpPdu::PairingRequest(features) => {
                if self.request.is_some() {
                    return false;
                }
                self.request = Some((*features, packet));
            }
            SmpPdu::PairingResponse(features) => self.response = Some((*features, packet)),
            SmpPdu::PairingConfirm(value) => self.place(side, *value, packet),
            SmpPdu::PairingRandom(value) => self.place(2 + side, *value, packet),
            SmpPdu::PairingPublicKey { x, y } => {
                self.public_keys[side] = Some(PublicKey {
                    x: *x,
                    y: *y,
                    packet,
                })
            }
            SmpPdu::PairingDhKeyCheck(value) => self.dhkey_checks[side] = Some((*value, packet)),
            SmpPdu::PairingFailed { reason } => {
                self.failed = Some((sender, *reason, packet));
                self.failed_time_ns = time_ns;
            }
            SmpPdu::EncryptionInformation { ltk } => {
                self.distribute(sender, packet, "ltk", to_hex(ltk))
            }
            SmpPdu::CentralIdentification { ediv, rand } => self.distribute(
                sender,
                packet,
                "ediv_rand",
                format!("ediv {ediv:#06x} rand {}", to_hex(rand)),
            ),
            SmpPdu::IdentityInformation { irk } => {
                self.distribute(sender, packet, "irk", to_hex(irk))
            }
            SmpPdu::IdentityAddressInformation(address) => {
                self.distribute(sender, packet, "identity_address", address.to_string())
            }
            SmpPdu::SigningInformation { csrk } => {
                self.distribute(sender, packet, "csrk", to_hex(csrk))
            }
            SmpPdu::SecurityRequest { .. }
            | SmpPdu::KeypressNotification { .. }
            | SmpPdu::Unknown { .. } => {}
        }
        if let Some(code) = key_code(pdu) {
            self.last_key = Some((sender, code));
        }
        self.last_sender = Some(sender);
        self.last_packet = packet;
        self.last_time_ns = time_ns;
        true
    }

    fn place(&mut self, slot: usize, value: Key128, packet: u64) {
        let starts_round = self
            .rounds
            .last()
            .is_none_or(|round| round.slots[slot..].iter().any(Option::is_some));
        if starts_round {
            self.rounds.push(Round::default());
        }
        if let Some(round) = self.rounds.last_mut() {
            round.slots[slot] = Some((value, packet));
        }
    }

    /// The last value sent in `slot` of any round.
    fn last(&self, slot: usize) -> Option<(Key128, u64)> {
        self.rounds.iter().rev().find_map(|round| round.slots[slot])
    }

    fn distribute(&mut self, sent_by: Role, packet: u64, kind: &'static str, value: String) {
        self.distributed.push(DistributedKey {
            packet,
            sent_by,
            kind,
            value,
        });
    }

    pub fn features(&self) -> Option<(&PairingFeatures, &PairingFeatures)> {
        Some((&self.request.as_ref()?.0, &self.response.as_ref()?.0))
    }

    pub fn secure_connections(&self) -> bool {
        self.features()
            .is_some_and(|(req, rsp)| req.secure_connections() && rsp.secure_connections())
    }

    pub fn method(&self) -> Option<(Method, Option<Role>)> {
        self.features().map(|(req, rsp)| select_method(req, rsp))
    }

    /// Key generation ended: both randoms (legacy) or both DHKey checks (LESC) were sent.
    pub fn keys_generated(&self) -> bool {
        if self.secure_connections() {
            self.dhkey_checks.iter().all(Option::is_some)
        } else {
            self.last(INITIATOR_RANDOM).is_some() && self.last(RESPONDER_RANDOM).is_some()
        }
    }

    /// From the SMP and LL evidence, not from whether the analysis could decrypt:
    /// encryption started after the pairing, both DHKey checks sent (the responder
    /// sends Eb only once Ea checked out), or keys distributed after generation.
    pub fn outcome(&self) -> Outcome {
        let checks_passed = self.secure_connections() && self.keys_generated();
        if self.failed.is_some() {
            Outcome::Failed
        } else if self.encrypted
            || checks_passed
            || (self.keys_generated() && !self.distributed.is_empty())
        {
            Outcome::Completed
        } else {
            Outcome::Incomplete
        }
    }

    fn debug_key_roles(&self) -> Vec<Role> {
        [Role::Initiator, Role::Responder]
            .into_iter()
            .filter(|&role| self.public_keys[index(role)].is_some_and(|k| k.x == DEBUG_PUBLIC_X))
            .collect()
    }

    fn legacy_exchange(&self, ctx: &CrackContext<'_>) -> Option<LegacyExchange> {
        let (req, rsp) = self.features()?;
        let last = |slot| self.last(slot).map(|(value, _)| value);
        Some(LegacyExchange {
            preq: req.wire,
            pres: rsp.wire,
            initiator: ctx.initiator.map(|a| (a.bytes, a.random)),
            responder: ctx.responder.map(|a| (a.bytes, a.random)),
            mconfirm: last(INITIATOR_CONFIRM),
            sconfirm: last(RESPONDER_CONFIRM),
            mrand: last(INITIATOR_RANDOM),
            srand: last(RESPONDER_RANDOM),
        })
    }

    /// Recovers what the capture allows; the result is kept for the report.
    pub fn crack(&mut self, ctx: &mut CrackContext<'_>) -> &Recovered {
        if self.recovered.is_none() {
            let recovered = if self.secure_connections() {
                self.crack_secure_connections(ctx)
            } else {
                self.crack_legacy(ctx)
            };
            self.recovered = Some(recovered);
        }
        self.recovered.get_or_insert_with(Recovered::default)
    }

    fn crack_legacy(&self, ctx: &mut CrackContext<'_>) -> Recovered {
        let mut recovered = Recovered::default();
        let Some(exchange) = self.legacy_exchange(ctx) else {
            return recovered;
        };
        let randoms = exchange.mrand.is_some() && exchange.srand.is_some();
        let proof = if let Some((search, initiators)) = exchange.confirm_search() {
            let owner = if initiators {
                Role::Initiator
            } else {
                Role::Responder
            };
            Some(TkProof::Confirm(Box::new(search), owner))
        } else if randoms && !ctx.controller_keys.is_empty() {
            Some(TkProof::ControllerStk)
        } else if let (Some(probe), true) = (&ctx.mic_probe, randoms) {
            Some(TkProof::Mic(probe))
        } else {
            None
        };
        let proves = |tk: &Key128| match &proof {
            Some(TkProof::Confirm(search, _)) => search.matches(tk),
            Some(TkProof::ControllerStk) => exchange
                .stk(tk)
                .is_some_and(|stk| ctx.controller_keys.contains(&stk)),
            Some(TkProof::Mic(probe)) => exchange.stk(tk).is_some_and(|stk| (probe.check)(&stk)),
            None => false,
        };
        let oob = self
            .method()
            .is_some_and(|(method, _)| method == Method::Oob);
        if !ctx.given_tks.is_empty() {
            // A given TK is taken as it is only where nothing in the capture can check it.
            let found = match proof {
                Some(_) => ctx.given_tks.iter().find(|tk| proves(tk)),
                None => ctx.given_tks.first(),
            };
            recovered.tk = found.map(|&tk| (tk, TkFound::Given));
            recovered.given_tk_rejected = found.is_none();
        } else if oob {
            recovered.oob_tk_needed = true;
        } else if ctx.brute_force {
            let progress = &mut *ctx.progress;
            let passkey = match &proof {
                Some(TkProof::Confirm(search, _)) => *ctx
                    .tk_cache
                    .entry(exchange.clone())
                    .or_insert_with(|| brute_force_tk(search.as_ref(), progress)),
                Some(_) => brute_force_tk(&EachTk(proves), progress),
                None => None,
            };
            recovered.tk = passkey.map(|p| (tk_from_passkey(p), TkFound::BruteForce));
        }
        if let (Some(_), Some(TkProof::Confirm(_, owner))) = (recovered.tk, &proof) {
            recovered.tk_of = Some(*owner);
        }
        recovered.stk = recovered.tk.and_then(|(tk, _)| exchange.stk(&tk));
        recovered
    }

    fn passkey_rounds(&self) -> impl Iterator<Item = PasskeyRound> + '_ {
        self.rounds
            .iter()
            .take(PASSKEY_ROUNDS)
            .map(|round| PasskeyRound {
                ca: round.value(INITIATOR_CONFIRM),
                cb: round.value(RESPONDER_CONFIRM),
                na: round.value(INITIATOR_RANDOM),
                nb: round.value(RESPONDER_RANDOM),
            })
    }

    fn crack_secure_connections(&self, ctx: &CrackContext<'_>) -> Recovered {
        let mut recovered = Recovered::default();
        let (Some(pka), Some(pkb)) = (self.public_keys[0], self.public_keys[1]) else {
            return recovered;
        };
        let method = self.method().map(|(m, _)| m);
        if method == Some(Method::PasskeyEntry) {
            self.recover_passkey(&pka.x, &pkb.x, &mut recovered);
        }
        // The DHKey is computable when one side used the debug key.
        let dhkey = if pka.x == DEBUG_PUBLIC_X {
            p256_dhkey(&DEBUG_PRIVATE_KEY, &pkb.x, &pkb.y).ok()
        } else if pkb.x == DEBUG_PUBLIC_X {
            p256_dhkey(&DEBUG_PRIVATE_KEY, &pka.x, &pka.y).ok()
        } else {
            None
        };
        let (Some((na, _)), Some((nb, _))) =
            (self.last(INITIATOR_RANDOM), self.last(RESPONDER_RANDOM))
        else {
            return recovered;
        };
        if method == Some(Method::NumericComparison) {
            recovered.numeric_comparison = Some(g2(&pka.x, &pkb.x, &na, &nb) % 1_000_000);
        }
        let (Some(dhkey), Some(a), Some(b)) = (dhkey, ctx.initiator, ctx.responder) else {
            return recovered;
        };
        let (mac_key, ltk) = f5(&dhkey, &na, &nb, &a.typed(), &b.typed());
        let Some((req, rsp)) = self.features() else {
            return recovered;
        };
        // Ea = f6(MacKey, Na, Nb, rb, IOcapA, A, B) and Eb = f6(MacKey, Nb, Na, ra,
        // IOcapB, B, A) confirm the derivation where the capture has them and r is
        // known: the passkey in passkey entry, 0 in Just Works and numeric
        // comparison, and in OOB 0 on the side that received no OOB data (its
        // OOB flag clear). An OOB random sent out of band is not on the air, and
        // the LTK does not depend on it.
        let passkey_r = tk_from_passkey(recovered.passkey.unwrap_or(0));
        let (ra, rb) = match method {
            Some(Method::Oob) => (
                (!rsp.oob).then_some([0u8; 16]),
                (!req.oob).then_some([0u8; 16]),
            ),
            _ => (Some(passkey_r), Some(passkey_r)),
        };
        let ea_holds = match (self.dhkey_checks[0], rb) {
            (Some((ea, _)), Some(rb)) => Some(
                f6(
                    &mac_key,
                    &na,
                    &nb,
                    &rb,
                    &req.f6_io_cap(),
                    &a.typed(),
                    &b.typed(),
                ) == ea,
            ),
            _ => None,
        };
        let eb_holds = match (self.dhkey_checks[1], ra) {
            (Some((eb, _)), Some(ra)) => Some(
                f6(
                    &mac_key,
                    &nb,
                    &na,
                    &ra,
                    &rsp.f6_io_cap(),
                    &b.typed(),
                    &a.typed(),
                ) == eb,
            ),
            _ => None,
        };
        let confirmed = match (ea_holds, eb_holds) {
            (None, None) => true,
            (ea, eb) => ea == Some(true) || eb == Some(true),
        };
        if confirmed {
            recovered.derived_ltk = Some(ltk);
        }
        recovered
    }

    /// Passive passkey recovery, or the bits a failed attempt gave away. Each
    /// round's bit comes from either side's confirm and random; a round the
    /// pairing went past proves both sides committed to the same bit, so one
    /// side's pair is enough there. A round with neither pair is a gap.
    fn recover_passkey(&self, pka_x: &[u8; 32], pkb_x: &[u8; 32], recovered: &mut Recovered) {
        let shown_by = self
            .method()
            .and_then(|(_, shown)| shown)
            .unwrap_or(Role::Responder);
        let rounds: Vec<PasskeyRound> = self.passkey_rounds().collect();
        let went_on =
            |i: usize| i + 1 < rounds.len() || self.dhkey_checks.iter().any(Option::is_some);
        let mut known = KnownBits { mask: 0, value: 0 };
        let mut last_known = 0;
        for (i, round) in rounds.iter().enumerate() {
            let bits = round_bits(pka_x, pkb_x, round);
            let bit = match (bits.initiator, bits.responder) {
                (Some(a), Some(b)) if a == b => Some(a),
                (Some(_), Some(_)) => None,
                (Some(revealed), None) | (None, Some(revealed)) if went_on(i) => Some(revealed),
                // The round stopped half-way: the failure says whether the revealed bit was right.
                (Some(revealed), None) | (None, Some(revealed)) => {
                    self.bit_from_failure(shown_by, bits, revealed)
                }
                (None, None) => None,
            };
            if let Some(bit) = bit {
                known.mask |= 1 << i;
                known.value |= u32::from(bit) << i;
                last_known = i + 1;
            }
        }
        recovered.passkey_rounds = known.count() as usize;
        let all = (1u32 << PASSKEY_ROUNDS) - 1;
        if known.mask == all && known.value < 1_000_000 {
            recovered.passkey = Some(known.value);
        } else if known.mask != 0 {
            recovered.learned = Some((shown_by, known));
        }
        recovered.passkey_gaps = (0..last_known)
            .filter(|i| known.mask & (1 << i) == 0)
            .collect();
    }

    /// In an unfinished round only one nonce was revealed. A Confirm Value Failed
    /// from the other side means that side's bit differs from the revealed one.
    fn bit_from_failure(
        &self,
        owner: Role,
        bits: crate::crack::RoundBits,
        revealed: u8,
    ) -> Option<u8> {
        let revealed_by = if bits.initiator.is_some() {
            Role::Initiator
        } else {
            Role::Responder
        };
        let (failed_by, reason, _) = self.failed?;
        const CONFIRM_VALUE_FAILED: u8 = 0x04;
        if reason != CONFIRM_VALUE_FAILED || failed_by == revealed_by {
            return None;
        }
        Some(if revealed_by == owner {
            revealed
        } else {
            revealed ^ 1
        })
    }

    pub fn report(&self) -> report::Pairing {
        let method = self.method();
        let recovered = self.recovered.clone().unwrap_or_default();
        let (req, rsp) = match self.features() {
            Some((req, rsp)) => (Some(req), Some(rsp)),
            None => (self.request.as_ref().map(|r| &r.0), None),
        };
        report::Pairing {
            first_packet: self.first_packet,
            last_packet: self.last_packet,
            secure_connections: self.secure_connections(),
            method: method.map(|(m, _)| m),
            passkey_shown_by: method.and_then(|(_, shown)| shown),
            initiator_io: req.map(|f| io_capability_name(f.io_capability)),
            responder_io: rsp.map(|f| io_capability_name(f.io_capability)),
            bonding: req.is_some_and(PairingFeatures::bonding)
                && rsp.is_some_and(PairingFeatures::bonding),
            outcome: self.outcome(),
            failure: self.failed.map(|(sent_by, reason, packet)| PairingFailure {
                packet,
                sent_by,
                reason,
                reason_text: failure_reason(reason),
            }),
            debug_key: self.debug_key_roles(),
            passkey: recovered.passkey.map(|p| format!("{p:06}")),
            passkey_rounds: recovered.passkey_rounds,
            learned_bits: recovered.learned.map(|(owner, bits)| LearnedBits {
                owner,
                count: bits.count(),
                mask: bits.mask,
                value: bits.value,
                candidates: bits.candidates(),
            }),
            passkey_gaps: recovered.passkey_gaps.clone(),
            numeric_comparison: recovered.numeric_comparison.map(|v| format!("{v:06}")),
            tk: recovered
                .tk
                .and_then(|(tk, _)| passkey_of(&tk))
                .map(|p| format!("{p:06}")),
            tk_hex: recovered.tk.map(|(tk, _)| to_hex(&tk)),
            tk_source: recovered.tk.map(|(_, found)| match found {
                TkFound::BruteForce => "brute force",
                TkFound::Given => "--tk",
            }),
            tk_of: recovered.tk_of,
            given_tk_rejected: recovered.given_tk_rejected,
            oob_tk_needed: recovered.oob_tk_needed,
            stk: recovered.stk.map(|k| to_hex(&k)),
            derived_ltk: recovered.derived_ltk.map(|k| to_hex(&k)),
            distributed: self.distributed.clone(),
        }
    }

    /// Findings about this pairing. `disconnect` is the link's end (packet,
    /// reason, time) and `link_end_ns` the time of its last packet.
    pub fn findings(
        &self,
        connection: usize,
        disconnect: Option<(u64, u8, i64)>,
        link_end_ns: i64,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let id = Some(connection);
        let outcome = self.outcome();
        const CONNECTION_TIMEOUT: u8 = 0x08;
        let link_lost = disconnect.filter(|&(_, reason, _)| reason == CONNECTION_TIMEOUT);
        match (self.failed, link_lost) {
            (None, Some((packet, _, _))) if outcome != Outcome::Completed => {
                let mut packets = vec![self.last_packet, packet];
                packets.dedup();
                out.push(Finding::new(
                    Kind::LinkLostDuringPairing,
                    id,
                    packets,
                    "the link dropped with reason 0x08 (Connection Timeout) while pairing was under way, and no Pairing Failed was sent on it: a device that reports an \"unspecified\" pairing failure reports the lost link, not a rejected key".into(),
                ));
            }
            (Some((sender, reason, packet)), loss) => {
                out.push(
                    Finding::new(
                        Kind::PairingFailed,
                        id,
                        vec![packet],
                        format!(
                            "the {} sent Pairing Failed, reason {reason:#04x}: {}",
                            role_name(sender),
                            failure_reason(reason)
                        ),
                    )
                    .with_advice(failure_advice(reason)),
                );
                if let Some((loss_packet, _, loss_ns)) = loss {
                    out.push(self.loss_after_failure(
                        connection,
                        (sender, reason, packet),
                        (loss_packet, loss_ns),
                    ));
                }
            }
            (None, _) => {
                let idle_until = disconnect
                    .map_or(link_end_ns, |(_, _, t)| t)
                    .max(link_end_ns);
                if outcome == Outcome::Incomplete
                    && idle_until.saturating_sub(self.last_time_ns) >= SMP_TIMEOUT_NS
                {
                    out.push(Finding::new(
                        Kind::SmpTimeout,
                        id,
                        vec![self.last_packet],
                        format!(
                            "no SMP command followed packet {} for {:.1} s while the link stayed up",
                            self.last_packet,
                            (idle_until.saturating_sub(self.last_time_ns)) as f64 / 1e9
                        ),
                    ));
                }
            }
        }
        let Some((method, shown_by)) = self.method() else {
            return out;
        };
        let sc = self.secure_connections();
        let request_packet = self.request.map_or(self.first_packet, |(_, p)| p);
        let response_packet = self.response.map_or(self.first_packet, |(_, p)| p);
        if method == Method::JustWorks {
            out.push(Finding::new(
                Kind::JustWorks,
                id,
                vec![request_packet, response_packet],
                format!(
                    "{} Just Works pairing: the IO capabilities or MITM flags of the two devices leave nothing to compare or enter",
                    if sc { "LE Secure Connections" } else { "legacy" }
                ),
            ));
        }
        if !sc {
            out.push(Finding::new(
                Kind::LegacyPairing,
                id,
                vec![request_packet, response_packet],
                "the devices paired with LE legacy pairing (at least one did not set the Secure Connections flag)".into(),
            ));
        }
        for role in self.debug_key_roles() {
            let packet = self.public_keys[index(role)].map_or(self.first_packet, |k| k.packet);
            out.push(Finding::new(
                Kind::DebugKey,
                id,
                vec![packet],
                format!("the {} sent the SMP debug public key", role_name(role)),
            ));
        }
        let Some(recovered) = &self.recovered else {
            return out;
        };
        let owner = shown_by.unwrap_or(Role::Responder);
        if let Some(passkey) = recovered.passkey {
            out.push(Finding::new(
                Kind::PasskeyRecovered,
                id,
                self.round_packets(),
                format!(
                    "passkey {passkey:06} recovered from the {} passkey-entry rounds; it is the {}'s passkey{}",
                    PASSKEY_ROUNDS,
                    role_name(owner),
                    if shown_by.is_some() { ", which is now public if it is static" } else { "" }
                ),
            ));
        }
        if let Some((owner, bits)) = recovered.learned {
            out.push(Finding::new(
                Kind::PasskeyBitsLeaked,
                id,
                self.round_packets(),
                format!(
                    "{} {} of the {}'s passkey: {} (binary, bit 0 last); {} of the 1,000,000 passkeys remain possible",
                    if self.failed.is_some() { "the failed attempt revealed" } else { "the capture shows" },
                    bits.describe(),
                    role_name(owner),
                    bits.pattern(),
                    bits.candidates(),
                ),
            ));
        }
        if let Some((tk, TkFound::BruteForce)) = recovered.tk {
            let tk = passkey_of(&tk).map_or_else(|| to_hex(&tk), |p| format!("{p:06}"));
            let stk = recovered
                .stk
                .map(|k| format!("; STK {}", to_hex(&k)))
                .unwrap_or_default();
            out.push(Finding::new(
                Kind::LegacyKeysRecovered,
                id,
                vec![request_packet],
                format!(
                    "TK {tk} recovered by brute force{stk}{}",
                    self.whose_tk(&tk, shown_by)
                ),
            ));
        }
        out
    }

    /// In a failed pairing the TK found is the one the side whose Pairing
    /// Confirm proved it used: not necessarily the other side's passkey.
    fn whose_tk(&self, tk: &str, shown_by: Option<Role>) -> String {
        let (Some(recovered), Some((failed_by, reason, packet))) = (&self.recovered, self.failed)
        else {
            return String::new();
        };
        let Some(owner) = recovered.tk_of else {
            return String::new();
        };
        let other = other_role(owner);
        let used = if shown_by == Some(owner) {
            "displayed"
        } else {
            "entered"
        };
        let mut text = format!(
            ". The pairing failed: its confirm values prove only what the {} {used} ({tk}), not the {}'s passkey",
            role_name(owner),
            role_name(other)
        );
        if failed_by == other {
            let theirs = if shown_by == Some(other) {
                "displayed"
            } else {
                "entered"
            };
            text += &format!(
                "; the {} rejected it with Pairing Failed (packet {packet}, reason {reason:#04x} {}), so the passkey it {theirs} is another value, which this capture does not show",
                role_name(other),
                failure_reason(reason)
            );
        }
        text
    }

    /// A Pairing Failed on the link and a loss of the link: separate events,
    /// which came first and how far apart.
    fn loss_after_failure(
        &self,
        connection: usize,
        (sender, reason, packet): (Role, u8, u64),
        (loss_packet, loss_ns): (u64, i64),
    ) -> Finding {
        let gap = (loss_ns - self.failed_time_ns).unsigned_abs() as f64 / 1e9;
        let order = if loss_ns >= self.failed_time_ns {
            format!(
                "{gap:.2} s after the {}'s Pairing Failed (packet {packet}, reason {reason:#04x}): the pairing had already failed, so the loss did not cause it",
                role_name(sender)
            )
        } else {
            format!(
                "{gap:.2} s before the {}'s Pairing Failed (packet {packet}, reason {reason:#04x})",
                role_name(sender)
            )
        };
        let mut packets = vec![packet, loss_packet];
        packets.sort_unstable();
        packets.dedup();
        Finding::new(
            Kind::ConnectionTimeout,
            Some(connection),
            packets,
            format!("the link was lost with reason 0x08 (Connection Timeout) {order}"),
        )
    }

    fn round_packets(&self) -> Vec<u64> {
        let mut packets: Vec<u64> = self
            .rounds
            .iter()
            .flat_map(|round| round.slots.iter().flatten().map(|(_, p)| *p))
            .collect();
        packets.sort_unstable();
        packets
    }
}

fn other_role(role: Role) -> Role {
    match role {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    }
}

/// The code of a key distribution command.
fn key_code(pdu: &SmpPdu) -> Option<u8> {
    match pdu {
        SmpPdu::EncryptionInformation { .. } => Some(0x06),
        SmpPdu::CentralIdentification { .. } => Some(0x07),
        SmpPdu::IdentityInformation { .. } => Some(0x08),
        SmpPdu::IdentityAddressInformation(_) => Some(0x09),
        SmpPdu::SigningInformation { .. } => Some(0x0a),
        _ => None,
    }
}

fn failure_advice(reason: u8) -> &'static str {
    match reason {
        0x01 => {
            "The user cancelled or timed out the passkey entry: enter the passkey shown on the other device."
        }
        0x03 => {
            "The devices ask for security the other cannot give (MITM without IO, or Secure Connections Only against a legacy peer). Align the security requirements or IO capabilities."
        }
        0x04 => {
            "The confirm value did not match: in passkey entry the passkey typed differs from the one shown (or displayed by a device with a static code). Re-enter it; repeated failures against a static passkey leak its bits."
        }
        0x05 => {
            "The peer does not support pairing (or not now): check that it is in pairable mode."
        }
        0x06 => {
            "The agreed key size is below what one side requires: raise the maximum encryption key size."
        }
        0x09 => "The peer refuses for a while after repeated failures: wait before retrying.",
        0x0b => {
            "The DHKey check failed: the public keys were tampered with, or one side computed the DHKey wrongly (an invalid-curve public key is one cause)."
        }
        0x0c => {
            "The user rejected the numeric comparison: compare the numbers on both devices again."
        }
        _ => "See the reason code; pair again after fixing the side that sent it.",
    }
}
