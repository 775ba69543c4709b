"""End to end on a real host stack: bleak code (through a bleak backend over
a Bumble central) against the blepake.bumble device on a linked Bumble
virtual controller."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from bleak import BleakClient

import blepake
from blepake import Bond, MemoryBondStore
from blepake.bleak import NotABlepakeDevice, SecureLink, scan
from blepake.testing import BumbleClient, BumbleScanner

from conftest import (
    CODE,
    WRONG_CODE,
    ScriptedClient,
    client_for,
    frame_types,
    load_reference,
    start_device,
)

# Frame types of PROTOCOL.md §3.
PAIR_REQUEST, PAIR_CONFIRM, RESUME_FINISH, APPLICATION_DATA = 1, 3, 6, 8


async def pair(central, server, store, code=CODE, **options):
    """Pairs or resumes once, exchanges one message, closes."""
    async with client_for(central, server) as client:
        async with SecureLink.connect(client, code=code, bond_store=store, **options) as link:
            await link.send(b"ping")
            assert await link.recv() == b"ping"
            return link.mode


async def settle(server):
    """Waits until the device has let go of every link."""
    for _ in range(200):
        if not server.core.links:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the device still holds links {server.core.links}")


async def test_scan_finds_the_device_by_its_service(world, made):
    server = await start_device(world, made.record, name="thermo")
    await world.device("a bystander")  # not advertising
    central = await world.device("central")
    found = await scan(0.5, backend=BumbleScanner, central=central)
    assert [(d.address, a.local_name) for d, a in found] == [
        (str(server.device.random_address), "thermo")
    ]


async def test_a_fresh_pairing_with_the_right_code_bonds_and_talks(world, made):
    server = await start_device(world, made.record)
    central = await world.device("central")
    store = MemoryBondStore()
    async with client_for(central, server) as client:
        async with SecureLink.connect(client, code=CODE, bond_store=store) as link:
            assert link.mode == "paired"
            assert link.device_id == made.record.device_id
            for message in (b"", b"hello", bytes(range(256)) * 2):
                await link.send(message)
                assert await link.recv() == message
            host_id = link.host_id
    bond = Bond.from_bytes(store.load(made.record.device_id))
    assert bond.host_id == host_id
    assert server.core.bonds() == [host_id]
    assert server.core.failures == 0
    await settle(server)


async def test_a_wrong_code_raises_and_is_counted_until_the_right_one(world, made):
    server = await start_device(world, made.record, free_attempts=5)
    central = await world.device("central")
    store = MemoryBondStore()
    for counted in (1, 2):
        async with client_for(central, server) as client:
            with pytest.raises(blepake.WrongCode) as raised:
                await SecureLink.connect(client, code=WRONG_CODE, bond_store=store)
        assert raised.value.code == 1
        assert server.core.failures == counted
    assert len(store) == 0
    assert await pair(central, server, store) == "paired"
    assert server.core.failures == 0


async def test_backoff_after_the_free_attempts_says_when_to_retry(world, made):
    server = await start_device(world, made.record, free_attempts=1, backoff_base=30.0)
    central = await world.device("central")
    store = MemoryBondStore()
    async with client_for(central, server) as client:
        with pytest.raises(blepake.WrongCode):
            await SecureLink.connect(client, code=WRONG_CODE, bond_store=store)
    async with client_for(central, server) as client:
        with pytest.raises(blepake.Busy) as raised:
            await SecureLink.connect(client, code=CODE, bond_store=store)
    assert raised.value.code == 2 and raised.value.by_peer
    assert 25 <= raised.value.retry_after <= 30
    assert server.core.failures == 1  # the refused attempt counted nothing


async def test_the_window_closes_after_pairing_and_locks_after_the_limit(world, made):
    server = await start_device(world, made.record, max_failures=2, free_attempts=5)
    central = await world.device("central")
    owner, guesser = MemoryBondStore(), MemoryBondStore()
    assert await pair(central, server, owner) == "paired"
    assert server.core.pairing_window() == "closed"

    # Outside the window: refused, whatever the code, and nothing counted.
    for code in (WRONG_CODE, CODE):
        async with client_for(central, server) as client:
            with pytest.raises(blepake.PairingClosed) as raised:
                await SecureLink.connect(client, code=code, bond_store=guesser)
        assert raised.value.code == 10
    assert server.core.failures == 0

    # The owner presses the button; a guesser spends the attempts.
    server.press_button()
    assert server.core.pairing_window() == "open"
    for _ in range(2):
        async with client_for(central, server) as client:
            with pytest.raises(blepake.WrongCode):
                await SecureLink.connect(client, code=WRONG_CODE, bond_store=guesser)
    assert server.core.locked
    async with client_for(central, server) as client:
        with pytest.raises(blepake.Locked) as raised:
            await SecureLink.connect(client, code=CODE, bond_store=guesser)
    assert raised.value.code == 3

    # The bonded owner still gets in while pairing is locked.
    assert await pair(central, server, owner, code=None) == "resumed"

    # Reopening the window lifts the lockout.
    server.press_button()
    assert not server.core.locked
    assert await pair(central, server, guesser) == "paired"
    assert server.core.pairing_window() == "closed"


async def test_a_bond_resumes_and_a_revoked_one_falls_back_to_the_code(world, made):
    server = await start_device(world, made.record)
    central = await world.device("central")
    store = MemoryBondStore()
    assert await pair(central, server, store) == "paired"
    first = store.load(made.record.device_id)
    assert await pair(central, server, store, code=None) == "resumed"
    assert await pair(central, server, store) == "resumed"  # a bond beats the code

    (host_id,) = server.core.bonds()
    assert server.core.revoke_bond(host_id)
    server.press_button()
    # The device rejects the bond; the link pairs with the code on a new
    # connection and keeps the new bond (the host's id stays, so the device
    # replaces rather than adds).
    assert await pair(central, server, store) == "paired"
    second = store.load(made.record.device_id)
    assert second != first and Bond.from_bytes(second).host_id == host_id
    assert server.core.bonds() == [host_id]

    # Without a code, a rejected bond is an error and is forgotten.
    server.core.revoke_all_bonds()
    async with client_for(central, server) as client:
        with pytest.raises(blepake.ResumeRejected):
            await SecureLink.connect(client, bond_store=store)
    assert store.load(made.record.device_id) is None
    async with client_for(central, server) as client:
        with pytest.raises(blepake.BlepakeError, match="no bond"):
            await SecureLink.connect(client, bond_store=store)


@pytest.mark.parametrize("resume", [False, True], ids=["pairing", "resume"])
async def test_the_first_message_rides_with_the_handshakes_last_value(world, made, resume):
    received = []
    server = await start_device(
        world, made.record, on_message=lambda session, message: received.append(message)
    )
    central = await world.device("central")
    store = MemoryBondStore()
    if resume:
        await pair(central, server, store)
        received.clear()
    async with client_for(central, server, backend=ScriptedClient) as client:
        async with SecureLink.connect(
            client, code=CODE, bond_store=store, first_message=b"0.5-RTT"
        ) as link:
            assert await link.recv() == b"0.5-RTT"
    finish = RESUME_FINISH if resume else PAIR_CONFIRM
    writes = client._backend.writes
    assert frame_types(writes[1]) == [finish, APPLICATION_DATA], [w.hex() for w in writes]
    assert received == [b"0.5-RTT"]


@pytest.mark.parametrize(
    "drop, counted",
    [
        (dict(drop_write=1), 0),  # the request never arrives
        (dict(drop_notification=1), 1),  # the device answered: the attempt counts
        (dict(drop_write=2), 1),  # the confirmation never arrives
    ],
    ids=["before-request", "after-response", "before-confirmation"],
)
@pytest.mark.parametrize("resume", [False, True], ids=["pairing", "resume"])
async def test_a_dropped_link_in_every_handshake_state_raises_and_frees_the_device(
    world, made, drop, counted, resume
):
    server = await start_device(world, made.record, free_attempts=5)
    central = await world.device("central")
    store = MemoryBondStore()
    if resume:
        await pair(central, server, store)
        server.press_button()  # so that a pairing after the drop is allowed
        counted = 0  # a resume counts nothing
    client = client_for(central, server, backend=ScriptedClient, **drop)

    async def attempt():
        async with client:
            async with SecureLink.connect(client, code=CODE, bond_store=store) as link:
                await link.recv()

    with pytest.raises(blepake.LinkLost) as raised:
        await asyncio.wait_for(attempt(), 10)
    assert raised.value.code == 12
    await settle(server)
    assert server.core.failures == counted
    # No lock is left behind: the next pairing goes through at once.
    fresh = MemoryBondStore()
    assert await asyncio.wait_for(pair(central, server, fresh), 10) == "paired"


async def test_a_device_that_stops_answering_times_the_host_out(world, made):
    server = await start_device(world, made.record)
    central = await world.device("central")
    # Every notification is lost: the device's answer never arrives.
    client = client_for(central, server, backend=ScriptedClient, mute=True)
    async with client:
        with pytest.raises(blepake.Timeout) as raised:
            await asyncio.wait_for(
                SecureLink.connect(
                    client, code=CODE, bond_store=MemoryBondStore(), handshake_timeout=1.0
                ),
                10,
            )
    assert raised.value.code == 8


async def test_a_silent_central_is_dropped_at_the_request_deadline(world, made):
    server = await start_device(world, made.record, request_timeout=0.3)
    central = await world.device("central")
    async with client_for(central, server) as client:
        for _ in range(200):
            if not client.is_connected:
                break
            await asyncio.sleep(0.01)
        assert not client.is_connected
    await settle(server)


async def test_a_peer_without_the_service_is_named(world):
    plain = await world.device("plain")
    await plain.start_advertising(auto_restart=True)
    central = await world.device("central")
    async with BleakClient(
        str(plain.random_address), backend=BumbleClient, central=central
    ) as client:
        with pytest.raises(NotABlepakeDevice):
            await SecureLink.connect(client, code=CODE, bond_store=MemoryBondStore())


@pytest.mark.parametrize("mtu", [None, 247], ids=["mtu-23", "mtu-247"])
async def test_values_follow_the_mtu(world, made, mtu):
    server = await start_device(world, made.record)
    central = await world.device("central")
    async with client_for(central, server, mtu=mtu, backend=ScriptedClient) as client:
        largest = client.mtu_size - 3
        assert largest == (20 if mtu is None else 244)
        async with SecureLink.connect(client, code=CODE, bond_store=MemoryBondStore()) as link:
            for size in (0, 1, 100, 511, 512):
                message = os.urandom(size)
                await link.send(message)
                assert await link.recv() == message
        lengths = [len(value) for value in client._backend.writes]
    assert max(lengths) == largest
    for session in server.sessions.values():
        assert session.link.max_value_len == largest


@pytest.mark.parametrize("requests_only", [False, True], ids=["commands", "requests"])
async def test_writes_without_response_where_the_characteristic_allows(world, made, requests_only):
    server = await start_device(world, made.record)
    central = await world.device("central")
    client = client_for(central, server, backend=ScriptedClient, requests_only=requests_only)
    async with client:
        async with SecureLink.connect(client, code=CODE, bond_store=MemoryBondStore()) as link:
            await link.send(b"either way")
            assert await link.recv() == b"either way"
    assert set(client._backend.responses) == {requests_only}


async def test_one_megabyte_echoes_intact(world, made):
    server = await start_device(world, made.record)
    central = await world.device("central")
    data = os.urandom(1 << 20)
    chunks = [data[i : i + blepake.MAX_MESSAGE_LEN] for i in range(0, len(data), blepake.MAX_MESSAGE_LEN)]
    async with client_for(central, server) as client:
        async with SecureLink.connect(client, code=CODE, bond_store=MemoryBondStore()) as link:

            async def send_all():
                for chunk in chunks:
                    await link.send(chunk)

            sender = asyncio.ensure_future(send_all())
            echoed = hashlib.sha256()
            got = 0
            async for message in link:
                echoed.update(message)
                got += len(message)
                if got >= len(data):
                    break
            await sender
    assert got == len(data)
    assert echoed.digest() == hashlib.sha256(data).digest()


async def test_the_reference_host_pairs_with_the_bumble_device(world, made):
    """The independent Python implementation (tools/interop) as the host,
    over bleak and Bumble, against the core's device side."""
    ref = load_reference()
    server = await start_device(world, made.record)
    central = await world.device("central")
    async with client_for(central, server) as client:
        info = await client.read_gatt_char(blepake.SETUP_INFO_UUID)
        host = ref.HostConnection.pair(
            ref.Password(code=blepake.SetupCode(CODE).digits), ref.SetupInfo.decode(bytes(info))
        )
        host.send(b"from the reference host")  # rides with PairConfirm
        incoming: asyncio.Queue = asyncio.Queue()
        await client.start_notify(
            blepake.OUTBOUND_UUID, lambda _, data: incoming.put_nowait(bytes(data))
        )
        events = []

        async def flush():
            out, size = host.take_output(), client.mtu_size - 3
            for offset in range(0, len(out), size):
                await client.write_gatt_char(
                    blepake.INBOUND_UUID, out[offset : offset + size], response=False
                )
            events.extend(host.take_events())

        await flush()
        while ("message", b"from the reference host") not in events:
            host.receive(await asyncio.wait_for(incoming.get(), 10))
            await flush()
        assert ("connected", "paired") in events
        host.close(0)
        await flush()
    assert len(server.core.bonds()) == 1


