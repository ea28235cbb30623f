"""A container's place on its network for the life of one supervisor: what the supervisor calls.

connect() before the first start: for bridge, the links' targets, an address lease, the namespace and veth,
the published ports' proxy, and NetworkSettings in the record (docker's inspect shape). prepare() at each
start: /etc/hosts, /etc/resolv.conf and the links' variables. disconnect() when the container has stopped
for good: the proxy goes and the record says so; release() then removes the namespace and the lease (in the
supervisor's clean-up process: it takes as long as starting a container). none and host need none of it,
so the bridge's modules (iproute2 through subprocess, the address book, links, ports) load only for bridge.
container:ID joins a running container's namespace and shares its /etc/hosts and /etc/resolv.conf, as docker
does (prepare() at each start).
"""

from __future__ import annotations

import contextlib

from ..containers import Container, ContainerError, ContainerStore
from ..files import write_text
from . import NetworkError

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

    from .ipam import Lease, Leases
    from .links import Link
    from .proxy import PortProxy

BRIDGE_MODES = ("bridge", "default")
JOINED = "container:"  # NetworkMode container:ID, another container's network namespace


def sandbox_name(container_id: str) -> str:
    """The network namespace's name (sandbox.py's, without loading it)."""
    return f"berth-{container_id[:12]}"


def bridged(container: Container) -> bool:
    return container.host_config.get("NetworkMode") in BRIDGE_MODES


def settings(mode: str, address: str = "", sandbox_key: str = "", ports: dict[str, Any] | None = None,
             container_id: str = "") -> dict[str, Any]:
    """docker's NetworkSettings: empty (none, host, or stopped) or the container's bridge address and ports."""
    mac, gateway, prefix = "", "", 0
    if address:
        from .ipam import GATEWAY, PREFIX_LENGTH
        from .sandbox import mac_address

        mac, gateway, prefix = mac_address(address), GATEWAY, PREFIX_LENGTH
    network = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": mode if container_id else "",
               "EndpointID": container_id, "Gateway": gateway, "IPAddress": address, "IPPrefixLen": prefix,
               "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": mac,
               "DriverOpts": None}
    return {"Bridge": "", "SandboxID": container_id, "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": ports or {}, "SandboxKey": sandbox_key,
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": container_id,
            "Gateway": gateway, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": address,
            "IPPrefixLen": prefix, "IPv6Gateway": "", "MacAddress": mac,
            "Networks": {} if mode.startswith(JOINED) else {"bridge" if mode in BRIDGE_MODES else mode: network}}


