"""The supervisor of one container (berth's conmon): starts it, relays its output, keeps its exit code.

It mounts the root filesystem, writes the bundle, starts the container through the OCI runtime, copies the
container's stdout and stderr into the json-file log (and to a terminal when attached), waits for the
container's process as its child subreaper, records how it ended, applies the restart policy, and finally
deletes the runtime's state and unmounts. `berth run` (attached) runs it in its own process; `berth run -d`
and `berth start` in a double-forked process of its own that outlives them (see `detach`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Callable

from . import kernel, spec
from .containers import SUPERVISOR_LOCK, Container, ContainerStore, now
from .files import read_or_empty, read_text, write_text
from .logs import JsonLogWriter
from .mounts import fill_volumes
from .network import NetworkError, etc
from .network.endpoint import Endpoint
from .oci_runtime import OciRuntime, RuntimeFailed
from .rootfs import Rootfs, RootfsError
from .stdio import open_stdio, raw_terminal, relay
from .users import UnknownUser, resolve_user

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 0.1, 60.0, 10.0  # docker's restart manager


class Attachment:
    """The terminal side of an attached container: `write(stream, data)` and what to feed its stdin."""

    def __init__(self, write: Callable[[str, bytes], None], stdin: int | bytes | None = None) -> None:
        self.write = write
        self.stdin = stdin  # an fd to forward, bytes to send, or nothing (/dev/null)


class Supervisor:
    def __init__(self, store: ContainerStore, container: Container, runtime: OciRuntime, layers: list[str],
                 attachment: Attachment | None = None) -> None:
        self.store, self.container, self.runtime = store, container, runtime
        self.layers, self.attachment = layers, attachment
        self.rootfs = Rootfs(container.dir)
        self.network = Endpoint(store, container)
        self.pid = 0

    def run(self, started: Callable[[RuntimeFailed | None], None] = lambda _: None) -> int:
        """Run the container until it exits for good; `started` hears once whether the first start worked.
        Returns the container's last exit code (or raises RuntimeFailed if it never started)."""
        kernel.become_subreaper()
        try:
            lock = self._claim()
        except RuntimeFailed as exc:
            started(exc)
            raise
        with self.store.update(self.container) as c:
            c.berth["SupervisorPid"] = os.getpid()
            c.berth["ManuallyStopped"] = False
        previous = {n: signal.signal(n, self._forward) for n in FORWARDED} if self.attachment is not None else {}
        code, backoff = 0, BACKOFF_START
        try:
            try:
                self.rootfs.mount(self.layers)
                self.network.connect()  # once for all (re)starts: the address and published ports stay
            except (RootfsError, NetworkError) as exc:
                failure = RuntimeFailed(str(exc))
                self._finished(failure.exit_code, failure.message)
                started(failure)
                raise failure from None
            while True:
                began = time.monotonic()
                try:
                    code = self._run_once(started)
                except RuntimeFailed as exc:
                    self._finished(exc.exit_code, exc.message)
                    started(exc)
                    raise
                started = lambda _: None  # noqa: E731 - only the first start is reported
                backoff = BACKOFF_START if time.monotonic() - began > BACKOFF_RESET else backoff
                if not self._restarting(code, backoff):
                    return code
                backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            self._clean_up(lock)

    def _clean_up(self, lock: int) -> None:
        """Forget runc's state, unmount, remove the container (--rm): in a process of its own, which holds
        the supervisor lock until it is done (other berth commands wait for it), so that `berth run` can
        exit with the container's code at once: the unmount alone can take as long as starting runc."""
        self.network.disconnect()  # here: the published ports are free when `berth run` returns
        removing = bool(self.container.host_config.get("AutoRemove"))
        directory = self.store.bury(self.container) if removing else self.container.dir  # gone from `ps -a` now
        if removing and any(m.get("Type") == "volume" for m in self.container.doc.get("Mounts") or []):
            from .volumes import VolumeStore  # only now: few containers have volumes

            VolumeStore.beside(self.store).release_anonymous(self.container.doc)  # as docker run --rm does
        if kernel.fork_off(keep=(lock,), grandchild=False):  # we are a subreaper, and about to end
            os.close(lock)
            return
        try:  # pragma: no cover - runs in the forked process
            self.runtime.delete(self.container.id)
            Rootfs(directory).unmount(lazy=True)
            if removing:
                import shutil

                shutil.rmtree(directory, ignore_errors=True)
            self.network.release()  # the namespace, veth and address lease
        finally:
            os._exit(0)

    def _claim(self, patience: float = 5.0) -> int:
        """One supervisor per container: its lock is held for as long as it lives. The last one may still be
        cleaning up after its container (wait for it); one holding it longer is running the container."""
        fd = os.open(f"{self.container.dir}/{SUPERVISOR_LOCK}", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RuntimeFailed(f"container {self.container.id} is already running") from None
                time.sleep(0.02)

    def _run_once(self, started: Callable[[RuntimeFailed | None], None]) -> int:
        config = self._write_bundle()["Config"]
        stdio = open_stdio(bool(config.get("OpenStdin")), bool(config.get("Tty")))
        try:
            self.runtime.delete(self.container.id)  # from the last start, or a crashed supervisor
            self.pid = self.runtime.run_detached(self.container.id, self.container.bundle, stdio.child,
                                                 stdio.console_address)
            stdio.after_start()
        except BaseException:
            stdio.abandon()
            raise
        with self.store.update(self.container) as c:
            c.state.update(Status="running", Running=True, Restarting=False, Pid=self.pid, ExitCode=0, Error="",
                           StartedAt=now(), OOMKilled=False)
        log = JsonLogWriter(self.container.log_path)  # before `started`: `berth logs` may read it at once
        attached = self.attachment
        if attached:
            feed = attached.stdin
        else:  # `berth attach`'s, if it is asked for
            from .attach import open_stdin_fifo

            feed = open_stdin_fifo(self.container.dir, config)
        started(None)
        terminal = attached.stdin if attached and isinstance(attached.stdin, int) and stdio.console else None
        try:
            with raw_terminal(terminal, next(iter(stdio.outputs), None)):
                relay(stdio, log, attached.write if attached else None, feed)
        finally:
            log.close()
            stdio.close()
            if not attached and isinstance(feed, int):
                os.close(feed)
        code = os.waitstatus_to_exitcode(_wait_for(self.pid))
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as a shell says
        self.pid = 0
        self._finished(code, "", oom=self._oom_killed())
        return code

    def _write_bundle(self) -> dict:
        """config.json for this start (the image's /etc/passwd is read again: a restart may have changed it)."""
        doc = self.store.reload(self.container).doc
        try:
            user = resolve_user(self.rootfs.path, doc["Config"].get("User") or "")
        except UnknownUser as exc:
            raise RuntimeFailed(str(exc)) from None
        etc_dir = f"{self.container.dir}/etc"
        files = {f"/etc/{name}": f"{etc_dir}/{name}" for name in ("hostname", "hosts", "resolv.conf")}
        if not os.path.isdir(etc_dir):
            os.mkdir(etc_dir)
            hostname = doc["Config"].get("Hostname") or doc["Id"][:12]
            write_text(files["/etc/hostname"], hostname + "\n")
            host = doc["HostConfig"]
            hosts = read_or_empty("/etc/hosts") if host.get("NetworkMode") == "host" else \
                f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
            hosts = hosts if hosts.endswith("\n") else hosts + "\n"  # the host's may lack its last one
            write_text(files["/etc/hosts"], hosts + etc.extra_hosts(host.get("ExtraHosts") or []))
            write_text(files["/etc/resolv.conf"], etc.with_dns(read_or_empty("/etc/resolv.conf"), host))
        try:
            self.network.prepare(doc, files)  # bridge: hosts and resolv.conf for its address, links' variables
        except NetworkError as exc:
            raise RuntimeFailed(str(exc)) from None
        if doc["Berth"].get("VolumesToFill"):  # the image's files into new volumes
            fill_volumes(self.store, self.container, self.rootfs.path)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.container.bundle)
        config = spec.runtime_spec(doc, user, self.rootfs.real_path(), files)
        write_text(f"{self.container.bundle}/config.json", json.dumps(config))
        return doc

    def _finished(self, code: int, error: str, oom: bool = False) -> None:
        with self.store.update(self.container) as c:
            c.state.update(Status="exited", Running=False, Restarting=False, Pid=0, ExitCode=code, Error=error,
                           FinishedAt=now(), OOMKilled=oom)

    def _restarting(self, code: int, backoff: float) -> bool:
        """Whether the policy restarts the container now; waits out the backoff, unless it is stopped meanwhile."""
        if ((self.container.host_config.get("RestartPolicy") or {}).get("Name") or "no") == "no":
            return False  # most containers: no need to read and write the record again (nothing changes a policy)
        with self.store.update(self.container) as c:
            policy = c.host_config.get("RestartPolicy") or {}
            name, limit = policy.get("Name") or "no", int(policy.get("MaximumRetryCount") or 0)
            wanted = not c.berth.get("ManuallyStopped") and (
                name in ("always", "unless-stopped") or
                (name == "on-failure" and code != 0 and (limit == 0 or c.doc.get("RestartCount", 0) < limit)))
            if wanted:
                c.doc["RestartCount"] = c.doc.get("RestartCount", 0) + 1
                c.state.update(Status="restarting", Restarting=True, Running=True)
        deadline = time.monotonic() + backoff
        while wanted and time.monotonic() < deadline:
            time.sleep(min(0.05, backoff))
            wanted = not self.store.reload(self.container).berth.get("ManuallyStopped")
        if not wanted and self.store.reload(self.container).state["Status"] == "restarting":
            self._finished(code, "")
        return wanted

    def _oom_killed(self) -> bool:
        """Whether the kernel's OOM killer struck in the container's memory cgroup (v1: runc's cgroupfs path;
        runc deletes it only with the container's state)."""
        control = f"/sys/fs/cgroup/memory/berth/{self.container.id}/memory.oom_control"
        with contextlib.suppress(OSError):
            for line in read_text(control).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return value.strip() != "0"
        return False

    def _forward(self, number: int, _frame: object) -> None:
        """Ctrl-C and friends go to the container, as docker run's sig-proxy does."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)


def _wait_for(pid: int) -> int:
    """The wait status of the container's process `pid`, which a subreaper gets to wait for once the runtime's
    own processes between it and us are gone: crun's last intermediate may still be its parent when
    `crun run --detach` has returned (and the container may have ended by then). So reap any child until it
    is that one (the intermediates too: they would stay zombies of a long-lived supervisor)."""
    while True:
        try:
            found, status = os.waitpid(-1, 0)
        except ChildProcessError:
            raise RuntimeFailed(f"the container's process {pid} was waited for by another process: its exit "
                                "code is lost") from None
        if found == pid:
            return status

