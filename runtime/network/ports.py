"""Ports as docker's records hold them: Config.ExposedPorts ({"80/tcp": {}}), HostConfig.PortBindings
({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}) with PublishAllPorts, and NetworkSettings.Ports, which
says what each exposed port got on the host; and the text `ps` and `port` show for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Binding:
    """One published port: host address and port (0: any free one) to the container's port."""

    container_port: int
    host_ip: str = "0.0.0.0"
    host_port: int = 0


def exposed(config: dict[str, Any]) -> list[tuple[int, str]]:
    """Config.ExposedPorts as (port, protocol), lowest first."""
    found = []
    for key in config.get("ExposedPorts") or {}:
        port, _, proto = key.partition("/")
        if port.isdigit():
            found.append((int(port), proto or "tcp"))
    return sorted(found)


def bindings(host_config: dict[str, Any], config: dict[str, Any]) -> list[Binding]:
    """HostConfig.PortBindings, and with PublishAllPorts every other exposed port on a free host port."""
    found = []
    published = host_config.get("PortBindings") or {}
    for key, hosts in published.items():
        for host in hosts or [{}]:
            found.append(Binding(int(key.partition("/")[0]), host.get("HostIp") or "0.0.0.0",
                                 int(host.get("HostPort") or 0)))
    if host_config.get("PublishAllPorts"):
        found += [Binding(port) for port, proto in exposed(config) if f"{port}/{proto}" not in published]
    return found


def _key(item: tuple[str, Any]) -> tuple[int, str]:
    port, _, proto = item[0].partition("/")
    return (int(port) if port.isdigit() else 0, proto)


def mappings(ports: dict[str, Any] | None) -> list[tuple[str, str | None]]:
    """NetworkSettings.Ports as (private "80/tcp", public "0.0.0.0:8080" or None), in port order."""
    found: list[tuple[str, str | None]] = []
    for private, hosts in sorted((ports or {}).items(), key=_key):
        found += [(private, f"{h['HostIp']}:{h['HostPort']}") for h in hosts] if hosts else [(private, None)]
    return found


def ps_text(ports: dict[str, Any] | None) -> str:
    """docker ps's PORTS: "0.0.0.0:8080->80/tcp, 443/tcp"."""
    return ", ".join(f"{public}->{private}" if public else private for private, public in mappings(ports))
