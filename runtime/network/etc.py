"""/etc/hosts and /etc/resolv.conf of a bridged container, as docker writes them.

hosts: localhost and the IPv6 names, then the linked containers ("IP\tALIAS ID NAME"), then the container's
own name at its address. resolv.conf: the host's, without nameservers on loopback (unreachable from the
container's namespace); behind systemd-resolved's stub, the upstream servers it lists; and when no server is
left, Google's public ones, as docker falls back to.
"""

from __future__ import annotations

from pathlib import Path

HOSTS_HEAD = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVED_UPSTREAM = Path("/run/systemd/resolve/resolv.conf")  # what docker reads behind the 127.0.0.53 stub
RESOLVED_STUB = "127.0.0.53"
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # docker's defaultIPv4Dns


def hosts(address: str, hostname: str, domainname: str, links: list[tuple[str, list[str]]]) -> str:
    """`links`: (address, names) of each linked container."""
    own = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    return HOSTS_HEAD + "".join(f"{ip}\t{' '.join(names)}\n" for ip, names in links) + f"{address}\t{own}\n"


def resolv_conf(host: str | None = None) -> str:
    text = _read(HOST_RESOLV_CONF) if host is None else host
    if host is None and RESOLVED_STUB in _nameservers(text) and RESOLVED_UPSTREAM.exists():
        text = _read(RESOLVED_UPSTREAM)
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


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
