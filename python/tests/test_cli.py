"""``python -m blepake`` in-process, over the virtual BLE world."""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat

import blepake
from blepake import MemoryBondStore
from blepake.__main__ import run
from blepake.bleak import SecureLink
from blepake.testing import BumbleClient, BumbleScanner

from conftest import CODE, WRONG_CODE, client_for, start_device

LIGHT_ARGS = ["--memory-kib", "256", "--iterations", "1", "--parallelism", "1"]


def documents(text: str):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_provision_writes_a_private_record_and_never_overwrites(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    path = tmp_path / "device.record"
    argv = ["provision", "--out", str(path), "--code", CODE, "--json", *LIGHT_ARGS]
    assert await run(argv, stdout=out, stderr=err) == 0
    (document,) = documents(out.getvalue())
    record = blepake.DeviceRecord.from_bytes(path.read_bytes())
    assert document["device_id"] == record.device_id
    assert document["manual_code"] == CODE
    assert blepake.SetupPayload.parse(document["qr_payload"]).info == record.setup_info
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    out = io.StringIO()
    assert await run(argv, stdout=out, stderr=err) == 1
    assert documents(out.getvalue())[0]["error"]["type"] == "FileExistsError"


async def test_scan_pair_and_chat(world, made, tmp_path):
    server = await start_device(world, made.record, name="lamp")
    central = await world.device("central")
    address = str(server.device.random_address)
    bleak_args = {
        "scanner": {"backend": BumbleScanner, "central": central},
        "client": {"backend": BumbleClient, "central": central},
    }
    out, err = io.StringIO(), io.StringIO()
    assert await run(["scan", "--timeout", "0.5", "--json"], bleak_args=bleak_args, stdout=out, stderr=err) == 0
    assert documents(out.getvalue())[0]["devices"][0]["address"] == address
    assert documents(out.getvalue())[0]["devices"][0]["name"] == "lamp"

    bonds = tmp_path / "bonds" / "bonds.json"
    out = io.StringIO()
    argv = ["pair", address, "--code", WRONG_CODE, "--bond-store", str(bonds), "--json"]
    assert await run(argv, bleak_args=bleak_args, stdout=out, stderr=err) == 1
    error = documents(out.getvalue())[0]["error"]
    assert (error["type"], error["code"]) == ("WrongCode", 1)
    assert not bonds.exists()

    out, err = io.StringIO(), io.StringIO()
    argv = ["pair", address, "--code", CODE, "--bond-store", str(bonds)]
    assert await run(argv, bleak_args=bleak_args, stdout=out, stderr=err) == 0
    assert out.getvalue().startswith(f"paired with the code: device {made.record.device_id}")
    assert stat.S_IMODE(os.stat(bonds).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(bonds.parent).st_mode) == 0o700
    assert blepake.FileBondStore(bonds).load(made.record.device_id) is not None

    # Chat resumes with the bond: no code given.
    out = io.StringIO()
    argv = ["chat", address, "--bond-store", str(bonds), "--json"]
    status = await run(
        argv, bleak_args=bleak_args, stdin=io.StringIO("hello\nwörld\n"), stdout=out, stderr=err
    )
    assert status == 0, err.getvalue()
    assert documents(out.getvalue()) == [{"message": "hello"}, {"message": "wörld"}]


async def test_device_command_serves_and_takes_console_keys(world, made, tmp_path):
    record = tmp_path / "device.record"
    record.write_bytes(bytes(made.record))
    read_end, write_end = os.pipe()
    keys = os.fdopen(write_end, "w")
    out, err = io.StringIO(), io.StringIO()
    peripheral = await world.device("device")
    command = asyncio.ensure_future(
        run(
            ["device", str(record), "--echo", "--json"],
            bumble_device=peripheral,
            stdin=os.fdopen(read_end),
            stdout=out,
            stderr=err,
        )
    )
    await asyncio.sleep(0.2)
    assert not command.done(), err.getvalue()
    central = await world.device("central")
    store = MemoryBondStore()

    class Server:  # what client_for needs of a server
        device = peripheral

    async with client_for(central, Server) as client:
        async with SecureLink.connect(client, code=CODE, bond_store=store) as link:
            await link.send(b"on")
            assert await link.recv() == b"on"
    keys.write("p\n")
    keys.flush()
    await asyncio.sleep(0.2)
    keys.write("q\n")
    keys.flush()
    assert await asyncio.wait_for(command, 5) == 0
    events = documents(out.getvalue())
    kinds = [event["event"] for event in events]
    assert kinds[:3] == ["advertising", "connected", "message"], events
    assert events[0]["window"] == "unbonded"
    assert {"event": "pairing-window", "state": "open"} in events
    # The counter and the bond are in owner-only files next to the record.
    state = record.with_suffix(".state")
    files = sorted(path.name for path in state.iterdir())
    assert "bond-00" in files and any(name.startswith("counter-") for name in files)
    for path in state.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
