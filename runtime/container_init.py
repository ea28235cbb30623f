"""`--init`: a small init as the container's PID 1, which forwards signals to the command and reaps orphans.

As docker does, the host's `docker-init` (tini, statically linked, so it runs in any image) is bind-mounted
read-only at /sbin/docker-init and runs the command after `--`. A dynamically linked tini would not: the
image may have no C library at all.
"""

from __future__ import annotations

from .oci_runtime import RuntimeFailed

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

INIT_PATH = "/sbin/docker-init"
CANDIDATES = ("docker-init", "tini-static")


def init_binary() -> str:
    import shutil  # only for --init: shutil loads bz2 and lzma

    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeFailed("--init needs docker-init or tini-static on the host (apt-get install tini)")


def init_args(host: dict[str, Any]) -> list[str]:
    """What goes before the command in process.args: the init and its `--`, when the container has --init."""
    return [INIT_PATH, "--"] if host.get("Init") else []


def init_mounts(host: dict[str, Any]) -> list[dict[str, Any]]:
    if not host.get("Init"):
        return []
    return [{"destination": INIT_PATH, "type": "bind", "source": init_binary(),
             "options": ["rbind", "rprivate", "ro"]}]
