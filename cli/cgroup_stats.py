"""A container's resource usage read from its cgroup v1 files, as docker's daemon collects it (moby's
daemon/stats_collector_unix.go through runc's cgroup v1 stats) and docker/cli computes its columns
(cli/command/container/stats_helpers.go).

CPU % needs two samples: the container's CPU time (cpuacct.usage) against the whole host's (/proc/stat) over
the same interval, times the online CPUs. Memory is usage minus the inactive file cache (`total_inactive_file`,
what docker/cli subtracts on cgroup v1 since 19.03; it subtracted `cache` before). An unlimited container's
limit is the host's memory. NET I/O is what the container's own interfaces moved (loopback left out, as
docker's stats only count its endpoints); with --network host docker reports no networks: 0B / 0B.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from runtime.containers import Container

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Sample:
    """One reading of a container; all zeros for one that is not running (docker's empty stats)."""

    cpu_usage: int = 0  # ns the container's processes ran
    system_usage: int = 0  # ns of host CPU time since boot, all CPUs together
    online_cpus: int = 0
    memory: int = 0
    memory_limit: int = 0
    net_rx: int = 0
    net_tx: int = 0
    block_read: int = 0
    block_write: int = 0
    pids: int = 0

    @property
    def memory_percent(self) -> float:
        return self.memory / self.memory_limit * 100.0 if self.memory_limit else 0.0


def cpu_percent(before: Sample, after: Sample) -> float:
    """docker/cli's calculateCPUPercentUnix."""
    cpu_delta = after.cpu_usage - before.cpu_usage
    system_delta = after.system_usage - before.system_usage
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * after.online_cpus * 100.0
    return 0.0


def sample(container: Container, root: Path = CGROUP_ROOT) -> Sample:
    """The container's usage now; zeros when it is not running or its cgroup is gone."""
    if container.status not in ("running", "paused"):
        return Sample()
    group = Path("berth", container.id)
    usage = _number(root / "memory" / group / "memory.usage_in_bytes")
    if usage is None:
        return Sample()
    inactive = _memory_stat(root / "memory" / group / "memory.stat").get("total_inactive_file", 0)
    limit = _number(root / "memory" / group / "memory.limit_in_bytes") or 0
    host_memory = _host_memory()
    read, write = _block_io(root / "blkio" / group)
    rx, tx = _network(container)
    return Sample(cpu_usage=_number(root / "cpuacct" / group / "cpuacct.usage") or 0,
                  system_usage=_system_usage(), online_cpus=os.sysconf("SC_NPROCESSORS_ONLN"),
                  memory=usage - inactive if inactive < usage else usage,
                  memory_limit=limit if 0 < limit <= host_memory else host_memory,
                  net_rx=rx, net_tx=tx, block_read=read, block_write=write,
                  pids=_number(root / "pids" / group / "pids.current") or 0)


def _number(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _memory_stat(path: Path) -> dict[str, int]:
    found = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.isdigit():
                found[key] = int(value)
    return found


def _host_memory() -> int:
    """MemTotal, as docker's machine memory."""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _system_usage() -> int:
    """The host's CPU time in ns, as moby's getSystemCPUUsage: the first seven fields of /proc/stat's cpu line
    (user, nice, system, idle, iowait, irq, softirq) in clock ticks."""
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "cpu":
                return sum(int(v) for v in fields[1:8]) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return 0


def _block_io(group: Path) -> tuple[int, int]:
    """Bytes read and written (docker's calculateBlockIO over io_service_bytes_recursive: Read and Write lines,
    not Total)."""
    read = write = 0
    for name in ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"):
        try:
            lines = (group / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) == 3 and fields[2].isdigit():
                if fields[1].lower().startswith("r"):
                    read += int(fields[2])
                elif fields[1].lower().startswith("w"):
                    write += int(fields[2])
        break
    return read, write


def _network(container: Container) -> tuple[int, int]:
    """Bytes received and sent by the container's interfaces but loopback; none in the host's namespace."""
    pid = int(container.state.get("Pid") or 0)
    if not pid or container.host_config.get("NetworkMode") == "host":
        return 0, 0
    rx = tx = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
            name, _, counters = line.partition(":")
            fields = counters.split()
            if name.strip() != "lo" and len(fields) >= 9:
                rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx
