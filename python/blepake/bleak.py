"""blepake for bleak apps: a protected link over a connected ``BleakClient``.

::

    async with BleakClient(device) as client:
        async with SecureLink.connect(client, code="314-159-266") as link:
            await link.send(b"hello")
            async for message in link:
                print(message)

:class:`SecureLink` finds the blepake service, subscribes to Outbound,
writes Inbound with Write Without Response where the characteristic allows
it, in values as large as the MTU bleak reports, and applies the core's
deadlines. It resumes with a bond when the store has one (no code, one round
trip) and pairs with the code or QR payload otherwise, or when the device
rejects the bond (on a new connection of the same client). A wrong code, a
closed pairing window, a lockout or a dropped link raise their exception
(:class:`blepake.WrongCode`, :class:`blepake.PairingClosed`,
:class:`blepake.Locked`, :class:`blepake.LinkLost`, ...); nothing waits for
ever. The OS is never asked to pair.

Any client object with bleak's few methods works: ``services``
(``get_characteristic``), ``read_gatt_char``, ``write_gatt_char``,
``start_notify``, ``mtu_size``, ``is_connected``, and ``connect`` and
``disconnect`` for the fallback from a rejected bond.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple, Union

from . import _native
from ._native import (
    BlepakeError,
    Bond,
    Bonded,
    Closed,
    Connected,
    Failed,
    HostConnection,
    LinkLost,
    ProverSecrets,
    ResumeRejected,
    SetupCode,
    SetupInfo,
    SetupPayload,
)
from .bonds import BondStore, FileBondStore

__all__ = ["NotABlepakeDevice", "SecureLink", "scan"]

# Values a link hands to bleak before it waits for a write to finish.
WRITE_WINDOW = 8
# Messages received and not yet read before the link gives up on the app.
MAX_UNREAD = 4096
# How often a link looks whether the client is still connected (bleak's
# disconnect callback belongs to whoever made the client).
LINK_CHECK_INTERVAL = 0.1


class NotABlepakeDevice(BlepakeError):
    """The peer does not offer the blepake GATT service."""

    code = 0


def _link_lost(message: str) -> LinkLost:
    error = LinkLost(message)
    error.code = 12
    error.by_peer = False
    return error


async def scan(timeout: float = 5.0, **scanner_args: Any) -> List[Tuple[Any, Any]]:
    """Devices that advertise the blepake service, as ``(BLEDevice,
    AdvertisementData)`` pairs, strongest first. ``scanner_args`` go to
    ``BleakScanner`` (a ``backend``, say)."""
    from bleak import BleakScanner

    found = await BleakScanner.discover(
        timeout, return_adv=True, service_uuids=[_native.SERVICE_UUID], **scanner_args
    )
    return sorted(found.values(), key=lambda pair: -(pair[1].rssi or -200))


def _password(code: Union[str, int, SetupCode, None]) -> Optional[SetupCode]:
    if code is None or isinstance(code, SetupCode):
        return code
    if isinstance(code, int):
        return SetupCode(f"{code:08d}")
    return SetupCode(code)


class _Connecting:
    """What :meth:`SecureLink.connect` returns: await it, or use it as an
    async context manager that closes the link on exit."""

    def __init__(self, opening: "asyncio.Future[SecureLink]") -> None:
        self._opening = opening
        self._link: Optional[SecureLink] = None

    def __await__(self):
        return self._opening.__await__()

    async def __aenter__(self) -> "SecureLink":
        self._link = await self._opening
        return self._link

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if self._link is not None:
            await self._link.aclose()


class SecureLink:
    """A blepake session over a connected bleak client: messages of up to
    ``MAX_MESSAGE_LEN`` bytes each way, authenticated and encrypted.

    Made by :meth:`connect`. ``mode`` is ``"paired"`` or ``"resumed"``,
    ``device_id`` the device's id, ``bond`` the bond this session left or
    used.
    """

    def __init__(self, client: Any, *, handshake_timeout: float) -> None:
        self.client = client
        self.handshake_timeout = handshake_timeout
        self.mode: Optional[str] = None
        self.device_id: Optional[str] = None
        self.host_id: Optional[str] = None
        self.bond: Optional[Bond] = None
        self._conn: Optional[HostConnection] = None
        self._inbound: Any = None
        self._outbound: Any = None
        self._write_without_response = True
        self._loop = asyncio.get_running_loop()
        self._writes: "asyncio.Queue[Any]" = asyncio.Queue()
        self._messages: "asyncio.Queue[Any]" = asyncio.Queue()
        self._opened: "asyncio.Future[Connected]" = self._loop.create_future()
        self._ended: "asyncio.Future[Optional[BaseException]]" = self._loop.create_future()
        self._changed = asyncio.Event()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tasks: List["asyncio.Task[Any]"] = []
        self._writing = False

    # -- making one --------------------------------------------------------

    @classmethod
    def connect(
        cls,
        client: Any,
        *,
        code: Union[str, int, SetupCode, None] = None,
        qr: Optional[str] = None,
        bond_store: Optional[BondStore] = None,
        first_message: Optional[bytes] = None,
        handshake_timeout: float = 30.0,
    ) -> _Connecting:
        """Opens a protected link over ``client`` (already connected).

        Args:
            client: a connected ``BleakClient`` or any object with its methods.
            code: the setup code from the label (``"314-159-266"`` or the
                8 digits); the device's Setup Info is read first.
            qr: the QR payload's text (``"BP:..."``), instead of ``code``.
            bond_store: where bonds are kept: a :class:`blepake.BondStore`;
                by default a 0600 file under the user's data directory.
            first_message: sent with the handshake's last value (0.5-RTT).
            handshake_timeout: seconds the whole handshake may take.

        Without ``code`` and ``qr`` the link needs a bond in the store.
        Raises a :class:`blepake.BlepakeError` subclass when the link cannot
        be had.
        """
        store = bond_store if bond_store is not None else FileBondStore()
        opening = asyncio.ensure_future(
            cls._open(client, _password(code), qr, store, first_message, handshake_timeout)
        )
        return _Connecting(opening)

    @classmethod
    async def _open(
        cls,
        client: Any,
        code: Optional[SetupCode],
        qr: Optional[str],
        store: BondStore,
        first_message: Optional[bytes],
        handshake_timeout: float,
    ) -> "SecureLink":
        payload = SetupPayload.parse(qr) if qr is not None else None
        if payload is not None:
            info = payload.info
        else:
            info = await cls._read_setup_info(client, handshake_timeout)
        if payload is None and code is not None and not info.takes_setup_code:
            raise BlepakeError("this device pairs from its QR code only: scan the label")
        saved = store.load(info.device_id)
        bond = Bond.from_bytes(saved) if saved is not None else None
        if bond is not None:
            link = cls(client, handshake_timeout=handshake_timeout)
            try:
                await link._run(HostConnection.resume(bond, handshake_timeout=handshake_timeout), first_message)
                link.bond = bond
                return link
            except ResumeRejected:
                store.delete(info.device_id)
                if payload is None and code is None:
                    raise
            # Every failure ends the BLE connection's streams: pair on a new one.
            await client.disconnect()
            await client.connect()
        if payload is None and code is None:
            raise BlepakeError(
                f"no bond with device {info.device_id}: give its setup code or QR payload"
            )
        secrets = await asyncio.get_running_loop().run_in_executor(
            None,
            (lambda: ProverSecrets.from_payload(payload))
            if payload is not None
            else (lambda: ProverSecrets.derive(info, code)),
        )
        link = cls(client, handshake_timeout=handshake_timeout)
        link._store = store
        conn = HostConnection.pair(
            secrets, previous_bond=bond, handshake_timeout=handshake_timeout
        )
        await link._run(conn, first_message)
        return link

    @staticmethod
    def _characteristic(client: Any, uuid: str) -> Any:
        services = client.services
        characteristic = services.get_characteristic(uuid) if services is not None else None
        if characteristic is None:
            raise NotABlepakeDevice(
                "the device does not offer the blepake service (no characteristic " + uuid + ")"
            )
        return characteristic

    @classmethod
    async def _read_setup_info(cls, client: Any, timeout: float) -> SetupInfo:
        characteristic = cls._characteristic(client, _native.SETUP_INFO_UUID)
        try:
            value = await asyncio.wait_for(client.read_gatt_char(characteristic), timeout)
        except asyncio.TimeoutError:
            raise _link_lost("the device did not answer the Setup Info read") from None
        except Exception as error:
            if not client.is_connected:
                raise _link_lost(f"the link dropped: {error}") from error
            raise
        return SetupInfo.from_bytes(bytes(value))

    # -- running the handshake and the session -----------------------------

    _store: Optional[BondStore] = None

    async def _run(self, conn: HostConnection, first_message: Optional[bytes]) -> None:
        self._conn = conn
        self._inbound = self._characteristic(self.client, _native.INBOUND_UUID)
        self._outbound = self._characteristic(self.client, _native.OUTBOUND_UUID)
        self._write_without_response = "write-without-response" in self._inbound.properties
        if first_message is not None:
            conn.send(first_message)
        self._tasks = [
            asyncio.ensure_future(self._write_values()),
            asyncio.ensure_future(self._watch_link()),
        ]
        self._flush()
        try:
            done, _ = await asyncio.wait(
                [self._opened, self._ended], return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            await self._stop()
            raise
        if self._opened.done():
            connected = self._opened.result()
            self.mode = connected.mode
            self.device_id = connected.device_id
            self.host_id = connected.host_id
            return
        await self._stop()
        raise self._ended.result() or _link_lost("the link ended during the handshake")

    def _max_value_len(self) -> int:
        mtu_room = int(self.client.mtu_size) - 3
        if self._write_without_response:
            # On Windows this is WinRT's maximum write size.
            mtu_room = min(mtu_room, int(self._inbound.max_write_without_response_size))
        return max(20, mtu_room)

    def _written(self) -> bool:
        """Whether every value handed to bleak has been written."""
        return self._writes.empty() and not self._writing

    def _room(self) -> int:
        return max(0, WRITE_WINDOW - self._writes.qsize())

    def _flush(self) -> None:
        if self._conn is not None and not self._ended.done():
            self._conn.max_value_len = self._max_value_len()
            self._step(self._conn.flush(room=self._room()))

    def _on_notification(self, _sender: Any, data: bytearray) -> None:
        if self._conn is None or self._ended.done():
            return
        self._conn.max_value_len = self._max_value_len()
        self._step(self._conn.receive(bytes(data), room=self._room()))

    def _step(self, step: Any) -> None:
        if step.subscribe:
            self._writes.put_nowait(_SUBSCRIBE)
        for value in step.values:
            self._writes.put_nowait(value)
        for event in step.events:
            self._deliver(event)
        self._set_timer()
        self._changed.set()

    def _deliver(self, event: Any) -> None:
        if isinstance(event, bytes):
            if self._messages.qsize() >= MAX_UNREAD:
                self._fail(BlepakeError(f"{MAX_UNREAD} messages left unread: link dropped"))
                return
            self._messages.put_nowait(event)
        elif isinstance(event, Connected):
            if not self._opened.done():
                self._opened.set_result(event)
        elif isinstance(event, Bonded):
            self.bond = event.bond
            if self._store is not None:
                self._store.save(event.bond.device_id, bytes(event.bond))
        elif isinstance(event, Failed):
            self._finish(event.error)
        elif isinstance(event, Closed):
            self._finish(None)

    def _finish(self, error: Optional[BaseException]) -> None:
        if not self._ended.done():
            self._ended.set_result(error)
            self._messages.put_nowait(_END)

    def _fail(self, error: BaseException) -> None:
        """Ends the link from this side: the device is told by the dropped link."""
        self._finish(error)
        asyncio.ensure_future(self._disconnect_quietly())

    async def _disconnect_quietly(self) -> None:
        try:
            await self.client.disconnect()
        except Exception:
            pass

    def _set_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._conn.poll_timeout() if self._conn is not None else None
        if deadline is not None and not self._ended.done():
            delay = max(0.0, (deadline - _native.monotonic_ms()) / 1000)
            self._timer = self._loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._conn is not None and not self._ended.done():
            self._step(self._conn.timer(room=self._room()))

    def _link_dropped(self, why: str) -> None:
        if self._conn is None or self._ended.done():
            return
        self._step(self._conn.disconnected())
        # A connection that was already closed or failed reports nothing.
        self._finish(_link_lost(why))

    async def _write_values(self) -> None:
        while True:
            value = await self._writes.get()
            self._writing = True
            try:
                if value is _SUBSCRIBE:
                    await asyncio.wait_for(
                        self.client.start_notify(self._outbound, self._on_notification),
                        self.handshake_timeout,
                    )
                else:
                    await self.client.write_gatt_char(
                        self._inbound, value, response=not self._write_without_response
                    )
            except asyncio.CancelledError:
                raise
            except Exception as error:  # bleak raises many kinds on a dropped link
                self._link_dropped(f"a write failed: {error}")
                return
            finally:
                self._writing = False
            if self._writes.empty():
                self._changed.set()
                self._flush()

    async def _watch_link(self) -> None:
        while not self._ended.done():
            if not self.client.is_connected:
                self._link_dropped("the device disconnected")
                return
            await asyncio.sleep(LINK_CHECK_INTERVAL)

    async def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []

    # -- what the app uses -------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether messages flow."""
        return self._conn is not None and self._conn.is_open and not self._ended.done()

    def _raise_if_ended(self) -> None:
        if self._ended.done():
            error = self._ended.result()
            if error is not None:
                raise error
            raise _native.NotOpen("the session is closed")

    async def send(self, message: bytes) -> None:
        """Sends one message (at most ``MAX_MESSAGE_LEN`` bytes); waits while
        the send queue is full. Raises the link's error once it has failed."""
        while True:
            self._raise_if_ended()
            if self._conn.queued < _native.OUTBOX_MESSAGES:
                break
            self._changed.clear()
            await self._changed.wait()
        self._conn.send(bytes(message))
        self._flush()

    async def recv(self) -> bytes:
        """The next message. Raises ``EOFError`` after the peer's close, and
        the link's error (``LinkLost``, ...) when it failed."""
        item = await self._messages.get()
        if item is _END:
            self._messages.put_nowait(_END)
            error = self._ended.result()
            if error is not None:
                raise error
            raise EOFError("the session was closed")
        return item

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except EOFError:
            raise StopAsyncIteration from None

    async def drain(self) -> None:
        """Waits until every message sent has been written to the device."""
        while not self._ended.done() and (self._conn.queued or not self._written()):
            self._changed.clear()
            await self._changed.wait()
        self._raise_if_ended()

    async def aclose(self, reason: int = 0) -> None:
        """Closes the session (an authenticated close after what was sent)
        and stops using the client; the device ends the BLE link once the
        session is over. Safe to call more than once."""
        if self.is_open:
            self._conn.close(reason)
            self._flush()
            try:
                await asyncio.wait_for(self._wait_closed(), self.handshake_timeout)
            except asyncio.TimeoutError:
                pass
        self._finish(None)
        await self._stop()

    async def _wait_closed(self) -> None:
        while not self._ended.done() and not (
            self._conn.is_closed and self._conn.queued == 0 and self._written()
        ):
            self._changed.clear()
            await self._changed.wait()


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_SUBSCRIBE = _Marker("subscribe")
_END = _Marker("end")
