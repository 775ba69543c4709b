"""Type stubs of the bindings (crates/blepake-py). See the docstrings of the
classes themselves for what each does."""

from os import PathLike
from typing import List, Optional, Union

MAX_MESSAGE_LEN: int
OUTBOX_MESSAGES: int
DEVICE_LINKS: int
SERVICE_UUID: str
INBOUND_UUID: str
OUTBOUND_UUID: str
SETUP_INFO_UUID: str

class BlepakeError(Exception):
    """Every error of blepake; ``code`` is the core's stable numeric code."""

    code: int

class WrongCode(BlepakeError):
    by_peer: bool

class Busy(BlepakeError):
    retry_after: int
    by_peer: bool

class Locked(BlepakeError):
    by_peer: bool

class UnsupportedVersion(BlepakeError):
    supported_versions: int
    by_peer: bool

class UnknownDevice(BlepakeError):
    by_peer: bool

class ResumeRejected(BlepakeError):
    by_peer: bool

class ProtocolError(BlepakeError):
    by_peer: bool

class Timeout(BlepakeError):
    by_peer: bool

class InternalError(BlepakeError):
    by_peer: bool

class PairingClosed(BlepakeError):
    by_peer: bool

class BadRecord(BlepakeError):
    by_peer: bool

class LinkLost(BlepakeError):
    by_peer: bool

class UnknownAlert(BlepakeError):
    alert: int
    by_peer: bool

class NotOpen(BlepakeError): ...
class MessageTooLong(BlepakeError): ...
class QueueFull(BlepakeError): ...
class NoFreeLink(BlepakeError): ...
class UnknownLink(BlepakeError): ...
class InvalidCode(BlepakeError): ...
class InvalidPayload(BlepakeError): ...
class DerivationError(BlepakeError): ...
class StorageError(BlepakeError): ...

class SetupCode:
    """An 8-digit setup code, read from ``314-159-266`` or ``31415926``."""

    def __init__(self, text: str) -> None: ...
    @staticmethod
    def generate() -> SetupCode: ...
    @property
    def digits(self) -> str: ...
    @property
    def manual(self) -> str: ...

class QrSecret:
    """A 128-bit secret a QR code carries instead of a code."""

    def __init__(self, secret: bytes) -> None: ...
    @staticmethod
    def generate() -> QrSecret: ...
    def __bytes__(self) -> bytes: ...

class SetupInfo:
    """The device id and key-derivation parameters (the Setup Info characteristic)."""

    @staticmethod
    def from_bytes(data: bytes) -> SetupInfo: ...
    def __bytes__(self) -> bytes: ...
    @property
    def device_id(self) -> str: ...
    @property
    def takes_setup_code(self) -> bool: ...
    @property
    def kdf(self) -> str: ...

class SetupPayload:
    """What a QR code carries: Setup Info and the password."""

    def __init__(
        self,
        info: SetupInfo,
        *,
        code: Optional[SetupCode] = None,
        qr_secret: Optional[QrSecret] = None,
    ) -> None: ...
    @staticmethod
    def parse(text: str) -> SetupPayload: ...
    @property
    def text(self) -> str: ...
    @property
    def info(self) -> SetupInfo: ...
    @property
    def code(self) -> Optional[SetupCode]: ...

class ProverSecrets:
    """A host's secrets derived from the password (runs without the GIL)."""

    @staticmethod
    def derive(info: SetupInfo, password: Union[SetupCode, QrSecret]) -> ProverSecrets: ...
    @staticmethod
    def from_payload(payload: SetupPayload) -> ProverSecrets: ...
    @property
    def info(self) -> SetupInfo: ...

class DeviceRecord:
    """The 163 bytes a device keeps in flash."""

    @staticmethod
    def from_bytes(data: bytes) -> DeviceRecord: ...
    def __bytes__(self) -> bytes: ...
    @property
    def setup_info(self) -> SetupInfo: ...
    @property
    def device_id(self) -> str: ...

class Provisioned:
    record: DeviceRecord
    payload: SetupPayload
    code: Optional[SetupCode]

def provision(
    *,
    code: Optional[SetupCode] = None,
    qr_secret: bool = False,
    memory_kib: int = 65536,
    iterations: int = 3,
    parallelism: int = 4,
) -> Provisioned: ...

class Bond:
    """A host's bond with one device: 49 secret bytes."""

    @staticmethod
    def from_bytes(data: bytes) -> Bond: ...
    def __bytes__(self) -> bytes: ...
    @property
    def device_id(self) -> str: ...
    @property
    def host_id(self) -> str: ...

class Connected:
    device_id: str
    host_id: str
    mode: str

class Bonded:
    bond: Bond

class Closed:
    by_peer: bool
    reason: int

class Failed:
    error: BlepakeError
    by_peer: bool

Event = Union[Connected, Bonded, Closed, Failed, bytes]

class Step:
    """What one step gives the caller: values to send (after enabling
    notifications, if ``subscribe``), then events and messages in order."""

    values: List[bytes]
    subscribe: bool
    events: List[Event]

class _Driven:
    max_value_len: int
    @property
    def queued(self) -> int: ...
    def receive(
        self, value: bytes, *, room: Optional[int] = None, now: Optional[int] = None
    ) -> Step: ...
    def timer(self, *, room: Optional[int] = None, now: Optional[int] = None) -> Step: ...
    def disconnected(self, *, now: Optional[int] = None) -> Step: ...
    def flush(self, *, room: Optional[int] = None, now: Optional[int] = None) -> Step: ...
    def send(self, message: bytes) -> None: ...
    def close(self, reason: int = 0) -> None: ...

class HostConnection(_Driven):
    @staticmethod
    def pair(
        secrets: ProverSecrets,
        *,
        previous_bond: Optional[Bond] = None,
        handshake_timeout: float = 30.0,
        now: Optional[int] = None,
    ) -> HostConnection: ...
    @staticmethod
    def resume(
        bond: Bond, *, handshake_timeout: float = 30.0, now: Optional[int] = None
    ) -> HostConnection: ...
    def poll_timeout(self) -> Optional[int]: ...
    @property
    def state(self) -> str: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def is_closed(self) -> bool: ...

class DeviceLink(_Driven):
    @property
    def id(self) -> int: ...
    def remove(self) -> bool: ...
    def poll_timeout(self) -> Optional[int]: ...
    @property
    def state(self) -> str: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def is_closed(self) -> bool: ...

class Device:
    def __init__(
        self,
        record: DeviceRecord,
        *,
        storage_dir: Union[str, PathLike, None] = None,
        max_failures: int = 10,
        free_attempts: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        request_timeout: float = 10.0,
        handshake_timeout: float = 30.0,
        pairing_window: float = 300.0,
        keep_bonds: bool = True,
        max_bonds: int = 8,
        now: Optional[int] = None,
    ) -> None: ...
    def accept(self, *, now: Optional[int] = None) -> DeviceLink: ...
    @property
    def setup_info(self) -> SetupInfo: ...
    @property
    def failures(self) -> int: ...
    @property
    def locked(self) -> bool: ...
    def pairing_window(self, *, now: Optional[int] = None) -> str: ...
    def open_pairing_window(self, *, now: Optional[int] = None) -> None: ...
    def close_pairing_window(self) -> None: ...
    def bonds(self) -> List[str]: ...
    def revoke_bond(self, host_id: str) -> bool: ...
    def revoke_all_bonds(self) -> None: ...
    @property
    def links(self) -> List[int]: ...

def monotonic_ms() -> int: ...
