"""The processes of a running container, found through its cgroup (what `berth top` lists).

The OCI runtime puts every process of the container, exec'd ones too, in the cgroup named by config.json's
cgroupsPath (`/berth/<id>`); under cgroup v1 each controller holds the same tree, so the pids controller's
`cgroup.procs` lists them all, whichever runtime started the container (runc or crun).
"""

from __future__ import annotations

from pathlib import Path

from .containers import Container

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("pids", "memory", "cpu", "unified")  # the first one present is read


def container_pids(container: Container, cgroup_root: Path = CGROUP_ROOT) -> list[int]:
    """The pids (host's numbering) of the container's processes, ascending; [] if its cgroup is gone."""
    for controller in CONTROLLERS:
        procs = cgroup_root / controller / "berth" / container.id / "cgroup.procs"
        try:
            text = procs.read_text()
        except OSError:
            continue
        return sorted({int(line) for line in text.split()})
    return []
