"""`berth import`: a root filesystem tarball, from a file or a pipe, plain or gzip, becomes a one-layer image
that berth lists, skopeo inspects and umoci unpacks."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.__main__ import main
from cli.config_changes import apply_changes
from cli.environment import Environment
from cli.local_images import BadOption, host_platform
from tests.cli.conftest import BERTH, Berth, Result
from tests.support.skopeo import skopeo

REGISTRY = "127.0.0.1:5000"
SECRET = os.urandom(3 << 20)  # larger than a chunk of the import's stream, and incompressible


@pytest.fixture
def local(tmp_path: Path) -> Berth:
    return Berth(tmp_path / "berth-home", {"BERTH_REGISTRY": REGISTRY})


@pytest.fixture(scope="module")
def rootfs_tar() -> bytes:
    """A small root filesystem: directories, a script, a symlink and a 3 MiB file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("bin", "etc", "srv", "srv/data"):
            tar.addfile(_entry(directory, tarfile.DIRTYPE, mode=0o755))
        for name, data, mode in (("etc/greeting", b"hello from a tarball\n", 0o644),
                                 ("bin/tool", b"#!/bin/sh\necho tool\n", 0o755), ("srv/data/blob", SECRET, 0o600)):
            tar.addfile(_entry(name, tarfile.REGTYPE, size=len(data), mode=mode), io.BytesIO(data))
        link = _entry("bin/link", tarfile.SYMTYPE)
        link.linkname = "tool"
        tar.addfile(link)
    return out.getvalue()


def _entry(name: str, kind: bytes, size: int = 0, mode: int = 0o777) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode, info.mtime = kind, size, mode, 1_700_000_000
    return info