async def test_secure_link_pairs_with_a_reference_device_on_bumble(world, made):
    """SecureLink against the independent implementation's device side,
    served on a Bumble peripheral."""
    from bumble import gatt

    ref = load_reference()
    record = ref.DeviceRecord.decode(bytes(made.record))
    reference = ref.Device(record)
    peripheral = await world.device("reference device")
    links = {}

    def on_write(connection, value):
        link = links.setdefault(connection.handle, [reference.connect(), False])
        link[0].receive(bytes(value))
        for event in link[0].take_events():
            if event[0] == "message":
                link[0].send(event[1])  # echo
        asyncio.ensure_future(notify(connection))

    async def notify(connection):
        conn, subscribed = links[connection.handle]
        out, size = conn.take_output(), connection.att_mtu - 3
        for offset in range(0, len(out), size):
            await peripheral.notify_subscriber(connection, outbound, out[offset : offset + size])

    inbound = gatt.Characteristic(
        blepake.INBOUND_UUID,
        gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
        gatt.Characteristic.WRITEABLE,
        gatt.CharacteristicValue(write=on_write),
    )
    outbound = gatt.Characteristic(
        blepake.OUTBOUND_UUID, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
    )
    setup = gatt.Characteristic(
        blepake.SETUP_INFO_UUID,
        gatt.Characteristic.Properties.READ,
        gatt.Characteristic.READABLE,
        bytes(made.record.setup_info),
    )
    peripheral.add_service(gatt.Service(blepake.SERVICE_UUID, [inbound, outbound, setup]))
    await peripheral.start_advertising(auto_restart=True)

    central = await world.device("central")
    store = MemoryBondStore()
    async with BleakClient(
        str(peripheral.random_address), backend=BumbleClient, central=central
    ) as client:
        async with SecureLink.connect(client, code=CODE, bond_store=store) as link:
            assert link.mode == "paired"
            await link.send(b"to the reference device")
            assert await link.recv() == b"to the reference device"
    bond = Bond.from_bytes(store.load(made.record.device_id))
    assert reference.bond_secret(bytes.fromhex(bond.host_id)) is not None


async def test_a_device_app_streams_past_its_queue_with_wait_writable(world, made):
    count = 3 * blepake.OUTBOX_MESSAGES

    async def stream(session):
        for index in range(count):
            await session.wait_writable()
            session.send(index.to_bytes(2, "big") * 200)

    server = await start_device(world, made.record, echo=False, on_session=stream)
    central = await world.device("central")
    async with client_for(central, server) as client:
        async with SecureLink.connect(client, code=CODE, bond_store=MemoryBondStore()) as link:
            for index in range(count):
                assert await link.recv() == index.to_bytes(2, "big") * 200
