"""Records the Bumble pairings of this folder that the analyser's tests read.

Two Bumble virtual controllers on one in-process link; the initiator's HCI
traffic is written as btsnoop (datalink 1002, H4), the way a host logs it.

    python crates/blepake-sniff/tests/data/bumble/make_captures.py [OUTPUT_DIR]

(with the project's .venv, which has Bumble). The files it writes:

- bumble_legacy_oob_ok.btsnoop: LE legacy pairing with OOB data on both sides,
  TK ffeeddccbbaa99887766554433221100 (most significant octet first, as the
  Core specification and Wireshark write it; Bumble takes it least significant
  octet first), bonding, then encryption with the STK.
- bumble_legacy_passkey_wrong.btsnoop: LE legacy passkey entry that fails: the
  responder displays 654321, the initiator types 123456; the responder sends
  Pairing Failed (Confirm Value Failed) and the initiator disconnects.

Each run draws new randoms, so the files differ from run to run; the tests
derive what they check from the values in the file.
"""

import asyncio
import os
import sys

from bumble import hci, smp
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.snoop import BtSnooper
from bumble.transport.common import AsyncPipeSink

# Most significant octet first; Bumble's values are least significant octet first.
OOB_TK = bytes.fromhex("ffeeddccbbaa99887766554433221100")
SHOWN_PASSKEY = 654321
TYPED_PASSKEY = 123456


class Display(PairingDelegate):
    """A responder that displays a fixed passkey."""

    def __init__(self) -> None:
        super().__init__(io_capability=PairingDelegate.DISPLAY_OUTPUT_ONLY)

    async def generate_passkey(self) -> int:
        return SHOWN_PASSKEY


class Keyboard(PairingDelegate):
    """An initiator whose user types `passkey`."""

    def __init__(self, passkey: int) -> None:
        super().__init__(io_capability=PairingDelegate.KEYBOARD_INPUT_ONLY)
        self.passkey = passkey

    async def get_number(self) -> int:
        return self.passkey


async def device(link: LocalLink, name: str, address: str, snooper=None) -> Device:
    controller = Controller(name, link=link, public_address=hci.Address(address))
    made = Device(
        name=name,
        address=hci.Address(address),
        host=Host(controller, AsyncPipeSink(controller)),
    )
    # From power-on: the log then shows the addresses the host configures.
    made.host.snooper = snooper
    await made.power_on()
    return made


async def record(path: str, central_config: PairingConfig, peripheral_config: PairingConfig) -> None:
    """Connects, pairs with the given configurations, encrypts when pairing
    succeeds, disconnects; the central's HCI traffic goes to `path`."""
    link = LocalLink()
    with open(path, "wb") as out:
        peripheral = await device(link, "peripheral", "F0:F0:F0:F0:F0:02")
        central = await device(link, "central", "F0:F0:F0:F0:F0:01", BtSnooper(out))
        peripheral.pairing_config_factory = lambda _: peripheral_config
        central.pairing_config_factory = lambda _: central_config
        await peripheral.start_advertising(auto_restart=False)
        connection = await central.connect(
            peripheral.random_address, transport=hci.PhysicalTransport.LE
        )
        try:
            await connection.pair()
            await connection.encrypt()
            await asyncio.sleep(0.2)
        except Exception as error:  # the failing pairing ends here
            print(f"{os.path.basename(path)}: pairing ended with {error!r}")
        if connection.is_encrypted or connection.handle in central.connections:
            await connection.disconnect()
        await asyncio.sleep(0.2)
        central.host.snooper = None
    print(f"wrote {path}")


async def main(out_dir: str) -> None:
    oob = PairingConfig.OobConfig(
        our_context=None, peer_data=None, legacy_context=smp.OobLegacyContext(tk=bytes(reversed(OOB_TK)))
    )
    await record(
        os.path.join(out_dir, "bumble_legacy_oob_ok.btsnoop"),
        PairingConfig(sc=False, mitm=True, bonding=True, oob=oob),
        PairingConfig(sc=False, mitm=True, bonding=True, oob=oob),
    )
    await record(
        os.path.join(out_dir, "bumble_legacy_passkey_wrong.btsnoop"),
        PairingConfig(sc=False, mitm=True, bonding=True, delegate=Keyboard(TYPED_PASSKEY)),
        PairingConfig(sc=False, mitm=True, bonding=True, delegate=Display()),
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))))
