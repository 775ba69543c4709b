//! The catalogue of findings: each has a stable code, a severity, default advice
//! and the part of the Core specification that sets the rule.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CaptureTruncated,
    InstantInPast,
    InstantTooClose,
    VersionIndRepeated,
    FeatureRspInvalid,
    ProcedureTimeout,
    Rejected,
    MicFailure,
    SupervisionTimeoutTooShort,
    PairingFailed,
    SmpTimeout,
    LinkLostDuringPairing,
    ConnectionTimeout,
    JustWorks,
    DebugKey,
    LegacyPairing,
    PasskeyRecovered,
    PasskeyBitsLeaked,
    LegacyKeysRecovered,
}

struct Entry {
    code: &'static str,
    severity: Severity,
    advice: &'static str,
    spec: &'static str,
}

impl Kind {
    fn entry(self) -> Entry {
        let (code, severity, advice, spec) = match self {
            Kind::CaptureTruncated => (
                "capture.truncated",
                Severity::Error,
                "The report covers the packets before the fault. Capture again or re-export the file; a capture cut off while it was being written ends this way.",
                "pcap/pcapng/btsnoop container",
            ),
            Kind::InstantInPast => (
                "ll.instant_in_past",
                Severity::Error,
                "The peer cannot apply a procedure whose instant has passed and treats the link as lost. The central must choose an instant far enough ahead (at least 6 events the peripheral listens to, more with peripheral latency and retransmissions).",
                "Core Vol 6 Part B §5.5.1",
            ),
            Kind::InstantTooClose => (
                "ll.instant_too_close",
                Severity::Warning,
                "With so few events before the instant, one lost packet or the peripheral's latency makes the instant pass before the PDU is acknowledged, and the link drops. Schedule the instant at least 6 listened-to events ahead.",
                "Core Vol 6 Part B §5.1.1, §5.5.1",
            ),
            Kind::VersionIndRepeated => (
                "ll.version_ind_repeated",
                Severity::Warning,
                "A link layer sends LL_VERSION_IND at most once per connection; peers may answer a second one with LL_UNKNOWN_RSP or drop the link. Fix the controller (or host) that repeats the version exchange.",
                "Core Vol 6 Part B §5.1.5",
            ),
            Kind::FeatureRspInvalid => (
                "ll.feature_rsp_invalid",
                Severity::Warning,
                "Octet 0 of LL_FEATURE_RSP must be the logical AND of both sides' features; claiming a feature the requester lacks leads to procedures the requester cannot handle. Update the responding controller's firmware.",
                "Core Vol 6 Part B §2.4.2.10, §4.6",
            ),
            Kind::ProcedureTimeout => (
                "ll.procedure_timeout",
                Severity::Error,
                "A link-layer procedure must be answered within 40 s or the link is dropped (reason 0x22, LL Response Timeout). The peer's controller ignored the request: check its firmware and whether it supports the procedure.",
                "Core Vol 6 Part B §5.2",
            ),
            Kind::Rejected => (
                "ll.rejected",
                Severity::Warning,
                "The peer refused a link-layer procedure; the reason code says why. Adjust the request (parameters, PHY, encryption) to what the peer accepts.",
                "Core Vol 6 Part B §2.4.2.14, §2.4.2.18",
            ),
            Kind::MicFailure => (
                "ll.mic_failure",
                Severity::Error,
                "A packet failed its message integrity check: the two sides encrypt with different keys (one side lost or replaced its bond, or kept a stale LTK). Delete the bond on both devices and pair again.",
                "Core Vol 6 Part E §2; Vol 1 Part F error 0x3D",
            ),
            Kind::SupervisionTimeoutTooShort => (
                "ll.supervision_timeout_too_short",
                Severity::Error,
                "connSupervisionTimeout must exceed (1 + latency) × interval × 2, or the link times out before the peripheral is required to answer. Raise the timeout or lower the latency.",
                "Core Vol 6 Part B §4.5.2",
            ),
            Kind::PairingFailed => (
                "smp.pairing_failed",
                Severity::Error,
                "See the reason: it says which side refused and why.",
                "Core Vol 3 Part H §3.5.5",
            ),
            Kind::SmpTimeout => (
                "smp.timeout",
                Severity::Error,
                "A pairing step went unanswered for 30 s, so the Security Manager gave up; no further pairing is allowed on this link. Usually the user did not confirm or enter the passkey in time, or the peer's host stalled.",
                "Core Vol 3 Part H §3.4",
            ),
            Kind::LinkLostDuringPairing => (
                "smp.link_lost",
                Severity::Error,
                "The radio link was lost (supervision timeout, 0x08) in the middle of pairing: the keys were not rejected. Move the devices closer, check interference and the supervision timeout, and pair again.",
                "Core Vol 6 Part B §4.5.2; Vol 3 Part H §3.5.5",
            ),
            Kind::ConnectionTimeout => (
                "ll.connection_timeout",
                Severity::Error,
                "The link was lost apart from the pairing: the Pairing Failed and its reason say why pairing stopped; fix that first. The loss itself (no packet heard for the supervision timeout) comes from range, interference or a peer that stopped answering.",
                "Core Vol 6 Part B §4.5.2",
            ),
            Kind::JustWorks => (
                "smp.just_works",
                Severity::Warning,
                "Just Works gives no protection against a man in the middle, and in legacy pairing none against an eavesdropper either. Use passkey entry, numeric comparison or OOB where the devices allow it.",
                "Core Vol 3 Part H §2.3.5.1",
            ),
            Kind::DebugKey => (
                "smp.debug_key",
                Severity::Error,
                "The SMP debug key pair is public: anyone who captured this pairing can compute its DHKey, LTK and decrypt the link. Debug mode must never ship; disable it in the device's Security Manager.",
                "Core Vol 3 Part H §2.3.5.6.1",
            ),
            Kind::LegacyPairing => (
                "smp.legacy_pairing",
                Severity::Warning,
                "LE legacy pairing protects the keys only with a TK of at most 20 bits: a passive eavesdropper recovers it in a second. Enable LE Secure Connections on both devices.",
                "Core Vol 3 Part H §2.3.5.2, §2.3.5.3",
            ),
            Kind::PasskeyRecovered => (
                "smp.passkey_recovered",
                Severity::Error,
                "Passkey entry reveals one bit of the passkey per round to anyone listening; a static passkey used once in range of a sniffer is public from then on. Never reuse a passkey: generate a fresh one for every pairing.",
                "Core Vol 3 Part H §2.3.5.6.3",
            ),
            Kind::PasskeyBitsLeaked => (
                "smp.passkey_bits_leaked",
                Severity::Warning,
                "Each passkey-entry round that completes leaks a bit, and a failed round leaks the bit that failed: repeated attempts against a static passkey recover it. Use a fresh passkey per pairing and limit attempts.",
                "Core Vol 3 Part H §2.3.5.6.3",
            ),
            Kind::LegacyKeysRecovered => (
                "smp.keys_recovered",
                Severity::Error,
                "The TK of this legacy pairing was recovered from the capture, so its STK and every key it distributed are known to an eavesdropper. Use LE Secure Connections and delete this bond.",
                "Core Vol 3 Part H §2.3.5.5, §2.4.2",
            ),
        };
        Entry {
            code,
            severity,
            advice,
            spec,
        }
    }

    pub fn code(self) -> &'static str {
        self.entry().code
    }

    pub fn severity(self) -> Severity {
        self.entry().severity
    }
}

/// One thing the analysis found, with the packets that show it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// Index into the report's connections, when the finding is about one.
    pub connection: Option<usize>,
    /// Capture packet numbers (1-based, as Wireshark numbers them).
    pub packets: Vec<u64>,
    /// What happened, in plain language.
    pub cause: String,
    /// What to do about it.
    pub advice: String,
    /// Where the Core specification sets the rule.
    pub spec: &'static str,
}

impl Finding {
    pub fn new(kind: Kind, connection: Option<usize>, packets: Vec<u64>, cause: String) -> Finding {
        let entry = kind.entry();
        Finding {
            code: entry.code,
            severity: entry.severity,
            connection,
            packets,
            cause,
            advice: entry.advice.to_string(),
            spec: entry.spec,
        }
    }

    /// Replaces the catalogue's advice with advice specific to this case.
    pub fn with_advice(mut self, advice: impl Into<String>) -> Finding {
        self.advice = advice.into();
        self
    }
}
