"""Shared pieces of the tests: a device provisioned once with light Argon2id
parameters, a virtual BLE world per test, and bleak clients over Bumble."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from bleak import BleakClient
from bleak.exc import BleakError

import blepake
from blepake.bumble import BlepakeDevice
from blepake.testing import BumbleClient, VirtualWorld

REPO = Path(__file__).resolve().parents[2]
CODE = "314-159-266"
WRONG_CODE = "27182818"
# Light Argon2id: the tests pair often, and the parameters are the device's
# choice (the default is 64 MiB, 3 passes).
LIGHT = dict(memory_kib=256, iterations=1, parallelism=1)


@pytest.fixture(scope="session")
def made():
    return blepake.provision(code=blepake.SetupCode(CODE), **LIGHT)


@pytest.fixture
async def world():
    return VirtualWorld()


async def start_device(world, record, **options) -> BlepakeDevice:
    """A blepake device that echoes, advertising on its own controller."""
    options.setdefault("echo", True)
    server = BlepakeDevice(await world.device("device"), record, **options)
    await server.start()
    return server


def client_for(central, server, mtu=247, backend=BumbleClient, **options) -> BleakClient:
    return BleakClient(
        str(server.device.random_address), backend=backend, central=central, mtu=mtu, **options
    )


class ScriptedClient(BumbleClient):
    """A Bumble backend that records the values written, and can drop the
    link instead of making the N-th write or delivering the N-th
    notification, or lose every notification (``mute``). With
    ``requests_only`` it reports no characteristic as taking Write Without
    Response, as some stacks do."""

    def __init__(
        self, *args, drop_write=None, drop_notification=None, mute=False, requests_only=False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.requests_only = requests_only
        self.responses = []
        self.writes = []
        self.notifications = 0
        self.drop_write = drop_write
        self.drop_notification = drop_notification
        self.mute = mute

    async def connect(self, pair, **kwargs):
        await super().connect(pair, **kwargs)
        if self.requests_only:
            for characteristic in self.services.characteristics.values():
                characteristic._properties = [
                    name for name in characteristic.properties if name != "write-without-response"
                ]

    async def write_gatt_char(self, characteristic, data, response):
        self.writes.append(bytes(data))
        self.responses.append(response)
        if len(self.writes) == self.drop_write:
            await self.disconnect()
            raise BleakError("the link dropped")
        await super().write_gatt_char(characteristic, data, response)

    async def start_notify(self, characteristic, callback, **kwargs):
        def deliver(data):
            self.notifications += 1
            if self.mute:
                return
            if self.notifications == self.drop_notification:
                asyncio.ensure_future(self.disconnect())
                return
            callback(data)

        await super().start_notify(characteristic, deliver, **kwargs)


def frame_types(value: bytes):
    """The types of the frames that start in one value (a test's view of the
    stream; the value must begin at a frame boundary)."""
    types, offset = [], 0
    while offset + 2 <= len(value):
        types.append(value[offset] >> 4)
        offset += 2 + ((value[offset] & 0x0F) << 8 | value[offset + 1])
    return types


def load_reference():
    """The independent Python implementation of PROTOCOL.md in tools/interop."""
    sys.path.insert(0, str(REPO / "tools" / "interop"))
    try:
        import blepake_ref
    finally:
        sys.path.pop(0)
    return blepake_ref
