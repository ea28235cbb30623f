"""Streaming: pushing and pulling a 1 GiB layer grows the server's memory by less than 50 MB."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.support.oci_client import blob_sha256, push_blob_streamed
from tests.support.registry_process import RegistryProcess

GIB = 1 << 30
PIECE = os.urandom(1 << 20)
LIMIT = 50 * 1024 * 1024


def _layer_piece(i: int) -> bytes:
    # Distinct 1 MiB pieces without generating a whole GiB of randomness.
    return i.to_bytes(8, "big") + PIECE[8:]


def _layer_digest() -> str:
    hasher = hashlib.sha256()
    for i in range(GIB >> 20):
        hasher.update(_layer_piece(i))
    return "sha256:" + hasher.hexdigest()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _layer() -> AsyncIterator[bytes]:
    for i in range(GIB >> 20):
        yield _layer_piece(i)


def _memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


async def _push_then_pull(server: RegistryProcess, digest: str) -> tuple[int, int, tuple[int, str | None]]:
    async with aiohttp.ClientSession() as session:
        await push_blob_streamed(session, server.url, "mem/warmup", _one(b"warm up every code path once"),
                                 "sha256:" + hashlib.sha256(b"warm up every code path once").hexdigest())
        await blob_sha256(session, server.url, "mem/warmup",
                          "sha256:" + hashlib.sha256(b"warm up every code path once").hexdigest())
        baseline = _memory(server.pid)["VmRSS"]
        _reset_peak(server.pid)
        await push_blob_streamed(session, server.url, "mem/big", _layer(), digest)
        push_peak = _memory(server.pid)["VmHWM"]
        pulled = await blob_sha256(session, server.url, "mem/big", digest)
        pull_peak = _memory(server.pid)["VmHWM"]
        return push_peak - baseline, pull_peak - baseline, pulled


def test_a_1_gib_layer_streams_through_in_bounded_memory(tmp_path: Path):
    digest = _layer_digest()
    # One worker: the server is a single process whose memory we can read.
    with RegistryProcess(tmp_path / "data", tmp_path / "log", workers=1) as server:
        push_growth, pull_growth, pulled = asyncio.run(_push_then_pull(server, digest))
    assert pulled == (200, digest)
    assert push_growth < LIMIT, f"push grew RSS by {push_growth >> 20} MiB"
    assert pull_growth < LIMIT, f"pull grew RSS by {pull_growth >> 20} MiB"
