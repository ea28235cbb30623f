"""Layers to directories: what a layer holds survives unpacking (owners, modes, setuid, capabilities, links,
whiteouts as overlayfs reads them), and crafted hostile tars write nothing outside their layer."""

from __future__ import annotations

import gzip
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from registry.oci.digest import Digest
from runtime.image_store import ImageStore
from runtime.rootfs import LayerRefused, LayerStore, RootfsError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners, devices and trusted xattrs needs root")

# The xattr of `setcap cap_net_raw+ep`: VFS_CAP_REVISION_2, effective, permitted bit 13.
CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
          **fields: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = kind, len(data), 1_600_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def layer_tar(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ImageStore, LayerStore]:
    return ImageStore(tmp_path / "images"), LayerStore(tmp_path / "layers")


def unpacked(stores: tuple[ImageStore, LayerStore], blob: bytes, diff_id: Digest | None = None) -> Path:
    images, layers = stores
    return Path(layers.ensure(images, images.put_blob(blob), diff_id))


def nothing_left(stores: tuple[ImageStore, LayerStore]) -> bool:
    _, layers = stores
    return not os.listdir(f"{layers.root}/.partial") and not os.path.exists(f"{layers.root}/sha256")


def test_owners_modes_setuid_capabilities_links_and_times_survive(stores: tuple[ImageStore, LayerStore]) -> None:
    tool = entry("usr/bin/ping", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0,
                 pax_headers={"SCHILY.xattr.security.capability": CAP_NET_RAW.decode("utf-8", "surrogateescape"),
                              "SCHILY.xattr.trusted.overlay.redirect": "/etc"})
    root = unpacked(stores, layer_tar(
        entry("usr/", tarfile.DIRTYPE), entry("usr/bin/", tarfile.DIRTYPE, mode=0o750, uid=12, gid=34), tool,
        entry("home/app/notes", data=b"hello", uid=1000, gid=1001, mode=0o600),
        entry("usr/bin/sh", tarfile.SYMTYPE, linkname="/bin/busybox", uid=5, gid=6),
        entry("usr/bin/ping6", tarfile.LNKTYPE, linkname="usr/bin/ping"),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o620)))
    ping = root / "usr/bin/ping"
    assert stat.S_IMODE(ping.stat().st_mode) == 0o4755 and ping.read_bytes() == b"#!/bin/sh\n"
    assert os.getxattr(ping, "security.capability") == CAP_NET_RAW
    with pytest.raises(OSError):
        os.getxattr(ping, "trusted.overlay.redirect")  # overlayfs' own metadata is never taken from a layer
    assert (root / "usr/bin/ping6").stat().st_ino == ping.stat().st_ino
    notes = (root / "home/app/notes").stat()
    assert (notes.st_uid, notes.st_gid, stat.S_IMODE(notes.st_mode)) == (1000, 1001, 0o600)
    assert stat.S_IMODE((root / "home").stat().st_mode) == 0o755  # parents the tar leaves out, as tar makes them
    bin_dir = (root / "usr/bin").stat()
    assert (bin_dir.st_uid, bin_dir.st_gid, stat.S_IMODE(bin_dir.st_mode)) == (12, 34, 0o750)
    assert bin_dir.st_mtime == 1_600_000_000  # set after its children were added
    assert os.readlink(root / "usr/bin/sh") == "/bin/busybox"
    assert (root / "usr/bin/sh").lstat().st_uid == 5
    assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)


def test_whiteouts_become_what_overlayfs_reads(stores: tuple[ImageStore, LayerStore]) -> None:
    root = unpacked(stores, layer_tar(entry("etc/.wh.motd"), entry("var/cache/.wh..wh..opq"),
                                      entry("var/cache/kept", data=b"x"), entry("etc/.wh..wh.plnk")))
    motd = (root / "etc/motd").lstat()
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == os.makedev(0, 0)
    assert os.getxattr(root / "var/cache", "trusted.overlay.opaque") == b"y"
    assert (root / "var/cache/kept").read_bytes() == b"x"
    assert not (root / "etc/.wh.motd").exists() and not (root / "etc/.wh..wh.plnk").exists()


def test_gzip_zstd_and_plain_layers_checked_against_their_diff_id(stores: tuple[ImageStore, LayerStore]) -> None:
    tar = layer_tar(entry("hello", data=b"world"))
    diff_id = Digest.of(tar)
    for blob in (tar, gzip.compress(tar), zstandard.ZstdCompressor().compress(tar)):
        assert (unpacked(stores, blob, diff_id) / "hello").read_bytes() == b"world"
    with pytest.raises(RootfsError, match="diff_id"):
        unpacked(stores, gzip.compress(tar, mtime=1), Digest.of(b"something else"))
    with pytest.raises(RootfsError, match="decompress|not a valid tar"):
        unpacked(stores, gzip.compress(tar)[:-30])


