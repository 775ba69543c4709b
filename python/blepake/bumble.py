"""A blepake device on a Bumble host stack.

:class:`BlepakeDevice` serves the blepake GATT service (``PROTOCOL.md`` §2)
on a Bumble :class:`~bumble.device.Device` and runs the device side of the
core for every central that connects: the attempt counter and bonds in
files (or in memory), the deadlines, and a pairing-window "button"
(:meth:`BlepakeDevice.press_button`; ``python -m blepake device`` maps a
console key to it). Bumble runs it on any HCI transport it supports (a USB
dongle, a serial HCI board) and on its virtual controllers, which the tests
use::

    device = Device.with_hci("blepake", address, hci_source, hci_sink)
    server = BlepakeDevice(device, record_bytes, storage_dir="state/", on_message=echo)
    await server.start()

The application gets each session's messages through ``on_message(session,
message)`` and answers with :meth:`Session.send`.

Needs ``bumble`` (``pip install 'blepake[bumble]'``).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Union

from bumble import core, gatt
from bumble.device import Connection
from bumble.device import Device as BumbleDevice

from . import _native
from ._native import Closed, Connected, Failed

__all__ = ["BlepakeDevice", "Session"]

logger = logging.getLogger(__name__)

# Notifications a link lets wait in the host's ACL queue before it waits for
# the controller, so that a fast sender stays flow-controlled.
PENDING_NOTIFICATIONS = 8

# Messages an echoing device holds while its send queue is full: a host that
# sends faster than it reads loses its link rather than the device its memory.
ECHO_BACKLOG = 4096

# How long a host has to leave once its session has ended before the device
# drops the link itself: a device's disconnection can overtake the session's
# last value (a close, an alert) on its way, and some host stacks drop what
# they have received but not yet handed over when the link ends.
HOST_LEAVES_WITHIN = 1.0

MessageHandler = Callable[["Session", bytes], Union[None, Awaitable[None]]]
SessionHandler = Callable[["Session"], Union[None, Awaitable[None]]]


class Session:
    """One central's link to the device: what the application sees of it."""

    def __init__(self, server: "BlepakeDevice", connection: Connection) -> None:
        self.server = server
        self.connection = connection
        self.link = server.core.accept()
        self.subscribed = False
        #: How the session opened (``Connected``), once it has.
        self.info: Optional[Connected] = None
        #: Why it ended: ``None`` while it runs or after a clean close, else
        #: the :class:`blepake.BlepakeError` it failed with.
        self.error: Optional[BaseException] = None
        self.ended = asyncio.get_running_loop().create_future()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._values: "asyncio.Queue[bytes]" = asyncio.Queue()
        self._sender = asyncio.ensure_future(self._send_values())
        self._removed = False
        self._sending = False
        self._leaving = False
        # Resolved when the BLE link is down.
        self._link_down = asyncio.get_running_loop().create_future()
        self._disconnecting = False
        # Set after every step: what wait_writable waits on.
        self._stepped = asyncio.Event()
        # Messages echoed while the queue was full (bounded: ECHO_BACKLOG).
        self._echoes: "collections.deque[bytes]" = collections.deque()

    @property
    def is_open(self) -> bool:
        """Whether messages flow."""
        return self.link.is_open

    def send(self, message: bytes) -> None:
        """Queues one message (at most ``MAX_MESSAGE_LEN`` bytes); raises
        :class:`blepake.QueueFull` while the queue is full (wait for
        :meth:`wait_writable`)."""
        self.link.send(message)
        self._step(self.link.flush(room=self._room()))

    def close(self, reason: int = 0) -> None:
        """Ends the session with an authenticated close after what is queued."""
        self.link.close(reason)
        self._step(self.link.flush(room=self._room()))

    def _echo(self, message: bytes) -> None:
        if len(self._echoes) >= ECHO_BACKLOG:
            logger.warning("echo backlog full: dropping the link")
            self.server._spawn(self._disconnect())
            return
        self._echoes.append(message)
        self._feed_echoes()
        self._step(self.link.flush(room=self._room()))

    def _feed_echoes(self) -> None:
        while self._echoes and self.link.queued < _native.OUTBOX_MESSAGES:
            self.link.send(self._echoes.popleft())

    async def wait_writable(self) -> None:
        """Waits until :meth:`send` takes another message."""
        while self.link.queued >= _native.OUTBOX_MESSAGES and not self.ended.done():
            self._stepped.clear()
            await self._stepped.wait()

    # -- what the stack delivers ---------------------------------------

    def _room(self) -> int:
        """Values the link may queue now: none before the host subscribed."""
        if not self.subscribed:
            return 0
        return max(0, PENDING_NOTIFICATIONS - self._values.qsize())

    def _received(self, value: bytes) -> None:
        self._update_mtu()
        self._step(self.link.receive(value, room=self._room()))

    def _subscription(self, enabled: bool) -> None:
        self.subscribed = enabled
        self._step(self.link.flush(room=self._room()))

    def _disconnected(self) -> None:
        if not self._link_down.done():
            self._link_down.set_result(None)
        if not self._removed:
            self._step(self.link.disconnected())
        self._remove()

    def _update_mtu(self) -> None:
        self.link.max_value_len = self.connection.att_mtu - 3

    def _fire_timer(self) -> None:
        self._timer = None
        if not self._removed:
            self._step(self.link.timer(room=self._room()))

    def _step(self, step: Any) -> None:
        for value in step.values:
            self._values.put_nowait(value)
        for event in step.events:
            self.server._deliver(self, event)
        if self.link.is_closed and self._values.empty() and not self._sending:
            # Ended with nothing (more) that can go out, say before the host
            # subscribed: end the BLE link too.
            self.server._spawn(self._leave())
        self._stepped.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = None if self._removed else self.link.poll_timeout()
        if deadline is not None:
            delay = max(0.0, (deadline - _native.monotonic_ms()) / 1000)
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire_timer)

    async def _send_values(self) -> None:
        device = self.server.device
        handle = self.connection.handle
        while True:
            value = await self._values.get()
            self._sending = True
            try:
                await device.notify_subscriber(self.connection, self.server.outbound, value)
                queue = device.host.get_data_packet_queue(handle)
                # The session's last value (an alert, a close) must reach
                # the air before the link ends: a disconnection overtakes
                # the data the controller still holds.
                last = self.link.is_closed and self._values.empty()
                if queue is not None and (last or queue.pending >= PENDING_NOTIFICATIONS):
                    await queue.drain(handle)
            except (core.BaseBumbleError, ValueError):
                return  # the link is gone; its disconnection event follows
            finally:
                self._sending = False
            if self._values.empty() and not self._removed:
                if self.link.is_closed:
                    # Everything, the alert or the close included, has gone
                    # out: end the BLE link.
                    await self._leave()
                    return
                self._feed_echoes()
                self._step(self.link.flush(room=self._room()))

    async def _leave(self) -> None:
        """Ends the BLE link of an ended session, unless the host leaves
        first, as it should, within HOST_LEAVES_WITHIN."""
        if self._leaving:
            return
        self._leaving = True
        try:
            await asyncio.wait_for(asyncio.shield(self._link_down), HOST_LEAVES_WITHIN)
        except asyncio.TimeoutError:
            await self._disconnect()

    async def _disconnect(self) -> None:
        if self._disconnecting or self._removed:
            return
        self._disconnecting = True
        try:
            await self.connection.disconnect()
        except core.BaseBumbleError:
            pass

    def _ended(self, error: Optional[BaseException]) -> None:
        self.error = error
        if not self.ended.done():
            self.ended.set_result(error)

    def _remove(self) -> None:
        if self._removed:
            return
        self._removed = True
        if self._timer is not None:
            self._timer.cancel()
        self._sender.cancel()
        self.link.remove()
        self._ended(self.error)
        self._stepped.set()


