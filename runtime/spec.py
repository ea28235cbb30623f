"""The OCI runtime bundle's config.json, from a container's record (docker's Config and HostConfig shapes).

Defaults follow docker's (moby oci/defaults.go): the same capabilities, masked and read-only /proc paths,
mounts, and devices; what this host cannot grant is left out instead of failing the container: capabilities
outside the bounding set (root here lacks CAP_SYS_RESOURCE) and rlimits above the current hard limits.
Runtime spec: https://github.com/opencontainers/runtime-spec/blob/main/config.md
"""

from __future__ import annotations

import resource

from .container_init import init_args, init_mounts
from .mounts import runtime_mounts
from .users import ExecUser

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2"
CAPABILITY_NUMBERS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
                      "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27,
                      "AUDIT_WRITE": 29, "SETFCAP": 31}
DEFAULT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                        "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
NOFILE = 1048576  # containerd's default for RLIMIT_NOFILE, clamped below to what this process may grant
CPU_PERIOD = 100_000


def bounding_set() -> int:
    """The capabilities this process could ever give a child (CapBnd of /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def capabilities() -> list[str]:
    allowed = bounding_set()
    return [f"CAP_{name}" for name in DEFAULT_CAPABILITIES if allowed >> CAPABILITY_NUMBERS[name] & 1]


def rlimits() -> list[dict[str, Any]]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    return [{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}]


def runtime_spec(doc: dict[str, Any], user: ExecUser, rootfs: str, etc_files: dict[str, str]) -> dict[str, Any]:
    """config.json for the container `doc` (its Config, HostConfig and Id), whose root is mounted at `rootfs`;
    `etc_files` maps /etc/hostname, /etc/hosts and /etc/resolv.conf to the host files bound there."""
    config, host = doc["Config"], doc["HostConfig"]
    caps = capabilities()
    hostname = config.get("Hostname") or doc["Id"][:12]
    env = list(config.get("Env") or [])
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.insert(0, f"HOSTNAME={hostname}")
    if config.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")  # docker's, with -t
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    process = {
        "terminal": bool(config.get("Tty")),
        "user": {"uid": user.uid, "gid": user.gid, **({"additionalGids": list(user.additional_gids)}
                                                      if user.additional_gids else {})},
        "args": init_args(host) + list(config.get("Entrypoint") or []) + list(config.get("Cmd") or []),
        "env": env,
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits(),
        "noNewPrivileges": False,
    }
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if host.get("NetworkMode") != "host":  # bridge: the namespace berth set up (SandboxKey, as docker's);
        # container:ID: that container's (the endpoint puts it there for this start)
        sandbox = (doc.get("NetworkSettings") or {}).get("SandboxKey")
        namespaces.append({"type": "network", **({"path": sandbox} if sandbox else {})})
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(host.get("ReadonlyRootfs"))},
        "hostname": hostname,
        "mounts": default_mounts() + etc_mounts(etc_files) + (runtime_mounts(doc["Mounts"]) if "Mounts" in doc
                                                              else bind_mounts(host.get("Binds") or []))
        + init_mounts(host),
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": f"/berth/{doc['Id']}",
            "resources": resources(host),
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]


def etc_mounts(files: dict[str, str]) -> list[dict[str, Any]]:
    return [{"destination": destination, "type": "bind", "source": source, "options": ["rbind", "rprivate"]}
            for destination, source in files.items()]


def bind_mounts(binds: list[str]) -> list[dict[str, Any]]:
    """docker's -v SRC:DST[:ro|rw] as bind mounts: records made before containers had `Mounts`."""
    mounts = []
    for bind in binds:
        source, destination, *mode = bind.split(":")
        options = ["rbind", "rprivate"] + (["ro"] if mode and "ro" in mode[0].split(",") else [])
        mounts.append({"destination": destination, "type": "bind", "source": source, "options": options})
    return mounts


def resources(host: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if host.get("Memory"):
        found["memory"] = {"limit": int(host["Memory"])}
    if host.get("NanoCpus"):
        found["cpu"] = {"quota": int(host["NanoCpus"]) * CPU_PERIOD // 1_000_000_000, "period": CPU_PERIOD}
    if host.get("PidsLimit"):
        found["pids"] = {"limit": int(host["PidsLimit"])}
    return found
