"""Driving berth from a terminal of its own (a pty), as a user typing at it."""

from __future__ import annotations

import os
import pty
import subprocess

from tests.cli.conftest import BERTH, Berth

# The command the container runs: it waits for a line typed at berth's terminal and exits with 4.
CONVERSATION = "echo ready; read line; echo got $line; exit 4"


def converse(berth: Berth, *args: str) -> int:
    """Run `berth ARGS... sh -c CONVERSATION` on a new pty, type "hello" once it is ready, check the reply,
    and return berth's exit code. berth's terminal goes raw, so the keys must reach the container's."""
    master, slave = pty.openpty()
    process = subprocess.Popen([str(BERTH), *args, "sh", "-c", CONVERSATION],
                               env=berth.environ, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        seen = b""
        while b"ready" not in seen:
            seen += os.read(master, 1024)
        os.write(master, b"hello\n")
        code = process.wait(30)
        while b"got hello" not in seen:
            seen += os.read(master, 1024)
        return code
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
