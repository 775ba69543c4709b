//! The terminal forms of a report: the full `sniff` report and the `crack` summary.

use std::fmt::Write;

use blepake_sniff::analysis::findings::{Finding, Severity};
use blepake_sniff::codec::frame::{Direction, Phy};
use blepake_sniff::crack::KnownBits;
use blepake_sniff::report::{
    Connection, Encryption, Method, Outcome, Pairing, Report, Role, Source,
};

pub struct Style {
    pub colour: bool,
    /// Keys were given with --ltk (for the hint when nothing decrypts).
    pub ltk_given: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn severity(&self, severity: Severity) -> String {
        match severity {
            Severity::Error => self.paint("1;31", "ERROR"),
            Severity::Warning => self.paint("1;33", "WARN "),
        }
    }
}

fn role(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator (central)",
        Role::Responder => "responder (peripheral)",
    }
}

fn method(method: Option<Method>) -> &'static str {
    match method {
        Some(Method::JustWorks) => "Just Works",
        Some(Method::PasskeyEntry) => "passkey entry",
        Some(Method::NumericComparison) => "numeric comparison",
        Some(Method::Oob) => "out of band",
        None => "method unknown (no Pairing Response captured)",
    }
}

fn phy(phy: Option<Phy>) -> &'static str {
    match phy {
        Some(Phy::Le1M) => "1M",
        Some(Phy::Le2M) => "2M",
        Some(Phy::LeCoded) => "Coded",
        None => "1M (no change seen)",
    }
}

/// The full report of `blepake sniff`.
pub fn report(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    let link_types: Vec<String> = report.link_types.iter().map(u32::to_string).collect();
    if report.packets == 0 {
        let _ = writeln!(
            out,
            "{} {:?} capture with no packets: the file ends after its header",
            style.bold("Capture:"),
            report.format,
        );
    } else {
        let _ = writeln!(
            out,
            "{} {:?} capture, link type {}, {} packets",
            style.bold("Capture:"),
            report.format,
            link_types.join(", "),
            report.packets
        );
    }
    read_error(&mut out, report, style);
    let s = &report.stats;
    if s.direction_unknown > 0 {
        let _ = writeln!(
            out,
            "  {} L2CAP messages not analysed: the log records no directions (H4, LINKTYPE 187), and their content does not show the sender (SMP and LE signalling are placed by their commands)",
            s.direction_unknown
        );
    }
    if s.crc_errors + s.crc_not_checked + s.undecodable + s.retransmissions + s.undecrypted > 0 {
        let _ = writeln!(
            out,
            "  {} CRC errors, {} CRC not checked, {} undecodable, {} retransmissions, {} encrypted PDUs not decrypted",
            s.crc_errors, s.crc_not_checked, s.undecodable, s.retransmissions, s.undecrypted
        );
    }
    for device in &report.devices {
        let _ = writeln!(
            out,
            "  advertiser {}{}",
            device.address,
            device
                .name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default()
        );
    }
    for conn in &report.connections {
        out.push('\n');
        connection(&mut out, conn, style);
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.connection == Some(conn.id))
            .collect();
        if !findings.is_empty() {
            let _ = writeln!(out, "  {}", style.bold("findings"));
            for finding in findings {
                render_finding(&mut out, finding, style);
            }
        }
    }
    let global: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.connection.is_none())
        .collect();
    if !global.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Capture findings"));
        for finding in global {
            render_finding(&mut out, finding, style);
        }
    }
    let count = |severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let _ = writeln!(
        out,
        "\n{} error(s), {} warning(s) in {} connection(s)",
        count(Severity::Error),
        count(Severity::Warning),
        report.connections.len()
    );
    out
}

