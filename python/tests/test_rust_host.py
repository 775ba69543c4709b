"""The Rust host against the Python package's device: `blepake connect
--hci`, the trouble-host central, on a Bumble virtual controller exposed to
it as H4 over TCP, against the blepake.bumble device on a linked one. It
pairs, talks and resumes, and reports a wrong code, a locked device and a
link the device dropped each as its own error."""

from __future__ import annotations

import asyncio
import json

from bumble.controller import Controller
from bumble.transport import open_transport

from conftest import CODE, WRONG_CODE, start_device
from test_trouble_device import blepake_command, free_port


async def connect(port: int, bond, *args: str) -> tuple[int, list]:
    """Runs `blepake connect --json` once; its exit code and events."""
    host = await asyncio.create_subprocess_exec(
        blepake_command(), "connect", "--json", "--timeout", "10",
        "--hci", f"tcp:127.0.0.1:{port}", "--bond", str(bond), *args,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(host.communicate(), 60)
    return host.returncode, [json.loads(line) for line in output.splitlines()]


def event(events: list, name: str) -> dict:
    found = [e for e in events if e["event"] == name]
    assert found, f"no {name!r} event in {events}"
    return found[0]


async def test_blepake_connect_pairs_resumes_and_names_each_failure(world, made, tmp_path):
    async def drop_on_request(session, message: bytes) -> None:
        if message == b"drop the link":
            await session.connection.disconnect()
        else:
            session.send(message)

    server = await start_device(
        world, made.record, echo=False, on_message=drop_on_request, max_failures=1
    )
    port = free_port()
    transport = await open_transport(f"tcp-server:127.0.0.1:{port}")
    Controller("host", host_source=transport.source, host_sink=transport.sink, link=world.link)
    bond = tmp_path / "bond"
    try:
        status, events = await connect(port, bond, "--code", CODE, "--send", "hello", "--recv", "1")
        assert status == 0, events
        assert event(events, "connected")["mode"] == "paired"
        assert event(events, "received")["text"] == "hello"
        assert bond.stat().st_mode & 0o777 == 0o600

        status, events = await connect(port, bond, "--send", "again", "--recv", "1")
        assert status == 0, events
        assert event(events, "connected")["mode"] == "resumed"
        assert event(events, "received")["text"] == "again"

        # The device drops the link mid-session: the host says so, at once.
        status, events = await connect(port, bond, "--send", "drop the link", "--recv", "1")
        assert status == 1, events
        assert event(events, "connected")["mode"] == "resumed"
        assert event(events, "error")["kind"] == "link_lost"

        # One wrong code spends the device's only attempt; then even the
        # right one is refused until the owner opens the window again.
        server.press_button()
        status, events = await connect(port, tmp_path / "guess", "--code", WRONG_CODE)
        assert (status, event(events, "error")["kind"]) == (1, "wrong_code")
        assert server.core.locked
        status, events = await connect(port, tmp_path / "guess", "--code", CODE)
        assert (status, event(events, "error")["kind"]) == (1, "locked"), events
        server.press_button()
        status, events = await connect(port, tmp_path / "guess", "--code", CODE)
        assert status == 0, events
        assert event(events, "connected")["mode"] == "paired"
    finally:
        await transport.close()
