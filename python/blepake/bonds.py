"""Where a host keeps its bonds: 49 secret bytes per device, keyed by the
device id, that let it reconnect without the code.

:class:`FileBondStore` keeps them in one JSON file readable by its owner
only (mode 0600, in a 0700 directory), by default under the user's data
directory (``platformdirs``). An app with its own key store passes any
object with the three methods of :class:`BondStore` instead.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Dict, Optional, Union

try:
    from typing import Protocol
except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
    Protocol = object  # type: ignore

from ._native import BlepakeError

__all__ = ["BondStore", "FileBondStore", "MemoryBondStore", "default_bond_path"]


class BondStore(Protocol):
    """What :class:`blepake.bleak.SecureLink` needs of a bond store."""

    def load(self, device_id: str) -> Optional[bytes]:
        """The bond's bytes for the device (16 hex digits), or ``None``."""

    def save(self, device_id: str, bond: bytes) -> None:
        """Keeps the bond's bytes for the device, replacing any older one."""

    def delete(self, device_id: str) -> None:
        """Forgets the device's bond (the device rejected it)."""


class MemoryBondStore:
    """Bonds in memory, for tests and short-lived tools."""

    def __init__(self) -> None:
        self._bonds: Dict[str, bytes] = {}

    def load(self, device_id: str) -> Optional[bytes]:
        return self._bonds.get(device_id)

    def save(self, device_id: str, bond: bytes) -> None:
        self._bonds[device_id] = bytes(bond)

    def delete(self, device_id: str) -> None:
        self._bonds.pop(device_id, None)

    def __len__(self) -> int:
        return len(self._bonds)


def default_bond_path() -> Path:
    """``bonds.json`` in the user's data directory for blepake."""
    import platformdirs

    return platformdirs.user_data_path("blepake", appauthor=False) / "bonds.json"


class FileBondStore:
    """Bonds in one JSON file (``{"<device id>": "<bond hex>"}``), created with
    mode 0600 and replaced atomically on every change.

    A file that is not such a document raises :class:`BlepakeError` rather
    than being overwritten: it may hold bonds worth keeping.
    """

    def __init__(self, path: Union[str, os.PathLike, None] = None) -> None:
        self.path = Path(path) if path is not None else default_bond_path()

    def _read(self) -> Dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            bonds = json.loads(text)
        except ValueError as error:
            raise BlepakeError(f"bond store {self.path} is not JSON: {error}") from None
        if not isinstance(bonds, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in bonds.items()
        ):
            raise BlepakeError(f"bond store {self.path} is not a map of device ids to bonds")
        return bonds

    def _write(self, bonds: Dict[str, str]) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600: the bonds are never
        # readable by others, not even for a moment.
        fd, temporary = tempfile.mkstemp(prefix=".bonds-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(bonds, file, indent=1, sort_keys=True)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise

    def load(self, device_id: str) -> Optional[bytes]:
        value = self._read().get(device_id)
        if value is None:
            return None
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise BlepakeError(f"bond store {self.path}: the bond of {device_id} is not hex") from None

    def save(self, device_id: str, bond: bytes) -> None:
        bonds = self._read()
        bonds[device_id] = bytes(bond).hex()
        self._write(bonds)

    def delete(self, device_id: str) -> None:
        bonds = self._read()
        if bonds.pop(device_id, None) is not None:
            self._write(bonds)
