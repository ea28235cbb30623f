"""docker's legacy links (`--link NAME[:ALIAS]`): the linked container's name in /etc/hosts and its address,
ports and environment in variables, computed at each start from the target as it runs then.

HostConfig.Links holds them as docker does: "/target:/container/alias". The variables are moby's (links.go):
ALIAS_PORT=tcp://IP:LOWEST, ALIAS_PORT_80_TCP=tcp://IP:80 with _ADDR, _PORT and _PROTO, ALIAS_NAME=/me/alias,
and ALIAS_ENV_KEY for the target's environment (but HOME and PATH).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..containers import ContainerError, ContainerStore
from . import NetworkError
from .ports import exposed


@dataclass(frozen=True)
class Link:
    name: str  # "/me/alias", as docker names it
    address: str
    ports: list[tuple[int, str]]  # the target's exposed ports, lowest first
    env: list[str]
    hosts_names: list[str]  # alias, hostname and (when it differs from the alias) name

    @property
    def prefix(self) -> str:
        return self.name.rsplit("/", 1)[-1].upper().replace("-", "_")

    def environment(self) -> list[str]:
        found = []
        if self.ports:
            port, proto = self.ports[0]
            found.append(f"{self.prefix}_PORT={proto}://{self.address}:{port}")
        for port, proto in self.ports:
            key = f"{self.prefix}_PORT_{port}_{proto.upper()}"
            found += [f"{key}={proto}://{self.address}:{port}", f"{key}_ADDR={self.address}", f"{key}_PORT={port}",
                      f"{key}_PROTO={proto}"]
        found.append(f"{self.prefix}_NAME={self.name}")
        for item in self.env:
            key, has_value, value = item.partition("=")
            if has_value and key not in ("HOME", "PATH"):
                found.append(f"{self.prefix}_ENV_{key}={value}")
        return found


def resolve(store: ContainerStore, parent: str, links: list[str]) -> list[Link]:
    """Each link of HostConfig.Links of the container named `parent`, with its target's address now;
    NetworkError if one is not running."""
    found = []
    for text in links:
        target_name, _, given = text.partition(":")
        alias = given.rsplit("/", 1)[-1]
        link_name = f"/{parent}/{alias}"
        try:
            target = store.get(target_name.lstrip("/"))
        except ContainerError:
            raise NetworkError(f"could not get container for {target_name.lstrip('/')}") from None
        address = (target.doc.get("NetworkSettings") or {}).get("IPAddress")
        if not target.running or not address:
            raise NetworkError(f"Cannot link to a non running container: {target_name} AS {link_name}")
        hostname = target.config.get("Hostname") or target.short_id
        names = [alias, hostname] + ([target.name] if target.name != alias else [])
        found.append(Link(link_name, address, exposed(target.config), list(target.config.get("Env") or []),
                          names))
    return found

