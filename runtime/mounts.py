"""A container's mounts: docker's inspect `Mounts` entries, the bundle's bind mounts made from them, and the
copy of the image's files into a new volume on the container's first start.

Each entry has docker's shape: Type (volume or bind), Name (volumes), Source (the host directory), Destination,
Driver, Mode, RW, Propagation. The record's `Berth.VolumesToFill` lists the destinations whose volume gets the
image's content there, if it is still empty when the container first starts (docker copies at create; the root
filesystem is mounted only at start here, so the copy waits for it).
"""

from __future__ import annotations

import os

from .container_paths import join_in_root
from .containers import Container, ContainerStore
from .oci_runtime import RuntimeFailed

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster); volumes too
if TYPE_CHECKING:
    from typing import Any

    from .volumes import Volume


def volume_mount(volume: Volume, destination: str, rw: bool, mode: str) -> dict[str, Any]:
    return {"Type": "volume", "Name": volume.name, "Source": str(volume.mountpoint), "Destination": destination,
            "Driver": "local", "Mode": mode, "RW": rw, "Propagation": ""}


def bind_mount(source: str, destination: str, rw: bool, mode: str) -> dict[str, Any]:
    return {"Type": "bind", "Source": source, "Destination": destination, "Mode": mode, "RW": rw,
            "Propagation": "rprivate"}


def runtime_mounts(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The OCI bind mounts for `mounts`, parents before children (runc mounts them in order)."""
    ordered = sorted(mounts, key=lambda m: m["Destination"].rstrip("/").count("/"))
    return [{"destination": m["Destination"], "type": "bind", "source": m["Source"],
             "options": ["rbind", m.get("Propagation") or "rprivate"] + ([] if m.get("RW", True) else ["ro"])}
            for m in ordered]


def fill_volumes(store: ContainerStore, container: Container, rootfs: str) -> None:
    """Copy what the image has at each pending volume's destination into the volume, if the volume is empty
    (as docker does, so that `VOLUME /data` after files in /data keeps them); then nothing is pending."""
    current = store.reload(container)
    pending = current.berth.get("VolumesToFill") or []
    if not pending:
        return
    by_destination = {m["Destination"]: m for m in current.doc.get("Mounts") or []}
    for destination in pending:
        mount = by_destination.get(destination)
        if mount is None or mount.get("Type") != "volume":
            continue
        source, target = join_in_root(rootfs, destination), mount["Source"]
        if not os.path.isdir(source) or os.path.islink(source) or not os.path.isdir(target) or os.listdir(target):
            continue
        import subprocess

        copied = subprocess.run(["cp", "-a", "--", f"{source}/.", f"{target}/"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if copied.returncode:
            raise RuntimeFailed(f"copying the image's {destination} into volume {mount['Name']}: "
                                f"{copied.stderr.strip().splitlines()[-1:]}")
        info = os.stat(source)
        os.chown(target, info.st_uid, info.st_gid)  # the volume's root as the image's directory was
        os.chmod(target, info.st_mode & 0o7777)
    with store.update(container) as c:
        c.berth["VolumesToFill"] = []