fn connection(out: &mut String, conn: &Connection, style: &Style) {
    let id = match (conn.source, &conn.access_address, conn.handle) {
        (Source::Radio, Some(aa), _) => format!("access address {aa}"),
        (Source::Hci, _, Some(handle)) => format!("HCI handle {handle:#06x}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{} {id}, packets {}-{}",
        style.bold(&format!("Connection {}:", conn.id)),
        conn.first_packet,
        conn.last_packet
    );
    let address = |a: &Option<blepake_sniff::codec::ll::Address>| {
        a.map_or("unknown".into(), |a| a.to_string())
    };
    let _ = writeln!(out, "  central     {}", address(&conn.central));
    let _ = writeln!(out, "  peripheral  {}", address(&conn.peripheral));
    if let Some(p) = &conn.parameters {
        let _ = writeln!(
            out,
            "  parameters  interval {:.2} ms, latency {}, supervision timeout {} ms",
            p.interval_ms, p.latency, p.timeout_ms
        );
    }
    let _ = writeln!(
        out,
        "  PHY         central->peripheral {}, peripheral->central {}{}",
        phy(conn.phy.central_to_peripheral),
        phy(conn.phy.peripheral_to_central),
        conn.aux_connect_phy
            .map(|p| format!(" (connected on {} by AUX_CONNECT_REQ)", phy(Some(p))))
            .unwrap_or_default()
    );
    if let Some(mtu) = conn.att_mtu {
        let _ = writeln!(out, "  ATT MTU     {mtu}");
    }
    for (name, value) in [
        ("central", &conn.features.central),
        ("peripheral", &conn.features.peripheral),
    ] {
        if let Some(features) = value {
            let _ = writeln!(out, "  features    {name} {features}");
        }
    }
    for (name, value) in [
        ("central", &conn.versions.central),
        ("peripheral", &conn.versions.peripheral),
    ] {
        if let Some(v) = value {
            let _ = writeln!(
                out,
                "  version     {name} Bluetooth {} (company {:#06x}, subversion {:#06x})",
                v.core, v.company, v.subversion
            );
        }
    }
    let e = &conn.encryption;
    let mut encryption = Vec::new();
    if e.started {
        encryption.push("started".to_string());
    }
    if conn.source == Source::Radio && e.encrypted_pdus > 0 {
        encryption.push(decrypted_count(e));
    }
    if let (Some(key), Some(source)) = (&e.key, &e.key_source) {
        encryption.push(format!("key {key} ({source})"));
    }
    if !encryption.is_empty() {
        let _ = writeln!(out, "  encryption  {}", encryption.join(", "));
    }
    if let Some(hint) = key_hint(conn, style) {
        let _ = writeln!(out, "              {hint}");
    }
    for p in &conn.pairings {
        pairing(out, p, style);
    }
    if let Some(d) = &conn.disconnect {
        let _ = writeln!(
            out,
            "  disconnect  packet {}: {:#04x} {}{}",
            d.packet,
            d.reason,
            d.reason_text,
            if d.inferred {
                " (inferred: nothing more on the link for longer than its supervision timeout while the capture went on)"
            } else {
                ""
            }
        );
    }
}

fn decrypted_count(e: &Encryption) -> String {
    let decrypted = e.decrypted_pdus + e.decrypted_by_sniffer;
    let by_sniffer = if e.decrypted_by_sniffer > 0 {
        format!(" ({} by the sniffer)", e.decrypted_by_sniffer)
    } else {
        String::new()
    };
    format!(
        "decrypted {decrypted} of {} encrypted PDUs{by_sniffer}",
        e.encrypted_pdus
    )
}

/// Why encrypted PDUs stayed closed, and what to try.
fn key_hint(conn: &Connection, style: &Style) -> Option<String> {
    let e = &conn.encryption;
    let closed = e.encrypted_pdus - e.decrypted_pdus - e.decrypted_by_sniffer;
    if conn.source != Source::Radio || closed == 0 || e.decrypted_pdus > 0 {
        return None;
    }
    Some(if style.ltk_given {
        "hint: no --ltk given opens them: give the LTK most-significant octet first, as Wireshark shows it (reverse it if it came from a little-endian dump), and check that it is this link's"
            .to_string()
    } else {
        "hint: no key from the capture opens them: give the bond's LTK with --ltk HEX (most-significant octet first, as Wireshark shows it), or capture the pairing itself"
            .to_string()
    })
}

fn outcome(outcome: Outcome, style: &Style) -> String {
    match outcome {
        Outcome::Completed => style.paint("32", "completed"),
        Outcome::Failed => style.paint("31", "failed"),
        Outcome::Incomplete => style.paint("33", "incomplete"),
    }
}

fn pairing(out: &mut String, p: &Pairing, style: &Style) {
    let outcome = outcome(p.outcome, style);
    let _ = writeln!(
        out,
        "  pairing     {} {}, {outcome} (packets {}-{}), IO {} / {}{}",
        if p.secure_connections {
            "LE Secure Connections"
        } else {
            "legacy"
        },
        method(p.method),
        p.first_packet,
        p.last_packet,
        p.initiator_io.unwrap_or("?"),
        p.responder_io.unwrap_or("?"),
        if p.bonding { ", bonding" } else { "" }
    );
    for line in key_lines(p) {
        let _ = writeln!(out, "              {line}");
    }
}

/// The recovered secrets of a pairing, one per line.
fn key_lines(p: &Pairing) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(f) = &p.failure {
        lines.push(format!(
            "Pairing Failed from the {} at packet {}: {:#04x} {}",
            role(f.sent_by),
            f.packet,
            f.reason,
            f.reason_text
        ));
    }
    for r in &p.debug_key {
        lines.push(format!("the {} used the SMP debug key", role(*r)));
    }
    if let Some(passkey) = &p.passkey {
        let owner = p
            .passkey_shown_by
            .map_or("typed on both devices".to_string(), |r| {
                format!("shown by the {}", role(r))
            });
        lines.push(format!(
            "passkey {passkey} recovered ({owner}) from {} rounds",
            p.passkey_rounds
        ));
    }
    if let Some(bits) = &p.learned_bits {
        let known = KnownBits {
            mask: bits.mask,
            value: bits.value,
        };
        lines.push(format!(
            "learned {} of the {}'s passkey: {}; {} passkeys remain",
            known.describe(),
            role(bits.owner),
            known.pattern(),
            bits.candidates,
        ));
    }
    if !p.passkey_gaps.is_empty() {
        let rounds: Vec<String> = p.passkey_gaps.iter().map(usize::to_string).collect();
        lines.push(format!(
            "passkey round(s) {} not captured on either side (gaps)",
            rounds.join(", ")
        ));
    }
    if let Some(value) = &p.numeric_comparison {
        lines.push(format!(
            "numeric comparison value {value} (shown on both devices)"
        ));
    }
    if let Some(tk_hex) = &p.tk_hex {
        let whose = match (p.tk_of, p.outcome) {
            (Some(r), Outcome::Failed) => format!(
                ", what the {} used (its Pairing Confirm proves it; the other side's may differ)",
                role(r)
            ),
            _ => String::new(),
        };
        lines.push(format!(
            "TK {} ({}){whose}{}",
            p.tk.as_ref().unwrap_or(tk_hex),
            p.tk_source.unwrap_or("found"),
            p.stk
                .as_ref()
                .map(|s| format!(", STK {s}"))
                .unwrap_or_default()
        ));
    }
    if p.oob_tk_needed {
        lines.push(
            "TK: 128 bits of out-of-band data, beyond a brute force: give it with --tk HEX (most significant octet first, as Wireshark shows it) for the STK and the keys"
                .into(),
        );
    }
    if p.given_tk_rejected {
        lines.push(
            "no --tk given matches this pairing's confirm value (give it most significant octet first, as Wireshark shows it)"
                .into(),
        );
    }
    if let Some(ltk) = &p.derived_ltk {
        lines.push(format!("LTK {ltk} (derived)"));
    }
    for key in &p.distributed {
        lines.push(format!(
            "{} from the {} (packet {}): {}",
            key.kind,
            role(key.sent_by),
            key.packet,
            key.value
        ));
    }
    lines
}

