"""Volumes: directories that outlive containers, kept as docker's local driver keeps them.

`<home>/volumes/<name>/_data` is what containers see; `<home>/volumes/<name>/volume.json` holds when it was
created, its labels and options. A volume is created whole or not at all: it is built in a `.creating-*`
directory and renamed into place, so two containers naming the same new volume at once share one. Which
containers use a volume is not stored twice: it is read from the containers' own records (their `Mounts`).
Anonymous volumes carry docker's label `com.docker.volume.anonymous`, which `rm -v`, `run --rm` and
`volume prune` go by.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .containers import Container, ContainerError, ContainerStore, now, valid_name

ANONYMOUS = "com.docker.volume.anonymous"
NAME_MAX = 255  # a volume is a directory named after it: a longer name is no file name
RECORD = "volume.json"


class NoSuchVolume(ContainerError):
    pass


class VolumeInUse(ContainerError):
    pass


@dataclass(frozen=True)
class Volume:
    name: str
    dir: Path
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def mountpoint(self) -> Path:
        return self.dir / "_data"

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS in self.labels

    def inspect(self) -> dict[str, Any]:
        """docker volume inspect's object."""
        return {"CreatedAt": self.created_at, "Driver": "local", "Labels": self.labels or None,
                "Mountpoint": str(self.mountpoint), "Name": self.name, "Options": self.options or None,
                "Scope": "local"}


class VolumeStore:
    def __init__(self, root: Path, containers: ContainerStore) -> None:
        self.root, self.containers = root, containers
        root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def beside(cls, containers: ContainerStore) -> VolumeStore:
        """The volumes of the berth home whose containers are `containers` (`<home>/volumes`)."""
        return cls(Path(containers.root).parent / "volumes", containers)

    def create(self, name: str | None = None, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> Volume:
        """The volume `name`, created empty if it does not exist yet (as docker, an existing one is returned
        as it is); without a name, a new anonymous volume."""
        if name is None:
            name, labels = os.urandom(32).hex(), {**(labels or {}), ANONYMOUS: ""}
        elif not valid_name(name):  # docker's rule for volume names is its rule for container names
            raise ContainerError(f'create {name}: "{name}" includes invalid characters for a local volume name, '
                                 'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                                 "directory, use absolute path")
        if len(name) > NAME_MAX:  # else the rename below fails as if another berth had made it meanwhile
            raise ContainerError(f"create {name[:64]}...: volume name is too long ({len(name)} characters, "
                                 f"at most {NAME_MAX})")
        with contextlib.suppress(NoSuchVolume):
            return self.get(name)
        building = self.root / f".creating-{os.urandom(8).hex()}"
        building.mkdir(mode=0o701)
        (building / "_data").mkdir(mode=0o755)
        record = {"CreatedAt": _seconds(now()), "Labels": labels or {}, "Options": options or {}}
        (building / RECORD).write_text(json.dumps(record))
        try:
            os.rename(building, self.root / name)
        except OSError:  # created meanwhile by another berth: theirs it is
            shutil.rmtree(building, ignore_errors=True)
        return self.get(name)

    def get(self, name: str) -> Volume:
        directory = self.root / name
        if name.startswith(".") or "/" in name or not name or len(name) > NAME_MAX:  # none made: none there
            raise NoSuchVolume(f"get {name}: no such volume")
        try:
            record = json.loads((directory / RECORD).read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchVolume(f"get {name}: no such volume") from None
        except (OSError, ValueError) as exc:
            raise ContainerError(f"{directory / RECORD} is unreadable: {exc}") from None
        return Volume(name, directory, record.get("CreatedAt", ""), record.get("Labels") or {},
                      record.get("Options") or {})

    def list(self) -> list[Volume]:
        """Every volume, by name."""
        found = []
        for directory in sorted(self.root.iterdir()):
            if not directory.name.startswith("."):
                with contextlib.suppress(NoSuchVolume):
                    found.append(self.get(directory.name))
        return found

    def users(self, name: str) -> builtins.list[Container]:
        """The containers (in any state) that mount the volume `name`."""
        return [c for c in self.containers.list() if name in volume_names(c.doc)]

    def remove(self, name: str, force: bool = False) -> None:
        """Delete a volume no container uses; `force` only forgives a volume that does not exist (as docker)."""
        try:
            volume = self.get(name)
        except NoSuchVolume:
            if force:
                return
            raise
        users = self.users(name)
        if users:
            raise VolumeInUse(f"remove {name}: volume is in use - [{', '.join(c.id for c in users)}]")
        graveyard = self.root / f".removing-{os.urandom(8).hex()}"
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile
            os.rename(volume.dir, graveyard)
        shutil.rmtree(graveyard, ignore_errors=True)

    def prune(self, everything: bool = False) -> tuple[builtins.list[str], int]:
        """Remove the volumes no container uses (only anonymous ones unless `everything`, as docker 23 on);
        their names and the bytes freed."""
        used = {name for c in self.containers.list() for name in volume_names(c.doc)}
        removed, freed = [], 0
        for volume in self.list():
            if volume.name in used or not (everything or volume.anonymous):
                continue
            size = disk_usage(volume.mountpoint)
            with contextlib.suppress(VolumeInUse, NoSuchVolume):  # taken meanwhile: it stays
                self.remove(volume.name)
                removed.append(volume.name)
                freed += size
        return removed, freed

    def release_anonymous(self, doc: dict[str, Any]) -> None:
        """Remove the anonymous volumes of the (removed) container `doc` that no other container still uses:
        `rm -v` and `run --rm`. A volume another container holds (through --volumes-from) stays, as in docker."""
        for name in volume_names(doc):
            with contextlib.suppress(ContainerError):
                if self.get(name).anonymous:
                    self.remove(name)


def volume_names(doc: dict[str, Any]) -> list[str]:
    return [m["Name"] for m in doc.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name")]


def disk_usage(root: Path) -> int:
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


def _seconds(moment: str) -> str:
    """docker's volume CreatedAt has whole seconds: 2024-01-02T03:04:05Z."""
    return moment.partition(".")[0] + "Z"
