"""The supervisor waits for its container's process as a child subreaper: the process may still belong to one
of the runtime's intermediate processes when the runtime has returned (crun's does that under load), and it
becomes the supervisor's to wait for only once that one has ended."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from runtime import kernel
    from runtime.supervisor import _wait_for

    kernel.become_subreaper()
    ready_r, ready_w = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:  # the runtime's last process: starts the container, outlives it a while
        container = os.fork()
        if container == 0:
            os._exit(3)
        os.write(ready_w, str(container).encode())
        time.sleep(0.3)
        os._exit(0)
    os.close(ready_w)
    container = int(os.read(ready_r, 32))
    try:
        os.waitpid(container, os.WNOHANG)
    except ChildProcessError:
        print("not ours yet")
    status = _wait_for(container)
    print(os.waitstatus_to_exitcode(status))
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        print("no zombie left")
""")


def test_a_container_process_handed_over_late_is_waited_for_and_nothing_is_left() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["not ours yet", "3", "no zombie left", ""]