def run_with_stdin(berth: Berth, data: bytes, *args: str) -> Result:
    """berth in-process, with `data` as its binary stdin."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.TextIOWrapper(io.BytesIO(data)), stdout=out, stderr=err, environ=berth.environ)
    return Result(main(list(args), env), out.getvalue(), err.getvalue())


def oci(berth: Berth, name: str) -> str:
    return f"oci:{berth.home / 'images'}:{name}"


def unpack(berth: Berth, name: str, bundle: Path) -> Path:
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{berth.home / 'images'}:{name}", bundle],
                   check=True, capture_output=True)
    return bundle / "rootfs"


def test_import_of_a_gzip_file_with_changes(local, rootfs_tar, tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(gzip.compress(rootfs_tar))
    out = local.ok("import", str(tarball), "ns/imported:1", "-m", "first import",
                   "-c", 'CMD ["/bin/tool", "--serve"]', "-c", 'ENTRYPOINT ["/bin/env"]',
                   "-c", 'ENV A=1 B="two words"', "-c", "WORKDIR /srv", "-c", "WORKDIR data", "-c", "USER 1000:1000",
                   "-c", "EXPOSE 80 53/udp 8000-8001", "-c", 'LABEL org.example.a=b "with space"=yes',
                   "-c", "VOLUME /cache", "-c", "STOPSIGNAL SIGTERM").out
    name = f"{REGISTRY}/ns/imported:1"
    raw_config = skopeo("inspect", "--config", "--raw", oci(local, name)).stdout.encode()
    assert out == f"sha256:{hashlib.sha256(raw_config).hexdigest()}\n"  # the image ID, as docker prints it
    config = json.loads(raw_config)
    os_name, architecture, _ = host_platform()
    assert (config["os"], config["architecture"]) == (os_name, architecture)
    assert config["config"] == {
        "Cmd": ["/bin/tool", "--serve"], "Entrypoint": ["/bin/env"], "Env": ["A=1", "B=two words"],
        "WorkingDir": "/srv/data", "User": "1000:1000",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}},
        "Labels": {"org.example.a": "b", "with space": "yes"}, "Volumes": {"/cache": {}}, "StopSignal": "SIGTERM"}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(rootfs_tar).hexdigest()}"]}
    assert config["history"] == [{"created": config["created"], "comment": "first import"}]
    inspected = json.loads(skopeo("inspect", oci(local, name)).stdout)
    [layer] = inspected["Layers"]
    blob = (local.home / "images" / "blobs" / "sha256" / layer.partition(":")[2]).read_bytes()
    assert blob[:2] == b"\x1f\x8b" and gzip.decompress(blob) == rootfs_tar
    rootfs = unpack(local, name, tmp_path / "bundle")
    assert (rootfs / "etc" / "greeting").read_text() == "hello from a tarball\n"
    assert (rootfs / "srv" / "data" / "blob").read_bytes() == SECRET
    assert os.access(rootfs / "bin" / "tool", os.X_OK) and os.readlink(rootfs / "bin" / "link") == "tool"
    assert local.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out == \
        f"{REGISTRY}/ns/imported:1 {out[7:19]}\n"
    assert local.ok("image", "inspect", "-f", "{{.Comment}} {{.Config.Cmd}}", "ns/imported:1").out == \
        "first import [/bin/tool --serve]\n"


def test_import_of_a_plain_tar_from_stdin_is_an_untagged_image(local, rootfs_tar, tmp_path):
    result = run_with_stdin(local, rootfs_tar, "import", "-")
    assert result.code == 0, result.err
    image_id = result.out.strip()
    row = local.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}} {{.Digest}}").out.split()
    assert row[:3] == ["<none>", "<none>", image_id[7:19]]
    # Untagged, the image is kept under its manifest's digest: skopeo and umoci reach it by that name.
    assert json.loads(skopeo("inspect", "--config", "--raw", oci(local, row[3])).stdout)["rootfs"]["diff_ids"] == \
        [f"sha256:{hashlib.sha256(rootfs_tar).hexdigest()}"]
    assert (unpack(local, row[3], tmp_path / "bundle") / "srv" / "data" / "blob").read_bytes() == SECRET
    inspected = json.loads(local.ok("image", "inspect", image_id).out)[0]
    assert (inspected["RepoTags"], inspected["Comment"]) == ([], "Imported from -")
    assert local.ok("history", "--format", "{{.CreatedBy}}|{{.Comment}}", image_id[7:]).out == "|Imported from -\n"
    assert local.ok("image", "prune", "-f").out.startswith(f"Deleted Images:\ndeleted: {image_id}\n")
    assert local.ok("images", "-q").out == ""


def test_import_from_a_pipe_into_a_real_process(local, rootfs_tar, tmp_path):
    """Two gzip members one after the other (as pigz or `cat a.gz b.gz` make) read as one stream."""
    half = len(rootfs_tar) // 2
    data = gzip.compress(rootfs_tar[:half]) + gzip.compress(rootfs_tar[half:])
    done = subprocess.run([str(BERTH), "import", "-", "ns/piped:1", "--platform", "linux/arm64/v8"], input=data,
                          capture_output=True, env=local.environ, timeout=120)
    assert done.returncode == 0, done.stderr
    config = json.loads(skopeo("inspect", "--config", "--raw", oci(local, f"{REGISTRY}/ns/piped:1")).stdout)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(rootfs_tar).hexdigest()}"]
    assert (config["architecture"], config["variant"]) == ("arm64", "v8")
    assert local.ok("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}/{{.Variant}}", "ns/piped:1").out == \
        "linux/arm64/v8\n"
    assert (unpack(local, f"{REGISTRY}/ns/piped:1", tmp_path / "bundle") / "etc" / "greeting").is_file()


def test_import_streams_and_never_holds_the_tarball(local):
    """384 MiB through a real process whose resident memory stays far below that."""
    size, hasher = 384 << 20, hashlib.sha256()
    process = subprocess.Popen([str(BERTH), "import", "-", "ns/big:1"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=local.environ)
    feeder = threading.Thread(target=_feed, args=(process, _big_tar(size), hasher))
    feeder.start()
    peak = 0
    while process.poll() is None:
        peak = max(peak, _resident_bytes(process.pid))
        time.sleep(0.02)
    feeder.join()
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == 0, err
    assert peak < 150 << 20, f"berth import held {peak >> 20} MiB"
    config = json.loads(skopeo("inspect", "--config", "--raw", oci(local, f"{REGISTRY}/ns/big:1")).stdout)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hasher.hexdigest()}"]
    assert out.decode().startswith("sha256:")


def _big_tar(size: int) -> Iterator[bytes]:
    header = _entry("zeros", tarfile.REGTYPE, size=size, mode=0o644).tobuf(tarfile.USTAR_FORMAT)
    yield header
    chunk = bytes(1 << 20)
    for _ in range(size // len(chunk)):
        yield chunk
    yield bytes(1024)  # end of archive


def _feed(process: subprocess.Popen[bytes], chunks: Iterator[bytes], hasher: hashlib._Hash) -> None:
    assert process.stdin is not None
    for chunk in chunks:
        hasher.update(chunk)
        process.stdin.write(chunk)
    process.stdin.close()


def _resident_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)


@pytest.mark.parametrize(("content", "args", "code", "message"), [
    (b"hello world " * 100, (), 1, "the input is not a tar archive (its first header's checksum does not match)"),
    (b"hi", (), 1, "the input is not a tar archive: it is shorter than one tar header"),
    ("truncated-gzip", (), 1, "the gzip stream ends early (truncated?)"),
    ("bzip2", (), 1, "the tarball is compressed with bzip2: berth imports plain or gzip tarballs"),
    (None, (), 1, "open {file}: no such file or directory"),
    ("tar", ("-c", "FROM busybox"), 2, "FROM is not a valid change command"),
    ("tar", ("-c", "EXPOSE http"), 2, "EXPOSE: invalid port 'http'"),
    ("tar", ("--platform", "arm64"), 2, "invalid platform 'arm64': expected OS/ARCH[/VARIANT], e.g. linux/arm64"),
    ("tar", ("ns/x@sha256:" + "a" * 64,), 6, "refusing to create a tag with a digest reference"),
])
def test_import_errors_leave_nothing_behind(local, rootfs_tar, tmp_path, content, args, code, message):
    import bz2
    file = tmp_path / "input"
    data = {"truncated-gzip": gzip.compress(rootfs_tar)[:-100], "bzip2": bz2.compress(rootfs_tar),
            "tar": rootfs_tar}.get(content, content)  # type: ignore[arg-type]
    if data is not None:
        file.write_bytes(data)
    reference = [a for a in args if a.startswith("ns/")]
    options = [a for a in args if not a.startswith("ns/")]
    result = local.run("import", str(file), *reference, *options)
    assert (result.code, result.out, result.err) == (code, "", f"Error: {message.format(file=file)}\n")
    images = local.home / "images"
    if images.exists():
        assert list((images / "ingest").iterdir()) == [] and list((images / "blobs").rglob("*.*")) == []
        assert json.loads((images / "index.json").read_text())["manifests"] == []


def test_changes_take_docker_s_forms():
    assert apply_changes({}, ["CMD echo hi", "ENTRYPOINT [\"/bin/sh\", \"-c\"]"]) == \
        {"Cmd": ["/bin/sh", "-c", "echo hi"], "Entrypoint": ["/bin/sh", "-c"]}
    assert apply_changes({"Env": ["A=0", "B=1"]}, ["ENV A replaced value", "env C=3"]) == \
        {"Env": ["B=1", "A=replaced value", "C=3"]}
    assert apply_changes({}, ["WORKDIR /a", "WORKDIR b/../c", "VOLUME [\"/x\", \"/y\"]", "ONBUILD RUN make",
                              "LABEL legacy value here"]) == \
        {"WorkingDir": "/a/c", "Volumes": {"/x": {}, "/y": {}}, "OnBuild": ["RUN make"],
         "Labels": {"legacy": "value here"}}
    for bad in ("CMD", "RUN make", "EXPOSE 70000", "LABEL a=1 b", "ENV A=\"unclosed"):
        with pytest.raises(BadOption):
            apply_changes({}, [bad])


def test_import_help(berth):
    result = berth.run_process("import", "--help")
    assert result.code == 0 and result.out.startswith("usage: berth import")
    assert all(flag in result.out for flag in ("--change", "--message", "--platform", "FILE|-"))
