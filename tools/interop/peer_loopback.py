#!/usr/bin/env python3
"""Drives two peer.py processes against each other through the line protocol.

It checks peer.py itself and shows how another implementation's test can drive a peer:
pairing from a QR payload, messages both ways (0.5-RTT included), a key update, Close, a resume
with the bond that pairing reported, its replay refused, the closed pairing window and the
button. Run: python3 peer_loopback.py
"""

import os
import subprocess
import sys

import blepake_ref as ref

HERE = os.path.dirname(os.path.abspath(__file__))


class Peer:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "peer.py"), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.events = []
        self.pending_out = []
        self.status = None
        self._collect()

    def _collect(self):
        """Reads lines up to READY; keeps OUT bytes and EVENT lines."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("peer exited")
            line = line.rstrip("\n")
            if line == "READY":
                return
            if line.startswith("OUT "):
                self.pending_out.append(bytes.fromhex(line[4:]))
            elif line.startswith("EVENT "):
                self.events.append(line[6:])
            elif line.startswith("STATUS "):
                self.status = line[7:]
            else:
                raise RuntimeError(f"unexpected line from peer: {line}")

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self._collect()

    def take_out(self):
        data, self.pending_out = b"".join(self.pending_out), []
        return data

    def take_events(self):
        events, self.events = self.events, []
        return events

    def quit(self):
        self.proc.stdin.write("QUIT\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def exchange(a, b):
    """Delivers output both ways, in 7-byte pieces, until both are quiet."""
    while True:
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.take_out()
            for i in range(0, len(data), 7):
                dst.command("IN " + data[i:i + 7].hex())
                moved = True
        if not moved:
            return


def main():
    results = []

    def check(condition, name):
        results.append(condition)
        if not condition:
            print(f"FAIL {name}")

    password, info, record = ref.provision(memory_kib=1024, iterations=1, parallelism=1)
    payload = ref.encode_qr_payload(info, password)
    device = Peer("device", "--record", record.encode().hex())
    host = Peer("host", "--setup-payload", payload)
    host.command("SEND 6561726c79")
    exchange(host, device)
    h_events, d_events = host.take_events(), device.take_events()
    check("CONNECTED paired" in h_events and "CONNECTED paired" in d_events, "paired")
    bonds = [e for e in h_events if e.startswith("BONDED ")]
    check(len(bonds) == 1 and bonds == [e for e in d_events if e.startswith("BONDED ")],
          "same bond on both sides")
    check("MESSAGE 6561726c79" in d_events, "0.5-RTT message delivered")

    device.command("SEND 00ff")
    device.command("KEYUPDATE")
    device.command("SEND")
    host.command("SEND " + "ab" * 512)
    exchange(host, device)
    check(host.take_events() == ["MESSAGE 00ff", "MESSAGE"], "D2H messages across a key update")
    check(device.take_events() == ["MESSAGE " + "ab" * 512], "512-byte H2D message")
    device.command("CLOSE 3")
    exchange(host, device)
    check(device.take_events() == ["CLOSED 0 3"] and host.take_events() == ["CLOSED 1 3"],
          "Close with its reason")
    device.quit()
    host.quit()

    bond = bonds[0].split()[1]
    device = Peer("device", "--record", record.encode().hex(), "--bond", bond)
    host = Peer("host", "--bond", bond)
    request = host.pending_out[:]
    exchange(host, device)
    check(host.take_events() == ["CONNECTED resumed"] and
          device.take_events() == ["CONNECTED resumed"], "resumed with the reported bond")
    device.command("CONNECT")
    device.command("IN " + b"".join(request).hex())
    check(device.take_events() == ["FAILED sent:ResumeRejected"]
          and device.take_out() == bytes([0x70, 0x01, ref.RESUME_REJECTED]),
          "a replayed resume is refused")

    device.command("CONNECT")
    pairing = Peer("host", "--setup-payload", payload)
    exchange(pairing, device)
    check(pairing.take_events() == ["FAILED received:PairingClosed"], "a bonded device is closed")
    pairing.quit()
    device.command("OPEN_WINDOW")
    device.command("CONNECT")
    pairing = Peer("host", "--setup-payload", payload, "--previous-bond", bond)
    exchange(pairing, device)
    new_bond = [e for e in pairing.take_events() if e.startswith("BONDED ")]
    device.command("STATUS")
    check(len(new_bond) == 1 and new_bond[0] != "BONDED " + bond
          and device.status == f"failures=0 window=closed bonds={bond[18:34]}",
          "pairing again with the old host_id replaces the bond and closes the window")
    pairing.quit()
    host.command("IN 00")
    host.command("IN 00")
    check(host.take_events() == ["FAILED sent:ProtocolError"], "reserved frame type refused")
    check(host.take_out() == bytes([0x70, 0x01, ref.PROTOCOL_ERROR]), "ProtocolError alert sent")
    device.quit()
    host.quit()

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
