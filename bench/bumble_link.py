"""Prints what blepake costs a bleak app over a real host stack: handshake wall
time and 1 MB echo throughput, beside plain unprotected GATT on the same
link.

One Bumble peripheral serves the blepake service (the device side of the
core, echoing) and a plain echo service (Write Without Response in,
Notification out, no protection); one Bumble central connects once, at ATT
MTU 247, and bleak code drives both through the Bumble backend of
blepake.testing. Both controllers are Bumble virtual controllers in this
process, so the link adds no radio time: the figures are the software's
(Python, Bumble's stack and, for blepake, the core's cryptography), the
ceiling of what the stack can do, not a radio's throughput.

    .venv/bin/python bench/bumble_link.py [--megabytes 1] [--pairings 3] [--resumes 20]
"""

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time

from bleak import BleakClient
from bumble import gatt

import blepake
from blepake.bleak import SecureLink
from blepake.bumble import BlepakeDevice
from blepake.testing import BumbleClient, VirtualWorld

PLAIN_SERVICE = "8d5e2b1c-6a0f-4f52-9d3b-2c7a1e4b9f01"
PLAIN_IN = "8d5e2b1c-6a0f-4f52-9d3b-2c7a1e4b9f02"
PLAIN_OUT = "8d5e2b1c-6a0f-4f52-9d3b-2c7a1e4b9f03"


def plain_echo_service(peripheral):
    """An unprotected echo: every value written comes back as a notification."""

    def on_write(connection, value):
        asyncio.ensure_future(peripheral.notify_subscriber(connection, out, bytes(value)))

    out = gatt.Characteristic(
        PLAIN_OUT, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
    )
    inbound = gatt.Characteristic(
        PLAIN_IN,
        gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
        gatt.Characteristic.WRITEABLE,
        gatt.CharacteristicValue(write=on_write),
    )
    return gatt.Service(PLAIN_SERVICE, [inbound, out])


async def plain_echo(client, data):
    """Seconds to echo `data` through the plain service in MTU-sized values."""
    got = 0
    done = asyncio.get_running_loop().create_future()

    def on_notify(_, value):
        nonlocal got
        got += len(value)
        if got >= len(data) and not done.done():
            done.set_result(None)

    await client.start_notify(PLAIN_OUT, on_notify)
    size = client.mtu_size - 3
    start = time.perf_counter()
    for offset in range(0, len(data), size):
        await client.write_gatt_char(PLAIN_IN, data[offset : offset + size], response=False)
    await done
    elapsed = time.perf_counter() - start
    await client.stop_notify(PLAIN_OUT)
    return elapsed


async def blepake_echo(link, data):
    """Seconds to echo `data` through a blepake session in 512-byte messages."""
    chunks = [data[i : i + blepake.MAX_MESSAGE_LEN] for i in range(0, len(data), blepake.MAX_MESSAGE_LEN)]
    start = time.perf_counter()

    async def send_all():
        for chunk in chunks:
            await link.send(chunk)

    sender = asyncio.ensure_future(send_all())
    got = bytearray()
    async for message in link:
        got += message
        if len(got) >= len(data):
            break
    await sender
    elapsed = time.perf_counter() - start
    if bytes(got) != data:
        raise SystemExit("the blepake echo came back altered")
    return elapsed


def summary(samples):
    return f"median {statistics.median(samples) * 1000:8.1f} ms  (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f}, n={len(samples)})"


async def main(args):
    print("provisioning with the default Argon2id (64 MiB, t=3, p=4) ...", file=sys.stderr)
    made = blepake.provision()
    code = made.code.manual
    world = VirtualWorld()
    peripheral = await world.device("device")
    peripheral.add_service(plain_echo_service(peripheral))
    server = BlepakeDevice(peripheral, made.record, echo=True)
    await server.start()
    central = await world.device("central")
    address = str(peripheral.random_address)
    store = blepake.MemoryBondStore()
    data = os.urandom(int(args.megabytes * (1 << 20)))

    connect_plain, pairings, resumes = [], [], []
    async with BleakClient(address, backend=BumbleClient, central=central, mtu=247) as client:
        # Link setup without blepake: what any app pays (subscribe to a characteristic).
        for _ in range(args.resumes):
            start = time.perf_counter()
            await client.start_notify(PLAIN_OUT, lambda *_: None)
            connect_plain.append(time.perf_counter() - start)
            await client.stop_notify(PLAIN_OUT)
        plain_seconds = await plain_echo(client, data)

    for _ in range(args.pairings):
        server.press_button()
        store.delete(made.record.device_id)
        async with BleakClient(address, backend=BumbleClient, central=central, mtu=247) as client:
            start = time.perf_counter()
            async with SecureLink.connect(client, code=code, bond_store=store):
                pairings.append(time.perf_counter() - start)
    for index in range(args.resumes):
        async with BleakClient(address, backend=BumbleClient, central=central, mtu=247) as client:
            start = time.perf_counter()
            async with SecureLink.connect(client, bond_store=store) as link:
                resumes.append(time.perf_counter() - start)
                if index == args.resumes - 1:
                    blepake_seconds = await blepake_echo(link, data)

    megabytes = len(data) / (1 << 20)
    print(f"Bumble virtual controllers, one link, ATT MTU 247; {megabytes:g} MiB echoed each way")
    print()
    print("link setup (bleak, from a connected client)")
    print(f"  plain GATT: subscribe          {summary(connect_plain)}")
    print(f"  blepake: pairing with the code {summary(pairings)}")
    print("           (Setup Info read, Argon2id 64 MiB on the host, SPAKE2+, 1.5 round trips)")
    print(f"  blepake: resume with the bond  {summary(resumes)}")
    print()
    print(f"{megabytes:g} MiB echo (sent and received back)")
    print(
        f"  plain GATT, unprotected        {plain_seconds:6.2f} s  {megabytes / plain_seconds:6.2f} MiB/s each way"
        f"  ({(len(data) + 243) // 244} values of 244 B each way)"
    )
    print(
        f"  blepake, 512 B messages        {blepake_seconds:6.2f} s  {megabytes / blepake_seconds:6.2f} MiB/s each way"
        f"  ({plain_seconds / blepake_seconds * 100:.0f} % of plain)"
    )


if __name__ == "__main__":
    # Both ends drop the link after a close; the virtual controller logs the
    # second disconnection as an error.
    logging.getLogger("bumble").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--pairings", type=int, default=3)
    parser.add_argument("--resumes", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
