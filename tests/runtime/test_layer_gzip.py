"""gzip layers as gzip defines them (several members, zero padding after the last) unpack as one stream; a
damaged one (bad CRC, cut short, garbage after a member) is refused; no read inflates more than it was asked."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from registry.oci.digest import Digest
from runtime.image_store import ImageStore
from runtime.rootfs import LayerStore, RootfsError
from runtime.rootfs.layers import _Gunzip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners needs root")


def layer_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def unpack(tmp_path: Path):  # type: ignore[no-untyped-def]
    images, layers = ImageStore(tmp_path / "images"), LayerStore(tmp_path / "layers")

    def unpack(blob: bytes, diff_id: Digest) -> Path:
        return Path(layers.ensure(images, images.put_blob(blob), diff_id))

    return unpack


def test_several_members_and_zero_padding_read_as_one_stream(unpack) -> None:  # type: ignore[no-untyped-def]
    big = os.urandom(300_000)  # several reads' worth, so members end in the middle of a read
    tar = layer_tar({"big": big, "small": b"hello"})
    cut = len(tar) // 3
    blob = gzip.compress(tar[:cut], mtime=0) + gzip.compress(tar[cut:], mtime=0) + b"\0" * 1024
    layer = unpack(blob, Digest.of(tar))
    assert (layer / "big").read_bytes() == big and (layer / "small").read_bytes() == b"hello"


@pytest.mark.parametrize("damage", ["bad crc", "no trailer", "garbage after"])
def test_a_damaged_gzip_is_refused_and_leaves_nothing(unpack, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    tar = layer_tar({"file": os.urandom(100_000)})
    blob = gzip.compress(tar, mtime=0)
    blob = {"bad crc": blob[:-8] + bytes([blob[-8] ^ 1]) + blob[-7:], "no trailer": blob[:-8],
            "garbage after": blob + b"not gzip"}[damage]
    with pytest.raises(RootfsError, match="cannot be decompressed"):
        unpack(blob, Digest.of(tar))
    assert not list((tmp_path / "layers" / ".partial").iterdir())
    assert not (tmp_path / "layers" / "sha256").exists()


def test_no_read_inflates_more_than_asked() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB in about 64 KiB
    reader = _Gunzip(io.BytesIO(bomb))
    sizes = [len(reader.read(4096)) for _ in range(100)]
    assert max(sizes) <= 4096 and sum(sizes) == 100 * 4096
    total = sum(sizes) + sum(len(chunk) for chunk in iter(lambda: reader.read(1 << 16), b""))
    assert total == 64 << 20
