"""Detached containers and their supervisor, as a user drives them: run -d, ps, logs -f, stop, start, kill,
wait, rm, inspect, prune; restart policies; memory and pids limits enforced by the kernel."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from tests.cli.conftest import BERTH, Berth
from tests.containers.conftest import mounts_under, runc_states

TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status(berth: Berth, name: str) -> str:
    return berth.ok("inspect", "-f", "{{.State.Status}}", name).out.strip()


def test_detached_run_outlives_the_command_that_started_it(berth: Berth, busybox: str) -> None:
    # A real process whose output is captured: it must end while the container runs on, without its pipes.
    started = berth.run_process("run", "-d", "--name", "ticker", busybox, "sh", "-c", TICKER, timeout=30)
    assert started.code == 0 and len(started.out.strip()) == 64
    table = berth.ok("ps").out.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    row = table[1]
    assert row.startswith(started.out[:12]) and busybox in row and '"sh -c i=0; while tr…"' in row
    assert " Up " in row and row.endswith("ticker")
    until(lambda: "tick 2" in berth.ok("logs", "ticker").out)
    stamped = berth.ok("logs", "--tail", "1", "-t", "ticker").out.splitlines()
    assert len(stamped) == 1 and stamped[0].split(" ", 1)[0].endswith("Z")
    log = Path(berth.ok("inspect", "-f", "{{.LogPath}}", "ticker").out.strip())
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["log"] == "tick 0\n" and entry["stream"] == "stdout" and entry["time"].endswith("Z")


def test_stop_sends_term_then_kill_and_start_runs_it_again(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "stubborn", busybox, "sh", "-c", TICKER)  # pid 1 ignores SIGTERM
    berth.ok("run", "-d", "--name", "polite", busybox, "sh", "-c", f"trap 'exit 0' TERM; {TICKER}")
    began = time.monotonic()
    assert berth.ok("stop", "-t", "1", "stubborn", "polite").out == "stubborn\npolite\n"
    assert 1 <= time.monotonic() - began < 15
    assert berth.ok("inspect", "-f", "{{.State.ExitCode}}", "stubborn", "polite").out.split() == ["137", "0"]
    assert "Exited (137)" in berth.ok("ps", "-a").out
    assert berth.ok("ps", "-q").out == ""
    assert berth.ok("start", "polite").out == "polite\n"
    assert status(berth, "polite") == "running"
    until(lambda: berth.ok("logs", "polite").out.count("tick 0") == 2)  # the log goes on across starts
    assert berth.ok("stop", "polite").out == "polite\n"  # the TERM trap answers at once
    assert berth.run("stop", "no-such").err == "Error response from daemon: No such container: no-such\n"


def test_logs_follow_until_the_container_exits(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "counter", busybox, "sh", "-c",
             "for i in 1 2 3 4 5; do echo line $i; echo oops >&2; sleep 0.2; done")
    followed = berth.ok("logs", "-f", "counter")
    assert followed.out == "".join(f"line {i}\n" for i in range(1, 6)) and followed.err == "oops\n" * 5
    assert berth.ok("wait", "counter").out == "0\n"
    tail = berth.ok("logs", "--tail", "4", "counter")  # the last entries of both streams, as docker counts
    assert (tail.out, tail.err) == ("line 4\nline 5\n", "oops\n" * 2)


def test_kill_wait_and_rm(berth: Berth, busybox: str) -> None:
    box = berth.ok("run", "-d", busybox, "sleep", "60").out.strip()
    waited: list[str] = []
    waiter = threading.Thread(target=lambda: waited.append(berth.ok("wait", box[:8]).out))
    waiter.start()
    refused = berth.run("rm", box)
    assert refused.code == 1 and "Stop the container before attempting removal or force remove" in refused.err
    assert berth.ok("kill", "-s", "TERM", box).out == f"{box}\n"  # ignored by pid 1: still running
    time.sleep(0.3)
    assert status(berth, box) == "running"
    berth.ok("kill", box)
    waiter.join(20)
    assert waited == ["137\n"]
    assert berth.run("kill", box).code == 1  # not running any more
    assert berth.ok("rm", box).out == f"{box}\n"
    assert berth.run("inspect", box).code == 1
    forced = berth.ok("run", "-d", "--name", "forced", busybox, "sleep", "60").out.strip()
    assert berth.ok("rm", "-f", "forced").out == "forced\n"
    assert berth.ok("ps", "-aq").out == "" and not (berth.home / "containers" / forced).exists()


def test_detached_rm_removes_after_exit(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--rm", busybox, "sh", "-c", "sleep 0.3")
    assert len(berth.ok("ps", "-q").out.split()) == 1
    until(lambda: berth.ok("ps", "-aq").out == "")


def test_restart_on_failure_gives_up_after_n(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "crasher", "--restart", "on-failure:3", busybox,
             "sh", "-c", "echo attempt; exit 2")
    until(lambda: status(berth, "crasher") == "exited" and
          berth.ok("inspect", "-f", "{{.RestartCount}}", "crasher").out.strip() == "3")
    time.sleep(1)  # no fourth restart comes
    assert berth.ok("inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}}", "crasher").out == "3 2\n"
    assert berth.ok("logs", "crasher").out == "attempt\n" * 4
    assert berth.ok("inspect", "-f", "{{json .HostConfig.RestartPolicy}}", "crasher").out == \
        '{"Name":"on-failure","MaximumRetryCount":3}\n'


def test_restart_always_until_stopped(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "phoenix", "--restart", "always", busybox, "sh", "-c", "sleep 0.1")
    until(lambda: int(berth.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").out) >= 2)
    berth.ok("stop", "-t", "1", "phoenix")
    count = berth.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").out
    time.sleep(1)
    assert status(berth, "phoenix") == "exited"
    assert berth.ok("inspect", "-f", "{{.RestartCount}}", "phoenix").out == count
    assert berth.run("run", "--rm", "--restart", "always", "x").code == 125  # docker's conflict


def test_memory_limit_kills_the_container(berth: Berth, busybox: str) -> None:
    # busybox dd holds a whole block in memory: 64 MiB against a 16 MiB limit.
    result = berth.run("run", "--name", "hog", "--memory", "16m", busybox,
                       "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
    assert result.code == 137
    assert berth.ok("inspect", "-f", "{{.State.OOMKilled}} {{.HostConfig.Memory}}", "hog").out == "true 16777216\n"
    fits = berth.run("run", "--rm", "--memory", "64m", busybox, "busybox", "dd", "if=/dev/zero", "of=/dev/null",
                     "bs=8M", "count=1")
    assert fits.code == 0


def test_pids_limit_stops_forks(berth: Berth, busybox: str) -> None:
    script = "i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); done; wait"
    limited = berth.run("run", "--rm", "--pids-limit", "10", busybox, "sh", "-c", script)
    assert "can't fork" in limited.err
    assert "can't fork" not in berth.run("run", "--rm", busybox, "sh", "-c", script).err


def test_cpus_and_inspect(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "quota", "--cpus", "0.5", busybox, "true")
    payload = json.loads(berth.ok("inspect", "quota").out)[0]
    assert payload["HostConfig"]["NanoCpus"] == 500_000_000 and payload["Name"] == "/quota"
    assert payload["State"]["Status"] == "exited" and payload["Config"]["Cmd"] == ["true"]
    assert "Berth" not in payload
    config = json.loads(berth.ok("inspect", "-f", "{{json .Config}}", "quota").out)
    assert config["Image"] == busybox
    both = json.loads(berth.ok("inspect", "quota", busybox).out)
    assert [("State" in p, "RootFS" in p) for p in both] == [(True, False), (False, True)]


def test_names_are_unique_and_prune_removes_stopped(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "one", busybox, "true")
    taken = berth.run("run", "--name", "one", busybox, "true")
    assert taken.code == 125 and 'The container name "/one" is already in use' in taken.err
    berth.ok("run", "-d", "--name", "alive", busybox, "sleep", "60")
    pruned = berth.ok("container", "prune", "-f").out
    assert pruned.startswith("Deleted Containers:\n") and "Total reclaimed space:" in pruned
    assert berth.ok("ps", "-a", "--format", "{{.Names}}").out == "alive\n"
    assert berth.ok("container", "ls", "-q").out.strip() == berth.ok("ps", "-lq").out.strip()


def test_force_removing_a_restarting_container(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "flapping", "--restart", "always", busybox, "sh", "-c", "exit 1")
    until(lambda: int(berth.ok("inspect", "-f", "{{.RestartCount}}", "flapping").out) >= 3)
    assert berth.ok("rm", "-f", "flapping").out == "flapping\n"
    assert berth.ok("ps", "-aq").out == ""


def test_detached_start_failures_exit_like_attached_ones(berth: Berth, busybox: str) -> None:
    missing = berth.run("run", "-d", "--name", "nope", busybox, "no-such-command")
    assert missing.code == 127 and "executable file not found" in missing.err and missing.out == ""
    assert berth.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "nope").out == "exited 127\n"
    again = berth.run("start", "nope")
    assert again.code == 1 and "executable file not found" in again.err


def test_concurrent_runs_get_one_name_once(berth: Berth, busybox: str) -> None:
    racers = [subprocess.Popen([str(BERTH), "run", "--name", "contested", busybox, "true"], env=berth.environ,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outcomes = sorted((p.wait(60), p.stderr.read() if p.stderr else "") for p in racers)
    assert [code for code, _ in outcomes] == [0, 125, 125, 125]
    assert all("is already in use" in err for _, err in outcomes[1:])
    assert berth.ok("ps", "-a", "--format", "{{.Names}}").out == "contested\n"


def test_nothing_is_left_behind(berth: Berth, busybox: str) -> None:
    """--rm, rm -f and prune leave no mount, runc state, cgroup or file (the clean-up may end after berth)."""
    berth.ok("run", "--rm", busybox, "true")
    ids = {berth.ok("run", "-d", "--rm", busybox, "true").out.strip()}
    berth.ok("run", "--name", "kept", busybox, "true")
    ids.add(berth.ok("inspect", "-f", "{{.Id}}", "kept").out.strip())
    running = berth.ok("run", "-d", busybox, "sleep", "60").out.strip()
    ids.add(running)
    berth.ok("rm", "-f", running)
    berth.ok("container", "prune", "-f")
    containers = berth.home / "containers"
    until(lambda: not mounts_under(berth.home) and not runc_states(berth.home / "runc")
          and [p.name for p in containers.iterdir()] == [".names.lock"])
    for controller in ("memory", "pids", "cpu"):  # berth/<id> for this test's containers: all gone
        assert not [p for p in Path(f"/sys/fs/cgroup/{controller}/berth").glob("*") if p.name in ids]
