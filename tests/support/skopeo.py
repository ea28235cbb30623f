"""skopeo against a plain-HTTP loopback registry."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from .commands import run


def skopeo(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["skopeo", *args], timeout=timeout, check=check)


def copy(source: str, dest: str, *options: str, preserve_digests: bool = True
         ) -> subprocess.CompletedProcess[str]:
    """`skopeo copy`, with TLS verification off on whichever side is a registry.

    `--preserve-digests` by default: c/image's blob-info cache (/var/lib/containers/cache, shared with podman
    even under --root) otherwise lets skopeo mount a differently compressed copy of a layer that some earlier
    push left in the registry, and rewrite the manifest, so the pushed digest would depend on test order.
    """
    tls = [f"--{side}-tls-verify=false" for side, ref in (("src", source), ("dest", dest))
           if ref.startswith("docker://")]
    preserve = ["--preserve-digests"] if preserve_digests else []
    return skopeo("copy", "--quiet", *tls, *preserve, *options, source, dest)


def inspect(ref: str, *options: str) -> dict[str, Any]:
    """`skopeo inspect` of a registry image, parsed."""
    return dict(json.loads(skopeo("inspect", "--tls-verify=false", *options, ref).stdout))


def inspect_raw(ref: str) -> bytes:
    """The manifest bytes exactly as the registry served them."""
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref], capture_output=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise AssertionError(f"skopeo inspect --raw {ref} exited {done.returncode}: {done.stderr.decode()}")
    return done.stdout


def list_tags(repository_ref: str) -> list[str]:
    return list(json.loads(skopeo("list-tags", "--tls-verify=false", repository_ref).stdout)["Tags"])
