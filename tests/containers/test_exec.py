"""Processes inside running containers, as a user drives them: exec (attached, -i, -t, -d, -e, -w, -u, and
docker's exit codes), top, --init, logs --since/--until, ps --filter and -s, and crun as the runtime."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Berth
from tests.containers.images import derive, oci_archive
from tests.containers.terminal import converse
from tests.containers.test_lifecycle import until
from tests.support.images import OciImage

LABELLED = "127.0.0.1:5000/test/labelled:1"
TOP_COLUMNS = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


def test_exec_runs_commands_beside_the_containers_process(berth: Berth, users: str, tmp_path: Path) -> None:
    berth.ok("run", "-d", "--name", "host", users, "sleep", "60")
    done = berth.run("exec", "host", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.code, done.out, done.err) == (3, "out\n", "err\n")
    assert berth.ok("exec", "host", "sh", "-c", "pwd; echo $FROM_IMAGE $HOME").out == "/home\nyes /root\n"
    env_file = tmp_path / "exec.env"
    env_file.write_text("# comment\nFROM_FILE=file\nGREETING=overridden\n")
    shaped = berth.ok("exec", "--env-file", str(env_file), "-e", "GREETING=hi", "-w", "/tmp", "-u", "app", "host",
                      "sh", "-c", "echo $GREETING $HOME $FROM_FILE; pwd; id").out.splitlines()
    assert shaped[:2] == ["hi /home/app file", "/tmp"]
    assert shaped[2].startswith("uid=1000(app) gid=1000(app)") and "2000(extra)" in shaped[2]
    assert berth.ok("exec", "-i", "host", "cat", stdin="piped in\n").out == "piped in\n"
    assert berth.ok("exec", "host", "cat", stdin="not forwarded without -i").out == ""
    missing = berth.run("exec", "host", "no-such-command")
    assert missing.code == 127 and "executable file not found" in missing.err
    assert berth.run("exec", "host", "/etc").code == 126  # a directory cannot be executed
    nobody = berth.run("exec", "-u", "nobody", "host", "true")
    assert nobody.code == 126 and "unable to find user nobody" in nobody.err
    assert berth.run("exec", "-w", "relative", "host", "true").code == 125
    # -d leaves the command running; top lists it beside the container's process, with docker's columns.
    assert berth.ok("exec", "-d", "host", "sleep", "45").out == ""
    table = berth.ok("top", "host").out.splitlines()
    assert table[0].split() == TOP_COLUMNS and table[0].startswith("UID                 PID")
    commands = sorted(line.split(None, 7)[7] for line in table[1:])
    assert commands == ["sleep 45", "sleep 60"]
    assert "45" not in berth.ok("logs", "host").out  # exec's output is not the container's log
    berth.ok("kill", "host")
    berth.ok("wait", "host")  # the exec'd process is reaped too: the container's init can finish dying
    stopped = berth.run("exec", "host", "true")
    full_id = berth.ok("inspect", "-f", "{{.Id}}", "host").out.strip()
    assert (stopped.code, stopped.err) == (1, f"Error response from daemon: container {full_id} is not running\n")
    assert berth.run("top", "host").code == 1
    gone = berth.run("exec", "no-such", "true")
    assert (gone.code, gone.err) == (1, "Error response from daemon: No such container: no-such\n")


def test_exec_t_gives_a_terminal(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "tty", busybox, "sleep", "60")
    shown = berth.ok("exec", "-t", "tty", "sh", "-c", "[ -t 1 ] && echo terminal; echo $TERM; exit 0").out
    assert shown == "terminal\r\nxterm\r\n"  # a pty's line discipline: \r\n
    assert berth.ok("exec", "tty", "sh", "-c", "[ -t 1 ] || echo pipe").out == "pipe\n"
    assert converse(berth, "exec", "-it", "tty") == 4  # berth's own terminal: keys go through to the command's


def test_init_forwards_signals_and_reaps(berth: Berth, busybox: str) -> None:
    orphan = "(sleep 0.1 &); exec sleep 60"  # the subshell's child is left to PID 1 when it exits
    berth.ok("run", "-d", "--init", "--name", "tini", busybox, "sh", "-c", orphan)
    berth.ok("run", "-d", "--name", "bare", busybox, "sh", "-c", orphan)
    init = berth.ok("exec", "tini", "cat", "/proc/1/cmdline").out.split("\0")
    assert init[:3] == ["/sbin/docker-init", "--", "sh"]
    assert berth.ok("inspect", "-f", "{{.HostConfig.Init}} {{.Path}}", "tini").out == "true sh\n"
    time.sleep(0.5)
    assert "[sleep]" in berth.ok("exec", "bare", "ps").out  # a zombie: `sleep` as PID 1 reaps nobody
    assert "[sleep]" not in berth.ok("exec", "tini", "ps").out
    began = time.monotonic()
    berth.ok("stop", "-t", "10", "tini")  # SIGTERM reaches sleep through the init: no 10 s wait for SIGKILL
    assert time.monotonic() - began < 5
    assert berth.ok("inspect", "-f", "{{.State.ExitCode}}", "tini").out == "143\n"


def test_logs_since_and_until(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "talker", busybox, "sh", "-c", "echo early; sleep 1.2; echo late")
    stamped = berth.ok("logs", "-t", "talker").out.splitlines()
    early, late = (line.split(" ", 1)[0] for line in stamped)
    middle = early[:19] + ".999999999Z" if early[:19] != late[:19] else early
    assert berth.ok("logs", "--since", late, "talker").out == "late\n"
    assert berth.ok("logs", "--until", early, "talker").out == "early\n"
    assert berth.ok("logs", "--since", middle, "--until", late, "talker").out == "late\n"
    assert berth.ok("logs", "--since", "10m", "talker").out == "early\nlate\n"
    assert berth.ok("logs", "--until", "10m", "talker").out == ""
    assert berth.ok("logs", "--since", "2000-01-01", "talker").out == "early\nlate\n"
    assert berth.ok("logs", "--since", str(int(time.time()) + 60), "talker").out == ""  # Unix seconds
    refused = berth.run("logs", "--since", "yesterday", "talker")
    assert refused.code != 0 and "failed to parse" in refused.err


@pytest.fixture
def labelled(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> str:
    image = derive(busybox_layout, tmp_path / "labelled", [], {"Labels": {"tier": "web", "team": "a"}})
    berth.ok("load", "-q", "-i", str(oci_archive(image, LABELLED, tmp_path / "labelled.tar")))
    return LABELLED


def test_ps_filters(berth: Berth, busybox: str, labelled: str) -> None:
    berth.ok("run", "-d", "--name", "web-1", labelled, "sleep", "60")
    assert berth.run("run", "--name", "web-2", labelled, "sh", "-c", "exit 2").code == 2
    berth.ok("run", "--name", "job", busybox, "true")
    berth.ok("create", "--name", "fresh", busybox, "true")

    def names(*filters: str) -> list[str]:
        return berth.ok("ps", "--format", "{{.Names}}", *filters).out.split()

    assert names("-a", "-f", "status=exited") == ["job", "web-2"]
    assert names("-f", "status=exited", "-f", "status=created") == ["fresh", "job", "web-2"]  # ORed; implies -a
    assert names("-f", "name=web") == ["web-1"]  # running only, without -a
    assert names("-a", "-f", "name=web", "-f", "status=running") == ["web-1"]  # ANDed
    assert names("-a", "-f", "name=^/job$") == ["job"]
    assert names("-a", "-f", "exited=2") == ["web-2"] and names("-f", "exited=0") == []
    assert names("-a", "-f", "label=tier") == ["web-2", "web-1"]
    assert names("-a", "-f", "label=tier=web", "-f", "label=team=b") == []  # every label must match
    assert names("-a", "-f", f"ancestor={labelled}") == ["web-2", "web-1"]
    assert names("-a", "-f", "ancestor=no/such:image") == []
    job_id = berth.ok("inspect", "-f", "{{.Id}}", "job").out.strip()
    assert berth.ok("ps", "-aq", "-f", f"id={job_id[:10]}").out == job_id[:12] + "\n"
    assert names("-a", "-f", "before=job") == ["web-2", "web-1"]
    assert names("-a", "-f", "since=web-2") == ["fresh", "job"]
    for bad in ("color=red", "status=sleeping", "exited=x", "nonsense", "before=no-such"):
        assert berth.run("ps", "-f", bad).code != 0, bad
    sized = berth.ok("ps", "-s", "-f", "name=web-1").out.splitlines()
    assert sized[0].split()[-1] == "SIZE" and "(virtual " in sized[1]


def test_ps_filters_on_mounts_networks_ports_and_health(berth: Berth, busybox: str, tmp_path: Path) -> None:
    berth.ok("run", "-d", "--name", "vol", "-v", "data:/data", "--network", "none", busybox, "sleep", "60")
    berth.ok("create", "--name", "pub", "-p", "8080:80", "--expose", "9000-9001", busybox, "true")
    berth.ok("create", "--name", "bound", "-v", f"{tmp_path}:/srv:ro", busybox, "true")

    def names(*filters: str) -> list[str]:
        return berth.ok("ps", "-a", "--format", "{{.Names}}", *filters).out.split()

    assert names("-f", "volume=data") == names("-f", "volume=/data") == ["vol"]  # a volume's name, a destination
    assert names("-f", f"volume={tmp_path}") == names("-f", "volume=/srv") == ["bound"]  # a bind's source
    assert names("-f", "volume=/nowhere") == []
    assert names("-f", "network=none") == ["vol"] and names("-f", "network=bridge") == ["bound", "pub"]
    assert names("-f", "publish=80") == names("-f", "publish=79-81/tcp") == ["pub"]
    assert names("-f", "publish=8080") == [] and names("-f", "publish=80/udp") == []  # the container's port
    assert names("-f", "expose=9001") == names("-f", "expose=80") == ["pub"]  # -p exposes too
    assert names("-f", "health=none") == ["bound", "pub", "vol"] and names("-f", "health=healthy") == []
    for bad, message in [("publish=8080:80", "filter for 'publish' should not contain ':'"),
                         ("expose=x", "error while looking up for expose x"),
                         ("health=sick", "Unrecognised filter value for health: sick")]:
        refused = berth.run("ps", "-f", bad)
        assert refused.code != 0 and message in refused.err, (bad, refused)


@pytest.mark.skipif(shutil.which("crun") is None, reason="crun is not installed")
def test_crun_as_the_runtime(berth: Berth, busybox: str) -> None:
    assert berth.ok("run", "--rm", "--runtime", "crun", busybox, "echo", "from crun").out == "from crun\n"
    berth.ok("run", "-d", "--runtime", "crun", "--name", "crunned", busybox, "sleep", "60")
    assert berth.ok("inspect", "-f", "{{.HostConfig.Runtime}}", "crunned").out == "crun\n"
    assert berth.run("exec", "crunned", "sh", "-c", "exit 7").code == 7
    assert berth.run("exec", "crunned", "no-such-command").code == 127
    assert berth.ok("exec", "-t", "crunned", "sh", "-c", "[ -t 1 ] && echo terminal").out == "terminal\r\n"
    assert [line.split(None, 7)[7] for line in berth.ok("top", "crunned").out.splitlines()[1:]] == ["sleep 60"]
    berth.ok("kill", "crunned")
    assert berth.ok("wait", "crunned").out == "137\n"
    until(lambda: not any((berth.home / "runtime-crun").iterdir()))  # crun's own state, gone with the container


def test_times_as_docker_reads_them() -> None:
    from cli.timestamps import BadTimestamp, entry_time, parse_timestamp

    now = 1_700_000_000 * 10**9
    assert parse_timestamp("10m", now) == now - 600 * 10**9
    assert parse_timestamp("1h30m", now) == parse_timestamp("1.5h", now) == now - 5400 * 10**9
    assert parse_timestamp("250ms", now) == now - 250_000_000
    assert parse_timestamp("2024-01-02T03:04:05.5Z") == 1_704_164_645_500_000_000
    assert parse_timestamp("2024-01-02T04:04:05+01:00") == 1_704_164_645 * 10**9
    assert parse_timestamp("1700000000.25") == 1_700_000_000_250_000_000
    assert entry_time("2024-01-02T03:04:05.000000001Z") == 1_704_164_645_000_000_001
    for bad in ("yesterday", "10x", "", "2024-13-01"):
        with pytest.raises(BadTimestamp):
            parse_timestamp(bad)