fn read_error(out: &mut String, report: &Report, style: &Style) {
    if let Some(error) = &report.read_error {
        let _ = writeln!(
            out,
            "  {} reading stopped {error}; the {} packet(s) before it were analysed",
            style.severity(Severity::Error),
            report.packets
        );
    }
}

/// Packet numbers for a line of text: a long list keeps its ends and its count
/// (the JSON report has them all).
pub fn packet_list(packets: &[u64]) -> String {
    const SHOWN_AT_MOST: usize = 8;
    let join = |packets: &[u64]| {
        packets
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if packets.len() <= SHOWN_AT_MOST {
        return join(packets);
    }
    format!(
        "{} … {} ({} packets)",
        join(&packets[..4]),
        join(&packets[packets.len() - 2..]),
        packets.len()
    )
}

fn render_finding(out: &mut String, f: &Finding, style: &Style) {
    let _ = writeln!(
        out,
        "    {} {} (packets {})",
        style.severity(f.severity),
        style.bold(f.code),
        packet_list(&f.packets)
    );
    let _ = writeln!(out, "          {}", f.cause);
    let _ = writeln!(out, "          what to do: {}", f.advice);
    let _ = writeln!(out, "          spec: {}", f.spec);
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::CentralToPeripheral => "C->P",
        Direction::PeripheralToCentral => "P->C",
    }
}

/// The key-recovery summary of `blepake crack`.
pub fn keys(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    read_error(&mut out, report, style);
    let mut any_keys = false;
    for conn in &report.connections {
        let lines: Vec<String> = conn.pairings.iter().flat_map(key_lines).collect();
        let e = &conn.encryption;
        if lines.is_empty() && e.encrypted_pdus == 0 && e.key.is_none() {
            continue;
        }
        any_keys = true;
        let _ = writeln!(out, "{}", style.bold(&format!("Connection {}", conn.id)));
        for p in &conn.pairings {
            let _ = writeln!(
                out,
                "  {} {} pairing, {}",
                if p.secure_connections {
                    "LE Secure Connections"
                } else {
                    "legacy"
                },
                method(p.method),
                outcome(p.outcome, style)
            );
        }
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
        if let (Some(key), Some(source)) = (&e.key, &e.key_source) {
            let _ = writeln!(out, "  link key {key} ({source})");
        }
        if e.encrypted_pdus > 0 {
            let _ = writeln!(out, "  {}", decrypted_count(e));
        }
        if let Some(hint) = key_hint(conn, style) {
            let _ = writeln!(out, "  {hint}");
        }
        for pdu in &conn.decrypted {
            let _ = writeln!(
                out,
                "    #{:<6} {} {}  [{}]",
                pdu.packet,
                direction(pdu.direction),
                pdu.summary,
                pdu.plaintext
            );
        }
    }
    if !any_keys {
        out.push_str("No pairing or encrypted traffic with recoverable keys in this capture.\n");
    }
    out
}