class Endpoint:
    """One container's network while one supervisor lives (an address and ports may change between starts)."""

    def __init__(self, store: ContainerStore, container: Container) -> None:
        self.store, self.container = store, container
        self.name = sandbox_name(container.id)
        self.proxy: PortProxy | None = None
        self.links: list[Link] = []
        self.address = ""
        self.connected = False

    def connect(self) -> None:
        if not bridged(self.container):
            return
        from . import links, sandbox
        from .ipam import NETNS, AddressBook

        container = self.store.reload(self.container)
        self.links = links.resolve(self.store, container.name, container.host_config.get("Links") or [])
        with AddressBook().open() as leases:
            _sweep(leases, leases.stale())
            sandbox.ensure_bridge()
            if sandbox.leftover(self.name):
                sandbox.destroy(self.name)
            self.address = leases.take(self.name, str(container.dir))
            sandbox.create(self.name, self.address)  # under the lock: a lease without its namespace is stale
        self.connected = True
        try:
            ports = self._publish(container)
        except NetworkError as exc:
            self.release()
            raise NetworkError(f"driver failed programming external connectivity on endpoint {container.name} "
                               f"({container.short_id}): {exc}") from None
        with self.store.update(self.container) as c:
            c.doc["NetworkSettings"] = settings("bridge", self.address, str(NETNS / self.name), ports, c.id)

    def _publish(self, container: Container) -> dict[str, Any]:
        """Start the proxy for the published ports; NetworkSettings.Ports (an exposed port not published: None)."""
        from .ports import bindings, exposed

        ports: dict[str, Any] = {f"{port}/{proto}": None for port, proto in exposed(container.config)}
        wanted = bindings(container.host_config, container.config)
        if not wanted:
            return ports
        from .proxy import PortProxy  # only now: asyncio takes longer to load than a container to start

        self.proxy = PortProxy(self.address, wanted)
        for binding, host_port in self.proxy.published():
            key = f"{binding.container_port}/{binding.protocol}"
            ports[key] = (ports.get(key) or []) + [{"HostIp": binding.host_ip, "HostPort": str(host_port)}]
        self.proxy.start()
        return ports

    def prepare(self, doc: dict[str, Any], files: dict[str, str]) -> None:
        """Before each start: /etc/hosts and /etc/resolv.conf for the address, and the links' variables in
        `doc`'s Env (for this start only, as docker does; the container's own variables win)."""
        mode = doc["HostConfig"].get("NetworkMode") or ""
        if mode.startswith(JOINED):
            self._join(doc, files, mode.removeprefix(JOINED))
        if not self.connected:
            return
        from . import etc

        config, host = doc["Config"], doc["HostConfig"]
        write_text(files["/etc/hosts"], etc.hosts(self.address, config.get("Hostname") or doc["Id"][:12],
                                                  config.get("Domainname") or "",
                                                  [(link.address, link.hosts_names) for link in self.links],
                                                  host.get("ExtraHosts")))
        write_text(files["/etc/resolv.conf"], etc.with_dns(etc.resolv_conf(), host))
        given = list(config.get("Env") or [])
        keys = {item.partition("=")[0] for item in given}
        linked = [item for link in self.links for item in link.environment() if item.partition("=")[0] not in keys]
        config["Env"] = linked + given

    def _join(self, doc: dict[str, Any], files: dict[str, str], target_id: str) -> None:
        """container:ID: that container's network namespace (in `doc`'s SandboxKey, for this start only) and
        its hosts and resolv.conf files; it must be running now (docker's words when it is not)."""
        try:
            target = self.store.get(target_id)
        except ContainerError:
            raise NetworkError(f"No such container: {target_id}") from None
        if target.id == doc["Id"]:
            raise NetworkError("cannot join own network")
        if target.status not in ("running", "paused") or not target.state.get("Pid"):  # docker joins a paused one
            raise NetworkError(f"cannot join network of a non running container: {target_id}")
        files.update({name: f"{target.dir}/etc/{name.removeprefix('/etc/')}" for name in ("/etc/hosts",
                                                                                          "/etc/resolv.conf")})
        doc.setdefault("NetworkSettings", {})["SandboxKey"] = f"/proc/{target.state['Pid']}/ns/net"

    def disconnect(self) -> None:
        """The container has stopped for good: stop the proxy (its ports are free then), and empty the record."""
        if self.proxy is not None:
            self.proxy.stop()
        if not self.connected:
            return
        with contextlib.suppress(ContainerError), self.store.update(self.container) as c:
            c.doc["NetworkSettings"] = settings(c.host_config.get("NetworkMode") or "bridge")

    def release(self) -> None:
        """Remove the namespace, the veth pair and the address lease."""
        if self.connected:
            forget(self.container)
            self.connected = False


def forget(container: Container) -> None:
    """Whatever is left of a container's bridge network (a crashed supervisor's): namespace, veth, lease."""
    if not bridged(container):
        return
    from . import sandbox
    from .ipam import AddressBook

    name = sandbox_name(container.id)
    with AddressBook().open() as leases:
        _sweep(leases, leases.stale() + [lease for lease in leases.by_address.values() if lease.sandbox == name])
        if sandbox.leftover(name):
            sandbox.destroy(name)


def _sweep(leases: Leases, gone: list[Lease]) -> None:
    from . import sandbox

    for lease in gone:
        if sandbox.leftover(lease.sandbox):
            sandbox.destroy(lease.sandbox)
        leases.release(lease.address)
