"""Fixtures of the container tests: a berth with its own BERTH_HOME holding the busybox test image (loaded
with `berth load`), and a clean-up that removes every container, mount and runc state a test leaves, even
when it fails. They need root and runc; without them they are skipped, saying which is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Berth, open_registry  # noqa: F401 - a fixture, shared with the CLI tests
from tests.containers.images import derive, oci_archive, tar_of
from tests.support.images import OciImage

BUSYBOX = "127.0.0.1:5000/test/busybox:1"
USERS = "127.0.0.1:5000/test/users:1"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = b"root:x:0:\napp:x:1000:\nextra:x:2000:app\n"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = ("containers need root (mounts, cgroups)" if os.geteuid() != 0 else
              "containers need runc on PATH (apt-get install runc)" if shutil.which("runc") is None else
              "test images need umoci and busybox-static" if shutil.which("umoci") is None else "")
    if reason:
        for item in items:
            if "tests/containers" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def busybox_archive(busybox_layout: OciImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return oci_archive(busybox_layout, BUSYBOX, tmp_path_factory.mktemp("archives") / "busybox.tar")


@pytest.fixture(scope="session")
def users_archive(busybox_layout: OciImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """busybox plus users app (1000) and group extra (2000, app a member), a workdir and an entrypoint-free env."""
    work = tmp_path_factory.mktemp("users-image")
    layer = tar_of({"etc/passwd": PASSWD, "etc/group": GROUP, "home/app/": None})
    image = derive(busybox_layout, work, [layer], {"Env": ["PATH=/bin", "FROM_IMAGE=yes"], "WorkingDir": "/home"})
    return oci_archive(image, USERS, work / "users.tar")


def runc_states(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return subprocess.run(["runc", "--root", str(root), "list", "-q"], capture_output=True, text=True).stdout.split()


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        found = [line.split()[4] for line in f]
    return [m for m in found if m.startswith(str(path) + "/")]


def clean_up(berth: Berth) -> None:
    """Remove what a test left: containers (through berth), then any mount or runc state still there."""
    home = berth.home
    if (home / "containers").is_dir():
        listed = berth.run("ps", "-aq", "--no-trunc").out.split()
        if listed:
            berth.run("rm", "-f", *listed)
    for mount in reversed(mounts_under(home)):
        subprocess.run(["umount", "-l", mount], check=False)
    for state in runc_states(home / "runc"):
        subprocess.run(["runc", "--root", str(home / "runc"), "delete", "--force", state], check=False)


@pytest.fixture
def berth(tmp_path: Path) -> Iterator[Berth]:
    """A berth with an empty BERTH_HOME; everything its containers leave is removed afterwards."""
    found = Berth(tmp_path / "berth-home")
    try:
        yield found
    finally:
        clean_up(found)


@pytest.fixture
def busybox(berth: Berth, busybox_archive: Path) -> str:
    berth.ok("load", "-q", "-i", str(busybox_archive))
    return BUSYBOX


@pytest.fixture
def users(berth: Berth, users_archive: Path) -> str:
    berth.ok("load", "-q", "-i", str(users_archive))
    return USERS
