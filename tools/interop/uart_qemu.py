#!/usr/bin/env python3
"""This reference as the host, over the UART framing (PROTOCOL.md §16), against the Cortex-M4
firmware (firmware/qemu-m4) running under QEMU: the device side is the Rust implementation.

A device provisioned here (its §5.2 record loaded into the board's flash), then, on one serial
line: damaged, oversized and endless frames that the firmware must drop (one Setup Info answers
them and a good request), the Setup Info read over the line and a pairing from the code, a message
both ways (the firmware echoes), a Close answered by the device's Close; the button (a board
frame) and a wrong code, refused and counted by the firmware; a resume with the bond and a
message again. The firmware's console lines confirm what it saw. Ends with `N passed, N failed`
and exits non-zero on any failure.

Needs qemu-system-arm (scripts/setup installs it) and cargo: the image is built first, in the
firmware's own workspace (nothing to do when it is built already).
Run: python3 uart_qemu.py
"""

import os
import queue
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

import blepake_ref as ref

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIRMWARE = os.path.join(ROOT, "firmware", "qemu-m4")
IMAGE = os.path.join(FIRMWARE, "target", "thumbv7em-none-eabihf", "release", "device")
RECORD_ADDRESS = "0x21000000"  # the board's flash, where the firmware reads its record
CODE, WRONG_CODE = "31415926", "27182818"
BUTTON = 0  # board frame 0x70: the button that opens the pairing window
TIMEOUT = 30.0


class Failed(Exception):
    """Something did not come in time; the run cannot go on."""


def build_image():
    env = {k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=FIRMWARE,
                   env=env, check=True)


