"""Running a real client's command line, with its output in the error when it fails."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class CommandFailed(AssertionError):
    """A command exited non-zero or timed out: the message holds its argv, status and output."""

    def __init__(self, argv: Sequence[str], status: int | str, stdout: str, stderr: str) -> None:
        self.status, self.stdout, self.stderr = status, stdout, stderr
        super().__init__(f"`{shlex.join(argv)}` exited {status}\n--- stdout ---\n{stdout[-6000:]}"
                         f"\n--- stderr ---\n{stderr[-6000:]}")


def free_port() -> int:
    """A loopback port nothing listens on right now (the kernel picks it; a small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `argv` to completion with `env` added to this process's environment."""
    argv = [str(a) for a in argv]
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(argv, env=full_env, cwd=cwd, timeout=timeout, capture_output=True, text=True)
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(argv, f"nothing (timed out after {timeout} s)", _text(exc.stdout),
                            _text(exc.stderr)) from None
    if check and done.returncode != 0:
        raise CommandFailed(argv, done.returncode, done.stdout, done.stderr)
    return done


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def terminate(process: subprocess.Popen[bytes], grace: float = 10.0) -> int | None:
    """SIGTERM a process we started, SIGKILL it after `grace` seconds; returns its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)
    return process.returncode
