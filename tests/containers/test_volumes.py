"""Volumes as a docker user meets them: named and anonymous volumes, the image's VOLUME paths, --volumes-from,
`berth volume` (create, ls, inspect, rm, prune), `rm -v` and `run --rm`, and the data-volume-container backup."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Berth
from tests.containers.images import derive, oci_archive, tar_of
from tests.support.images import OciImage

SEEDED = "127.0.0.1:5000/test/seeded:1"


@pytest.fixture
def seeded(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> str:
    """busybox with files in /data and `VOLUME /data` (the files come first, as in a Dockerfile)."""
    layer = tar_of({"data/": None, "data/seed": b"from the image\n", "data/sub/": None, "data/sub/deep": b"deep\n"})
    image = derive(busybox_layout, tmp_path / "seeded", [layer], {"Volumes": {"/data": {}}})
    berth.ok("load", "-q", "-i", str(oci_archive(image, SEEDED, tmp_path / "seeded.tar")))
    return SEEDED


def volume_names(berth: Berth) -> list[str]:
    return berth.ok("volume", "ls", "-q").out.split()


def mounts_of(berth: Berth, container: str) -> dict[str, dict]:
    return {m["Destination"]: m for m in json.loads(berth.ok("inspect", "-f", "{{json .Mounts}}", container).out)}


def test_named_volume_outlives_containers_and_cannot_be_removed_in_use(berth: Berth, busybox: str) -> None:
    assert berth.ok("volume", "create", "data").out == "data\n"
    assert berth.ok("volume", "create", "data").out == "data\n"  # an existing one is left as it is
    berth.ok("run", "--name", "writer", "-v", "data:/data", "-v", "auto:/auto:ro", busybox,
             "sh", "-c", "echo kept > /data/f; touch /auto/x 2>&1; cat /proc/mounts | grep -c ' /data '")
    listing = berth.ok("volume", "ls").out.splitlines()
    assert listing[0].split() == ["DRIVER", "VOLUME", "NAME"] and listing[0].index("VOLUME") == 10
    assert [line.split() for line in listing[1:]] == [["local", "auto"], ["local", "data"]]  # auto: made on use
    [inspected] = json.loads(berth.ok("volume", "inspect", "data").out)
    assert {k: inspected[k] for k in ("Driver", "Name", "Scope", "Options")} == {
        "Driver": "local", "Name": "data", "Scope": "local", "Options": None}
    assert inspected["Mountpoint"] == str(berth.home / "volumes" / "data" / "_data")
    assert inspected["CreatedAt"].endswith("Z") and (berth.home / "volumes/data/_data/f").read_text() == "kept\n"
    mounts = mounts_of(berth, "writer")
    assert mounts["/data"] | {"Source": ""} == {"Type": "volume", "Name": "data", "Source": "", "Destination": "/data",
                                               "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}
    assert (mounts["/auto"]["RW"], mounts["/auto"]["Mode"]) == (False, "ro")
    assert berth.ok("ps", "-a", "--format", "{{.Mounts}}").out == "data,auto\n"
    assert berth.ok("inspect", "-f", "{{json .HostConfig.Binds}}", "writer").out.strip() == \
        '["data:/data","auto:/auto:ro"]'
    read = berth.run("run", "--rm", "-v", "data:/data:ro", busybox, "sh", "-c", "cat /data/f; echo x > /data/g")
    assert read.out == "kept\n" and "Read-only file system" in read.err
    writer_id = berth.ok("inspect", "-f", "{{.Id}}", "writer").out.strip()
    in_use = berth.run("volume", "rm", "data")
    assert (in_use.code, in_use.err) == (1, f"Error response from daemon: remove data: volume is in use - "
                                            f"[{writer_id}]\n")
    berth.ok("rm", "-v", "writer")  # -v leaves named volumes alone
    assert volume_names(berth) == ["auto", "data"]
    assert berth.ok("volume", "rm", "data", "auto").out == "data\nauto\n"
    missing = berth.run("volume", "rm", "data")
    assert (missing.code, missing.err) == (1, "Error response from daemon: get data: no such volume\n")
    assert berth.run("volume", "rm", "-f", "data").code == 0
    gone = berth.run("volume", "inspect", "data")
    assert (gone.code, gone.out, gone.err) == (1, "[]\n", "Error: No such volume: data\n")


def test_image_volume_gets_the_image_files_and_anonymous_volumes_go_with_rm_v(berth: Berth, seeded: str) -> None:
    out = berth.ok("run", "--name", "first", "-v", "/scratch", seeded,
                   "sh", "-c", "cat /data/seed /data/sub/deep; echo new > /data/added; echo s > /scratch/s").out
    assert out == "from the image\ndeep\n"
    mounts = mounts_of(berth, "first")
    assert sorted(mounts) == ["/data", "/scratch"]
    assert all(m["Type"] == "volume" and len(m["Name"]) == 64 and m["Mode"] == "" for m in mounts.values())
    assert sorted(volume_names(berth)) == sorted(m["Name"] for m in mounts.values())
    labels = json.loads(berth.ok("volume", "inspect", mounts["/data"]["Name"]).out)[0]["Labels"]
    assert labels == {"com.docker.volume.anonymous": ""}
    again = berth.run("start", "-a", "first")  # the same volume again: the container's own change is there
    assert again.out == "from the image\ndeep\n" and (Path(mounts["/data"]["Source"]) / "added").read_text() == "new\n"
    # a bind on the image's VOLUME path replaces the anonymous volume
    berth.ok("run", "--rm", "-v", "named:/data", seeded, "true")
    assert berth.ok("run", "--rm", "-v", "named:/data", seeded, "ls", "/data").out == "seed\nsub\n"  # named: copied too
    berth.ok("rm", "-v", "first")
    assert volume_names(berth) == ["named"]
    berth.ok("run", "--rm", seeded, "true")  # --rm takes its anonymous /data volume along
    assert volume_names(berth) == ["named"]


def test_prune_removes_unused_anonymous_volumes(berth: Berth, busybox: str) -> None:
    berth.ok("volume", "create", "keep")
    berth.ok("run", "--name", "holder", "-v", "/held", busybox, "true")
    berth.ok("run", "--name", "dropped", "-v", "/dropped", busybox, "true")
    dropped = mounts_of(berth, "dropped")["/dropped"]["Name"]
    held = mounts_of(berth, "holder")["/held"]["Name"]
    berth.ok("rm", "dropped")  # without -v: its volume stays, unused
    assert berth.ok("volume", "prune", stdin="n\n").out.endswith("[y/N] ")  # asked, and declined
    assert dropped in volume_names(berth)
    assert berth.ok("volume", "prune", "-f").out == f"Deleted Volumes:\n{dropped}\n\nTotal reclaimed space: 0B\n"
    assert sorted(volume_names(berth)) == sorted([held, "keep"])
    berth.ok("volume", "prune", "-af")
    assert volume_names(berth) == [held]


def test_bad_volume_flags_exit_125_and_a_file_can_be_bound(berth: Berth, busybox: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a bound file\n")
    bound = berth.ok("run", "--rm", "-v", f"{tmp_path}/file:/etc/bound:ro", busybox, "cat", "/etc/bound")
    assert bound.out == "a bound file\n"
    for flags, message in [(["-v", "data"], "mount path must be absolute"),
                           (["-v", "/a:/b:rx"], "invalid mode: rx"),
                           (["-v", "./rel:/b"], "includes invalid characters for a local volume name"),
                           (["-v", "a:/x", "-v", "b:/x"], "Duplicate mount point: /x"),
                           (["--volumes-from", "nobody"], "No such container: nobody")]:
        result = berth.run("run", "--rm", *flags, busybox, "true")
        assert result.code == 125 and message in result.err, (flags, result)
    assert volume_names(berth) == []


def test_backup_and_restore_through_a_data_volume_container(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """docker's documented recipe: a data volume container, a backup through --volumes-from, a restore."""
    berth.ok("create", "-v", "/dbdata", "--name", "dbstore", busybox)
    berth.ok("run", "--rm", "--volumes-from", "dbstore", busybox,
             "sh", "-c", "mkdir /dbdata/db && echo precious > /dbdata/db/table && echo top > /dbdata/top")
    listed = berth.ok("run", "--rm", "--volumes-from", "dbstore", "-v", f"{tmp_path}:/backup", busybox,
                      "busybox", "tar", "cvf", "/backup/backup.tar", "/dbdata").out  # the image links no tar
    assert "dbdata/db/table" in listed and (tmp_path / "backup.tar").stat().st_size > 0
    assert len(volume_names(berth)) == 1  # the --rm containers did not take dbstore's volume along
    berth.ok("run", "-v", "/dbdata", "--name", "dbstore2", busybox, "true")
    berth.ok("run", "--rm", "--volumes-from", "dbstore2", "-v", f"{tmp_path}:/backup", busybox,
             "sh", "-c", "cd /dbdata && busybox tar xvf /backup/backup.tar --strip 1")
    restored = berth.run("run", "--rm", "--volumes-from", "dbstore2:ro", busybox,
                        "sh", "-c", "cat /dbdata/db/table /dbdata/top; touch /dbdata/x")
    assert restored.out == "precious\ntop\n" and "Read-only file system" in restored.err
    assert mounts_of(berth, "dbstore2")["/dbdata"]["Name"] != mounts_of(berth, "dbstore")["/dbdata"]["Name"]
    started = time.monotonic()
    berth.ok("rm", "-v", "dbstore", "dbstore2")
    assert volume_names(berth) == [] and time.monotonic() - started < 10


def test_volume_cp_and_export_have_help(berth: Berth) -> None:
    for command in (["volume"], ["volume", "create"], ["volume", "ls"], ["volume", "inspect"], ["volume", "rm"],
                    ["volume", "prune"], ["cp"], ["export"]):
        result = berth.run_process(*command, "--help")
        assert result.code == 0 and "usage: berth" in result.out, command
