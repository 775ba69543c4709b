"""A BLE world in one process for tests, examples and benchmarks: Bumble
virtual controllers on one link, and bleak backends over a Bumble central.

No bleak backend for Bumble is published, and bleak accepts a custom backend
class (``BleakClient(device, backend=...)``, the same for ``BleakScanner``).
:class:`BumbleClient` and :class:`BumbleScanner` are such backends, so the
very bleak code an app runs drives a real host stack (Bumble's GATT client,
ATT, L2CAP and HCI) against a peripheral on a linked virtual controller::

    world = VirtualWorld()
    central = await world.device("central")
    async with BleakScanner(backend=BumbleScanner, central=central) as scanner: ...
    async with BleakClient(address, backend=BumbleClient, central=central, mtu=247) as client: ...

Needs ``bumble`` (``pip install 'blepake[bumble]'``).
"""

from __future__ import annotations

import asyncio
import uuid as uuid_module
from typing import Any, Callable, Dict, List, Optional

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import core, gatt, hci
from bumble.controller import Controller
from bumble.device import Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["BumbleClient", "BumbleScanner", "VirtualWorld"]

# Write Commands a central lets wait in the host's ACL queue before it waits
# for the controller: writes without response stay flow-controlled.
PENDING_WRITES = 8


class VirtualWorld:
    """Bumble virtual controllers on one in-process link: every device made
    here can scan for, connect to and talk to every other."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self._count = 0

    async def device(self, name: str) -> Device:
        """A powered-on Bumble device with its own virtual controller."""
        self._count += 1
        address = hci.Address(f"F0:F0:F0:F0:{self._count // 256:02X}:{self._count % 256:02X}")
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(
            name=name, address=address, host=Host(controller, AsyncPipeSink(controller))
        )
        await device.power_on()
        return device


def uuid_text(bumble_uuid: core.UUID) -> str:
    """A Bumble UUID in bleak's form: 128-bit, lower case."""
    return str(uuid_module.UUID(bytes=bytes(reversed(bumble_uuid.to_bytes(force_128=True)))))


def _property_names(properties: int) -> List[str]:
    names = []
    for flag, name in (
        (gatt.Characteristic.Properties.BROADCAST, "broadcast"),
        (gatt.Characteristic.Properties.READ, "read"),
        (gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
        (gatt.Characteristic.Properties.WRITE, "write"),
        (gatt.Characteristic.Properties.NOTIFY, "notify"),
        (gatt.Characteristic.Properties.INDICATE, "indicate"),
    ):
        if properties & flag:
            names.append(name)
    return names


class BumbleClient(BaseBleakClient):
    """A bleak client backend over a Bumble central.

    Keyword arguments (through ``BleakClient(..., backend=BumbleClient, ...)``):
    ``central``, the Bumble device that connects; ``mtu``, the ATT MTU to
    request after connecting (``None`` keeps the default 23).
    """

    def __init__(
        self,
        address_or_ble_device: Any,
        *,
        central: Device,
        mtu: Optional[int] = 247,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("bluez", None)
        kwargs.pop("winrt", None)
        kwargs.pop("services", None)
        super().__init__(address_or_ble_device, **kwargs)
        if isinstance(address_or_ble_device, BLEDevice):
            self._target = address_or_ble_device.details
        else:
            self._target = hci.Address(address_or_ble_device)
        self._central = central
        self._mtu = mtu
        self._connection: Optional[Connection] = None
        self._peer: Optional[Peer] = None

    @property
    def name(self) -> str:
        return str(self._target)

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            raise BleakError("this backend does not do OS pairing")
        connection = await asyncio.wait_for(
            self._central.connect(self._target, transport=core.PhysicalTransport.LE),
            self._timeout,
        )
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        if self._mtu is not None:
            await self._peer.request_mtu(self._mtu)
        await self._peer.discover_all()
        self.services = self._collect_services()

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _collect_services(self) -> BleakGATTServiceCollection:
        services = BleakGATTServiceCollection()
        for service in self._peer.services:
            bleak_service = BleakGATTService(service, service.handle, uuid_text(service.uuid))
            services.add_service(bleak_service)
            for characteristic in service.characteristics:
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    uuid_text(characteristic.uuid),
                    _property_names(characteristic.properties),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                services.add_characteristic(bleak_characteristic)
                for descriptor in characteristic.descriptors:
                    services.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor,
                            descriptor.handle,
                            uuid_text(descriptor.type),
                            bleak_characteristic,
                        )
                    )
        return services

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("not connected")
        return self._peer

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                await connection.disconnect()
            except core.BaseBumbleError:
                pass  # already gone

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("this backend does not do OS pairing")

    async def unpair(self) -> None:
        raise BleakError("this backend does not do OS pairing")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require_peer().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peer = self._require_peer()
        await peer.write_value(characteristic.obj, bytes(data), with_response=response)
        if not response:
            # A Write Command is queued, not acknowledged: wait for the
            # controller when too many are, as an OS stack does.
            connection = self._connection
            queue = self._central.host.get_data_packet_queue(connection.handle)
            if queue is not None and queue.pending >= PENDING_WRITES:
                await queue.drain(connection.handle)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        await self._require_peer().subscribe(
            characteristic.obj, lambda value: callback(bytearray(value))
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._require_peer().unsubscribe(characteristic.obj)


class BumbleScanner(BaseBleakScanner):
    """A bleak scanner backend over a Bumble device (keyword ``central``)."""

    def __init__(
        self,
        detection_callback: Optional[Callable[..., Any]],
        service_uuids: Optional[List[str]],
        scanning_mode: str = "active",
        *,
        central: Device,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = central
        self._active = scanning_mode == "active"
        self._listening = False

    def _on_advertisement(self, advertisement: Any) -> None:
        data: core.AdvertisingData = advertisement.data
        service_uuids = list(dict.fromkeys(
            uuid_text(u)
            for kind in (
                core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                core.AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                core.AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            )
            for uuids in data.get_all(kind)
            for u in (uuids if isinstance(uuids, list) else [uuids])
        ))
        if not self.is_allowed_uuid(service_uuids):
            return
        name = data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            core.AdvertisingData.SHORTENED_LOCAL_NAME
        )
        manufacturer: Dict[int, bytes] = {}
        for company, payload in data.get_all(core.AdvertisingData.MANUFACTURER_SPECIFIC_DATA):
            manufacturer[company] = bytes(payload)
        advertisement_data = AdvertisementData(
            local_name=name,
            manufacturer_data=manufacturer,
            service_data={},
            service_uuids=service_uuids,
            tx_power=None,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = str(advertisement.address).split("/")[0]
        device = self.create_or_update_device(
            address, address, name, advertisement.address, advertisement_data
        )
        self.call_detection_callbacks(device, advertisement_data)

    async def start(self) -> None:
        self.seen_devices = {}
        if not self._listening:
            self._central.on(self._central.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = True
        await self._central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        await self._central.stop_scanning()
        if self._listening:
            self._central.remove_listener(self._central.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = False
