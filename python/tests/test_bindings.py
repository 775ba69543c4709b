"""The bindings alone: codes, payloads, records and bonds, and a host and a
device paired in memory, Python carrying every value between the two pumps."""

import pytest

import blepake
from blepake import (
    Bond,
    Bonded,
    Closed,
    Connected,
    Device,
    DeviceRecord,
    Failed,
    HostConnection,
    ProverSecrets,
    SetupCode,
    SetupInfo,
    SetupPayload,
)

# Light Argon2id parameters: the tests pair often, and the parameters are
# the device's choice (the default is 64 MiB).
LIGHT = dict(memory_kib=256, iterations=1, parallelism=1)


def carry(host, link, host_room=None):
    """Moves values between a host and a device link until both are quiet;
    returns what each side got (events and messages, in order)."""
    got_host, got_device = [], []
    step = host.flush(room=host_room)
    to_device = list(step.values)
    got_host += step.events
    to_host = []
    while to_device or to_host:
        while to_device:
            step = link.receive(to_device.pop(0))
            to_host += step.values
            got_device += step.events
        while to_host:
            step = host.receive(to_host.pop(0), room=host_room)
            to_device += step.values
            got_host += step.events
    return got_host, got_device


@pytest.fixture(scope="module")
def provisioned():
    return blepake.provision(code=SetupCode("314-159-266"), **LIGHT)


def test_codes_read_both_printed_forms_and_refuse_typos():
    code = SetupCode("314-159-266")
    assert code.digits == "31415926"
    assert code.manual == "314-159-266"
    assert SetupCode("31415926") == code
    assert SetupCode(" 3141 5926 ") == code
    assert "31415926" not in repr(code)
    with pytest.raises(blepake.InvalidCode, match="check digit"):
        SetupCode("314-159-265")
    with pytest.raises(blepake.InvalidCode):
        SetupCode("12345678")  # trivial
    with pytest.raises(blepake.InvalidCode):
        SetupCode("3141592")
    fresh = SetupCode.generate()
    assert SetupCode(fresh.manual) == fresh


def test_payloads_records_and_bonds_round_trip(provisioned):
    record = provisioned.record
    assert len(bytes(record)) == 163
    again = DeviceRecord.from_bytes(bytes(record))
    assert again.device_id == record.device_id
    payload = SetupPayload.parse(provisioned.payload.text)
    assert payload.text.startswith("BP:")
    assert payload.info == record.setup_info
    assert payload.code == SetupCode("314-159-266")
    info = SetupInfo.from_bytes(bytes(record.setup_info))
    assert info.device_id == record.device_id and info.takes_setup_code
    assert SetupPayload(info, code=payload.code).text == payload.text
    with pytest.raises(blepake.InvalidPayload):
        SetupPayload.parse("BP:" + "A" * 54)
    with pytest.raises(blepake.InvalidPayload):
        DeviceRecord.from_bytes(bytes(record)[:-1])
    with pytest.raises(blepake.InvalidPayload):
        Bond.from_bytes(b"\x01" * 48)


def test_a_qr_secret_device_pairs_from_its_payload_only():
    made = blepake.provision(qr_secret=True)
    assert made.code is None and len(made.payload.text) == 75
    info = made.record.setup_info
    assert not info.takes_setup_code and info.kdf == "hkdf-sha256"
    with pytest.raises(blepake.DerivationError):
        ProverSecrets.derive(info, SetupCode.generate())
    secrets = ProverSecrets.from_payload(SetupPayload.parse(made.payload.text))
    device = Device(made.record)
    got_host, got_device = carry(HostConnection.pair(secrets), device.accept())
    assert [type(e) for e in got_host] == [Connected, Bonded]
    assert [type(e) for e in got_device] == [Connected, Bonded]


