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
# What plain classes, named tuples and `TYPE_CHECKING = False` keep out (dataclasses with inspect, typing: about
# 8 ms), and what only some containers need: volumes, a bridge network (iproute2 through subprocess, the
# address book, links), --init and removals (shutil, with bz2 and lzma), times shown to a user (datetime), an
# unpack (zlib). Paths are strings on the run path: pathlib loads urllib.parse and ipaddress (4 ms together).
NOT_LOADED_BY_RUN = ("dataclasses", "inspect", "typing", "datetime", "shutil", "bz2", "lzma", "zlib", "pathlib",
                     "urllib.parse", "ipaddress", "runtime.volumes",
                     "runtime.network.sandbox", "runtime.network.ipam", "runtime.network.links",
                     "runtime.network.ports", "runtime.network.proxy")


def test_run_loads_nothing_a_local_image_does_not_need() -> None:
    script = ("import sys; from cli.__main__ import build_parser; "
              "build_parser(['run', 'busybox']).parse_args(['run', 'busybox']); "
              "import cli.commands.run; print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "cli.commands.run" in loaded and "runtime.supervisor" in loaded
    assert sorted(loaded & set(NOT_AT_START + NOT_LOADED_BY_RUN)) == []