class BlepakeDevice:
    """Serves blepake on a Bumble device.

    Args:
        device: the Bumble device (any HCI transport, or a virtual controller).
        record: the device record (``DeviceRecord`` or its 163 bytes).
        storage_dir: where the attempt counter and bonds live, one file each,
            created readable by the owner only; ``None`` keeps them in memory
            (tests).
        name: the name advertised with the service UUID.
        on_message: called with ``(session, message)`` for every message.
        on_session: called with each session once it opens.
        echo: send every message back (a test peer), besides ``on_message``.
        policy: the device policy (``max_failures``, ``free_attempts``,
            ``backoff_base``, ``backoff_max``, ``request_timeout``,
            ``handshake_timeout``, ``pairing_window``, ``keep_bonds``,
            ``max_bonds``), as :class:`blepake.Device` takes it.
    """

    def __init__(
        self,
        device: BumbleDevice,
        record: Union[_native.DeviceRecord, bytes],
        *,
        storage_dir: Union[str, os.PathLike, None] = None,
        name: str = "blepake",
        on_message: Optional[MessageHandler] = None,
        on_session: Optional[SessionHandler] = None,
        echo: bool = False,
        **policy: Any,
    ) -> None:
        if not isinstance(record, _native.DeviceRecord):
            record = _native.DeviceRecord.from_bytes(bytes(record))
        self.device = device
        self.record = record
        self.name = name
        self.core = _native.Device(record, storage_dir=storage_dir, **policy)
        self.on_message = on_message
        self.on_session = on_session
        self.echo = echo
        self.sessions: Dict[int, Session] = {}
        self._tasks: set = set()

        self.inbound = gatt.Characteristic(
            _native.INBOUND_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        self.outbound = gatt.Characteristic(
            _native.OUTBOUND_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            b"",
        )
        self.setup_info = gatt.Characteristic(
            _native.SETUP_INFO_UUID,
            gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE,
            bytes(record.setup_info),
        )
        self.service = gatt.Service(
            _native.SERVICE_UUID, [self.inbound, self.outbound, self.setup_info]
        )
        device.add_service(self.service)
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self.outbound.on(self.outbound.EVENT_SUBSCRIPTION, self._on_subscription)

    # -- the button ------------------------------------------------------

    def press_button(self) -> None:
        """A short press: opens the pairing window (``pairing_window``
        seconds), clears the failure count and lifts a lockout."""
        self.core.open_pairing_window()
        logger.info("pairing window open")

    def long_press(self) -> None:
        """A long press: revokes every bond, which opens the pairing window."""
        self.core.revoke_all_bonds()
        logger.info("every bond revoked")

    # -- advertising -----------------------------------------------------

    def advertising_data(self) -> bytes:
        """Flags, the service UUID and the name (cut to fit 31 bytes)."""
        service = bytes(core.UUID(_native.SERVICE_UUID).to_bytes(force_128=True))
        fields = [
            (core.AdvertisingData.FLAGS, bytes([0x06])),
            (core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, service),
        ]
        room = 31 - 3 - 18 - 2
        name = self.name.encode()
        if name:
            kind = (
                core.AdvertisingData.COMPLETE_LOCAL_NAME
                if len(name) <= room
                else core.AdvertisingData.SHORTENED_LOCAL_NAME
            )
            fields.append((kind, name[:room]))
        return bytes(core.AdvertisingData(fields))

    async def start(self, *, advertise: bool = True, interval: float = 100.0) -> None:
        """Powers the device on (if it is not) and advertises the service
        every ``interval`` milliseconds, again after every disconnection."""
        if not self.device.powered_on:
            await self.device.power_on()
        if advertise:
            await self.device.start_advertising(
                auto_restart=True,
                advertising_data=self.advertising_data(),
                advertising_interval_min=interval,
                advertising_interval_max=interval,
            )

    # -- what the stack delivers -----------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        try:
            session = Session(self, connection)
        except _native.NoFreeLink:
            logger.warning("every link slot is taken: refusing %s", connection.peer_address)
            self._spawn(connection.disconnect())
            return
        session._update_mtu()
        self.sessions[connection.handle] = session
        connection.on(connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection(connection))
        connection.on(connection.EVENT_CONNECTION_ATT_MTU_UPDATE, session._update_mtu)
        # Start the request deadline's timer.
        session._step(session.link.flush(room=0))

    def _on_disconnection(self, connection: Connection) -> None:
        session = self.sessions.pop(connection.handle, None)
        if session is not None:
            session._disconnected()

    def _on_write(self, connection: Connection, value: bytes) -> None:
        session = self.sessions.get(connection.handle)
        if session is not None:
            session._received(bytes(value))

    def _on_subscription(self, connection: Connection, notify: bool, _indicate: bool) -> None:
        session = self.sessions.get(connection.handle)
        if session is not None:
            session._subscription(notify)

    def _deliver(self, session: Session, event: Any) -> None:
        if isinstance(event, bytes):
            if self.echo:
                session._echo(event)
            if self.on_message is not None:
                self._call(self.on_message, session, event)
        elif isinstance(event, Connected):
            session.info = event
            logger.info("session open with host %s (%s)", event.host_id, event.mode)
            if self.on_session is not None:
                self._call(self.on_session, session)
        elif isinstance(event, Failed):
            logger.info("link failed: %s", event.error)
            session._ended(event.error)
        elif isinstance(event, Closed):
            session._ended(None)

    def _call(self, handler: Callable[..., Any], *args: Any) -> None:
        result = handler(*args)
        if inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