def test_pairing_messages_both_ways_then_close_and_resume(provisioned):
    device = Device(provisioned.record)
    secrets = ProverSecrets.from_payload(provisioned.payload)
    host = HostConnection.pair(secrets)
    host.max_value_len = 244
    link = device.accept()
    link.max_value_len = 244
    # Queued before the session opens: it rides with the confirmation.
    host.send(b"early")
    got_host, got_device = carry(host, link)
    assert isinstance(got_host[0], Connected) and got_host[0].mode == "paired"
    bond = next(e.bond for e in got_host if isinstance(e, Bonded))
    assert bond.device_id == provisioned.record.device_id
    assert got_device[0].host_id == bond.host_id
    assert isinstance(got_device[1], Bonded) and got_device[2:] == [b"early"]
    assert Bond.from_bytes(bytes(bond)) == bond and "secret" not in repr(bond)
    assert device.bonds() == [bond.host_id]

    link.send(b"reply")
    for value in link.flush().values:
        assert host.receive(value).events == [b"reply"]
    host.close(7)
    to_device = host.flush().values
    assert host.is_closed
    (closed,) = [e for v in to_device for e in link.receive(v).events]
    assert isinstance(closed, Closed) and closed.by_peer and closed.reason == 7
    with pytest.raises(blepake.NotOpen):
        host.send(b"late")
    link.remove()
    with pytest.raises(blepake.UnknownLink):
        link.flush()

    again = HostConnection.resume(bond)
    got_host, got_device = carry(again, device.accept())
    assert got_host[0].mode == "resumed" and got_device[0].mode == "resumed"


def test_a_wrong_code_fails_both_sides_and_is_counted(provisioned):
    device = Device(provisioned.record)
    wrong = ProverSecrets.derive(provisioned.record.setup_info, SetupCode("27182818"))
    got_host, got_device = carry(HostConnection.pair(wrong), device.accept())
    (failed,) = got_host
    assert isinstance(failed, Failed) and isinstance(failed.error, blepake.WrongCode)
    assert failed.error.code == 1 and failed.by_peer is False
    assert isinstance(got_device[0].error, blepake.WrongCode) and got_device[0].by_peer
    assert device.failures == 1


def test_messages_are_bounded_and_the_queue_pushes_back(provisioned):
    host = HostConnection.pair(ProverSecrets.from_payload(provisioned.payload))
    with pytest.raises(blepake.MessageTooLong) as raised:
        host.send(bytes(blepake.MAX_MESSAGE_LEN + 1))
    assert raised.value.code == 31
    for _ in range(blepake.OUTBOX_MESSAGES):
        host.send(b"x")
    with pytest.raises(blepake.QueueFull):
        host.send(b"x")
    assert host.queued == blepake.OUTBOX_MESSAGES
    # The queue drains into a session only: a failed handshake drops it.
    host.disconnected()
    assert host.queued == 0 and host.is_closed


def test_the_host_gives_up_at_its_deadline(provisioned):
    host = HostConnection.pair(
        ProverSecrets.from_payload(provisioned.payload), handshake_timeout=5.0, now=1000
    )
    assert host.flush(now=1000).subscribe
    assert host.poll_timeout() == 6000
    assert host.timer(now=5999).events == []
    (failed,) = host.timer(now=6000).events
    assert isinstance(failed.error, blepake.Timeout) and failed.error.code == 8


def test_every_error_class_is_a_blepake_error():
    for name in blepake.__all__:
        thing = getattr(blepake, name)
        if isinstance(thing, type) and issubclass(thing, Exception):
            assert issubclass(thing, blepake.BlepakeError), name


def test_the_default_bond_store_is_private_under_the_user_data_directory(tmp_path, monkeypatch):
    import os
    import stat

    import platformdirs

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = blepake.FileBondStore()
    assert store.path == platformdirs.user_data_path("blepake", appauthor=False) / "bonds.json"
    assert str(store.path).startswith(str(tmp_path / "data"))
    assert store.load("0011223344556677") is None
    store.save("0011223344556677", b"\x01" * 49)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert blepake.FileBondStore().load("0011223344556677") == b"\x01" * 49
    store.delete("0011223344556677")
    assert store.load("0011223344556677") is None
    assert [p.name for p in store.path.parent.iterdir()] == ["bonds.json"]


def test_a_damaged_bond_file_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "bonds.json"
    store = blepake.FileBondStore(path)
    for damage in ("{not json", '["a list"]'):
        path.write_text(damage)
        with pytest.raises(blepake.BlepakeError, match="bond store"):
            store.load("0011223344556677")
        with pytest.raises(blepake.BlepakeError, match="bond store"):
            store.save("0011223344556677", b"\x01" * 49)
        assert path.read_text() == damage
    path.write_text('{"0011223344556677": "zz"}')
    with pytest.raises(blepake.BlepakeError, match="not hex"):
        store.load("0011223344556677")
