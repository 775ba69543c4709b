"""``python -m blepake``: scan, pair, chat and run a device from the command line.

::

    python -m blepake scan                               # devices that offer the blepake service
    python -m blepake pair AA:BB:CC:DD:EE:FF --code 314-159-266
    python -m blepake chat AA:BB:CC:DD:EE:FF             # lines in, lines out (resumes with the bond)
    python -m blepake provision --out device.record      # a record file, its code and QR payload
    python -m blepake device device.record --transport usb:0 --state state/

Progress and errors go to stderr in words; ``--json`` prints one JSON
document (``scan``, ``pair``, ``provision``) or one JSON object per line
(``chat``, ``device``) on stdout for scripts. Exit status: 0, 1 for a
blepake or BLE error, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional, TextIO

from . import BlepakeError, DeviceRecord, FileBondStore, SetupCode, provision

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m blepake",
        description="blepake: a BLE link secured with the device's setup code, without OS pairing",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    scan = commands.add_parser("scan", help="list devices that offer the blepake service")
    scan.add_argument("--timeout", type=float, default=5.0, help="seconds to scan (5)")
    scan.add_argument("--json", action="store_true", help="print JSON")

    for name, help_text in (
        ("pair", "pair with a device (or resume with its bond) and keep the bond"),
        ("chat", "send lines from stdin and print the messages received"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("address", help="the device's BLE address (from scan)")
        secret = command.add_mutually_exclusive_group()
        secret.add_argument("--code", help="the setup code on the label (314-159-266)")
        secret.add_argument("--qr", help="the QR code's text (BP:...)")
        command.add_argument(
            "--bond-store", type=Path, help="the bond file (default: in the user data directory)"
        )
        command.add_argument("--json", action="store_true", help="print JSON")

    made = commands.add_parser("provision", help="make a device record, its code and QR payload")
    made.add_argument("--out", type=Path, required=True, help="the record file to create")
    made.add_argument("--code", help="the setup code (default: a random one)")
    made.add_argument("--qr-secret", action="store_true", help="a 128-bit QR secret instead of a code")
    made.add_argument("--memory-kib", type=int, default=65536, help="Argon2id memory (65536)")
    made.add_argument("--iterations", type=int, default=3, help="Argon2id passes (3)")
    made.add_argument("--parallelism", type=int, default=4, help="Argon2id lanes (4)")
    made.add_argument("--json", action="store_true", help="print JSON")

    device = commands.add_parser(
        "device",
        help="run a blepake device on a Bumble HCI transport",
        description="Serves blepake with the record's verifier. Console keys (then Enter): "
        "p opens the pairing window (the button), r revokes every bond (a long press), "
        "q quits.",
    )
    device.add_argument("record", type=Path, help="the device record file (163 bytes)")
    device.add_argument(
        "--transport", default="usb:0", help="a Bumble HCI transport (usb:0, serial:/dev/ttyACM0,...)"
    )
    device.add_argument("--state", type=Path, help="directory of the counter and bonds (default: next to the record)")
    device.add_argument("--name", default="blepake", help="the advertised name")
    device.add_argument("--echo", action="store_true", help="send every message back")
    device.add_argument("--json", action="store_true", help="print events as JSON lines")
    return parser


class _Output:
    """Words on stderr, or JSON on stdout."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def say(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def line(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def record(self, document: Dict[str, Any]) -> None:
        print(json.dumps(document), file=self.stdout, flush=True)

    def error(self, error: BaseException) -> int:
        if self.as_json:
            self.record(
                {
                    "error": {
                        "type": type(error).__name__,
                        "code": getattr(error, "code", 0),
                        "message": str(error),
                        **(
                            {"retry_after": error.retry_after}
                            if hasattr(error, "retry_after")
                            else {}
                        ),
                    }
                }
            )
        else:
            self.say(f"error: {error}")
        return 1


def _text(message: bytes) -> str:
    return message.decode("utf-8", errors="replace")


