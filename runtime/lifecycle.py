"""Where containers live on disk, and what other berth processes do to a running one: stop, kill, wait, remove,
pause and unpause.

A running container belongs to its supervisor; another process never waits for it with waitpid. It signals
the container's process, marks the record as stopped by hand (so the restart policy leaves it alone), and
watches the record until the supervisor writes how the container ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

from . import kernel
from .containers import Container, ContainerError, ContainerStore
from .network.endpoint import forget as forget_network
from .oci_runtime import OciRuntime, RuntimeFailed
from .rootfs import LayerStore, Rootfs

POLL = 0.02


class RuntimeHome:
    """berth's runtime directories under its data directory (beside images/)."""

    __slots__ = ("root",)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    def containers(self) -> ContainerStore:
        return ContainerStore(f"{self.root}/containers")

    def layers(self) -> LayerStore:
        return LayerStore(f"{self.root}/layers")

    def runtime(self, name: str | None) -> OciRuntime:
        state = f"{self.root}/runc"
        os.makedirs(state, mode=0o700, exist_ok=True)
        return OciRuntime.find(name, state)


def detach(supervise: Callable[[Callable[[RuntimeFailed | None], None]], object], log: str) -> None:
    """Run `supervise(started)` in a double-forked process of its own session, which outlives this one; return
    once it calls `started` (raising the RuntimeFailed it reports, if the container did not start)."""
    read_end, write_end = os.pipe()
    if kernel.fork_off(keep=(write_end,), log=log):
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            report = reader.read().decode(errors="replace")
        if report == "ok":
            return
        code, _, message = report.partition(" ")
        if not code.isdigit():
            raise RuntimeFailed(f"the container's supervisor ended before starting it (see {log})")
        raise RuntimeFailed(message, int(code))
    try:  # pragma: no cover - runs in the forked process

        def started(failure: RuntimeFailed | None) -> None:
            report = b"ok" if failure is None else f"{failure.exit_code} {failure.message}".encode()
            with contextlib.suppress(OSError):
                os.write(write_end, report)
                os.close(write_end)

        supervise(started)
    except BaseException as exc:  # noqa: B036 - the supervisor must end here, whatever happens
        with contextlib.suppress(OSError):
            os.write(2, f"supervisor: {exc!r}\n".encode())
    finally:
        os._exit(0)


def signal_container(store: ContainerStore, container: Container, number: int) -> Container:
    """Send `number` to the container's process, marking it stopped by hand (so a restarting one is not
    started again); ContainerError if it is neither running nor restarting. A paused container is thawed
    after the signal when it is meant to end it (SIGKILL, the stop signal, any signal when the image sets
    none), as moby's daemon/kill.go does: a frozen process cannot act on a signal, not even SIGKILL."""
    with store.update(container) as current:
        if not current.running:
            raise ContainerError(f"Container {container.id} is not running")
        current.berth["ManuallyStopped"] = True
        pid = int(current.state.get("Pid") or 0) if current.status in ("running", "paused") else 0
        if pid and current.status == "paused" and _ends_it(current, number):
            _kill(pid, number)  # under the lock: the supervisor cannot record the exit before the thaw below
            _runtime_of(RuntimeHome(os.path.dirname(store.root)), current).resume(current.id, _log(current))
            current.state.update(Status="running", Paused=False)
            return current
    if pid:
        _kill(pid, number)
    return current


def _ends_it(container: Container, number: int) -> bool:
    wanted = container.config.get("StopSignal")
    return not wanted or number == signal.SIGKILL or number == stop_signal(wanted)


def _kill(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def pause(home: RuntimeHome, container: Container) -> None:
    """Freeze every process of a running container (the runtime's `pause`), with docker's refusals (moby
    daemon/pause.go); the record says State.Paused and Status "paused" until `unpause`."""
    with home.containers().update(container) as current:
        status = current.status
        if status not in ("running", "paused", "restarting"):
            raise ContainerError(f"Container {current.id} is not running")
        if status == "paused":
            raise ContainerError(f"Container {current.id} is already paused")
        if status == "restarting":
            raise ContainerError(f"Container {current.id} is restarting, wait until the container is running")
        _runtime_of(home, current).pause(current.id, _log(current))
        current.state.update(Status="paused", Paused=True)


def unpause(home: RuntimeHome, container: Container) -> None:
    """Thaw a paused container (the runtime's `resume`); ContainerError as docker's if it is not paused."""
    with home.containers().update(container) as current:
        if current.status != "paused":
            raise ContainerError(f"Container {current.id} is not paused")
        _runtime_of(home, current).resume(current.id, _log(current))
        current.state.update(Status="running", Paused=False)


def _runtime_of(home: RuntimeHome, container: Container) -> OciRuntime:
    return home.runtime(container.host_config.get("Runtime"))


def _log(container: Container) -> str:
    """Where the runtime writes why a pause or resume failed (read, then removed)."""
    return f"{container.bundle}/control.log"


def stop(store: ContainerStore, container: Container, timeout: float | None) -> None:
    """The image's StopSignal (or SIGTERM), then SIGKILL after `timeout` seconds (docker's default 10)."""
    current = store.reload(container)
    first = stop_signal(current.config.get("StopSignal"))
    with contextlib.suppress(ContainerError):
        signal_container(store, container, first)
    if wait_stopped(store, container, 10 if timeout is None else timeout):
        return
    with contextlib.suppress(ContainerError):
        signal_container(store, container, signal.SIGKILL)
    wait_stopped(store, container, None)


def wait_stopped(store: ContainerStore, container: Container, timeout: float | None) -> bool:
    """Wait until the container is not running (its supervisor has written how it ended); False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            current = store.reload(container)
        except ContainerError:
            return True  # removed (--rm) once it exited
        if not current.running and not current.supervised:
            return True  # and its supervisor is done: unmounted, free to start or remove
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def stop_signal(name: object) -> int:
    """A StopSignal as images write it: "SIGQUIT", "QUIT", "3"; SIGTERM when absent or unknown."""
    text = str(name or "").upper()
    if text.isdigit():
        return int(text)
    with contextlib.suppress(AttributeError):
        return int(getattr(signal, text if text.startswith("SIG") else f"SIG{text}"))
    return signal.SIGTERM


def remove(home: RuntimeHome, container: Container, force: bool, runtime: str | None = None) -> None:
    """Delete a container; a running one only with `force` (then it is killed first)."""
    store = home.containers()
    current = store.reload(container)
    if current.running:
        if not force:  # moby daemon/delete.go's words, the state named
            procedure = "Stop the container before attempting removal or force remove"
            if current.status == "paused":
                procedure = "Unpause and then " + procedure[0].lower() + procedure[1:]
            raise ContainerError(f"You cannot remove a {current.status} container {container.id}. {procedure}")
        with contextlib.suppress(ContainerError):
            signal_container(store, current, signal.SIGKILL)
        wait_stopped(store, current, None)
    release(home, current, runtime)
    store.remove(current)


def release(home: RuntimeHome, container: Container, runtime: str | None = None, lazy: bool = False) -> None:
    """Let go of what a stopped container holds outside its directory: the runtime's state, its root
    filesystem's mount and what a crashed supervisor left of its bridge network. Each step finds nothing
    to do when already done; a mount that cannot be undone raises RootfsError."""
    with contextlib.suppress(RuntimeFailed):
        home.runtime(container.host_config.get("Runtime") or runtime).delete(container.id)
    with contextlib.suppress(OSError):
        Rootfs(container.dir).unmount(lazy=lazy)
    forget_network(container)
