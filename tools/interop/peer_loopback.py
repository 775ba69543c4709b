#!/usr/bin/env python3
"""Drives two peer.py processes against each other through the line protocol.

It checks peer.py itself and shows how another implementation's test can drive a peer:
pairing from a QR payload, messages both ways (0.5-RTT included), a key update, Close, then a
resume with the bond that pairing reported. Run: python3 peer_loopback.py
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

    code, info, record = ref.provision(memory_kib=1024, iterations=1, parallelism=1)
    device = Peer("device", "--record", record.encode().hex())
    host = Peer("host", "--setup-payload", ref.encode_qr_payload(info, code))
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

    _, device_id, host_id, secret = bonds[0].split()
    device = Peer("device", "--record", record.encode().hex(), "--bond", f"{host_id}:{secret}")
    host = Peer("host", "--bond", device_id + host_id + secret)
    exchange(host, device)
    check(host.take_events() == ["CONNECTED resumed"] and
          device.take_events() == ["CONNECTED resumed"], "resumed with the reported bond")
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
