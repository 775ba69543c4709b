"""Run by scripts/test with the Python of a fresh venv that has only the
Linux x86-64 wheel installed (and its dependencies): the installed package,
not the source tree, provisions a device and pairs over Bumble, then
resumes with the bond. Prints `N passed, N failed`."""

import asyncio
import logging
import sys
from pathlib import Path

import blepake
from bleak import BleakClient
from blepake.bleak import SecureLink
from blepake.bumble import BlepakeDevice
from blepake.testing import BumbleClient, VirtualWorld


async def pair_and_resume():
    made = blepake.provision(memory_kib=256, iterations=1, parallelism=1)
    world = VirtualWorld()
    server = BlepakeDevice(await world.device("device"), made.record, echo=True)
    await server.start()
    central = await world.device("central")
    store = blepake.MemoryBondStore()
    modes = []
    for code in (made.code.manual, None):
        address = str(server.device.random_address)
        async with BleakClient(address, backend=BumbleClient, central=central) as client:
            async with SecureLink.connect(client, code=code, bond_store=store) as link:
                await link.send(b"from the wheel")
                assert await link.recv() == b"from the wheel"
                modes.append(link.mode)
    return modes


def main():
    # Both ends drop the link after a close; the virtual controller logs the
    # second disconnection as an error.
    logging.getLogger("bumble").setLevel(logging.CRITICAL)
    location = Path(blepake.__file__).resolve()
    checks = {
        "imported from site-packages": "site-packages" in location.parts,
        "a native module": Path(blepake._native.__file__).suffix in (".so", ".pyd"),
        "pairs, then resumes": asyncio.run(pair_and_resume()) == ["paired", "resumed"],
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    failed = sum(not ok for ok in checks.values())
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
