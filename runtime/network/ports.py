"""Ports as docker's records hold them: Config.ExposedPorts ({"80/tcp": {}, "53/udp": {}}), HostConfig.PortBindings
({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, a HostPort "8000-8002" for any free one of a range) with
PublishAllPorts, and NetworkSettings.Ports, which says what each exposed port got on the host; and the text
`ps` and `port` show for them, as docker's CLI writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("tcp", "udp")  # what the proxy carries; docker also knows sctp


@dataclass(frozen=True)
class Binding:
    """One published port: host address and port (0: any free one; with `last_host_port`, the first of the
    range that is free) to the container's port."""

    container_port: int
    host_ip: str = "0.0.0.0"
    host_port: int = 0
    protocol: str = "tcp"
    last_host_port: int = 0

    @property
    def host_ports(self) -> range:
        """The host ports to try, in order."""
        return range(self.host_port, max(self.host_port, self.last_host_port) + 1)


def split_key(key: str) -> tuple[int, str]:
    """"53/udp" as (53, "udp"); a key without a protocol is tcp, as docker reads it (0 for no port)."""
    port, _, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto or "tcp")


def exposed(config: dict[str, Any]) -> list[tuple[int, str]]:
    """Config.ExposedPorts as (port, protocol), lowest first."""
    return sorted(found for found in map(split_key, config.get("ExposedPorts") or {}) if found[0])


def bindings(host_config: dict[str, Any], config: dict[str, Any]) -> list[Binding]:
    """HostConfig.PortBindings, and with PublishAllPorts every other exposed port on a free host port."""
    found = []
    published = host_config.get("PortBindings") or {}
    for key, hosts in published.items():
        port, proto = split_key(key)
        for host in hosts or [{}]:
            first, _, last = (host.get("HostPort") or "0").partition("-")
            found.append(Binding(port, host.get("HostIp") or "0.0.0.0", int(first), proto, int(last or 0)))
    if host_config.get("PublishAllPorts"):
        found += [Binding(port, protocol=proto) for port, proto in exposed(config)
                  if f"{port}/{proto}" not in published]
    return found


def host_address(ip: str, port: int | str) -> str:
    """Go's net.JoinHostPort, as docker prints an address: "0.0.0.0:8080", "[::1]:8080"."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _natural(text: str) -> list[tuple[str, int, str]]:
    """A key that orders as docker's sortorder.NaturalLess: runs of digits by value ("9/tcp" before "10/tcp"),
    anything else by character (a run of digits against other text by its first character)."""
    parts = re.findall(r"[0-9]+|[^0-9]+", text)
    return [("0", int(part), "") if part.isdigit() else (part[0], 0, part) for part in parts]


def mappings(ports: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    """NetworkSettings.Ports as (private "80/tcp", public "0.0.0.0:8080" or None), in the order `docker port`
    prints them (natural order of its lines)."""
    found: list[tuple[str, str | None]] = []
    for private, hosts in (ports or {}).items():
        found += [(private, host_address(h["HostIp"], h["HostPort"])) for h in hosts] if hosts else [(private, None)]
    return sorted(found, key=lambda item: _natural(f"{item[0]} -> {item[1] or ''}"))


def _summary(ports: dict[str, Any] | None) -> list[tuple[int, str, int, str]]:
    """The daemon's port list for `ps` (container.Summary.Ports): (private port, host ip, public port, type),
    one per binding, an exposed port without one as ("", 0), in the order docker's comparePorts sorts them."""
    found = []
    for key, hosts in (ports or {}).items():
        port, proto = split_key(key)
        found += [(port, h.get("HostIp") or "", int(h.get("HostPort") or 0), proto) for h in hosts or [{}]]
    return sorted(found, key=lambda p: (p[0], _ip_order(p[1]), p[2], p[3]))


def _ip_order(ip: str) -> tuple[int, bytes]:
    """netip.Addr.Less: no address first, then IPv4, then IPv6, each by value."""
    if not ip:
        return (0, b"")
    import socket  # only now: `ps` without published ports needs none of it

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return (1 if family == socket.AF_INET else 2, socket.inet_pton(family, ip))


def ps_text(ports: dict[str, Any] | None) -> str:
    """docker ps's PORTS (docker/cli formatter.DisplayablePorts): "0.0.0.0:8000-8002->8000-8002/tcp, 53/udp".
    Runs of ports published on the same address and port number, or exposed only, are collapsed per address
    and type; a port published on another number is listed alone, after the runs."""
    groups: dict[str, list[int]] = {}  # key "type" or "ip/type" -> [first, last] of its current run
    result, elsewhere = [], []
    for private, ip, public, kind in _summary(ports):
        key = kind
        if ip:
            if public != private:
                elsewhere.append(f"{host_address(ip, public)}->{private}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:  # docker's order: a run ended by a gap comes first, the runs still open follow in key order
            result.append(_run(key, *group))
            groups[key] = [private, private]
    return ", ".join(result + [_run(key, *group) for key, group in groups.items()] + elsewhere)


def _run(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    ports = f"{first}-{last}" if first != last else str(first)
    return f"{host_address(ip, ports)}->{ports}/{kind}" if ip else f"{ports}/{kind}"
