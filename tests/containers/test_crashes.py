"""Crashes and races: a supervisor killed while its container runs, and berth commands racing each other.
Whatever moment a berth process dies at, what it leaves is either whole or cleaned by the next command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import BERTH, Berth
from tests.containers.conftest import mounts_under, runc_states
from tests.containers.test_lifecycle import until
from tests.containers.test_network import HTTPD, fetch, free_port, leftovers

LEASES = Path("/run/berth/network/leases.json")


def record(berth: Berth, container_id: str) -> dict:
    return json.loads((berth.home / "containers" / container_id / "container.json").read_text())


def leases() -> dict[str, dict]:
    try:
        return json.loads(LEASES.read_text())
    except FileNotFoundError:
        return {}


def leased_to(container_id: str) -> list[str]:
    return [address for address, lease in leases().items() if container_id in lease["owner"]]


def owned_leases(berth: Berth) -> list[str]:
    return [address for address, lease in leases().items() if lease["owner"].startswith(f"{berth.home}/")]


def berth_processes(berth: Berth) -> list[int]:
    """The pids of every process this test's berth started (the CLI, supervisors, runc, proxies): they carry
    its BERTH_HOME."""
    marker = f"BERTH_HOME={berth.home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie counts: whoever adopted it reaps it, or not, in its own time)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" in f.read()
    except FileNotFoundError:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_supervisor_killed_under_a_running_container(berth: Berth, busybox: str) -> None:
    port = free_port()
    victim = berth.ok("run", "-d", "--name", "victim", "-p", f"127.0.0.1:{port}:80", busybox,
                      "sh", "-c", HTTPD.format(port=80)).out.strip()
    assert fetch(f"http://127.0.0.1:{port}/") == f"hello from {victim[:12]}\n"
    doc = record(berth, victim)
    os.kill(doc["Berth"]["SupervisorPid"], signal.SIGKILL)
    until(lambda: berth.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").out == "victim Dead\n")
    assert berth.ok("ps", "-q").out == ""  # not running as far as anyone can tell: nothing relays or restarts it
    assert port_free(port)  # the proxy lived in the supervisor
    assert leftovers(victim) and leased_to(victim)  # the network stays until rm (or the next start) takes it
    berth.ok("rm", "-f", "victim")
    assert gone(doc["State"]["Pid"])  # runc's delete --force killed the orphaned container
    assert leftovers(victim) == [] and leased_to(victim) == [] and runc_states(berth.home / "runc") == []
    assert mounts_under(berth.home) == [] and not (berth.home / "containers" / victim).exists()
    again = berth.ok("run", "-d", "--name", "victim", "-p", f"127.0.0.1:{port}:80", busybox,
                     "sh", "-c", HTTPD.format(port=80)).out.strip()
    assert fetch(f"http://127.0.0.1:{port}/") == f"hello from {again[:12]}\n"


def test_kills_at_any_moment_of_a_start_leave_what_rm_cleans(berth: Berth, busybox: str) -> None:
    """`berth run -d` and every process it started (supervisor, runc, proxy) killed at once, at moments from
    before the record exists to after the container runs: rm -f (of what ps -a shows) leaves nothing. The
    moments grow until the kills have struck at two stages at least: a loaded machine starts berth later."""
    port, states, delay = free_port(), set(), 0.02
    while delay < 0.3 or len(states) < 2 and delay < 4:
        run = subprocess.Popen([str(BERTH), "run", "-d", "--name", "killed", "-p", f"127.0.0.1:{port}:80", busybox,
                                "sleep", "60"], env=berth.environ, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(delay)
        for pid in berth_processes(berth):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.wait()
        states.add(berth.ok("ps", "-a", "--format", "{{.Status}}").out.split(" ")[0].strip() or "none")
        ids = berth.ok("ps", "-aq", "--no-trunc").out.split()
        if ids:
            berth.ok("rm", "-f", *ids)
        assert [path for i in ids for path in leftovers(i)] == [] and owned_leases(berth) == [], delay
        assert mounts_under(berth.home) == [] and runc_states(berth.home / "runc") == [], delay
        assert [p.name for p in (berth.home / "containers").glob("*") if p.name != ".names.lock"] == [], delay
        assert port_free(port), delay
        delay *= 1.6
    assert len(states) >= 2, states  # the kills struck at different stages (none, Created, Dead, ...)
    berth.ok("run", "-d", "--name", "killed", "-p", f"127.0.0.1:{port}:80", busybox, "sleep", "60")


def test_a_crash_while_run_rm_cleans_up_is_finished_by_prune(berth: Berth, busybox: str) -> None:
    """The supervisor of a --rm container buries the record, then (in a child) deletes runc's state, unmounts
    and releases the network: killed in between, it leaves what no listing shows; prune finishes it."""
    container_id = berth.ok("run", "-d", "--rm", busybox, "sleep", "0.3").out.strip()
    supervisor = record(berth, container_id)["Berth"]["SupervisorPid"]
    graveyard = berth.home / "containers" / f".removing-{container_id}"
    helpers: set[int] = set()
    deadline = time.monotonic() + 10
    while not graveyard.exists():  # the clean-up child is forked right after: catch it by watching
        helpers.update(children(supervisor))
        assert time.monotonic() < deadline
    helpers.update(children(supervisor))
    for pid in (supervisor, *helpers):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if not mounts_under(graveyard):  # the clean-up won the race this time: nothing to finish
        pytest.skip("the clean-up finished before it could be killed")
    assert berth.ok("ps", "-aq").out == ""
    berth.ok("container", "prune", "-f")
    assert not graveyard.exists() and mounts_under(berth.home) == [] and runc_states(berth.home / "runc") == []
    assert leftovers(container_id) == [] and leased_to(container_id) == []


def test_racing_runs_one_name_and_distinct_addresses(berth: Berth, busybox: str) -> None:
    argvs = [["--name", "same"], ["--name", "same"], ["--name", "same"], ["--name", "other1"], ["--name", "other2"]]
    racers = [subprocess.Popen([str(BERTH), "run", "-d", *argv, busybox, "sleep", "60"], env=berth.environ,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for argv in argvs]
    outcomes = [(p.wait(60), p.stdout.read().strip(), p.stderr.read()) for p in racers]  # type: ignore[union-attr]
    same = sorted(outcomes[:3])
    assert [code for code, _, _ in same] == [0, 125, 125]
    winner = same[0][1]
    for _, out, err in same[1:]:
        assert out == "" and err == (f'Error: Conflict. The container name "/same" is already in use by container '
                                     f'"{winner}". You have to remove (or rename) that container to be able to '
                                     "reuse that name.\n")
    assert all(code == 0 for code, _, _ in outcomes[3:])
    names = berth.ok("ps", "-a", "--format", "{{.Names}}").out.split()
    assert sorted(names) == ["other1", "other2", "same"]
    assert len([p for p in (berth.home / "containers").iterdir() if not p.name.startswith(".")]) == 3
    addresses = {berth.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", n).out.strip() for n in names}
    assert len(addresses) == 3 and "" not in addresses
    assert leased_to(winner) == [berth.ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "same").out.strip()]
