"""/etc/hosts and /etc/resolv.conf of a container, as docker writes them.

hosts: localhost and the IPv6 names, then --add-host's entries, then the linked containers ("IP\tALIAS ID
NAME"), then the container's own name at its address. resolv.conf: the host's, without nameservers on
loopback (unreachable from the container's namespace); behind systemd-resolved's stub, the upstream servers
it lists; and when no server is left, Google's public ones, as docker falls back to. --dns, --dns-search and
--dns-option replace the lines of their kind (`with_dns`).
"""

from __future__ import annotations

import os

from ..files import read_or_empty

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

HOSTS_HEAD = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
HOST_RESOLV_CONF = "/etc/resolv.conf"
RESOLVED_UPSTREAM = "/run/systemd/resolve/resolv.conf"  # what docker reads behind the 127.0.0.53 stub
RESOLVED_STUB = "127.0.0.53"
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # docker's defaultIPv4Dns


def hosts(address: str, hostname: str, domainname: str, links: list[tuple[str, list[str]]],
          extra: list[str] | None = None) -> str:
    """`links`: (address, names) of each linked container; `extra`: --add-host's "NAME:IP" entries."""
    own = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    return HOSTS_HEAD + extra_hosts(extra or []) + "".join(f"{ip}\t{' '.join(names)}\n" for ip, names in links) + \
        f"{address}\t{own}\n"


def extra_hosts(entries: list[str]) -> str:
    """--add-host's "NAME:IP" entries (as the record keeps them: checked, host-gateway resolved) as lines."""
    return "".join(f"{address}\t{name}\n" for name, _, address in (e.partition(":") for e in entries))


def with_dns(text: str, host_config: dict[str, Any]) -> str:
    """resolv.conf `text` with the lines of each kind the container's HostConfig gives (docker's Dns, DnsSearch
    and DnsOptions, from --dns, --dns-search and --dns-option) replaced by those; as it is when none is."""
    replaced = [(key, values) for key, values in (("nameserver", host_config.get("Dns")),
                                                   ("search", host_config.get("DnsSearch")),
                                                   ("options", host_config.get("DnsOptions"))) if values]
    if not replaced:
        return text
    keys = {key for key, _ in replaced}
    kept = [line for line in text.splitlines() if (line.split() or [""])[0] not in keys]
    added = [f"{key} {value}" for key, values in replaced if key == "nameserver" for value in values]
    added += [f"{key} {' '.join(values)}" for key, values in replaced if key != "nameserver"]
    return "\n".join(added + kept) + "\n"


def resolv_conf(host: str | None = None) -> str:
    text = read_or_empty(HOST_RESOLV_CONF) if host is None else host
    if host is None and RESOLVED_STUB in _nameservers(text) and os.path.exists(RESOLVED_UPSTREAM):
        text = read_or_empty(RESOLVED_UPSTREAM)
    kept = [line for line in text.splitlines() if not _loopback_nameserver(line)]
    if not _nameservers("\n".join(kept)):
        kept += [f"nameserver {server}" for server in DEFAULT_NAMESERVERS]
    return "\n".join(kept) + "\n"


def _nameservers(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.split()[:1] == ["nameserver"] and
            len(line.split()) > 1]


def _loopback_nameserver(line: str) -> bool:
    words = line.split()
    if words[:1] != ["nameserver"] or len(words) < 2:
        return False
    return words[1].startswith("127.") or words[1] == "::1"

