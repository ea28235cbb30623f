"""A container's files from outside: `berth cp` both ways (docker's rules for where things land, tar streams,
symlinks that must not lead out), `berth export` and `berth import` back, and `rmi` keeping a used image."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path

from tests.cli.conftest import BERTH, Berth

MAKE_FILES = ("mkdir -p /srv/dir/sub && echo a > /srv/dir/a && echo b > /srv/dir/sub/b && echo f > /srv/file && "
              "echo container > /etc/marker && ln -s / /rootlink && ln -s ../../../../../.. /up && "
              "mkdir /d && ln -s /etc /d/etclink")


def berth_bytes(berth: Berth, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BERTH), *args], input=stdin, capture_output=True, env=berth.environ, timeout=60)


def test_cp_out_of_a_stopped_container_by_dockers_rules(berth: Berth, busybox: str, tmp_path: Path) -> None:
    berth.ok("run", "--name", "box", busybox, "sh", "-c", MAKE_FILES)
    host = tmp_path / "host"
    (host / "existing").mkdir(parents=True)
    (host / "afile").write_text("x")
    berth.ok("cp", "box:/srv/file", str(host / "renamed"))  # a file to a new name
    berth.ok("cp", "box:srv/file", str(host / "existing"))  # into a directory; relative to the container's /
    berth.ok("cp", "box:/srv/dir", str(host / "newdir"))  # a directory to a new name: created
    berth.ok("cp", "box:/srv/dir", str(host / "existing"))  # into a directory: under its own name
    berth.ok("cp", "box:/srv/dir/.", str(host / "afile-free"))  # /. and a new name: the contents
    (host / "contents").mkdir()
    berth.ok("cp", "box:/srv/dir/.", str(host / "contents"))  # /. into a directory: the contents only
    assert (host / "renamed").read_text() == "f\n" and (host / "existing/file").read_text() == "f\n"
    for copied in (host / "newdir", host / "existing/dir", host / "afile-free", host / "contents"):
        assert sorted(str(p.relative_to(copied)) for p in copied.rglob("*")) == ["a", "sub", "sub/b"], copied
    assert not list((berth.home / "containers").glob("*/rootfs/bin"))  # mounted for the copy, unmounted after
    refused = [(["box:/srv/file", f"{host}/missing/"], "destination directory"),
               (["box:/srv/dir", str(host / "afile")], "cannot copy a directory to a file"),
               (["box:/srv/file/", str(host)], "not a directory"),
               (["box:/nope", str(host)], "Could not find the file /nope in container box"),
               (["nobody:/x", str(host)], "No such container:path: nobody:/x"),
               ([str(host), str(host)], "must specify at least one container source")]
    for args, message in refused:
        result = berth.run("cp", *args)
        assert result.code == 1 and message in result.err and result.err.count("\n") == 1, (args, result)


def test_cp_into_a_running_container_and_symlinks_stay_inside(berth: Berth, busybox: str, tmp_path: Path) -> None:
    escape = f"berth-escape-{os.getpid()}-{time.monotonic_ns()}"
    berth.ok("run", "-d", "--name", "live", busybox, "sh", "-c",
             MAKE_FILES + "; while [ ! -f /srv/go ]; do sleep 0.05; done; cat /srv/go /srv/in/x")
    time.sleep(0.3)  # the container made its files
    (tmp_path / "in").mkdir()
    (tmp_path / "in/x").write_text("copied in\n")
    (tmp_path / "go").write_text("go\n")
    berth.ok("cp", str(tmp_path / "in"), "live:/srv/")
    berth.ok("cp", str(tmp_path / "go"), "live:/srv/go")
    berth.ok("wait", "live")
    assert berth.ok("logs", "live").out == "go\ncopied in\n"
    # symlinks mean what they mean inside: / is the container's root, and .. cannot climb above it
    berth.ok("cp", "live:/up/etc/marker", str(tmp_path / "marker"))
    assert (tmp_path / "marker").read_text() == "container\n"
    berth.ok("cp", "live:/etc/hostname", str(tmp_path / "hostname"))  # bound by berth, not in the rootfs
    assert (tmp_path / "hostname").read_text() == berth.ok("inspect", "-f", "{{.Id}}", "live").out[:12] + "\n"
    berth.ok("cp", str(tmp_path / "go"), f"live:/rootlink/tmp/{escape}")
    berth.ok("cp", str(tmp_path / "go"), f"live:/up/tmp/{escape}-up")
    assert not Path(f"/tmp/{escape}").exists() and not Path(f"/tmp/{escape}-up").exists()
    berth.ok("cp", f"live:/tmp/{escape}-up", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "go\n"
    berth.ok("cp", "live:/rootlink", str(tmp_path / "link"))  # a link itself, not followed
    assert os.readlink(tmp_path / "link") == "/"
    (tmp_path / "payload/etclink").mkdir(parents=True)
    (tmp_path / "payload/etclink/evil").write_text("evil\n")
    berth.ok("cp", f"{tmp_path}/payload/.", "live:/d")  # /d/etclink -> /etc is replaced, not written through
    assert berth.run("cp", "live:/etc/evil", str(tmp_path / "evil")).code == 1
    assert berth.ok("cp", "live:/d/etclink/evil", str(tmp_path / "evil")).code == 0
    assert not (tmp_path / "evil").is_symlink() and not Path("/etc/evil").exists()


def test_cp_tar_streams_and_volumes(berth: Berth, busybox: str, tmp_path: Path) -> None:
    berth.ok("run", "--name", "vol", "-v", "data:/data", busybox, "sh", "-c", "echo in volume > /data/v; "
             "mkdir -p /srv/dir && echo a > /srv/dir/a")
    out = berth_bytes(berth, "cp", "vol:/srv/dir", "-")
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        assert sorted(tar.getnames()) == ["dir", "dir/a"]
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tar:
        info = tarfile.TarInfo("streamed")
        info.size = 9
        tar.addfile(info, io.BytesIO(b"streamed\n"))
    assert berth_bytes(berth, "cp", "-", "vol:/data", stdin=stream.getvalue()).returncode == 0
    assert (berth.home / "volumes/data/_data/streamed").read_text() == "streamed\n"  # into the volume
    berth.ok("cp", "vol:/data/v", str(tmp_path / "v"))  # out of the volume
    assert (tmp_path / "v").read_text() == "in volume\n"
    berth.ok("cp", "vol:/", str(tmp_path / "whole"))  # the volume within the whole tree
    assert (tmp_path / "whole/data/v").read_text() == "in volume\n" and (tmp_path / "whole/bin/busybox").is_file()
    not_dir = berth_bytes(berth, "cp", "-", "vol:/srv/dir/a", stdin=stream.getvalue())
    assert not_dir.returncode == 1 and b"must be a directory" in not_dir.stderr
    berth.ok("run", "--name", "ro", "--read-only", "-v", "data:/data:ro", "-v", "/rw", busybox, "true")
    assert berth.run("cp", str(tmp_path / "v"), "ro:/data/").err == \
        "Error response from daemon: mounted volume is marked read-only\n"
    assert "container rootfs is marked read-only" in berth.run("cp", str(tmp_path / "v"), "ro:/etc/").err
    berth.ok("cp", str(tmp_path / "v"), "ro:/rw/")  # a writable volume on a read-only root


def test_export_then_import_gives_a_runnable_image(berth: Berth, busybox: str, tmp_path: Path) -> None:
    berth.ok("run", "--name", "ex", "-v", "/vol", busybox, "sh", "-c",
             "echo exported > /etc/mark; rm /bin/true; echo hidden > /vol/in-volume")
    berth.ok("export", "-o", str(tmp_path / "ex.tar"), "ex")
    with tarfile.open(tmp_path / "ex.tar") as tar:
        names = set(tar.getnames())
    assert {"etc/mark", "bin/busybox", "bin/sh", "vol"} <= names
    assert "bin/true" not in names and "vol/in-volume" not in names  # deleted; and volumes are not exported
    streamed = berth_bytes(berth, "export", "ex")
    assert streamed.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as tar:
        assert set(tar.getnames()) == names
    berth.ok("import", str(tmp_path / "ex.tar"), "127.0.0.1:5000/test/exported:1")
    assert berth.ok("run", "--rm", "127.0.0.1:5000/test/exported:1", "cat", "/etc/mark").out == "exported\n"
    assert berth.run("export", "nobody").code == 1


def test_rmi_keeps_an_image_a_container_uses(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "user", busybox, "true")
    short_id = berth.ok("inspect", "-f", "{{.Image}}", "user").out.strip().partition(":")[2][:12]
    container_id = berth.ok("inspect", "-f", "{{.Id}}", "user").out.strip()[:12]
    refused = berth.run("rmi", busybox)
    assert (refused.code, refused.err) == (1, f'Error: conflict: unable to remove repository reference "{busybox}" '
                                              f"(must force) - container {container_id} is using its referenced "
                                              f"image {short_id}\n")
    by_id = berth.run("rmi", short_id)
    assert by_id.code == 1 and f"image is being used by stopped container {container_id}" in by_id.err
    berth.ok("tag", busybox, "127.0.0.1:5000/test/other:1")
    other = berth.ok("rmi", "127.0.0.1:5000/test/other:1")  # not the last name: untagged
    assert other.out == "Untagged: 127.0.0.1:5000/test/other:1\n"
    forced = berth.ok("rmi", "-f", busybox)
    assert forced.out.startswith(f"Untagged: {busybox}\n")
    assert berth.ok("start", "-a", "user").code == 0  # its layers are its own
