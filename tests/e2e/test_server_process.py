"""The server as a process: what Go clients' TLS probe gets, a clean stop, a restart on the same port and
data, supervised workers, and no worker left behind when the parent is killed (also while they start)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess, group_members
from tests.support.skopeo import copy, inspect


def _client_hello() -> bytes:
    """The first bytes a TLS client sends, as Go clients do before falling back to plain HTTP."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_a_tls_client_hello_on_the_plain_port_is_answered_at_once(registry: RegistryProcess) -> None:
    # A server that waits for the rest of an HTTP request makes docker, podman and skopeo stall 10 s per ping.
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", registry.port), timeout=5) as conn:
        conn.sendall(_client_hello())
        answer = conn.recv(4096)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the server took {elapsed:.1f} s to answer or close"
    # aiohttp answers "HTTP/1.0 400 Bad Request ... Received HTTPS traffic on an HTTP port" (or may close).
    assert answer == b"" or answer.split(b" ", 2)[1] == b"400", answer[:100]


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def test_sigterm_stops_the_server_and_its_workers(own_registry: RegistryProcess) -> None:
    pid = own_registry.pid
    started = time.monotonic()
    assert own_registry.stop() == 0
    assert time.monotonic() - started < 5
    assert not _group_alive(pid)
    assert not own_registry.ping()


def test_restart_on_the_same_port_keeps_the_images(own_registry: RegistryProcess,
                                                   busybox_layout: OciImage) -> None:
    ref = f"docker://{own_registry.host}/e2e/restart:1"
    copy(busybox_layout.ref, ref)  # Go clients send Connection: close, so the server closes first
    first_pid = own_registry.pid

    own_registry.restart()

    assert own_registry.pid != first_pid
    assert inspect(ref)["Digest"] == busybox_layout.digest


def test_a_killed_parent_leaves_no_worker_once_stopped(own_registry: RegistryProcess) -> None:
    pid = own_registry.pid
    own_registry.kill(signal.SIGKILL)
    own_registry.stop()
    assert not _group_alive(pid)
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", own_registry.port))


def test_a_supervisor_killed_while_its_workers_start_leaves_none_serving(tmp_path: Path) -> None:
    # The window: a worker has set PR_SET_PDEATHSIG but not yet its event loop's SIGTERM handler. A
    # SIGTERM then runs the supervisor's handler the fork inherited, and the worker goes on to serve.
    for attempt, delay in enumerate((0.02, 0.03, 0.05)):
        server = RegistryProcess(tmp_path / "data", tmp_path / f"registry-{attempt}.log")
        try:
            survivors = _kill_supervisor_while_starting(server, delay)
            assert not survivors, (
                f"{delay * 1000:.0f} ms after 'listening on' the supervisor was SIGKILLed; 3 s later workers "
                f"{survivors} still run and GET /v2/ answers: {server.ping()}")
        finally:
            server.stop()


def _kill_supervisor_while_starting(server: RegistryProcess, delay: float) -> list[int]:
    """SIGKILL the supervisor `delay` s after it logs "listening on"; the group's processes 3 s later."""
    server.start(wait_ready=False)
    assert _wait_until(lambda: "listening on" in server.log_text(), 20), server.log_tail()
    time.sleep(delay)
    server.kill(signal.SIGKILL)
    _wait_until(lambda: not group_members(server.pid), 3)
    return group_members(server.pid)


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def test_workers_are_supervised_and_restarted(own_registry: RegistryProcess):
    workers = _children(own_registry.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    assert _wait_until(lambda: len(_children(own_registry.pid)) == 2
                       and workers[0] not in _children(own_registry.pid), 10)
    # Serving goes on (a ping may take a moment on a loaded machine: allow a few tries).
    assert _wait_until(own_registry.ping, 10)
    assert "exited" in own_registry.log_text()


def test_workers_stop_when_the_supervisor_is_killed(own_registry: RegistryProcess):
    workers = _children(own_registry.pid)
    own_registry.kill(signal.SIGKILL)
    assert _wait_until(lambda: not any(_state(w) not in ("Z", "gone") for w in workers), 10)
    assert not own_registry.ping()
