"""Containers made first and started later (create, start -a), and attaching to running ones (attach: output,
stdin for a container created with -i, Ctrl-C forwarded, the container's exit code)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.cli.conftest import BERTH, Berth
from tests.containers.test_lifecycle import status, until


def test_create_then_start(berth: Berth, busybox: str) -> None:
    created = berth.ok("create", "--name", "later", busybox, "sh", "-c", "echo ran; exit 3").out.strip()
    assert len(created) == 64
    assert status(berth, "later") == "created"
    assert berth.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").out == "later Created\n"
    assert berth.ok("ps", "-q").out == "" and berth.ok("logs", "later").out == ""
    started = berth.run("start", "-a", "later")
    assert (started.code, started.out) == (3, "ran\n")
    assert berth.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "later").out == "exited 3\n"
    assert berth.ok("start", "later").out == "later\n"  # in the background this time
    until(lambda: berth.ok("logs", "later").out == "ran\nran\n")
    taken = berth.run("create", "--name", "later", busybox, "true")
    assert taken.code == 125 and "is already in use" in taken.err
    assert berth.run("create", "--name", "bad name", busybox, "true").code == 125
    assert berth.run("create", "--runtime", "no-such-runtime", busybox, "true").code == 125
    assert berth.ok("ps", "-aq").out.split() == [created[:12]]  # no container made by a refused create


def test_attach_feeds_stdin_and_exits_with_the_container(berth: Berth, busybox: str) -> None:
    berth.ok("create", "-i", "--name", "reader", busybox, "sh", "-c", "read line; echo got $line; exit 5")
    berth.ok("start", "reader")
    attached = berth.run_process("attach", "reader", stdin="hello\n", timeout=30)  # stdin copied by a thread
    assert (attached.code, attached.out) == (5, "got hello\n")
    refused = berth.run("attach", "reader")
    assert refused.code == 1 and "You cannot attach to a stopped container, start it first" in refused.err
    assert berth.run("attach", "no-such").code == 1


def test_attach_forwards_ctrl_c(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "trapper", busybox, "sh", "-c",
             "trap 'echo got INT; exit 3' INT; while true; do echo tick; sleep 0.1; done")
    process = subprocess.Popen([str(BERTH), "attach", "trapper"], env=berth.environ, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "tick\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 3
        assert process.stdout.read().endswith("got INT\n")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert berth.ok("inspect", "-f", "{{.State.ExitCode}}", "trapper").out == "3\n"


@pytest.mark.parametrize("command", [["create"], ["attach"], ["exec"], ["top"]])
def test_new_commands_have_help(berth: Berth, command: list[str]) -> None:
    result = berth.run_process(*command, "--help")
    assert result.code == 0 and "usage: berth" in result.out
