"""`berth run` as its own process ends without the interpreter's teardown (cli.__main__.exit_at_once): what the
container wrote is all there, in order, on the right stream, and berth exits with the container's code; a
--rm container is still cleaned up after berth has gone."""

from __future__ import annotations

import time

from tests.cli.conftest import Berth
from tests.containers.conftest import mounts_under, runc_states

LINES = 20_000  # more than any pipe or stdio buffer holds: the tail would be lost without a flush


def test_output_and_exit_code_survive_the_quick_exit(berth: Berth, busybox: str) -> None:
    script = f"i=0; while [ $i -lt {LINES} ]; do echo line $i; i=$((i+1)); done; echo oops >&2; exit 7"
    result = berth.run_process("run", "--rm", busybox, "sh", "-c", script, timeout=60)
    assert result.code == 7
    assert result.out.splitlines() == [f"line {n}" for n in range(LINES)]
    assert result.err == "oops\n"
    detached = berth.run_process("run", "-d", busybox, "true", timeout=60)
    assert detached.code == 0 and len(detached.out.strip()) == 64
    missing = berth.run_process("run", "--rm", "127.0.0.1:5000/no/such:1", timeout=60)
    assert missing.code == 125 and "Unable to find image" in missing.err


def test_a_removed_container_is_unmounted_and_forgotten_after_berth_exits(berth: Berth, busybox: str) -> None:
    assert berth.run_process("run", "--rm", busybox, "echo", "hi", timeout=60).out == "hi\n"
    deadline = time.monotonic() + 10
    while (mounts_under(berth.home) or runc_states(berth.home / "runc")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mounts_under(berth.home) and not runc_states(berth.home / "runc")
    assert berth.ok("ps", "-aq").out == ""
