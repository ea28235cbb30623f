"""Images for container tests: the busybox test image with crafted layers on top, and OCI archives of them
for `berth load`.

`derive` writes each layer's bytes as a blob, appends it to a copy of the base image's manifest and config
(diff_ids, history) and applies config changes, as a build would; no umoci round trip per layer, so an
image of a hundred layers takes moments.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from tests.support.images import REF_NAME, OciImage

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TAR, TAR_GZIP = "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip"


def tar_of(files: dict[str, bytes | str | None], **fields: Any) -> bytes:
    """A layer tar: name -> content (a str is a symlink target, None a directory)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            for key, value in fields.items():
                setattr(info, key, value)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), fields.get("mode", 0o644)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _put(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def derive(base: OciImage, work: Path, layers: list[bytes], config: dict[str, Any] | None = None,
           compress: bool = True) -> OciImage:
    """`base` plus `layers` (uncompressed tars, gzipped on the way unless `compress` is false)."""
    layout = work / "layout"
    shutil.rmtree(layout, ignore_errors=True)
    shutil.copytree(base.layout, layout)
    manifest = json.loads(base.blob(base.digest))
    image_config = json.loads(base.blob(base.config_digest))
    for tar in layers:
        blob = gzip.compress(tar, mtime=0) if compress else tar
        manifest["layers"].append({"mediaType": TAR_GZIP if compress else TAR, **_put(layout, blob)})
        image_config["rootfs"]["diff_ids"].append(f"sha256:{hashlib.sha256(tar).hexdigest()}")
        image_config.setdefault("history", []).append({"created_by": "berth test layer"})
    image_config["config"] = {**image_config.get("config", {}), **(config or {})}
    manifest["config"] = {**manifest["config"], **_put(layout, json.dumps(image_config).encode())}
    entry = {"mediaType": manifest.get("mediaType", OCI_MANIFEST), **_put(layout, json.dumps(manifest).encode()),
             "annotations": {REF_NAME: "1"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return OciImage(layout, "1")


def oci_archive(image: OciImage, name: str, target: Path) -> Path:
    """An OCI archive of `image` alone, naming it `name` (what `berth load -i` reads)."""
    index = {"schemaVersion": 2, "manifests": [{**image.descriptor, "annotations": {REF_NAME: name}}]}
    with tarfile.open(target, "w") as tar:
        tar.add(image.layout / "oci-layout", "oci-layout")
        data = json.dumps(index).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for digest in [image.digest, image.config_digest, *image.layer_digests]:
            tar.add(image.layout / "blobs" / digest.replace(":", "/"), "blobs/" + digest.replace(":", "/"))
    return target
