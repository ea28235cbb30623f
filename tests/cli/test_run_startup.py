"""`berth run` of a local image starts in milliseconds: what it loads at start-up leaves out the registry
client, the layer unpacker and everything else only a pull, an unpack or a terminal needs (aiohttp alone
takes longer to load than runc takes to start a container; hashlib's OpenSSL, 3 ms)."""

from __future__ import annotations

import subprocess
import sys

# Loaded later when needed: by a pull (aiohttp, asyncio, ssl), an unpack (hashlib, tarfile, gzip, zstandard),
# a terminal (socket), a platform check (platform); never by `run` (the server's sqlalchemy and jinja2).
NOT_AT_START = ("aiohttp", "asyncio", "ssl", "hashlib", "tarfile", "gzip", "zstandard", "socket", "platform",
                "sqlalchemy", "jinja2", "concurrent.futures", "http.client", "email.parser")


def test_run_loads_nothing_a_local_image_does_not_need() -> None:
    script = ("import sys; from cli.__main__ import build_parser; "
              "build_parser(['run', 'busybox']).parse_args(['run', 'busybox']); "
              "import cli.commands.run; print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "cli.commands.run" in loaded and "runtime.supervisor" in loaded
    assert sorted(loaded & set(NOT_AT_START)) == []
