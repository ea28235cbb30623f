"""podman with private storage (--root, --runroot, --tmpdir) and the containers.conf this machine needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .commands import run

PODMAN = "podman"

# From ENVIRONMENT.md: runc (crun refuses hybrid cgroups), cgroupfs (no systemd), no network namespace
# setup, file events (no journald), and ulimits within what root may set here.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{events}"
"""


class Podman:
    """The podman CLI with everything it writes kept under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf_path = root / "containers.conf"
        root.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(CONTAINERS_CONF.format(events=root / "events.log"))

    @property
    def env(self) -> dict[str, str]:
        return {"CONTAINERS_CONF": str(self.conf_path)}

    def __call__(self, *args: str, timeout: float = 120, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
        argv = [PODMAN, "--root", str(self.root / "root"), "--runroot", str(self.root / "run"),
                "--tmpdir", str(self.root / "tmp"), *args]
        return run(argv, env=self.env, timeout=timeout, check=check)

    def clean(self) -> None:
        """Remove every container and image from the private storage, so no layer stays mounted.

        Not `podman system reset`: besides the storage it also removes networks, which live in the host's
        shared configuration."""
        self("rm", "--all", "--force", check=False, timeout=60)
        self("rmi", "--all", "--force", check=False, timeout=60)