async def _scan(args: argparse.Namespace, out: _Output, bleak_args: Dict[str, Any]) -> int:
    from .bleak import scan

    out.say(f"scanning for {args.timeout:g} s ...")
    found = await scan(args.timeout, **bleak_args.get("scanner", {}))
    if args.json:
        out.record(
            {
                "devices": [
                    {"address": device.address, "name": adv.local_name, "rssi": adv.rssi}
                    for device, adv in found
                ]
            }
        )
    else:
        for device, adv in found:
            out.line(f"{device.address}  {adv.rssi:>4} dBm  {adv.local_name or ''}")
        out.say(f"{len(found)} device(s) offer the blepake service")
    return 0


def _client(args: argparse.Namespace, bleak_args: Dict[str, Any]) -> Any:
    from bleak import BleakClient

    return BleakClient(args.address, **bleak_args.get("client", {}))


def _connect(args: argparse.Namespace, client: Any) -> Any:
    from .bleak import SecureLink

    return SecureLink.connect(
        client, code=args.code, qr=args.qr, bond_store=FileBondStore(args.bond_store)
    )


async def _pair(args: argparse.Namespace, out: _Output, bleak_args: Dict[str, Any]) -> int:
    out.say(f"connecting to {args.address} ...")
    async with _client(args, bleak_args) as client:
        out.say("securing the link (deriving the key from the code takes a moment) ...")
        async with _connect(args, client) as link:
            if args.json:
                out.record(
                    {"device_id": link.device_id, "host_id": link.host_id, "mode": link.mode}
                )
            else:
                how = "paired with the code" if link.mode == "paired" else "resumed with the bond"
                out.line(f"{how}: device {link.device_id}, this host {link.host_id}")
    return 0


def _read_lines(source: TextIO, deliver: Callable[[Optional[str]], None]) -> None:
    """Reads lines in a thread (stdin cannot be awaited everywhere); None at EOF."""

    def reader() -> None:
        for line in source:
            deliver(line.rstrip("\r\n"))
        deliver(None)

    threading.Thread(target=reader, daemon=True).start()


async def _chat(
    args: argparse.Namespace, out: _Output, bleak_args: Dict[str, Any], stdin: TextIO
) -> int:
    loop = asyncio.get_running_loop()
    lines: "asyncio.Queue[Optional[str]]" = asyncio.Queue()
    out.say(f"connecting to {args.address} ...")
    async with _client(args, bleak_args) as client:
        async with _connect(args, client) as link:
            out.say(f"secure link open ({link.mode}); type lines, end with EOF")

            async def print_messages() -> None:
                async for message in link:
                    if args.json:
                        out.record({"message": _text(message)})
                    else:
                        out.line(_text(message))

            printer = asyncio.ensure_future(print_messages())
            _read_lines(stdin, lambda line: loop.call_soon_threadsafe(lines.put_nowait, line))
            while True:
                getter = asyncio.ensure_future(lines.get())
                done, _ = await asyncio.wait({getter, printer}, return_when=asyncio.FIRST_COMPLETED)
                if printer in done:
                    getter.cancel()
                    printer.result()  # the link's error, if it failed
                    out.say("the device closed the session")
                    return 0
                line = getter.result()
                if line is None:
                    break
                await link.send(line.encode())
            await link.drain()
            # Give the last answers a moment before closing.
            await asyncio.sleep(0.5)
            printer.cancel()
    return 0


def _provision(args: argparse.Namespace, out: _Output) -> int:
    made = provision(
        code=SetupCode(args.code) if args.code else None,
        qr_secret=args.qr_secret,
        memory_kib=args.memory_kib,
        iterations=args.iterations,
        parallelism=args.parallelism,
    )
    # Created new and owner-only: the record is as good as the code to a thief.
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(bytes(made.record))
    document = {
        "device_id": made.record.device_id,
        "manual_code": made.code.manual if made.code else None,
        "qr_payload": made.payload.text,
        "record": str(args.out),
    }
    if args.json:
        out.record(document)
    else:
        out.line(f"device {document['device_id']} -> {args.out}")
        if made.code:
            out.line(f"code on the label: {made.code.manual}")
        out.line(f"QR payload: {made.payload.text}")
    return 0


def _static_address(device_id: str) -> str:
    """A random static address derived from the device id (top bits 11)."""
    octets = bytearray(bytes.fromhex(device_id)[:6])
    octets[0] |= 0xC0
    return ":".join(f"{octet:02X}" for octet in octets)


