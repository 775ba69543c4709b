"""blepake: a BLE link authenticated and encrypted with the setup code printed
on the device, without OS pairing (SPAKE2+ over plain GATT, then AES-CCM
records).

For a bleak app, :class:`blepake.bleak.SecureLink` is all there is to it::

    async with BleakClient(device) as client:
        async with SecureLink.connect(client, code="314-159-266") as link:
            await link.send(b"hello")
            async for message in link:
                ...

:mod:`blepake.bumble` serves the device side on a Bumble host stack, and
``python -m blepake`` scans, pairs, chats and runs a device from the
command line. This module holds the bindings of the protocol core: setup
codes and QR payloads, provisioning, bonds, host and device connections
driven through the core's pump, and the exceptions, one class per stable
error code under :class:`BlepakeError`.
"""

from ._native import (
    DEVICE_LINKS,
    INBOUND_UUID,
    MAX_MESSAGE_LEN,
    OUTBOUND_UUID,
    OUTBOX_MESSAGES,
    SERVICE_UUID,
    SETUP_INFO_UUID,
    BadRecord,
    BlepakeError,
    Bond,
    Bonded,
    Busy,
    Closed,
    Connected,
    DerivationError,
    Device,
    DeviceLink,
    DeviceRecord,
    Failed,
    HostConnection,
    InternalError,
    InvalidCode,
    InvalidPayload,
    LinkLost,
    Locked,
    MessageTooLong,
    NoFreeLink,
    NotOpen,
    PairingClosed,
    ProtocolError,
    Provisioned,
    ProverSecrets,
    QrSecret,
    QueueFull,
    ResumeRejected,
    SetupCode,
    SetupInfo,
    SetupPayload,
    Step,
    StorageError,
    Timeout,
    UnknownAlert,
    UnknownDevice,
    UnknownLink,
    UnsupportedVersion,
    WrongCode,
    monotonic_ms,
    provision,
)
from .bonds import BondStore, FileBondStore, MemoryBondStore

__all__ = [
    "DEVICE_LINKS",
    "INBOUND_UUID",
    "MAX_MESSAGE_LEN",
    "OUTBOUND_UUID",
    "OUTBOX_MESSAGES",
    "SERVICE_UUID",
    "SETUP_INFO_UUID",
    "BadRecord",
    "BlepakeError",
    "Bond",
    "BondStore",
    "Bonded",
    "Busy",
    "Closed",
    "Connected",
    "DerivationError",
    "Device",
    "DeviceLink",
    "DeviceRecord",
    "Failed",
    "FileBondStore",
    "HostConnection",
    "InternalError",
    "InvalidCode",
    "InvalidPayload",
    "LinkLost",
    "Locked",
    "MemoryBondStore",
    "MessageTooLong",
    "NoFreeLink",
    "NotOpen",
    "PairingClosed",
    "ProtocolError",
    "Provisioned",
    "ProverSecrets",
    "QrSecret",
    "QueueFull",
    "ResumeRejected",
    "SetupCode",
    "SetupInfo",
    "SetupPayload",
    "Step",
    "StorageError",
    "Timeout",
    "UnknownAlert",
    "UnknownDevice",
    "UnknownLink",
    "UnsupportedVersion",
    "WrongCode",
    "monotonic_ms",
    "provision",
]
