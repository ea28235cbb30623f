"""Transfers that break off and resume: a pull whose registry is killed mid-layer (continued by the same
run when the registry comes back, or by the next run when it does not), and a chunked push whose
connection a network cuts mid-chunk. Each registry here is a process of the test's own."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from cli.environment import Environment, write_config
from cli.errors import ExitCode
from runtime.image_store import ImageStore
from tests.cli.conftest import Berth, Result
from tests.support.images import ImageCache, OciImage
from tests.support.registry_process import RegistryProcess, free_port
from tests.support.skopeo import copy

LAYER_BYTES = 30_000_000
CHUNK = 16 << 20  # berth's PATCH size


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    server = RegistryProcess(tmp_path / "registry-data", tmp_path / "registry.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def big_image(images: ImageCache) -> OciImage:
    return images.random_layers(3, LAYER_BYTES)


def one_download_at_a_time(berth: Berth) -> None:
    """docker's max-concurrent-downloads=1: layers come one after another, so one can be caught half done."""
    write_config(Environment(environ=berth.environ).config_path, {"berth": {"max-concurrent-downloads": 1}})


def kill_when_half_done(server: RegistryProcess, store: Path, image: OciImage, pull: Future[Result]) -> str:
    """SIGKILL the registry's process group once a layer is in the store and the next is partly
    downloaded; returns the digest of that partial layer."""
    layers = {d.split(":", 1)[1]: d for d in image.layer_digests}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not pull.done():
        finished = [h for h in layers if (store / "blobs" / "sha256" / h).exists()]
        partial = [h for h in layers if 0 < _size(store / "ingest" / f"sha256-{h}") < LAYER_BYTES // 2]
        if finished and partial:
            os.killpg(server.pid, signal.SIGKILL)
            return layers[partial[0]]
        time.sleep(0.001)
    raise AssertionError(f"the pull was never caught between two layers: {pull.result() if pull.done() else ''}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def blob_gets(server: RegistryProcess, since: int, digest: str) -> list[str]:
    return [line for line in server.access_lines(since, "GET") if f"/blobs/{digest} " in line]


def test_a_later_pull_resumes_the_partial_layer_and_skips_finished_ones(registry: RegistryProcess, berth: Berth,
                                                                        big_image: OciImage) -> None:
    name = f"{registry.host}/pp/resume:1"
    copy(big_image.ref, f"docker://{name}")
    one_download_at_a_time(berth)
    store = Path(ImageStore(berth.home / "images").root)

    with ThreadPoolExecutor(1) as pool:
        pull = pool.submit(berth.run_process, "pull", name)
        partial = kill_when_half_done(registry, store, big_image, pull)
        broken = pull.result()
    assert broken.code == ExitCode.NETWORK and broken.err.splitlines()[-1].startswith("Error: "), broken
    finished = [d for d in big_image.layer_digests if (store / "blobs" / "sha256" / d[7:]).exists()]
    kept = _size(store / "ingest" / f"sha256-{partial[7:]}")
    assert finished and 0 < kept < LAYER_BYTES

    registry.stop()
    registry.start()  # the same port and data directory
    mark = registry.log_size()
    again = berth.run_process("pull", name)
    assert again.code == 0 and again.out.splitlines()[-1] == name, again
    for digest in finished:
        assert f"{digest[7:19]}: Already exists" in again.out
        assert blob_gets(registry, mark, digest) == []  # not downloaded again
    resumed = blob_gets(registry, mark, partial)
    assert len(resumed) == 1 and " 206 " in resumed[0], resumed  # a Range request for the rest
    sent = int(resumed[0].split()[3].rstrip("B"))  # the access log counts the headers too
    size = big_image.manifest["layers"][big_image.layer_digests.index(partial)]["size"]
    assert size - kept <= sent < size - kept + 2048, (size, kept, sent)
    assert_blobs_verified(store)


def test_a_pull_retries_with_range_when_the_registry_comes_back(registry: RegistryProcess, berth: Berth,
                                                                big_image: OciImage) -> None:
    name = f"{registry.host}/pp/retry:1"
    copy(big_image.ref, f"docker://{name}")
    one_download_at_a_time(berth)
    store = Path(ImageStore(berth.home / "images").root)

    with ThreadPoolExecutor(1) as pool:
        pull = pool.submit(berth.run_process, "pull", name)
        partial = kill_when_half_done(registry, store, big_image, pull)
        registry.stop()  # reap what is left of the killed group, then come back on the same port
        mark = registry.log_size()
        registry.start()
        result = pull.result()
    assert result.code == 0 and result.out.splitlines()[-1] == name, result
    assert f"{partial[7:19]}: Retrying" in result.err
    resumed = blob_gets(registry, mark, partial)
    assert len(resumed) == 1 and " 206 " in resumed[0], resumed
    assert_blobs_verified(store)


def test_a_registry_that_ignores_range_gets_the_whole_layer_again(registry: RegistryProcess, berth: Berth,
                                                                   big_image: OciImage) -> None:
    name = f"{registry.host}/pp/no-range:1"
    copy(big_image.ref, f"docker://{name}")
    one_download_at_a_time(berth)
    store = Path(ImageStore(berth.home / "images").root)
    with ThreadPoolExecutor(1) as pool:
        pull = pool.submit(berth.run_process, "pull", name)
        partial = kill_when_half_done(registry, store, big_image, pull)
        assert pull.result().code == ExitCode.NETWORK
    registry.stop()
    registry.start()

    proxy = Proxy(registry.port, rename=(b"\r\nRange: bytes=", b"\r\nX-Nope: bytes="))
    try:
        mark = registry.log_size()
        result = berth.run_process("pull", f"{proxy.host}/pp/no-range:1")
    finally:
        proxy.close()
    assert result.code == 0, result
    again = blob_gets(registry, mark, partial)
    assert len(again) == 1 and " 200 " in again[0], again  # the whole layer, written from byte 0
    assert_blobs_verified(store)


def test_a_corrupt_partial_download_is_not_trusted(open_registry: RegistryProcess, berth: Berth,
                                                   busybox_layout: OciImage) -> None:
    name = f"{open_registry.host}/pp/corrupt-partial:1"
    copy(busybox_layout.ref, f"docker://{name}")
    layer = busybox_layout.layer_digests[0]
    store = Path(ImageStore(berth.home / "images").root)
    (store / "ingest" / f"sha256-{layer[7:]}").write_bytes(os.urandom(100_000))  # not the layer's first bytes
    mark = open_registry.log_size()
    result = berth.run("pull", name)
    assert result.code == 0, result
    gets = blob_gets(open_registry, mark, layer)
    assert [g.split()[2] for g in gets] == ["206", "200"], gets  # resumed, failed verification, fetched anew
    assert_blobs_verified(store)


def assert_blobs_verified(store: Path) -> None:
    for blob in (store / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


# -- a push through a network that breaks once --------------------------------------------------------

class Proxy:
    """A TCP proxy in front of a registry. With `cut_at`, it cuts once the connection carrying a PATCH
    whose Content-Range starts there, `after` bytes into it: the network failing mid-chunk. With
    `rename`, it renames a request header (same length), as a proxy that drops what it does not know."""

    def __init__(self, upstream_port: int, cut_at: int | None = None, after: int = 0,
                 rename: tuple[bytes, bytes] | None = None) -> None:
        self.upstream_port, self.after, self.rename = upstream_port, after, rename
        self.marker = f"Content-Range: {cut_at}-".encode() if cut_at is not None else None
        self.port = free_port()
        self.cut = threading.Event()
        self.upstream_bytes = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_registry: bool) -> None:
        armed, tail = -1, b""  # armed: bytes passed since the marker (-1: not seen)
        try:
            while data := source.recv(1 << 16):
                if to_registry and self.rename:
                    data = data.replace(*self.rename)
                if to_registry and self.marker and not self.cut.is_set():
                    if armed < 0 and self.marker in tail + data:
                        armed = 0
                    tail = data[-len(self.marker):]
                    if armed >= 0:
                        armed += len(data)
                        if armed >= self.after:
                            self.cut.set()
                            break
                if to_registry:
                    with self._lock:
                        self.upstream_bytes += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


def test_a_chunked_push_resumes_where_the_registry_says_after_a_broken_chunk(
        registry: RegistryProcess, berth: Berth, images: ImageCache) -> None:
    image = images.random_layers(1, 40_000_000)  # three PATCHes: 16 MiB, 16 MiB, the rest
    proxy = Proxy(registry.port, cut_at=CHUNK, after=4 << 20)
    try:
        name = f"{proxy.host}/pp/chunked:1"
        ImageStore(berth.home / "images")
        copy(image.ref, f"oci:{berth.home / 'images'}:{name}")
        mark = registry.log_size()
        result = berth.run("push", name)
    finally:
        proxy.close()
    assert result.code == 0, result
    assert proxy.cut.is_set()
    layer_size = image.manifest["layers"][0]["size"]
    assert "Retrying" in result.err and f"{image.layer_digests[0][7:19]}: Pushed" in result.out

    lines = registry.access_lines(mark)
    posts = [line for line in lines if line.startswith("POST ")]
    assert len(posts) == 2, lines  # layer and config: the broken upload was continued, not started again
    status = [line for line in lines if line.startswith("GET ") and "/blobs/uploads/" in line]
    assert len(status) == 1 and " 204 " in status[0], lines  # where do we stand?
    patches = [line for line in lines if line.startswith("PATCH ") and " 202 " in line]
    assert len(patches) == 3, lines
    # Only the cut part of one chunk went twice.
    assert proxy.upstream_bytes < layer_size + proxy.after + (1 << 20)
    pulled = OciImage(berth.home / "check", "1")
    copy(f"docker://{registry.host}/pp/chunked:1", pulled.ref)
    assert pulled.digest == image.digest and pulled.blob(image.layer_digests[0]) == image.blob(image.layer_digests[0])
