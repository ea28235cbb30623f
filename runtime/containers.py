"""Per-container state under `<home>/containers/<id>/`, safe for several berth processes at once.

`container.json` is the container as `docker inspect` shows it (Id, Name, Created, Config, HostConfig, State,
RestartCount, LogPath ...) plus a `Berth` section of what only berth needs (image layers, supervisor pid).
It is replaced atomically (readers never lock); every read-modify-write holds the container's `lock` file
(flock), and creating a container holds the store's `.names.lock`, so two `berth run --name x` cannot both
get the name. Paths are strings here (see runtime/image_store.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator

from .files import replace_json
from .names import random_name

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
# docker's PATH for a container whose image sets none (moby oci/defaults.go), as an Env entry.
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SUPERVISOR_LOCK = "supervisor.lock"
# docker's validContainerNamePattern, ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$, without loading re (`berth run` starts faster)
NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
NAME_REST = NAME_FIRST | frozenset("_.-")


class ContainerError(Exception):
    """A container cannot be found, named or changed as asked; the message says why, in one line."""


class NoSuchContainer(ContainerError):
    pass


def now() -> str:
    """RFC 3339 with nanoseconds, in UTC, as docker writes times (through time, not datetime: `berth run`
    need not load it)."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds)) + f"{nanos // 1000:06d}000Z"


class Container:
    """One container's record, as read at one moment (`ContainerStore.update` to change it)."""

    def __init__(self, directory: str, doc: dict[str, Any]) -> None:
        self.dir, self.doc = directory, doc

    id = property(lambda self: str(self.doc["Id"]))
    name = property(lambda self: str(self.doc["Name"]).lstrip("/"))
    config = property(lambda self: self.doc["Config"])
    host_config = property(lambda self: self.doc["HostConfig"])
    state = property(lambda self: self.doc["State"])
    berth = property(lambda self: self.doc["Berth"])

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def status(self) -> str:
        """created, running, paused, restarting, exited (or dead: the supervisor went away without saying how)."""
        status = str(self.state["Status"])
        if status in ("running", "paused", "restarting") and not self.supervised:
            return "dead"
        return status

    @property
    def supervised(self) -> bool:
        """Whether a supervisor holds the container (its lock on `supervisor.lock`, held for as long as it
        lives: unlike a pid, it cannot be mistaken for another process's)."""
        try:
            fd = os.open(f"{self.dir}/{SUPERVISOR_LOCK}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    @property
    def running(self) -> bool:
        """docker's Running: a paused container still runs (frozen), as does one between restarts."""
        return self.status in ("running", "paused", "restarting")

    @property
    def log_path(self) -> str:
        return f"{self.dir}/{self.id}-json.log"

    @property
    def bundle(self) -> str:
        return f"{self.dir}/bundle"


class ContainerStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        os.makedirs(self.root, exist_ok=True)

    def create(self, doc: dict[str, Any], name: str | None) -> Container:
        """Store a new container from `doc` (without Id, Name, Created): a fresh id, and `name` or a random one."""
        with self._locked(f"{self.root}/.names.lock"):
            taken = {c.name: c for c in self.list()}
            if name and name in taken:
                raise ContainerError(_conflict(name, taken[name]))
            while not name or name in taken:
                name = random_name()
            container_id = os.urandom(32).hex()
            directory = f"{self.root}/{container_id}"
            os.mkdir(directory, mode=0o700)
            full = {"Id": container_id, "Created": now(), "Name": f"/{name}", **doc}
            full["LogPath"] = f"{directory}/{container_id}-json.log"
            replace_json(f"{directory}/container.json", full)
            return Container(directory, full)

    def rename(self, container: Container, name: str) -> Container:
        """Give the container `name`, in docker's order of checks (moby daemon/rename.go), under the names lock
        as `create` takes it. Links naming the old name follow: docker keeps links by id and shows them under
        the current names; berth keeps HostConfig.Links ("/target:/parent/alias") by name, so both the
        links to this container and its own links are rewritten."""
        with self._locked(f"{self.root}/.names.lock"):
            everyone = self.list()
            old = self.reload(container).name
            if name.lstrip("/") == old:
                raise ContainerError("Renaming a container with the same name as its current name")
            wanted = name if name.startswith("/") else f"/{name}"
            if not valid_name(wanted[1:]):
                raise ContainerError(f"Error when allocating new name: Invalid container name ({wanted}), only "
                                     "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            taken = {c.name: c for c in everyone}
            if wanted[1:] in taken:
                raise ContainerError("Error when allocating new name: " + _conflict(wanted[1:], taken[wanted[1:]]))
            renamed = None
            for other in everyone:
                links = other.host_config.get("Links") or []
                if other.id != container.id and links == _renamed_links(links, old, wanted[1:]):
                    continue
                with self.update(other) as record:
                    if record.host_config.get("Links"):
                        record.host_config["Links"] = _renamed_links(record.host_config["Links"], old, wanted[1:])
                    if record.id == container.id:
                        record.doc["Name"] = wanted
                        renamed = record
            if renamed is None:
                raise NoSuchContainer(f"No such container: {container.id}")
            return renamed

    def list(self) -> list[Container]:
        """Every container, newest first."""
        found = []
        for name in os.listdir(self.root):
            if name.startswith("."):
                continue
            container = self._read(f"{self.root}/{name}")
            if container is not None:
                found.append(container)
        return sorted(found, key=lambda c: c.doc["Created"], reverse=True)

    def get(self, text: str) -> Container:
        """The container `text` names: a full id, a name, or a unique id prefix (docker's order)."""
        containers = self.list()
        for matches in ([c for c in containers if c.id == text], [c for c in containers if c.name == text.lstrip("/")],
                        [c for c in containers if text and c.id.startswith(text)]):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ContainerError(f"multiple IDs found with provided prefix: {text}")
        raise NoSuchContainer(f"No such container: {text}")

    def reload(self, container: Container) -> Container:
        found = self._read(container.dir)
        if found is None:
            raise NoSuchContainer(f"No such container: {container.id}")
        return found

    @contextlib.contextmanager
    def update(self, container: Container) -> Iterator[Container]:
        """The container's latest record, locked; what the caller changes in `.doc` is written back."""
        with self._locked(f"{container.dir}/lock"):
            current = self.reload(container)
            yield current
            replace_json(f"{current.dir}/container.json", current.doc)

    @contextlib.contextmanager
    def locked(self, container: Container) -> Iterator[Container]:
        """Hold the container's lock without writing (removal, start): its latest record."""
        with self._locked(f"{container.dir}/lock"):
            yield self.reload(container)

    def remove(self, container: Container) -> None:
        """Forget the container: its record, logs, upper directory (the caller has unmounted it)."""
        import shutil  # loaded only when something is removed

        shutil.rmtree(self.bury(container), ignore_errors=True)

    def bury(self, container: Container) -> str:
        """Take the container out of every listing at once (one rename); its files are then deleted at
        leisure from the returned directory (runtime/leftovers.py finishes what an interrupted removal left)."""
        graveyard = f"{self.root}/.removing-{container.id}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(container.dir, graveyard)
        return graveyard

    def _read(self, directory: str) -> Container | None:
        try:
            with open(f"{directory}/container.json", "rb") as f:
                doc = json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            return None  # being created or removed right now (or not a container's directory)
        except (OSError, ValueError) as exc:
            raise ContainerError(f"{directory}/container.json is unreadable: {exc}") from None
        return Container(directory, doc)

    @staticmethod
    @contextlib.contextmanager
    def _locked(path: str) -> Iterator[None]:
        try:
            lock = open(path, "a")
        except FileNotFoundError:
            raise NoSuchContainer(f"No such container: {os.path.basename(os.path.dirname(path))}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def valid_name(name: str) -> bool:
    return len(name) >= 2 and name[0] in NAME_FIRST and all(c in NAME_REST for c in name[1:])


def _conflict(name: str, holder: Container) -> str:
    return (f'Conflict. The container name "/{name}" is already in use by container "{holder.id}". You have to '
            "remove (or rename) that container to be able to reuse that name.")


def _renamed_links(links: list[str], old: str, new: str) -> list[str]:
    """HostConfig.Links with the container `old` called `new`, as a target and as a parent."""
    found = []
    for link in links:
        target, colon, alias = link.partition(":")
        if target.lstrip("/") == old:
            target = f"/{new}"
        if alias.startswith(f"/{old}/"):
            alias = f"/{new}/{alias[len(old) + 2:]}"
        found.append(target + colon + alias)
    return found
