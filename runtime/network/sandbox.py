"""The kernel's side of a bridged container, made with iproute2: berth's bridge, and per container a network
namespace (/run/netns/<name>, the path runc is given) with one end of a veth pair in it as eth0, the other
end on the bridge. A few `ip -batch` runs, not one process per step: set-up stays at a few milliseconds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import NetworkError
from .ipam import GATEWAY, NETNS, PREFIX_LENGTH

BRIDGE = "berth0"
IP_PATHS = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")  # not only on PATH: a user's may lack sbin


def host_veth(name: str) -> str:
    return "vb" + name.removeprefix("berth-")  # interface names have at most 15 characters


def leftover(name: str) -> bool:
    """Whether a namespace or host veth of this name is still there (a crashed supervisor's)."""
    return (NETNS / name).exists() or (Path("/sys/class/net") / host_veth(name)).exists()


def mac_address(address: str) -> str:
    """docker's: 02:42 and then the four bytes of the IPv4 address, so that it is unique on the bridge."""
    return "02:42:" + ":".join(f"{int(byte):02x}" for byte in address.split("."))


def ensure_bridge() -> None:
    """berth0 with the gateway address, up (once per boot; the caller holds the address book's lock)."""
    if (Path("/sys/class/net") / BRIDGE).exists():
        return
    _ip([f"link add name {BRIDGE} type bridge", f"addr add {GATEWAY}/{PREFIX_LENGTH} dev {BRIDGE}",
         f"link set {BRIDGE} up"])


def create(name: str, address: str) -> None:
    """The namespace `name` with eth0 at `address`, its default route through the bridge, and lo up."""
    veth = host_veth(name)
    _ip([f"netns add {name}",
         f"link add {veth} master {BRIDGE} up type veth peer name eth0 netns {name} address {mac_address(address)}"])
    try:
        _ip(["link set lo up", f"addr add {address}/{PREFIX_LENGTH} dev eth0", "link set eth0 up",
             f"route add default via {GATEWAY}"], namespace=name)
    except NetworkError:
        destroy(name)
        raise


def destroy(name: str) -> None:
    """Remove the veth pair (at once: a namespace's own clean-up is deferred) and the namespace; what is
    already gone is no error."""
    _ip([f"link del {host_veth(name)}", f"netns del {name}"], force=True)


def _ip(commands: list[str], namespace: str | None = None, force: bool = False) -> None:
    ip = next((path for path in IP_PATHS if os.path.exists(path)), "ip")
    argv = [ip, *(["-n", namespace] if namespace else []), *(["-force"] if force else []), "-batch", "-"]
    try:
        done = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True)
    except FileNotFoundError:
        raise NetworkError("bridge networking needs iproute2's `ip` command (apt-get install iproute2)") from None
    if done.returncode != 0 and not force:
        detail = done.stderr.strip().splitlines()
        raise NetworkError(f"setting up the container's network failed: {detail[0] if detail else done.returncode}")