def test_a_layer_is_unpacked_once_and_a_crashed_unpack_is_not_reused(stores: tuple[ImageStore, LayerStore]) -> None:
    images, layers = stores
    digest = images.put_blob(layer_tar(entry("a", data=b"1")))
    crashed = Path(layers.root, ".partial", f"sha256-{digest.encoded}-dead")
    crashed.mkdir()
    (crashed / "half").write_text("left by a crash")
    first = Path(layers.ensure(images, digest))
    assert not crashed.exists() and not (first / "half").exists()
    (first / "marker").write_text("same directory")
    assert os.path.exists(f"{layers.ensure(images, digest)}/marker")


def test_dot_dot_refused_and_nothing_kept(stores: tuple[ImageStore, LayerStore], tmp_path: Path) -> None:
    with pytest.raises(LayerRefused, match="outside its root"):
        unpacked(stores, layer_tar(entry("ok", data=b"1"), entry("a/../../escaped", data=b"x")))
    assert nothing_left(stores) and not (tmp_path / "escaped").exists()


def test_absolute_names_stay_inside(stores: tuple[ImageStore, LayerStore], tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    root = unpacked(stores, layer_tar(entry(str(outside), data=b"inside after all")))
    assert not outside.exists()
    assert (root / str(outside).lstrip("/")).read_bytes() == b"inside after all"


@pytest.mark.parametrize("target", ["/", "../../../..", "."])
def test_writing_through_a_planted_symlink_is_refused(stores: tuple[ImageStore, LayerStore], tmp_path: Path,
                                                      target: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    link = str(victim) if target == "/" else target
    with pytest.raises(LayerRefused, match="through a symlink"):
        unpacked(stores, layer_tar(entry("evil", tarfile.SYMTYPE, linkname=link),
                                   entry(f"evil/{victim.name}/pwned" if target == "/" else "evil/pwned", data=b"x")))
    assert list(victim.iterdir()) == [] and nothing_left(stores)


def test_a_symlink_entry_itself_may_point_anywhere_but_is_never_followed(stores: tuple[ImageStore, LayerStore],
                                                                        tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    root = unpacked(stores, layer_tar(entry("link", tarfile.SYMTYPE, linkname=str(victim)),
                                      entry("link", data=b"replaces the link, not its target")))
    assert victim.read_text() == "untouched"
    assert not (root / "link").is_symlink() and (root / "link").read_bytes().startswith(b"replaces")


def test_hard_links_out_of_the_layer_are_refused(stores: tuple[ImageStore, LayerStore], tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host file")
    for target in ("../../../../../../" + str(secret), str(secret)):
        with pytest.raises(LayerRefused):
            unpacked(stores, layer_tar(entry("stolen", tarfile.LNKTYPE, linkname=target)))
        assert nothing_left(stores)
    assert secret.stat().st_nlink == 1


def test_hard_link_through_a_symlinked_parent_is_refused(stores: tuple[ImageStore, LayerStore],
                                                         tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host file")
    with pytest.raises(LayerRefused, match="through a symlink"):
        unpacked(stores, layer_tar(entry("up", tarfile.SYMTYPE, linkname=str(tmp_path)),
                                   entry("stolen", tarfile.LNKTYPE, linkname="up/secret")))
    assert (tmp_path / "secret").stat().st_nlink == 1


def test_device_nodes_are_dropped(stores: tuple[ImageStore, LayerStore]) -> None:
    root = unpacked(stores, layer_tar(entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                                      entry("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1),
                                      entry("dev/ok", data=b"fine")))
    assert sorted(p.name for p in (root / "dev").iterdir()) == ["ok"]


def test_huge_entries_are_refused_before_writing(stores: tuple[ImageStore, LayerStore]) -> None:
    info, _ = entry("huge")
    info.size = 1 << 50  # a petabyte announced; the tar ends long before
    header = info.tobuf(tarfile.PAX_FORMAT)
    with pytest.raises(LayerRefused, match="does not fit"):
        unpacked(stores, header + b"\0" * 4096)
    assert nothing_left(stores)


def test_truncated_entries_leave_nothing(stores: tuple[ImageStore, LayerStore]) -> None:
    info, _ = entry("short")
    info.size = 10 << 20
    with pytest.raises(RootfsError):
        unpacked(stores, info.tobuf(tarfile.PAX_FORMAT) + b"a" * 5000)
    assert nothing_left(stores)


def test_sparse_entries_are_refused(stores: tuple[ImageStore, LayerStore], tmp_path: Path) -> None:
    sparse = tmp_path / "src" / "sparse"
    sparse.parent.mkdir()
    with sparse.open("wb") as f:
        f.truncate(1 << 30)  # a gigabyte of hole: tar --sparse records only the map
        f.write(b"end")
    out = subprocess.run(["tar", "--sparse", "--format=gnu", "-C", str(sparse.parent), "-cf", "-", "sparse"],
                         capture_output=True, check=True).stdout
    assert len(out) < 1 << 20
    with pytest.raises(LayerRefused, match="sparse"):
        unpacked(stores, out)
    assert nothing_left(stores)
