"""Another process in a running container (`berth exec`), started through the OCI runtime's `exec`.

The process is described as the container's own first process is (its bundle's config.json: capabilities,
rlimits, environment), with the command, user, working directory, environment and terminal asked for. The
runtime joins it to the container's namespaces and cgroups and then exits, leaving it an orphan: a shim of
ours, a child subreaper (as the supervisor is for the container's first process), reaps it and reports its
exit code. Its output is not logged (docker logs only the container's first process).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import kernel
from .containers import Container, ContainerError
from .files import write_text
from .lifecycle import detach
from .oci_runtime import OciRuntime, RuntimeFailed
from .rootfs import Rootfs
from .stdio import open_stdio, raw_terminal, relay
from .supervisor import Attachment
from .users import UnknownUser, resolve_user


class ContainerNotRunning(ContainerError):
    """docker's words for exec into a container that is not running."""


@dataclass(frozen=True)
class ExecRequest:
    command: list[str]
    env: tuple[str, ...] = ()  # KEY=VALUE, over the container's environment
    workdir: str | None = None  # None: the container's
    user: str | None = None  # None: the container's
    tty: bool = False
    interactive: bool = False


class _Discarded:
    """Where relay's log goes for an exec: nowhere."""

    def write(self, stream: str, data: bytes) -> None:
        pass


def process_spec(container: Container, request: ExecRequest) -> dict[str, Any]:
    """The runtime-spec process for `request`, from the one the container was started with."""
    try:
        with open(f"{container.bundle}/config.json", "rb") as f:
            started = json.load(f)["process"]
    except (OSError, ValueError, KeyError) as exc:
        raise ContainerError(f"container {container.id} has no readable runtime config: {exc}") from None
    wanted_user = request.user if request.user is not None else container.config.get("User") or ""
    try:
        user = resolve_user(Rootfs(container.dir).path, wanted_user)
    except UnknownUser as exc:
        raise RuntimeFailed(str(exc), 126) from None
    env = {item.partition("=")[0]: item for item in started.get("env") or []}
    if request.user is not None:
        env.pop("HOME", None)  # the container's user's home is not this user's
    if request.tty:
        env.setdefault("TERM", "TERM=xterm")
    for item in request.env:
        env[item.partition("=")[0]] = item
    env.setdefault("HOME", f"HOME={user.home}")
    process = dict(started)
    process.update(
        terminal=request.tty, args=list(request.command), env=list(env.values()),
        cwd=request.workdir or started.get("cwd") or "/",
        user={"uid": user.uid, "gid": user.gid, **({"additionalGids": list(user.additional_gids)}
                                                     if user.additional_gids else {})})
    process.pop("consoleSize", None)
    return process


def check_running(container: Container) -> None:
    if container.status == "paused":  # moby daemon/exec.go errExecPaused, naming the container
        raise ContainerNotRunning(f"Container {container.name} is paused, unpause the container before exec")
    if container.status == "restarting":
        raise ContainerNotRunning(f"Container {container.id} is restarting, wait until the container is running")
    if container.status != "running":
        raise ContainerNotRunning(f"container {container.id} is not running")


def execute(runtime: OciRuntime, container: Container, request: ExecRequest, attachment: Attachment) -> int:
    """Run `request` in `container` attached to `attachment`; its exit code (128 + n if killed by signal n).
    RuntimeFailed (126, 127 or 125 as docker) if it could not be started."""
    check_running(container)
    process = process_spec(container, request)
    stdio = open_stdio(request.interactive, request.tty)
    try:
        shim = _Shim(lambda: _start(runtime, container, process, stdio.child, stdio.console_address))
        stdio.after_start()
    except BaseException:
        stdio.abandon()
        raise
    feed = attachment.stdin if request.interactive else None
    terminal = feed if isinstance(feed, int) and stdio.console else None
    try:
        with raw_terminal(terminal, next(iter(stdio.outputs), None)):
            relay(stdio, _Discarded(), attachment.write, feed)  # type: ignore[arg-type]
    finally:
        stdio.close()
    return shim.exit_code()


class _Shim:
    """A child process that starts the exec'd process and reaps it, as docker's shim does, and reports how it
    ended. Whoever the runtime leaves the process to must reap it (and whatever else it leaves, such as a
    process that failed to start): until then the container's init cannot finish dying, as the kernel holds it
    until every process of its pid namespace is reaped. A long-lived berth process (a test) cannot promise
    that for every orphan; this child, a subreaper of its own, can."""

    def __init__(self, start: Callable[[], int]) -> None:
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the shim
            os.close(read_end)
            self._run(start, write_end)
        os.close(write_end)
        self.reports = os.fdopen(read_end, "rb")
        first = self.reports.readline().decode(errors="replace").rstrip("\n")
        if first != "started":
            self.exit_code()
            code, _, message = first.partition(" ")
            raise RuntimeFailed(message or "the exec'd process could not be started",
                                int(code) if code.isdigit() else 125)

    @staticmethod
    def _run(start: Callable[[], int], reports: int) -> None:  # pragma: no cover - runs in the shim
        try:
            kernel.become_subreaper()
            try:
                pid = start()
            except RuntimeFailed as exc:
                os.write(reports, f"{exc.exit_code} {exc.message}\n".encode())
                pid = 0
            else:
                os.write(reports, b"started\n")
            highest = os.sysconf("SC_OPEN_MAX")
            os.closerange(0, reports)  # the process's stdio: its ends must close when the process does
            os.closerange(reports + 1, highest)
            while True:  # reap every child; the process's status is the one to report
                try:
                    found, status = os.waitpid(-1, 0)
                except ChildProcessError:
                    break
                if found == pid:
                    code = os.waitstatus_to_exitcode(status)
                    os.write(reports, f"{128 - code if code < 0 else code}\n".encode())
        finally:
            os._exit(0)

    def exit_code(self) -> int:
        """Wait for the process (and the shim); its exit code."""
        last = self.reports.read().decode(errors="replace").split()
        self.reports.close()
        os.waitpid(self.pid, 0)
        return int(last[-1]) if last and last[-1].lstrip("-").isdigit() else 125


def execute_detached(runtime: OciRuntime, container: Container, request: ExecRequest) -> None:
    """Start `request` in `container` with no stdio (/dev/null) and leave it running (exec -d).

    A process of its own waits for it, as docker's shim does: whoever is left with the orphan must reap it, or
    the container's init cannot finish dying (the kernel holds it until every process of its pid namespace is
    reaped), and a long-lived caller that is a subreaper (an attached `berth run` in a test) would not."""
    check_running(container)
    process = process_spec(container, request)

    def wait_for_it(started: Callable[[RuntimeFailed | None], None]) -> None:
        kernel.become_subreaper()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = _start(runtime, container, process, (null, null, null), None)
        except RuntimeFailed as exc:
            started(exc)
            return
        finally:
            os.close(null)
        started(None)
        os.waitpid(pid, 0)

    detach(wait_for_it, f"{container.dir}/supervisor.log")


def _start(runtime: OciRuntime, container: Container, process: dict[str, Any], child: tuple[int, int, int],
           console: str | None) -> int:
    """Write the process file and have the runtime start it; the pid."""
    process_file = f"{container.dir}/exec-{os.urandom(8).hex()}.json"
    try:
        write_text(process_file, json.dumps(process))
        return runtime.exec_detached(container.id, process_file, child, console)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(process_file)
