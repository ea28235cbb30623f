"""Upper directories to layers: overlayfs' whiteouts and opaque directories become the image spec's, what a
layer may carry survives (owners, modes, setuid, capabilities, links), and a layer made so unpacks back."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from runtime.rootfs import RootfsError
from runtime.rootfs.diff import write_diff
from runtime.rootfs.unpack import unpack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted xattrs need root")

CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")


def upper_directory(root: Path) -> Path:
    """What overlayfs leaves after a container deleted /etc/gone, replaced /var/cache and wrote some files."""
    upper = root / "upper"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))  # a whiteout
    (upper / "var" / "cache").mkdir(parents=True)
    os.setxattr(upper / "var" / "cache", "trusted.overlay.opaque", b"y")
    (upper / "var" / "cache" / "new").write_text("fresh")
    tool = upper / "usr" / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_bytes(b"\x7fELF")
    os.chown(tool, 1000, 2000)
    os.chmod(tool, 0o4755)
    os.setxattr(tool, "security.capability", CAP_NET_RAW)
    os.setxattr(tool, "trusted.overlay.origin", b"overlay's own")  # not the image's
    os.link(tool, upper / "usr" / "bin" / "alias")
    os.symlink("tool", upper / "usr" / "bin" / "link")
    for mount_point in ("proc", "sys", "dev"):
        (upper / mount_point).mkdir()
    (upper / "etc" / "hostname").write_text("")
    return upper


def test_whiteouts_links_and_metadata(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_diff(upper_directory(tmp_path), out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["etc", "etc/.wh.gone", "usr", "usr/bin", "usr/bin/alias", "usr/bin/link",
                             "usr/bin/tool", "var", "var/cache", "var/cache/.wh..wh..opq", "var/cache/new"]
    assert members["etc/.wh.gone"].isfile() and members["etc/.wh.gone"].size == 0
    alias, tool = members["usr/bin/alias"], members["usr/bin/tool"]
    assert (alias.uid, alias.gid, alias.mode) == (1000, 2000, 0o4755) and alias.isfile()
    assert tool.islnk() and tool.linkname == "usr/bin/alias"  # the first name written carries the data
    assert alias.pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == CAP_NET_RAW
    assert not any("trusted" in key for m in members.values() for key in m.pax_headers)
    assert members["usr/bin/link"].issym() and members["usr/bin/link"].linkname == "tool"


def test_a_layer_made_from_an_upper_directory_unpacks_back(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_diff(upper_directory(tmp_path), out)
    out.seek(0)
    target = tmp_path / "layer"
    target.mkdir()
    unpack(out, target)
    gone = (target / "etc" / "gone").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0  # a whiteout again, as overlayfs reads them
    assert os.getxattr(target / "var" / "cache", "trusted.overlay.opaque") == b"y"
    tool = (target / "usr" / "bin" / "tool").stat()
    assert (tool.st_uid, tool.st_gid, stat.S_IMODE(tool.st_mode), tool.st_nlink) == (1000, 2000, 0o4755, 2)
    assert os.getxattr(target / "usr" / "bin" / "tool", "security.capability") == CAP_NET_RAW


def test_a_missing_upper_directory_is_an_empty_layer(tmp_path: Path) -> None:
    out = io.BytesIO()
    write_diff(tmp_path / "never-started", out)
    assert out.getvalue() == bytes(10240)  # tar's end-of-archive blocks, padded to a record


def test_overlay_redirects_are_refused_not_misread(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "renamed").mkdir(parents=True)
    os.setxattr(upper / "renamed", "trusted.overlay.redirect", b"/original")
    with pytest.raises(RootfsError, match="redirect"):
        write_diff(upper, io.BytesIO())
