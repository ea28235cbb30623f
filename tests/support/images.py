"""Test images built offline with umoci and a static busybox, as OCI image layouts.

`ImageCache` builds each image once under one directory (a session's temporary directory) and hands out
`OciImage`s: a layout path and a tag, which skopeo names `oci:PATH:TAG`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .commands import run

BUSYBOX = Path("/usr/bin/busybox")  # busybox-static: runs in an empty root
APPLETS = ("sh", "echo", "ls", "cat", "env", "id", "sleep", "true", "false", "hostname", "mkdir", "rm",
           "wget", "httpd", "ps")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
_WRITE_CHUNK = 1 << 20


@dataclass(frozen=True)
class OciImage:
    """One tagged image (or index) in an OCI layout directory."""

    layout: Path
    tag: str

    @property
    def ref(self) -> str:
        """The skopeo/podman transport reference."""
        return f"oci:{self.layout}:{self.tag}"

    @cached_property
    def descriptor(self) -> dict:
        index = json.loads((self.layout / "index.json").read_text())
        for entry in index["manifests"]:
            if entry.get("annotations", {}).get(REF_NAME) == self.tag:
                return dict(entry)
        raise KeyError(f"{self.layout} has no tag {self.tag!r}")

    @property
    def digest(self) -> str:
        """The digest of the manifest (or index) the tag names."""
        return str(self.descriptor["digest"])

    def blob(self, digest: str) -> bytes:
        algorithm, _, hexa = digest.partition(":")
        return (self.layout / "blobs" / algorithm / hexa).read_bytes()

    @cached_property
    def manifest(self) -> dict:
        return dict(json.loads(self.blob(self.digest)))

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.manifest["layers"]]

    @property
    def config_digest(self) -> str:
        return str(self.manifest["config"]["digest"])

    @property
    def size(self) -> int:
        """Bytes a push moves: config plus layers."""
        return int(self.manifest["config"]["size"]) + sum(int(x["size"]) for x in self.manifest["layers"])


class ImageCache:
    """Builds test images on first use under `root` and returns the same image afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[tuple[object, ...], OciImage] = {}

    def _cached(self, key: tuple[object, ...], build: Callable[[Path], OciImage]) -> OciImage:
        if key not in self._built:
            work = self.root / "-".join(str(k) for k in key)
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            self._built[key] = build(work)
        return self._built[key]

    def busybox(self) -> OciImage:
        """One layer holding busybox and its applets; cmd /bin/sh, env PATH=/bin, linux/amd64."""
        return self._cached(("busybox",), _build_busybox)

    def multi_layer(self, extra_layers: int = 2) -> OciImage:
        """The busybox image plus `extra_layers` small layers, each a separate `repack --refresh-bundle`."""
        base = self.busybox()
        return self._cached(("multi-layer", extra_layers), lambda work: _add_layers(base, work, extra_layers))

    def random_layers(self, layers: int, layer_size: int) -> OciImage:
        """`layers` layers of `layer_size` bytes of random (incompressible) data each, no busybox."""
        return self._cached(("random", layers, layer_size),
                            lambda work: _build_random(work, layers, layer_size))

    def multi_arch(self) -> OciImage:
        """An OCI index naming two images of busybox, linux/amd64 and linux/arm64, under the tag `multi`."""
        base = self.busybox()
        return self._cached(("multi-arch",), lambda work: _build_index(base, work))


def _umoci(command: str, *args: str | Path) -> None:
    # Unprivileged runs need --rootless (no chown, no device nodes); these images have neither.
    rootless = ["--rootless"] if os.geteuid() != 0 and command in ("unpack", "repack") else []
    run(["umoci", command, *rootless, *map(str, args)], timeout=120)


def _new_image(work: Path, tag: str) -> tuple[Path, Path]:
    layout, bundle = work / "layout", work / "bundle"
    _umoci("init", "--layout", layout)
    _umoci("new", "--image", f"{layout}:{tag}")
    _umoci("unpack", "--image", f"{layout}:{tag}", bundle)
    return layout, bundle


def _build_busybox(work: Path) -> OciImage:
    layout, bundle = _new_image(work, "1")
    rootfs = bundle / "rootfs"
    for directory in ("bin", "etc", "tmp"):
        (rootfs / directory).mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")
    _umoci("repack", "--image", f"{layout}:1", bundle)
    _umoci("config", "--image", f"{layout}:1", "--config.cmd", "/bin/sh", "--config.env", "PATH=/bin",
           "--os", "linux", "--architecture", "amd64")
    _umoci("gc", "--layout", layout)
    return OciImage(layout, "1")


def _add_layers(base: OciImage, work: Path, count: int) -> OciImage:
    layout, bundle = work / "layout", work / "bundle"
    shutil.copytree(base.layout, layout)
    _umoci("unpack", "--image", f"{layout}:{base.tag}", bundle)
    for number in range(1, count + 1):
        # Random content keeps each layer's digest distinct from every other image's.
        (bundle / "rootfs" / "etc" / f"layer-{number}").write_bytes(os.urandom(4096))
        _umoci("repack", "--refresh-bundle", "--image", f"{layout}:{base.tag}", bundle)
    _umoci("gc", "--layout", layout)
    return OciImage(layout, base.tag)


def _build_random(work: Path, layers: int, layer_size: int) -> OciImage:
    layout, bundle = _new_image(work, "1")
    for number in range(layers):
        target = bundle / "rootfs" / f"data-{number}"
        with target.open("wb") as out:
            left = layer_size
            while left > 0:
                out.write(os.urandom(min(left, _WRITE_CHUNK)))
                left -= _WRITE_CHUNK
        _umoci("repack", "--refresh-bundle", "--image", f"{layout}:1", bundle)
        target.unlink()  # the next layer holds only its own file (plus a whiteout)
    _umoci("config", "--image", f"{layout}:1", "--os", "linux", "--architecture", "amd64")
    _umoci("gc", "--layout", layout)
    return OciImage(layout, "1")


def _build_index(base: OciImage, work: Path) -> OciImage:
    layout = work / "layout"
    shutil.copytree(base.layout, layout)
    _umoci("config", "--image", f"{layout}:{base.tag}", "--tag", "arm64", "--architecture", "arm64")
    entries = []
    for tag, architecture in ((base.tag, "amd64"), ("arm64", "arm64")):
        entry = OciImage(layout, tag).descriptor
        entry.pop("annotations", None)
        entry["platform"] = {"architecture": architecture, "os": "linux"}
        entry["annotations"] = {"org.opencontainers.image.title": f"busybox for {architecture}"}
        entries.append(entry)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    hexa = hashlib.sha256(body).hexdigest()
    (layout / "blobs" / "sha256" / hexa).write_bytes(body)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"].append({"mediaType": OCI_INDEX, "digest": f"sha256:{hexa}", "size": len(body),
                               "annotations": {REF_NAME: "multi"}})
    index_path.write_text(json.dumps(index))
    return OciImage(layout, "multi")