async def _device(
    args: argparse.Namespace,
    out: _Output,
    stdin: TextIO,
    bumble_device: Optional[Any] = None,
) -> int:
    from .bumble import BlepakeDevice

    record = DeviceRecord.from_bytes(args.record.read_bytes())
    state = args.state or args.record.with_suffix(".state")
    transport = None
    if bumble_device is None:
        from bumble.device import Device
        from bumble.transport import open_transport

        out.say(f"opening HCI transport {args.transport} ...")
        transport = await open_transport(args.transport)
        bumble_device = Device.with_hci(
            args.name,
            _static_address(record.device_id),
            transport.source,
            transport.sink,
        )

    def event(kind: str, **fields: Any) -> None:
        if args.json:
            out.record({"event": kind, **fields})
        else:
            words = " ".join(f"{key}={value}" for key, value in fields.items())
            out.say(f"{kind} {words}".strip())

    def on_session(session: Any) -> None:
        event("connected", host_id=session.info.host_id, mode=session.info.mode)

        async def watch() -> None:
            error = await session.ended
            if error is None:
                event("closed", host_id=session.info.host_id)
            else:
                event("failed", error=str(error), type=type(error).__name__)

        asyncio.ensure_future(watch())

    def on_message(session: Any, message: bytes) -> None:
        event("message", host_id=session.info.host_id, text=_text(message))

    server = BlepakeDevice(
        bumble_device,
        record,
        storage_dir=state,
        name=args.name,
        echo=args.echo,
        on_message=on_message,
        on_session=on_session,
    )
    await server.start()
    event(
        "advertising",
        device_id=record.device_id,
        window=server.core.pairing_window(),
        failures=server.core.failures,
    )
    if not args.json:
        out.say("keys: p + Enter opens the pairing window, r revokes every bond, q quits")

    loop = asyncio.get_running_loop()
    keys: "asyncio.Queue[Optional[str]]" = asyncio.Queue()
    _read_lines(stdin, lambda line: loop.call_soon_threadsafe(keys.put_nowait, line))
    try:
        while True:
            key = await keys.get()
            if key is None:
                # No console (stdin closed): serve until stopped.
                await asyncio.Event().wait()
            key = key.strip().lower()
            if key == "p":
                server.press_button()
                event("pairing-window", state=server.core.pairing_window())
            elif key == "r":
                server.long_press()
                event("bonds-revoked", window=server.core.pairing_window())
            elif key == "q":
                return 0
            elif key:
                out.say(f"unknown key {key!r}: p, r or q")
    finally:
        if transport is not None:
            await transport.close()


async def run(
    argv: Optional[list] = None,
    *,
    bleak_args: Optional[Dict[str, Any]] = None,
    bumble_device: Optional[Any] = None,
    stdin: Optional[TextIO] = None,
    stdout: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
) -> int:
    """Runs one command in the running event loop; returns the exit status.

    ``bleak_args`` are extra keyword arguments for ``BleakScanner``
    (``{"scanner": {...}}``) and ``BleakClient`` (``{"client": {...}}``), a
    custom ``backend`` say; ``bumble_device`` replaces the device's HCI
    transport. Both serve tests and embedding.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    out = _Output(getattr(args, "json", False), stdout or sys.stdout, stderr or sys.stderr)
    bleak_args = bleak_args or {}
    try:
        if args.command == "scan":
            return await _scan(args, out, bleak_args)
        if args.command == "pair":
            return await _pair(args, out, bleak_args)
        if args.command == "chat":
            return await _chat(args, out, bleak_args, stdin or sys.stdin)
        if args.command == "provision":
            return _provision(args, out)
        return await _device(args, out, stdin or sys.stdin, bumble_device)
    except BlepakeError as error:
        return out.error(error)
    except (OSError, asyncio.TimeoutError) as error:
        # The BLE stack's failures (no adapter, no such device, a timeout):
        # bleak's own errors are OSErrors on most platforms, or BleakError.
        return out.error(error)
    except Exception as error:
        if type(error).__module__.startswith("bleak"):
            return out.error(error)
        raise


def main(argv: Optional[list] = None) -> int:
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
