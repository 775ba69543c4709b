#!/usr/bin/env python3
"""A blepake peer (host or device) driven over stdin/stdout, for live interop tests.

Start:
  python3 peer.py host --setup-payload 'BP:...' [--previous-bond <hex>]
                        pair, from a QR payload with a code or a QR secret (§4.4); with the bond
                        of an earlier pairing, reuse its host_id so the device replaces it (§6.1)
  python3 peer.py host --bond <hex>                 resume with a bond (its 49 bytes, §8.1)
  python3 peer.py device --record <hex> [--bond <hex>]...
                        a device with that record (§5.2), a fresh attempt counter, and the given
                        bonds (49 bytes each, for this device); its pairing window is open while
                        it holds no bond (§10)

Input, one command per line:
  IN <hex>          bytes received from the other side's stream, cut anywhere
  SEND [<hex>]      the application sends one message (no argument: the empty message);
                    before the session opens it is queued and sent as soon as it opens
                    (for the host: right after PairConfirm/ResumeFinish, i.e. 0.5-RTT data)
  KEYUPDATE         send a Control KeyUpdate now (an extension, to exercise §7.3 without
                    2^20 records)
  CLOSE <reason>    send a Control Close with reason 0..255 (only in an open session)
  CONNECT           device only: the link drops and a new BLE connection to the same device
                    begins (its flash and RAM, the replay memory included, carry over)
  OPEN_WINDOW       device only: a person presses the button (§10.1)
  STATUS            device only: prints its state (below)
  QUIT              exit without a Close (the link drops)
  End of input is QUIT.

Output, one line each, flushed:
  OUT <hex>                                  stream bytes to deliver to the other side
  EVENT CONNECTED paired|resumed
  EVENT BONDED <bond hex>                    the bond's 49 bytes (§8.1), after pairing, on both
                                             sides (the device: only if it kept the bond)
  EVENT MESSAGE [<hex>]                      one application message (no field when empty)
  EVENT CLOSED <by_peer 0|1> <reason>
  EVENT FAILED <reason>                      sent:<Alert> (we detected it and sent that alert),
                                             received:<Alert>[:detail=value] (the peer's alert),
                                             malformed-alert (a known code with wrong details,
                                             not answered), LinkLost, or bad-arguments (the
                                             command line was refused)
  STATUS failures=<n> window=open|closed bonds=<host_id hex>,...
  ERROR <text>                               the input line was not understood or not allowed
  READY                                      once after start-up output, then after each line
Within one line's output, OUT comes before the EVENT lines it caused.
Deadlines (§10.7, §12) run on the real clock and are checked before each input line.
"""

import argparse
import sys

import blepake_ref as ref


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(conn):
    data = conn.take_output()
    if data:
        emit("OUT " + data.hex())
    for event in conn.take_events():
        kind = event[0]
        if kind == "connected":
            emit("EVENT CONNECTED " + event[1])
        elif kind == "bonded":
            emit("EVENT BONDED " + event[1].encode().hex())
        elif kind == "message":
            emit(("EVENT MESSAGE " + event[1].hex()) if event[1] else "EVENT MESSAGE")
        elif kind == "closed":
            emit(f"EVENT CLOSED {int(event[1])} {event[2]}")
        else:
            emit("EVENT FAILED " + event[1])


class Peer:
    """One side: a host connection, or a device and its current connection."""

    def __init__(self, args):
        self.device = None
        if args.role == "host":
            if args.setup_payload:
                setup_info, password = ref.parse_qr_payload(args.setup_payload)
                previous = [ref.HostBond.decode(bytes.fromhex(b)) for b in args.previous_bond]
                self.conn = ref.HostConnection.pair(password, setup_info,
                                                    previous_bond=(previous or [None])[0])
            elif args.bond:
                if len(args.bond) != 1:
                    raise ref.InvalidInput("a host resumes with one bond")
                self.conn = ref.HostConnection.resume(ref.HostBond.decode(bytes.fromhex(args.bond[0])))
            else:
                raise ref.InvalidInput("host needs --setup-payload or --bond")
            return
        if not args.record:
            raise ref.InvalidInput("device needs --record")
        self.device = ref.Device(ref.DeviceRecord.decode(bytes.fromhex(args.record)))
        for text in args.bond:
            bond = ref.HostBond.decode(bytes.fromhex(text))
            if bond.device_id != self.device.record.device_id:
                raise ref.InvalidInput("a bond for another device")
            self.device.store_bond(bond.host_id, bond.bond_secret)
        self.conn = self.device.connect()

    def handle(self, line):
        command, _, argument = line.strip().partition(" ")
        argument = argument.strip()
        if command == "IN":
            self.conn.receive(bytes.fromhex(argument))
        elif command == "SEND":
            self.conn.send(bytes.fromhex(argument))
        elif command == "KEYUPDATE":
            self.conn.key_update()
        elif command == "CLOSE":
            reason = int(argument)
            if not 0 <= reason <= 255:
                raise ValueError("a close reason is 0..255")
            self.conn.close(reason)
        elif command in ("CONNECT", "OPEN_WINDOW", "STATUS") and self.device is None:
            raise ValueError(f"{command} is for a device")
        elif command == "CONNECT":
            self.conn.link_lost()
            self.conn.take_events()
            self.conn = self.device.connect()
        elif command == "OPEN_WINDOW":
            self.device.open_pairing_window()
        elif command == "STATUS":
            window = "open" if self.device.pairing_window_open() else "closed"
            bonds = ",".join(b.host_id.hex() for b in self.device.bonds())
            emit(f"STATUS failures={self.device.failures} window={window} bonds={bonds}")
        else:
            raise ValueError(f"unknown command {command!r}")


def main():
    parser = argparse.ArgumentParser(description="blepake interop peer; see the module doc")
    parser.add_argument("role", choices=["host", "device"])
    parser.add_argument("--setup-payload")
    parser.add_argument("--bond", action="append", default=[])
    parser.add_argument("--previous-bond", action="append", default=[])
    parser.add_argument("--record")
    args = parser.parse_args()

    try:
        peer = Peer(args)
        report(peer.conn)
    except (ref.InvalidInput, ValueError) as error:
        print(f"peer.py: {error}", file=sys.stderr)
        emit("EVENT FAILED bad-arguments")
        peer = None
    emit("READY")
    for line in sys.stdin:
        if line.strip() == "QUIT":
            break
        if peer is None:
            emit("ERROR no connection")
        else:
            peer.conn.poll()
            try:
                peer.handle(line)
            except (ValueError, RuntimeError, ref.StorageError) as error:
                emit(f"ERROR {error}")
            report(peer.conn)
        emit("READY")
    return 0


if __name__ == "__main__":
    sys.exit(main())
