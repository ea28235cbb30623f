"""`berth run`'s -v and --volumes-from, read as docker reads them, into the record's mounts.

-v SRC:DST[:MODE] is a bind mount when SRC is an absolute host path (created when missing, as docker does), a
named volume otherwise (created on first use); -v DST alone is an anonymous volume, as is each of the image's
VOLUME paths that nothing else is mounted on. --volumes-from C[:ro|:rw] mounts what container C mounts. When two
ask for one destination, -v wins over --volumes-from, which wins over the image's volumes (docker's order).
"""

from __future__ import annotations

import os
import posixpath
from collections import namedtuple

from runtime.containers import ContainerError, NoSuchContainer
from runtime.mounts import bind_mount, volume_mount

from .containers import container_store
from .environment import Environment
from .errors import CliError, ContainerFailed, ExitCode

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

    from runtime.volumes import VolumeStore

MODES = {"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate",
         "consistent", "cached", "delegated"}


class BadVolume(CliError):
    code = ExitCode.RUN_FAILED


class VolumeFlag(namedtuple("VolumeFlag", "source destination modes")):  # not a dataclass: dataclasses loads
    # inspect, the largest import of `berth run`'s start-up
    __slots__ = ()
    source: str  # a host path, a volume name, or "" (an anonymous volume)
    destination: str
    modes: tuple[str, ...]

    @property
    def rw(self) -> bool:
        return "ro" not in self.modes

    @property
    def mode(self) -> str:
        return ",".join(self.modes)


class ContainerMounts:
    """What the flags give the record: HostConfig.Binds and VolumesFrom, Config.Volumes, Mounts, and the
    destinations whose new volume gets the image's content."""

    def __init__(self, volumes_from: list[str] | None = None) -> None:
        self.binds: list[str] = []
        self.volumes_from = volumes_from or []
        self.config_volumes: dict[str, Any] = {}
        self.mounts: list[dict[str, Any]] = []
        self.to_fill: list[str] = []


def parse_volume(text: str) -> VolumeFlag:
    parts = text.split(":")
    if len(parts) == 1:
        source, destination, modes = "", parts[0], ""
    elif len(parts) == 2:
        source, destination, modes = parts[0], parts[1], ""
        if set(destination.split(",")) <= MODES:  # DST:MODE names no source: docker refuses it too
            raise BadVolume(f"invalid spec: {text}: invalid volume specification")
    elif len(parts) == 3:
        source, destination, modes = parts
    else:
        raise BadVolume(f"invalid spec: {text}: too many colons")
    if not destination:
        raise BadVolume(f"invalid spec: {text}: empty section between colons")
    if not destination.startswith("/"):
        raise BadVolume(f"invalid mount config for type \"{'bind' if source.startswith('/') else 'volume'}\": "
                        f"invalid mount path: '{destination}' mount path must be absolute")
    given = tuple(m for m in modes.split(",") if m)
    if any(m not in MODES for m in given) or ("ro" in given and "rw" in given):
        raise BadVolume(f"invalid mode: {modes}")
    if posixpath.normpath(destination) in ("/", "//"):  # over the root filesystem: runc fails obscurely (127)
        raise BadVolume(f"invalid spec: {text}: invalid mount config for type "
                        f"\"{'bind' if source.startswith('/') else 'volume'}\": invalid specification: "
                        "destination can't be '/'")
    return VolumeFlag(source, posixpath.normpath(destination), given)


def container_mounts(env: Environment, volumes: list[str], volumes_from: list[str],
                     image_volumes: dict[str, Any] | None) -> ContainerMounts:
    flags = [parse_volume(text) for text in volumes]
    seen: set[str] = set()
    for flag in flags:
        if flag.destination in seen:
            raise BadVolume(f"Duplicate mount point: {flag.destination}")
        seen.add(flag.destination)
    found = ContainerMounts(volumes_from=list(volumes_from))
    if not (flags or volumes_from or image_volumes):
        return found  # most containers: the volume store is not even loaded
    from runtime.volumes import VolumeStore

    store = container_store(env)
    by_destination: dict[str, dict[str, Any]] = {}
    try:
        volume_store = VolumeStore.beside(store)
        for text in volumes_from:
            by_destination.update(_mounts_of(store, text))
        for flag in flags:
            by_destination[flag.destination] = _mount(volume_store, flag, found)
        wanted = dict.fromkeys(image_volumes or {})
        wanted.update(dict.fromkeys(f.destination for f in flags if not f.source))
        found.config_volumes = {posixpath.normpath(d): {} for d in wanted}
        for destination in found.config_volumes:
            if destination not in by_destination:
                by_destination[destination] = volume_mount(volume_store.create(), destination, True, "")
                found.to_fill.append(destination)
    except NoSuchContainer as exc:
        raise ContainerFailed(str(exc)) from None
    except ContainerError as exc:
        raise BadVolume(str(exc)) from None
    found.mounts = list(by_destination.values())
    return found


def _mount(volumes: VolumeStore, flag: VolumeFlag, found: ContainerMounts) -> dict[str, Any]:
    text = ":".join(p for p in (flag.source, flag.destination, flag.mode) if p)
    if flag.source.startswith("/"):
        if not os.path.exists(flag.source):  # a file may be bound too; only a missing source is created
            os.makedirs(flag.source)
        found.binds.append(text)
        return bind_mount(os.path.realpath(flag.source), flag.destination, flag.rw, flag.mode)
    if flag.source:
        found.binds.append(text)
    volume = volumes.create(flag.source or None)
    if "nocopy" not in flag.modes:
        found.to_fill.append(flag.destination)
    return volume_mount(volume, flag.destination, flag.rw, flag.mode or ("z" if flag.source else ""))


def _mounts_of(store: Any, text: str) -> dict[str, dict[str, Any]]:
    """Container `text`'s mounts, read-only or read-write when `:ro` or `:rw` says so."""
    name, _, mode = text.partition(":")
    if mode not in ("", "ro", "rw", "z", "Z"):
        raise BadVolume(f"invalid mode: {mode}")
    source = store.get(name)
    mounts = {}
    for mount in source.doc.get("Mounts") or []:
        copied = dict(mount)
        if mode in ("ro", "rw"):
            copied["RW"], copied["Mode"] = mode == "rw", mode
        mounts[copied["Destination"]] = copied
    return mounts
