"""Addresses on berth's bridge, leased to containers through one flock'd file for every berth process.

The bridge and its subnet belong to the host and are shared by every BERTH_HOME (the test suite runs several
at once), so the leases are too: they live under /run, which goes at reboot as the namespaces they describe
do. A lease names its container's directory and network namespace; one whose directory or namespace is gone
was left by a crash or an unfinished removal, and the next allocation takes it back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import replace_json
from . import NetworkError

# 172.16.0.0/12 is docker's (172.17/16 first, counting up); its last /16, and a /24 of it that nothing here
# routes, is unlikely to meet docker's, podman's (10.88/16) or a home network's. (Spelled out, not through
# ipaddress, which would add a millisecond to every `berth run`.)
NETWORK, PREFIX_LENGTH = "172.31.250.", 24
SUBNET = f"{NETWORK}0/{PREFIX_LENGTH}"
GATEWAY = f"{NETWORK}1"
HOSTS = [f"{NETWORK}{n}" for n in range(2, 255)]
STATE = Path("/run/berth/network")
NETNS = Path("/run/netns")


@dataclass(frozen=True)
class Lease:
    address: str
    sandbox: str  # the network namespace's name (under /run/netns)
    owner: str  # the container's directory

    @property
    def stale(self) -> bool:
        return not os.path.isdir(self.owner) or not (NETNS / self.sandbox).exists()


class AddressBook:
    """The leases of SUBNET; `open()` holds the lock while the caller allocates and sets up."""

    def __init__(self, root: Path = STATE) -> None:
        self.root = root

    @contextlib.contextmanager
    def open(self) -> Iterator[Leases]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "leases.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            leases = Leases(self._read())
            yield leases
            if leases.changed:
                self._write(leases.by_address)

    def _read(self) -> dict[str, Lease]:
        try:
            doc = json.loads((self.root / "leases.json").read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}  # a torn file cannot happen (replaced atomically); a hand-edited one is started afresh
        return {address: Lease(**lease) for address, lease in doc.items()}

    def _write(self, leases: dict[str, Lease]) -> None:
        replace_json(self.root / "leases.json", {a: asdict(lease) for a, lease in sorted(leases.items())})


class Leases:
    def __init__(self, by_address: dict[str, Lease]) -> None:
        self.by_address, self.changed = by_address, False

    def stale(self) -> list[Lease]:
        return [lease for lease in self.by_address.values() if lease.stale]

    def take(self, sandbox: str, owner: str) -> str:
        """The lowest free address for `owner` (its own lease first, if a crash left one)."""
        for lease in list(self.by_address.values()):
            if lease.owner == owner:
                self.release(lease.address)
        for address in HOSTS:
            if address not in self.by_address:
                self.by_address[address] = Lease(address, sandbox, owner)
                self.changed = True
                return address
        raise NetworkError(f"no available IPv4 addresses on berth's bridge ({SUBNET})")

    def release(self, address: str) -> None:
        if self.by_address.pop(address, None) is not None:
            self.changed = True
