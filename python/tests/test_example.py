"""examples/python/bleak_app.py runs unchanged against the Bumble device."""

import importlib.util

from blepake import MemoryBondStore
from blepake.testing import BumbleClient, BumbleScanner

from conftest import CODE, REPO, start_device


def load_example():
    path = REPO / "examples" / "python" / "bleak_app.py"
    spec = importlib.util.spec_from_file_location("bleak_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_pairs_then_resumes(world, made, capsys):
    example = load_example()
    await start_device(world, made.record)
    central = await world.device("central")
    store = MemoryBondStore()
    args = dict(
        bond_store=store,
        scanner_args={"backend": BumbleScanner, "central": central},
        client_args={"backend": BumbleClient, "central": central},
    )
    assert await example.main(code=CODE, **args) == b"hello, device"
    assert "secure link open (paired)" in capsys.readouterr().out
    assert await example.main(qr=made.payload.text, **args) == b"hello, device"
    assert "secure link open (resumed)" in capsys.readouterr().out
