"""A bleak app with a protected link: scan for the blepake service, pair with
the code from the label (or the QR code's text), send and receive.

    pip install blepake
    python bleak_app.py --code 314-159-266          # or --qr 'BP:...'

The two lines that blepake adds to a bleak app are marked; everything else
is the app you have. The first run pairs with the code and keeps a bond
(under your user data directory); later runs reconnect with the bond.
"""

import argparse
import asyncio

from bleak import BleakClient, BleakScanner

from blepake import SERVICE_UUID
from blepake.bleak import SecureLink  # blepake, line 1 of 2


async def main(code=None, qr=None, bond_store=None, scanner_args={}, client_args={}):
    device = await BleakScanner.find_device_by_filter(
        lambda device, adv: SERVICE_UUID in adv.service_uuids, timeout=10.0, **scanner_args
    )
    if device is None:
        raise SystemExit("no blepake device in range")
    print(f"found {device.address} ({device.name})")
    async with BleakClient(device, **client_args) as client:
        # blepake, line 2 of 2: everything sent on `link` is authenticated and encrypted.
        async with SecureLink.connect(client, code=code, qr=qr, bond_store=bond_store) as link:
            print(f"secure link open ({link.mode})")
            await link.send(b"hello, device")
            reply = await link.recv()
            print(f"device says {reply!r}")
            return reply


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", help="the setup code on the label, e.g. 314-159-266")
    parser.add_argument("--qr", help="the QR code's text, BP:...")
    args = parser.parse_args()
    asyncio.run(main(code=args.code, qr=args.qr))
