"""`berth save` and `berth load`: Docker's archive both ways with the real Docker engine (20.10), OCI archives
with skopeo, hostile archives refused whole, and memory that stays bounded while 200 MB stream through."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pty
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import BERTH, Berth
from tests.support.commands import run
from tests.support.docker_engine import DockerEngine, load_image
from tests.support.images import ImageCache, OciImage

APP = "127.0.0.1:5000/ns/app:1"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEMORY_BOUND = 100 << 20


# -- helpers -------------------------------------------------------------------------------------------


def put(berth: Berth, image: OciImage, name: str) -> None:
    """Copy a test image into berth's store under `name`, as skopeo writes an OCI layout."""
    (berth.home / "images").mkdir(parents=True, exist_ok=True)
    run(["skopeo", "copy", "--quiet", image.ref, f"oci:{berth.home}/images:{name}"])


def store_index(berth: Berth) -> dict[str, Any]:
    return dict(json.loads((berth.home / "images" / "index.json").read_text()))


def store_names(berth: Berth) -> dict[str, str]:
    """name -> manifest digest of every named reference in berth's store."""
    return {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
            for m in store_index(berth)["manifests"] if "org.opencontainers.image.ref.name" in m.get("annotations", {})}


def store_json(berth: Berth, digest: str) -> dict[str, Any]:
    return dict(json.loads((berth.home / "images" / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_text()))


def store_manifest(berth: Berth, name: str) -> dict[str, Any]:
    return store_json(berth, store_names(berth)[name])


def docker_id(engine: DockerEngine, name: str) -> str:
    return engine.docker("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()


def docker_layers(engine: DockerEngine, name: str) -> list[str]:
    return list(json.loads(engine.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", name).stdout))


def skopeo_inspect(ref: str) -> dict[str, Any]:
    return dict(json.loads(run(["skopeo", "inspect", ref]).stdout))


def members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def read_member(archive: Path, name: str) -> Any:
    with tarfile.open(archive) as tar:
        found = tar.extractfile(name)
        assert found is not None
        return json.loads(found.read())


def one_error_line(err: str) -> str:
    assert err.startswith("Error: ") and err.endswith("\n") and err.count("\n") == 1, repr(err)
    return err


# Linux keeps a process's peak memory across exec, so a child forked from pytest (100 MB) would report at
# least pytest's size: berth is started from a small Python process that reports its peak (wait4's rusage).
PEAK_REPORTER = """import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(berth: Berth, *args: str, stdin: Any = subprocess.DEVNULL, stdout: Any = None,
             stderr_path: Path) -> subprocess.Popen[bytes]:
    """Start the berth console script; `finish` waits for it and returns its peak memory."""
    with stderr_path.open("wb") as err:
        return subprocess.Popen([sys.executable, "-c", PEAK_REPORTER, str(stderr_path.with_suffix(".peak")),
                                 str(BERTH), *args], stdin=stdin, stdout=stdout or subprocess.DEVNULL, stderr=err,
                                env=berth.environ)


def finish(process: subprocess.Popen[bytes], stderr_path: Path) -> int:
    """Wait for berth and return its peak resident set in bytes."""
    assert process.wait(600) == 0, f"{process.args[4:]} exited {process.returncode}: {stderr_path.read_text()}"
    return int(stderr_path.with_suffix(".peak").read_text())


# -- berth save -> docker load ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_docker_loads_what_berth_saves_and_runs_it(berth: Berth, docker_engine: DockerEngine,
                                                   multi_layer_layout: OciImage, busybox_layout: OciImage,
                                                   tmp_path: Path) -> None:
    put(berth, multi_layer_layout, APP)
    put(berth, busybox_layout, "docker.io/library/bbx-save:latest")
    archive = tmp_path / "saved.tar"
    assert berth.ok("save", "-o", str(archive), APP, "bbx-save").out == ""

    loaded = docker_engine.docker("load", "-i", str(archive)).stdout
    assert loaded.splitlines() == [f"Loaded image: {APP}", "Loaded image: bbx-save:latest"]
    assert docker_engine.docker("run", "--rm", "--network", "none", APP, "echo", "hi").stdout == "hi\n"
    assert docker_id(docker_engine, APP) == multi_layer_layout.config_digest
    assert docker_id(docker_engine, "bbx-save:latest") == busybox_layout.config_digest
    config = json.loads(multi_layer_layout.blob(multi_layer_layout.config_digest))
    assert docker_layers(docker_engine, APP) == config["rootfs"]["diff_ids"]
    # The store's gzip layers went in as they are: Docker 20.10 decompresses layer files itself.
    assert f"blobs/sha256/{multi_layer_layout.layer_digests[0].removeprefix('sha256:')}" in members(archive)
    docker_engine.docker("rmi", APP, "bbx-save:latest")

    # The same archive is an OCI layout, named as Docker 25 names them (the tag as the OCI ref name).
    assert skopeo_inspect(f"oci-archive:{archive}:1")["Digest"] == multi_layer_layout.digest
    assert skopeo_inspect(f"oci-archive:{archive}:latest")["Digest"] == busybox_layout.digest
    assert read_member(archive, "manifest.json")[1]["RepoTags"] == ["bbx-save:latest"]


@pytest.mark.e2e
def test_berth_loads_what_docker_saves_and_gives_it_back(berth: Berth, docker_engine: DockerEngine,
                                                         busybox_layout: OciImage, multi_layer_layout: OciImage,
                                                         tmp_path: Path) -> None:
    names = {"127.0.0.1:5000/ns/loaded:1": "127.0.0.1:5000/ns/loaded:1",
             "busybox-berth:latest": "docker.io/library/busybox-berth:latest",
             "berth-load/base:1": "docker.io/berth-load/base:1"}
    load_image(docker_engine, multi_layer_layout.ref, "127.0.0.1:5000/ns/loaded:1")
    load_image(docker_engine, busybox_layout.ref, "berth-load/base:1")
    docker_engine.docker("tag", "berth-load/base:1", "busybox-berth:latest")
    ids = {name: docker_id(docker_engine, name) for name in names}
    archive = tmp_path / "docker-saved.tar"
    docker_engine.docker("save", "-o", str(archive), *names)
    # Docker 20.10's own form: <v1 id>/layer.tar, uncompressed, and a symlink for the layer both images share.
    assert any(m.issym() and name.endswith("/layer.tar") for name, m in members(archive).items())
    assert "index.json" not in members(archive)

    result = berth.ok("load", "-i", str(archive))
    assert sorted(result.out.splitlines()) == sorted(f"Loaded image: {name}" for name in names.values())
    for docker_name, name in names.items():
        manifest = store_manifest(berth, name)
        assert manifest["config"]["digest"] == ids[docker_name]
        diff_ids = store_json(berth, ids[docker_name])["rootfs"]["diff_ids"]
        assert [layer["digest"] for layer in manifest["layers"]] == diff_ids
        assert {layer["mediaType"] for layer in manifest["layers"]} == {OCI_LAYER}
        inspected = skopeo_inspect(f"oci:{berth.home}/images:{name}")
        assert inspected["Digest"] == store_names(berth)[name] and inspected["Layers"] == diff_ids

    # ... and back into a Docker that has forgotten them.
    docker_engine.docker("rmi", *names)
    again = tmp_path / "again.tar"
    berth.ok("save", "-o", str(again), *names.values())
    loaded = docker_engine.docker("load", "-i", str(again)).stdout
    assert sorted(loaded.splitlines()) == sorted(f"Loaded image: {name}" for name in names)
    assert {name: docker_id(docker_engine, name) for name in names} == ids
    out = docker_engine.docker("run", "--rm", "--network", "none", "127.0.0.1:5000/ns/loaded:1", "echo", "hi").stdout
    assert out == "hi\n"
    docker_engine.docker("rmi", *names)

    # `docker save | gzip` is read too, as `docker load` reads it.
    compressed = tmp_path / "docker-saved.tar.gz"
    with archive.open("rb") as source, gzip.open(compressed, "wb") as target:
        target.write(source.read())
    other = Berth(tmp_path / "other-home")
    assert "Loaded image: 127.0.0.1:5000/ns/loaded:1" in other.ok("load", "-i", str(compressed)).out
    assert store_names(other) == store_names(berth)


def test_short_names_follow_docker_or_the_default_registry(berth: Berth, busybox_layout: OciImage,
                                                           tmp_path: Path) -> None:
    put(berth, busybox_layout, "docker.io/library/tiny:latest")
    put(berth, busybox_layout, "docker.io/someone/tiny:2")
    archive = tmp_path / "short.tar"
    berth.ok("save", "-o", str(archive), "tiny", "someone/tiny:2")
    assert read_member(archive, "manifest.json")[0]["RepoTags"] == ["tiny:latest", "someone/tiny:2"]
    assert read_member(archive, "repositories") == {
        "tiny": {"latest": busybox_layout.layer_digests[-1].removeprefix("sha256:")},
        "someone/tiny": {"2": busybox_layout.layer_digests[-1].removeprefix("sha256:")}}
    entry = read_member(archive, "index.json")["manifests"][0]
    assert entry["annotations"] == {"io.containerd.image.name": "docker.io/library/tiny:latest",
                                    "org.opencontainers.image.ref.name": "latest"}

    plain = Berth(tmp_path / "plain")
    assert plain.ok("load", "-i", str(archive)).out.splitlines() == [
        "Loaded image: docker.io/library/tiny:latest", "Loaded image: docker.io/someone/tiny:2"]
    with_default = Berth(tmp_path / "with-default", {"BERTH_REGISTRY": "127.0.0.1:5000"})
    assert with_default.ok("load", "-i", str(archive)).out.splitlines() == [
        "Loaded image: 127.0.0.1:5000/tiny:latest", "Loaded image: 127.0.0.1:5000/someone/tiny:2"]
    # berth's own archive loads with the very manifest it saved (it reads the OCI side).
    assert set(store_names(plain).values()) == set(store_names(with_default).values()) == {busybox_layout.digest}
    # Without a default registry, the other commands take those short names as docker does (docker.io).
    image_id = plain.ok("image", "inspect", "-f", "{{.Id}}", "tiny").out.strip()
    assert image_id == plain.ok("image", "inspect", "-f", "{{.Id}}", "someone/tiny:2").out.strip()
    plain.ok("tag", "tiny", "docker.io/library/tiny:again")
    assert plain.ok("history", "-q", "tiny:again").out.strip()
    plain.ok("rmi", "tiny", "tiny:again")
    assert plain.run("image", "inspect", "tiny").code != 0
    missing = plain.run("image", "inspect", "nosuch/thing")
    assert missing.code != 0 and "No such image: nosuch/thing" in missing.err, missing


# -- OCI archives ---------------------------------------------------------------------------------------


def test_oci_archive_both_ways_with_skopeo(berth: Berth, multi_layer_layout: OciImage, tmp_path: Path) -> None:
    put(berth, multi_layer_layout, APP)
    archive = tmp_path / "app.oci.tar"
    berth.ok("save", "--format", "oci-archive", "-o", str(archive), APP)
    assert "manifest.json" not in members(archive)
    assert skopeo_inspect(f"oci-archive:{archive}:{APP}")["Digest"] == multi_layer_layout.digest
    run(["skopeo", "copy", "--quiet", f"oci-archive:{archive}:{APP}", f"oci:{tmp_path / 'copied'}:x"])

    named = tmp_path / "named.tar"
    run(["skopeo", "copy", "--quiet", multi_layer_layout.ref, f"oci-archive:{named}:127.0.0.1:5000/ns/skopeo:7"])
    other = Berth(tmp_path / "other")
    assert other.ok("load", "-i", str(named)).out == "Loaded image: 127.0.0.1:5000/ns/skopeo:7\n"
    assert store_names(other) == {"127.0.0.1:5000/ns/skopeo:7": multi_layer_layout.digest}

    unnamed = tmp_path / "unnamed.tar"
    run(["skopeo", "copy", "--quiet", multi_layer_layout.ref, f"oci-archive:{unnamed}"])
    for _ in range(2):
        result = other.ok("load", "-q", "-i", str(unnamed))
        assert result.out == f"Loaded image ID: {multi_layer_layout.config_digest}\n"
    # A named image needs no <none> entry; in a store without one, it is kept under its bare digest, once.
    assert store_names(other) == {"127.0.0.1:5000/ns/skopeo:7": multi_layer_layout.digest}
    third = Berth(tmp_path / "third")
    third.ok("load", "-i", str(unnamed))
    third.ok("load", "-i", str(unnamed))
    assert store_names(third) == {multi_layer_layout.digest: multi_layer_layout.digest}
    assert third.ok("load", "-i", str(named)).out == "Loaded image: 127.0.0.1:5000/ns/skopeo:7\n"
    assert store_names(third) == {"127.0.0.1:5000/ns/skopeo:7": multi_layer_layout.digest}


def test_an_index_loads_whole_and_saves_as_this_platforms_image(berth: Berth, multi_arch_layout: OciImage,
                                                                tmp_path: Path) -> None:
    archive = tmp_path / "multi.tar"
    run(["skopeo", "copy", "--quiet", "--all", multi_arch_layout.ref,
         f"oci-archive:{archive}:127.0.0.1:5000/ns/multi:1"])
    berth.ok("load", "-i", str(archive))
    assert store_names(berth) == {"127.0.0.1:5000/ns/multi:1": multi_arch_layout.digest}
    amd64 = next(m for m in multi_arch_layout.manifest["manifests"] if m["platform"]["architecture"] == "amd64")
    arm64 = next(m for m in multi_arch_layout.manifest["manifests"] if m["platform"]["architecture"] == "arm64")
    assert skopeo_inspect(f"oci:{berth.home}/images:127.0.0.1:5000/ns/multi:1")["Digest"] == multi_arch_layout.digest
    assert (berth.home / "images" / "blobs" / "sha256" / arm64["digest"].removeprefix("sha256:")).is_file()

    saved = tmp_path / "saved.tar"
    berth.ok("save", "-o", str(saved), "127.0.0.1:5000/ns/multi:1")
    assert read_member(saved, "index.json")["manifests"][0]["digest"] == amd64["digest"]
    config = store_json(berth, amd64["digest"])["config"]["digest"]
    # By image id, as docker does: no name in the archive, and "Loaded image ID" when it is loaded.
    by_id = tmp_path / "by-id.tar"
    berth.ok("save", "-o", str(by_id), config.removeprefix("sha256:")[:12])
    assert read_member(by_id, "manifest.json")[0]["RepoTags"] == []
    assert Berth(tmp_path / "other").ok("load", "-i", str(by_id)).out == f"Loaded image ID: {config}\n"


# -- stdin, stdout, terminals, and what is not there -------------------------------------------------


def test_save_to_stdout_load_from_stdin(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    put(berth, busybox_layout, APP)
    other = Berth(tmp_path / "other")
    saver = measured(berth, "save", APP, stdout=subprocess.PIPE, stderr_path=tmp_path / "save.err")
    loader = measured(other, "load", stdin=saver.stdout, stdout=subprocess.PIPE, stderr_path=tmp_path / "load.err")
    assert saver.stdout is not None and loader.stdout is not None
    saver.stdout.close()
    output = loader.stdout.read()
    finish(saver, tmp_path / "save.err")
    finish(loader, tmp_path / "load.err")
    assert output == f"Loaded image: {APP}\n".encode()
    assert store_names(other) == {APP: busybox_layout.digest}


def test_save_refuses_a_terminal(berth: Berth, busybox_layout: OciImage) -> None:
    put(berth, busybox_layout, APP)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([str(BERTH), "save", APP], stdout=terminal, stderr=subprocess.PIPE, env=berth.environ,
                              timeout=60, check=False)
        os.set_blocking(controller, False)
        with pytest.raises(BlockingIOError):
            os.read(controller, 1024)  # nothing at all was written to the terminal
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 1
    assert done.stderr == b"Error: Cowardly refusing to save to a terminal. Use the -o flag or redirect.\n"


def test_save_of_an_image_not_in_the_store(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    put(berth, busybox_layout, APP)
    target = tmp_path / "never.tar"
    result = berth.run("save", "-o", str(target), APP, "127.0.0.1:5000/ns/absent:1")
    assert result.code == 4 and one_error_line(result.err) == "Error: No such image: 127.0.0.1:5000/ns/absent:1\n"
    assert list(tmp_path.iterdir()) == [berth.home]  # neither the archive nor a temporary file


def test_load_of_a_missing_file(berth: Berth, tmp_path: Path) -> None:
    result = berth.run("load", "-i", str(tmp_path / "absent.tar"))
    assert result.code == 1 and "No such file or directory" in one_error_line(result.err)


# -- hostile archives -------------------------------------------------------------------------------------

Member = tuple[str, str, Any]  # (kind, name, data or link target)


def tiny_layer(text: bytes = b"hello\n") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


def docker_image(tag: str, layer: bytes, *, layer_path: str | None = None, diff_id: str | None = None
                 ) -> tuple[list[Member], dict[str, Any]]:
    """Members of one image in Docker 20.10's form, and its manifest.json entry."""
    diff_id = diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"tag": tag}},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_path = layer_path or hashlib.sha256(tag.encode()).hexdigest() + "/layer.tar"
    entry = {"Config": config_name, "RepoTags": [tag], "Layers": [layer_path]}
    return [("file", config_name, config), ("file", layer_path, layer)], entry


def oci_members(layer: bytes, tag: str = "127.0.0.1:5000/ns/hostile:1") -> tuple[list[Member], dict[str, Any]]:
    """An OCI archive of one image; returns its members and the manifest (for tests to spoil)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
                        ).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                            "size": len(layer)}]}
    body = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "size": len(body),
                                                "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                                                "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    return [("file", "oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("file", f"blobs/sha256/{hashlib.sha256(config).hexdigest()}", config),
            ("file", f"blobs/sha256/{hashlib.sha256(layer).hexdigest()}", layer),
            ("file", f"blobs/sha256/{hashlib.sha256(body).hexdigest()}", body),
            ("file", "index.json", json.dumps(index).encode())], manifest


def write_tar(path: Path, items: list[Member]) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for kind, name, data in items:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "device": tarfile.CHRTYPE}[kind]
            info.linkname = data or ""
            tar.addfile(info)
    return path


def docker_archive(*images: tuple[list[Member], dict[str, Any]], extra: list[Member] = ()) -> list[Member]:
    found: list[Member] = list(extra)
    for items, _ in images:
        found += items
    return found + [("file", "manifest.json", json.dumps([entry for _, entry in images]).encode())]


def hostile(name: str) -> tuple[list[Member] | bytes, str]:
    """A hostile or broken archive, and a piece of the error berth must print for it."""
    good = docker_image("127.0.0.1:5000/ns/good:1", tiny_layer())
    linked = docker_image("127.0.0.1:5000/ns/linked:1", tiny_layer(b"other\n"), layer_path="x/layer.tar")
    outside = "points outside the archive"
    cases: dict[str, tuple[list[Member] | bytes, str]] = {
        "traversal": (docker_archive(good, extra=[("file", "../evil", b"x")]), outside),
        "traversal-inside": (docker_archive(good, extra=[("file", "a/../../evil", b"x")]), outside),
        "absolute": (docker_archive(good, extra=[("file", "/tmp/evil-absolute", b"x")]), outside),
        "manifest-traversal": (docker_archive(docker_image("127.0.0.1:5000/ns/t:1", tiny_layer(),
                                                           layer_path="../../etc/passwd")), outside),
        "symlink-outside": ([*linked[0][:1], ("symlink", "x/layer.tar", "../../../etc/passwd"),
                             ("file", "manifest.json", json.dumps([linked[1]]).encode())], outside),
        "symlink-absolute": ([*linked[0][:1], ("symlink", "x/layer.tar", "/etc/passwd"),
                              ("file", "manifest.json", json.dumps([linked[1]]).encode())], outside),
        "hardlink-outside": ([*linked[0][:1], ("hardlink", "x/layer.tar", "../etc/passwd"),
                              ("file", "manifest.json", json.dumps([linked[1]]).encode())], outside),
        "link-loop": ([*linked[0][:1], ("symlink", "x/layer.tar", "loop"), ("symlink", "x/loop", "layer.tar"),
                       ("file", "manifest.json", json.dumps([linked[1]]).encode())], "has no file"),
        "device": (docker_archive(good, extra=[("device", "dev/null", None)]), "special file"),
        "oversized-json": ([("file", "manifest.json", b"[" + b" " * (9 << 20) + b"]")], "larger than 8 MiB"),
        "not-json": ([("file", "manifest.json", b"{not json")], "not valid JSON"),
        "missing-layer": (docker_archive(([good[0][0]], good[1])), "has no file"),
        "bad-layer-digest": (docker_archive(docker_image("127.0.0.1:5000/ns/bad:1", tiny_layer(),
                                                         diff_id="sha256:" + "0" * 64)), "does not match the diff_id"),
        "second-image-bad": (docker_archive(good, docker_image("127.0.0.1:5000/ns/bad:2", tiny_layer(b"2\n"),
                                                               diff_id="sha256:" + "1" * 64)), "diff_id"),
        "bad-repo-tag": (docker_archive(docker_image("Bad Name:1", tiny_layer())), "invalid reference format"),
        "no-manifest": ([("file", "hello.txt", b"hi")], "neither manifest.json nor index.json"),
        "not-a-tar": (os.urandom(4096), "not a readable tar archive"),
        "empty": (b"", "not a readable tar archive"),
        "huge-pax-header": (_huge_pax_header(), "extended header of 1073741824 bytes"),
    }
    oci, manifest = oci_members(tiny_layer())
    spoiled = [(k, n, d[:-1] + b"X" if n.endswith(manifest["layers"][0]["digest"][7:]) else d) for k, n, d in oci]
    cases["oci-bad-blob-digest"] = (spoiled, "does not match its digest")
    blob = f"blobs/sha256/{manifest['config']['digest'][7:]}"
    cases["oci-missing-blob"] = ([m for m in oci if m[1] != blob], "has no file")
    cases["oci-wrong-size"] = ([(k, n, d + b" " if n == blob else d) for k, n, d in oci], "bytes, not the")
    return cases[name]


def _huge_pax_header() -> bytes:
    info = tarfile.TarInfo("pax")
    info.type, info.size = tarfile.XHDTYPE, 1 << 30
    return info.tobuf(tarfile.USTAR_FORMAT) + bytes(4096)


HOSTILE = ["traversal", "traversal-inside", "absolute", "manifest-traversal", "symlink-outside", "symlink-absolute",
           "hardlink-outside", "link-loop", "device", "oversized-json", "not-json", "missing-layer",
           "bad-layer-digest", "second-image-bad", "bad-repo-tag", "no-manifest", "not-a-tar", "empty",
           "huge-pax-header", "oci-bad-blob-digest", "oci-missing-blob", "oci-wrong-size"]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the store (but its lock files) with its content's digest."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).digest() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in (".gc.lock", ".index.lock")}


def test_the_hostile_archive_builders_are_sound(berth: Berth, tmp_path: Path) -> None:
    """Without their spoiling, the archives the hostile cases start from load: each case fails for its reason."""
    good = docker_image("127.0.0.1:5000/ns/good:1", tiny_layer())
    linked = docker_image("127.0.0.1:5000/ns/linked:1", tiny_layer(b"other\n"), layer_path="x/layer.tar")
    target = docker_image("127.0.0.1:5000/ns/target:1", tiny_layer(b"other\n"), layer_path="y/layer.tar")
    through_link = [*target[0], *linked[0][:1], ("symlink", "x/layer.tar", "../y/layer.tar"),
                    ("file", "manifest.json", json.dumps([linked[1], target[1]]).encode())]
    oci, _ = oci_members(tiny_layer())
    for number, items in enumerate([docker_archive(good), through_link, oci]):
        result = berth.run("load", "-i", str(write_tar(tmp_path / f"sound-{number}.tar", items)))
        assert result.code == 0, result.err
    assert set(store_names(berth)) == {"127.0.0.1:5000/ns/good:1", "127.0.0.1:5000/ns/linked:1",
                                       "127.0.0.1:5000/ns/target:1", "127.0.0.1:5000/ns/hostile:1"}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_archives_are_refused_whole(case: str, berth: Berth, busybox_layout: OciImage,
                                            tmp_path: Path) -> None:
    put(berth, busybox_layout, APP)
    items, expected = hostile(case)
    archive = tmp_path / "work" / "hostile.tar"
    archive.parent.mkdir()
    if isinstance(items, bytes):
        archive.write_bytes(items)
    else:
        write_tar(archive, items)
    before = snapshot(berth.home / "images")

    result = berth.run("load", "-i", str(archive))

    assert result.code != 0 and result.out == ""
    assert expected in one_error_line(result.err)
    assert snapshot(berth.home / "images") == before
    assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/evil-absolute").exists()


# -- streaming ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_image(images: ImageCache) -> OciImage:
    """Three layers of 70 MB of random data each (incompressible): 210 MB."""
    return images.random_layers(3, 70 << 20)


@pytest.mark.e2e
def test_memory_stays_bounded_while_200_mb_stream_through(berth: Berth, big_image: OciImage,
                                                          tmp_path: Path) -> None:
    put(berth, big_image, APP)
    archive = tmp_path / "big.tar"
    peaks = {"save -o": finish(measured(berth, "save", "-o", str(archive), APP, stderr_path=tmp_path / "1.err"),
                               tmp_path / "1.err")}
    assert archive.stat().st_size > 200_000_000
    loaded = Berth(tmp_path / "loaded")
    peaks["load -i"] = finish(measured(loaded, "load", "-i", str(archive), stderr_path=tmp_path / "2.err"),
                              tmp_path / "2.err")
    assert store_names(loaded) == {APP: big_image.digest}

    piped = Berth(tmp_path / "piped")
    saver = measured(loaded, "save", APP, stdout=subprocess.PIPE, stderr_path=tmp_path / "3.err")
    loader = measured(piped, "load", "-q", stdin=saver.stdout, stderr_path=tmp_path / "4.err")
    assert saver.stdout is not None
    saver.stdout.close()
    peaks["save | "] = finish(saver, tmp_path / "3.err")
    peaks["| load"] = finish(loader, tmp_path / "4.err")
    assert store_names(piped) == {APP: big_image.digest}
    assert all(peak < MEMORY_BOUND for peak in peaks.values()), {k: f"{v >> 20} MiB" for k, v in peaks.items()}
