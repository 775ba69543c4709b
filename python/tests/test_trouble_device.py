"""The bleak host against the Rust device: SecureLink (bleak over a Bumble
central) pairs, talks and resumes with `blepake device --hci`, the
trouble-host GATT server, whose controller is a Bumble virtual controller
on the same virtual link, exposed to it as H4 over TCP."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess

from bleak import BleakClient
from bumble.controller import Controller
from bumble.transport import open_transport

from blepake import MemoryBondStore, WrongCode
from blepake.bleak import SecureLink, scan
from blepake.testing import BumbleClient, BumbleScanner

import pytest

from conftest import CODE, REPO, WRONG_CODE


def blepake_command() -> str:
    """The `blepake` command, built from this checkout."""
    subprocess.run(
        ["cargo", "build", "--quiet", "--locked", "-p", "blepake-cli"], cwd=REPO, check=True
    )
    return str(REPO / "target" / "debug" / "blepake")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def next_event(device, name: str) -> dict:
    """The next JSON event of this name that `blepake device` prints."""
    while True:
        line = await asyncio.wait_for(device.stdout.readline(), 20)
        assert line, f"blepake device ended before printing {name!r}"
        event = json.loads(line)
        if event["event"] == name:
            return event


async def test_secure_link_pairs_talks_and_resumes_with_the_trouble_device(world, made, tmp_path):
    record = tmp_path / "device.record"
    record.write_bytes(bytes(made.record))
    port = free_port()
    transport = await open_transport(f"tcp-server:127.0.0.1:{port}")
    Controller("trouble", host_source=transport.source, host_sink=transport.sink, link=world.link)
    device = await asyncio.create_subprocess_exec(
        blepake_command(), "device", "--json", "--hci", f"tcp:127.0.0.1:{port}",
        "--record", str(record), "--state", str(tmp_path / "state"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    try:
        await next_event(device, "advertising")
        central = await world.device("central")
        found = await scan(5.0, backend=BumbleScanner, central=central)
        assert len(found) == 1, found
        address = found[0][0].address
        store = MemoryBondStore()

        async with BleakClient(address, backend=BumbleClient, central=central) as client:
            async with SecureLink.connect(client, code=CODE, bond_store=store) as link:
                assert link.mode == "paired"
                assert link.device_id == made.record.device_id
                for message in (b"hello", bytes(range(256)) * 2):
                    await link.send(message)
                    assert await link.recv() == message
        assert (await next_event(device, "connected"))["mode"] == "paired"

        async with BleakClient(address, backend=BumbleClient, central=central) as client:
            async with SecureLink.connect(client, bond_store=store) as link:
                assert link.mode == "resumed"
                await link.send(b"again")
                assert await link.recv() == b"again"
        assert (await next_event(device, "connected"))["mode"] == "resumed"

        # The window closed with the pairing; Enter opens it, and a wrong
        # code is then counted.
        device.stdin.write(b"\n")
        assert (await next_event(device, "window"))["state"] == "open"
        async with BleakClient(address, backend=BumbleClient, central=central) as client:
            with pytest.raises(WrongCode):
                await SecureLink.connect(client, code=WRONG_CODE, bond_store=MemoryBondStore())
    finally:
        device.kill()
        await device.wait()
        await transport.close()
