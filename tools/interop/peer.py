#!/usr/bin/env python3
"""A blepake peer (host or device) driven over stdin/stdout, for live interop tests.

Start (one BLE connection per process):
  python3 peer.py host --setup-payload 'BP:...'      pair, from a QR payload (§4.4)
  python3 peer.py host --bond <96 hex digits>         resume; the bond is device_id [8] ||
                                                       host_id [8] || bond_secret [32]
                                                       (PROTOCOL.md defines no host bond layout)
  python3 peer.py device --record <326 hex digits> [--bond <host_id hex>:<bond_secret hex>]
                                                       a device with that record (§5.2), a fresh
                                                       attempt counter, and optionally one bond

Input, one command per line:
  IN <hex>          bytes received from the other side's stream, cut anywhere
  SEND [<hex>]      the application sends one message (no argument: the empty message);
                    before the session opens it is queued and sent as soon as it opens
                    (for the host: right after PairConfirm/ResumeFinish, i.e. 0.5-RTT data)
  KEYUPDATE         send a Control KeyUpdate now (an extension, to exercise §7.3 without
                    2^20 records)
  CLOSE <reason>    send a Control Close with reason 0..255 (only in an open session)
  QUIT              exit without a Close (the link drops)
  End of input is QUIT.

Output, one line each, flushed:
  OUT <hex>                                  stream bytes to deliver to the other side
  EVENT CONNECTED paired|resumed
  EVENT BONDED <device_id> <host_id> <bond_secret>   (hex; after pairing, on both sides;
                                                     the host's --bond is these three joined)
  EVENT MESSAGE [<hex>]                      one application message (no field when empty)
  EVENT CLOSED <by_peer 0|1> <reason>
  EVENT FAILED <reason>                      sent:<Alert> (we detected it and sent that alert),
                                             received:<Alert>[:detail=value] (the peer's alert),
                                             or bad-arguments (the command line was refused)
  ERROR <text>                               the input line was not understood or not allowed
  READY                                      once after start-up output, then after each line
Within one line's output, OUT comes before the EVENT lines it caused.
The handshake timer (30 s) runs on the real clock and is checked before each input line.
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
            emit("EVENT BONDED " + " ".join(part.hex() for part in event[1:]))
        elif kind == "message":
            emit(("EVENT MESSAGE " + event[1].hex()) if event[1] else "EVENT MESSAGE")
        elif kind == "closed":
            emit(f"EVENT CLOSED {int(event[1])} {event[2]}")
        else:
            emit("EVENT FAILED " + event[1])


def start(args):
    """The connection for the command line, or None after reporting why it cannot start."""
    try:
        if args.role == "host" and args.setup_payload:
            setup_info, code = ref.parse_qr_payload(args.setup_payload)
            return ref.HostConnection.pair(code, setup_info)
        if args.role == "host" and args.bond:
            return ref.HostConnection.resume(ref.HostBond.decode(bytes.fromhex(args.bond)))
        if args.role == "device" and args.record:
            device = ref.Device(ref.DeviceRecord.decode(bytes.fromhex(args.record)))
            if args.bond:
                host_id, bond_secret = (bytes.fromhex(part) for part in args.bond.split(":"))
                if len(host_id) != 8 or len(bond_secret) != 32:
                    raise ref.InvalidInput("a device bond is host_id [8]:bond_secret [32]")
                device.add_bond(host_id, bond_secret)
            return device.connect()
    except (ref.InvalidInput, ValueError) as error:
        print(f"peer.py: {error}", file=sys.stderr)
        emit("EVENT FAILED bad-arguments")
        return None
    print("peer.py: host needs --setup-payload or --bond; device needs --record", file=sys.stderr)
    emit("EVENT FAILED bad-arguments")
    return None


def handle(conn, line):
    command, _, argument = line.strip().partition(" ")
    argument = argument.strip()
    if conn is None:
        raise RuntimeError("no connection")
    if command == "IN":
        conn.receive(bytes.fromhex(argument))
    elif command == "SEND":
        conn.send(bytes.fromhex(argument))
    elif command == "KEYUPDATE":
        conn.key_update()
    elif command == "CLOSE":
        reason = int(argument)
        if not 0 <= reason <= 255:
            raise ValueError("a close reason is 0..255")
        conn.close(reason)
    else:
        raise ValueError(f"unknown command {command!r}")


def main():
    parser = argparse.ArgumentParser(description="blepake interop peer; see the module doc")
    parser.add_argument("role", choices=["host", "device"])
    parser.add_argument("--setup-payload")
    parser.add_argument("--bond")
    parser.add_argument("--record")
    args = parser.parse_args()

    conn = start(args)
    if conn is not None:
        report(conn)
    emit("READY")
    for line in sys.stdin:
        if line.strip() == "QUIT":
            break
        if conn is not None:
            conn.poll()
        try:
            handle(conn, line)
        except (ValueError, RuntimeError) as error:
            emit(f"ERROR {error}")
        if conn is not None:
            report(conn)
        emit("READY")
    return 0


if __name__ == "__main__":
    sys.exit(main())