class Board:
    """QEMU running the device image, its UART on a TCP socket, its console read as it comes."""

    def __init__(self, record_path):
        with socket.socket() as probe:  # a free port for QEMU's UART server
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.qemu = subprocess.Popen(
            ["qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
             "-monitor", "none", "-icount", "shift=0",
             "-semihosting-config", "enable=on,target=native", "-kernel", IMAGE,
             "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
             "-device", f"loader,file={record_path},addr={RECORD_ADDRESS}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.console = queue.Queue()
        threading.Thread(target=self._read_console, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.uart = socket.create_connection(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline or self.qemu.poll() is not None:
                    raise Failed("QEMU's UART never listened")
                time.sleep(0.05)

    def _read_console(self):
        for line in self.qemu.stdout:
            if os.environ.get("UART_QEMU_CONSOLE"):
                print("console:", line.rstrip("\n"), flush=True)
            self.console.put(line.rstrip("\n"))

    def expect(self, prefix):
        """The next console line that starts with `prefix` (others are skipped)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self.console.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Failed(f"the firmware printed no line starting {prefix!r}") from None
            if line.startswith(prefix):
                return line

    def run(self, link, done):
        """Carries `link` over the UART until `done()` holds."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            self.uart.sendall(link.take_output())
            if done():
                return
            if time.monotonic() > deadline:
                raise Failed("the link did not get there in time")
            if select.select([self.uart], [], [], 0.05)[0]:
                data = self.uart.recv(4096)
                if not data:
                    raise Failed("QEMU closed the UART")
                link.receive(data)
            if link.conn is not None:
                link.conn.poll()

    def stop(self):
        self.uart.close()
        self.qemu.kill()
        self.qemu.wait()


def messages(events):
    return [e[1] for e in events if e[0] == "message"]


def scenario(board, info, check):
    """The checks, in order; returns nothing, raises Failed when something never came."""
    check(board.expect("status:") == "status: failures=0 locked=false bonds=0",
          "the firmware booted with the record provisioned here")
    # Damaged ReadSetupInfo frames, each of which §16.1 drops, then a good one: one answer.
    read = bytes([ref.UART_READ_SETUP_INFO])
    crc = ref.crc16_ibm3740(read).to_bytes(2, "big")
    long_read = read + b"\x01" * 245
    damaged = [ref.cobs_encode(read + crc[:1] + bytes([crc[1] ^ 1])),  # a bad CRC
               ref.cobs_encode(read + crc)[:-1],  # a byte short: does not decode
               ref.cobs_encode(long_read + ref.crc16_ibm3740(long_read).to_bytes(2, "big")),
               b"\x42" * 600 + ref.cobs_encode(read + crc)]  # endless, ending as a good frame
    board.uart.sendall(b"\x00".join(damaged) + b"\x00"
                       + ref.encode_uart_frame(ref.UART_READ_SETUP_INFO))
    answers = ref.UartReceiver()
    frames = []
    settled = time.monotonic() + 1.0  # an answer to a damaged frame would come first
    while time.monotonic() < settled:
        if select.select([board.uart], [], [], 0.05)[0]:
            frames += answers.feed(board.uart.recv(4096))
    check(frames == [(ref.UART_SETUP_INFO, info.encode())],
          "damaged, 250-byte and endless frames dropped: one Setup Info for the good request")

    link = ref.UartHostLink()
    link.read_setup_info()
    board.run(link, lambda: link.setup_info is not None)
    check(link.setup_info == info.encode(), "ReadSetupInfo returns the provisioned Setup Info")
    conn = ref.HostConnection.pair(ref.Password(code=CODE), ref.SetupInfo.decode(link.setup_info))
    conn.send(b"hello from python")
    link.start(conn)
    seen = []
    board.run(link, lambda: seen.extend(conn.take_events()) or messages(seen))
    check(("connected", "paired") in seen, "paired from the code over the UART")
    bonds = [e[1] for e in seen if e[0] == "bonded"]
    check(messages(seen) == [b"hello from python"], "a message both ways (the firmware echoes)")
    check(board.expect("connected:") == "connected: paired", "the firmware paired")
    conn.close(0)
    board.run(link, lambda: link.closed_by_device)
    check(conn.take_events() == [("closed", False, 0)],
          "after a Close record the device closes the link")
    check(board.expect("status:") == "status: failures=0 locked=false bonds=1",
          "the firmware kept the bond")

    link = ref.UartHostLink()
    link.board(BUTTON)
    board.run(link, lambda: True)
    check(board.expect("button:") == "button: pairing window open=true",
          "the button, a board frame, opens the pairing window")
    conn = ref.HostConnection.pair(ref.Password(code=WRONG_CODE), info)
    link.start(conn)
    board.run(link, lambda: link.closed_by_device)
    check(conn.take_events() == [("failed", "sent:AuthenticationFailed")],
          "a wrong code fails on the host, and the device closes the link")
    check(board.expect("status:") == "status: failures=1 locked=false bonds=1",
          "the firmware counted the wrong code")

    link = ref.UartHostLink()
    check(len(bonds) == 1, "the pairing gave a bond")
    conn = ref.HostConnection.resume(bonds[0])
    conn.send(b"again")
    link.start(conn)
    seen = []
    board.run(link, lambda: seen.extend(conn.take_events()) or messages(seen))
    check(("connected", "resumed") in seen and messages(seen) == [b"again"],
          "resumed with the bond, a message both ways")
    check(board.expect("connected:") == "connected: resumed", "the firmware resumed")
    link.close()
    board.run(link, lambda: True)


def main():
    results = []

    def check(condition, name):
        results.append(condition)
        print(f"{'ok  ' if condition else 'FAIL'} {name}", flush=True)

    build_image()
    _, info, record = ref.provision(CODE, memory_kib=64, iterations=1, parallelism=1)
    with tempfile.TemporaryDirectory() as work:
        record_path = os.path.join(work, "device.record")
        with open(record_path, "wb") as file:
            file.write(record.encode())
        board = Board(record_path)
        try:
            scenario(board, info, check)
        except Failed as failure:
            check(False, str(failure))
        finally:
            board.stop()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) and results else 1


if __name__ == "__main__":
    sys.exit(main())
