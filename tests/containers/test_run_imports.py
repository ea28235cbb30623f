"""What a real `berth run --rm --network none` loads from start to exit (PYTHONPROFILEIMPORTTIME lists every
module imported): only what this container uses. The container's own start-up path, not just the imports at
the top: the runtime's lookup, the volume and network hooks of the supervisor, its clean-up."""

from __future__ import annotations

import subprocess

from tests.cli.conftest import BERTH, Berth
from tests.cli.test_run_startup import NOT_AT_START, NOT_LOADED_BY_RUN


def imported(*args: str, berth: Berth) -> set[str]:
    done = subprocess.run([str(BERTH), *args], capture_output=True, text=True, timeout=60,
                          env={**berth.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr[-2000:]
    return {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_a_plain_container_loads_only_what_it_uses(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--rm", "--network", "none", busybox, "true")  # the first run unpacks the layer (tarfile...)
    loaded = imported("run", "--rm", "--network", "none", busybox, "echo", "hi", berth=berth)
    assert {"runtime.supervisor", "runtime.oci_runtime", "runtime.network.endpoint"} <= loaded  # it did list them
    assert sorted(loaded & set(NOT_AT_START + NOT_LOADED_BY_RUN) - {"hashlib"}) == []  # hashlib: verified reads
    assert berth.run("ps", "-aq").out == ""  # and it was removed (--rm), volumes or not
    with_volume = imported("run", "--rm", "--network", "none", "-v", "/data", busybox, "echo", "hi", berth=berth)
    assert "runtime.volumes" in with_volume  # loaded when a container has one
    assert berth.ok("volume", "ls", "-q").out == ""  # its anonymous volume went with it
