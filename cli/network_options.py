"""`berth run`'s network flags as docker checks them (--network, -p, -P, --expose, --link, --add-host, --dns,
--dns-search, --dns-option), and what they put in the container's record: Config.ExposedPorts, HostConfig's
NetworkMode, PortBindings, PublishAllPorts, Links, ExtraHosts, Dns, DnsSearch and DnsOptions, and an empty
NetworkSettings (the supervisor fills it in while the container runs)."""

from __future__ import annotations

import argparse

from runtime.network.endpoint import JOINED, settings

from .environment import Environment
from .errors import ContainerFailed

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

NETWORKS = ("bridge", "host", "none")
DEFAULT_NETWORK = "bridge"  # docker's


def add_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--network", "--net", default=DEFAULT_NETWORK, metavar="bridge|host|none|container:NAME",
        help="bridge (the default: berth's bridge, an address of its own), host (the host's network), none "
             "(only a loopback interface) or container:NAME (another running container's network)")
    add("-p", "--publish", action="append", default=[], metavar="[IP:][HOST_PORT[-END]:]PORT[-END][/tcp|udp]",
        help="publish a container's port or range of ports on the host (HOST_PORT left out: a free one)")
    add("-P", "--publish-all", action="store_true", help="publish every exposed port on a free host port")
    add("--expose", action="append", default=[], metavar="PORT[-END][/tcp|udp]",
        help="expose a port or a range of ports")
    add("--link", action="append", default=[], metavar="CONTAINER[:ALIAS]", help="add a link to another container")
    add("--add-host", action="append", default=[], metavar="HOST:IP",
        help="add a line to /etc/hosts (IP host-gateway: the host's address on berth's bridge)")
    add("--dns", action="append", default=[], metavar="IP", help="a DNS server for /etc/resolv.conf")
    add("--dns-search", action="append", default=[], metavar="DOMAIN", help="a DNS search domain")
    add("--dns-option", action="append", default=[], metavar="OPTION", help="a DNS option (e.g. ndots:2)")


def check(env: Environment, args: argparse.Namespace) -> None:
    if args.network.startswith(JOINED):
        check_joined(args)
    elif args.network not in NETWORKS:
        raise ContainerFailed(f"network {args.network} not found")
    if args.link and args.network != "bridge":
        raise ContainerFailed(f"conflicting options: {args.network} type networking can't be used with links. "
                              "This would result in undefined behavior")
    if args.network == "host" and (args.publish or args.publish_all):
        env.note("WARNING: Published ports are discarded when using host network mode")


def check_joined(args: argparse.Namespace) -> None:
    """What docker refuses beside container:NAME (moby runconfig's validateNetContainerMode, its words): the
    other container's network decides these."""
    if not args.network.removeprefix(JOINED):
        raise ContainerFailed("Invalid network mode: invalid container format container:<name|id>")
    for given, conflict in ((args.hostname, "hostname and the network mode"),
                            (args.link, "container type network can't be used with links. This would result in "
                                        "undefined behavior"),
                            (args.dns, "dns and the network mode"),
                            (args.add_host, "custom host-to-IP mapping and the network mode"),
                            (args.publish or args.publish_all, "port publishing and the container type network mode"),
                            (args.expose, "port exposing and the container type network mode")):
        if given:
            raise ContainerFailed(f"conflicting options: {conflict}")


def joined(env: Environment, mode: str) -> tuple[str, dict[str, Any]]:
    """container:NAME as the record keeps it (container:ID, as a rename cannot change it) and the Config part
    it decides: the other container's hostname, as docker gives it."""
    from .containers import find
    from .errors import CliError

    try:
        target = find(env, mode.removeprefix(JOINED))
    except CliError as exc:
        raise ContainerFailed(exc.message) from None
    return f"{JOINED}{target.id}", {"Hostname": target.config.get("Hostname") or target.short_id,
                                     "Domainname": target.config.get("Domainname") or ""}


def network_record(env: Environment, args: argparse.Namespace,
                   image_ports: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(Config's part, HostConfig's part, NetworkSettings) for the container; `image_ports` its ExposedPorts."""
    check(env, args)
    mode, config = (joined(env, args.network) if args.network.startswith(JOINED) else (args.network, {}))
    bindings: dict[str, list[dict[str, str]]] = {}
    for text in args.publish:
        for key, binding in publish(text):
            bindings.setdefault(key, []).append(binding)
    given = [port for text in args.expose for port in expose(text)]
    exposed: dict[str, Any] = {key: {} for key in [*(image_ports or {}), *given, *bindings]}  # -p exposes too
    bridged = args.network == "bridge"
    if args.publish_all and bridged:
        for key in image_ports or {}:  # the flags' own were checked above
            protocol(key.partition("/")[2], f"{key} (the image's EXPOSE, published by -P)")
    host = {"NetworkMode": mode, "PortBindings": bindings if bridged else {},
            "PublishAllPorts": args.publish_all and bridged, "Links": links(env, args.link, args.name) or None,
            "ExtraHosts": [extra_host(text) for text in args.add_host] or None,
            "Dns": [ip_address(text, "--dns", f"{text} is not an ip address") for text in args.dns],
            "DnsSearch": [resolv_word(text, "--dns-search") for text in args.dns_search],
            "DnsOptions": [resolv_word(text, "--dns-option") for text in args.dns_option]}
    return {"ExposedPorts": exposed or None, **config}, host, settings(mode)


def extra_host(text: str) -> str:
    """--add-host NAME:IP (or NAME=IP) as "NAME:IP", host-gateway replaced by berth's bridge address."""
    name, sep, address = text.partition("=") if "=" in text else text.partition(":")
    if not sep or not address or not is_word(name):
        raise ContainerFailed(f'invalid argument "{text}" for "--add-host" flag: bad format for add-host: "{text}"')
    if address == "host-gateway":
        from runtime.network.ipam import GATEWAY

        return f"{name}:{GATEWAY}"
    found = ip_address(address.strip("[]"), "--add-host", f'invalid IP address in add-host: "{address}"', text)
    return f"{name}:{found}"


def ip_address(text: str, flag: str, problem: str, given: str | None = None) -> str:
    import ipaddress  # only now: it takes a millisecond to load

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ContainerFailed(f'invalid argument "{given or text}" for "{flag}" flag: {problem}') from None


def resolv_word(text: str, flag: str) -> str:
    if not is_word(text):
        raise ContainerFailed(f'invalid argument "{text}" for "{flag}" flag: {text!r} is not a valid value')
    return text


def is_word(text: str) -> bool:
    """Whether `text` can be one word of /etc/hosts or /etc/resolv.conf: no space, no line, no comment."""
    return bool(text) and text.isprintable() and not any(c.isspace() or c == "#" for c in text)


def publish(text: str) -> list[tuple[str, dict[str, str]]]:
    """-p [IP:][HOST_PORT[-END]:]PORT[-END][/PROTO] as docker's nat.ParsePortSpec reads it: one ("PORT/proto",
    {"HostIp", "HostPort"}) per container port of the range ("" for any). Host and container ranges pair up
    port by port; a host range beside one container port stays a range: the first free port of it."""
    parts = text.split(":")
    host_ip, host_port, container = ":".join(parts[:-2]), parts[-2] if len(parts) > 1 else "", parts[-1]
    container, _, proto = container.partition("/")
    proto = protocol(proto, text)
    if host_ip.startswith("[") and host_ip.endswith("]"):
        host_ip = host_ip[1:-1]
    if host_ip:
        import ipaddress  # only now: it takes a millisecond to load

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ContainerFailed(f"invalid IP address: {host_ip}") from None
    if not container:
        raise ContainerFailed(f"no port specified: {text}<empty>")
    try:
        start, end = port_range(container)
    except ValueError:
        raise ContainerFailed(f"invalid containerPort: {container}") from None
    first = last = 0
    if host_port:
        try:
            first, last = port_range(host_port, lowest=0)  # 0: any free port, as docker takes it
        except ValueError:
            raise ContainerFailed(f"invalid hostPort: {host_port}") from None
        if last - first != end - start and end != start:
            raise ContainerFailed(f"invalid ranges specified for container and host Ports: {container} and {host_port}")
    found = []
    for offset in range(end - start + 1):
        host = str(first + offset) if host_port else ""
        if host and start == end and first != last:
            host = f"{first}-{last}"
        found.append((f"{start + offset}/{proto}", {"HostIp": host_ip, "HostPort": host}))
    return found


def expose(text: str) -> list[str]:
    """--expose PORT[-END][/PROTO] as "PORT/proto" keys."""
    if ":" in text:
        raise ContainerFailed(f"invalid port format for --expose: {text}")
    body, _, proto = text.partition("/")
    proto = protocol(proto, text)
    try:
        start, end = port_range(body)
    except ValueError as exc:
        raise ContainerFailed(f"invalid range format for --expose: {text}, error: {exc}") from None
    return [f"{port}/{proto}" for port in range(start, end + 1)]


def port_range(text: str, lowest: int = 1) -> tuple[int, int]:
    """PORT or START-END as (start, end); ValueError in docker's words (nat.ParsePortRange's) if it is not one,
    or if it starts below `lowest` (docker leaves port 0 to the daemon; berth refuses it but as a host port)."""
    first, dash, last = text.partition("-")
    for part in (first, last) if dash else (first,):
        if not (part.isascii() and part.isdigit()):
            raise ValueError(f'strconv.ParseUint: parsing "{part}": invalid syntax')
        if int(part) > 65535:
            raise ValueError(f'strconv.ParseUint: parsing "{part}": value out of range')
    start, end = int(first), int(last or first)
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    if start < lowest:
        raise ValueError(f"invalid port: {text}")
    return start, end


def protocol(text: str, spec: str) -> str:
    """tcp (the default) or udp. docker also takes sctp, which berth's proxy does not carry: refused here, as
    an unknown protocol is."""
    proto = text.lower() or "tcp"
    if proto == "sctp":
        raise ContainerFailed(f"sctp ports cannot be published or exposed by berth, only tcp and udp: {spec}")
    if proto not in ("tcp", "udp"):
        raise ContainerFailed(f"invalid proto: {proto}")
    return proto


def links(env: Environment, given: list[str], name: str | None) -> list[str]:
    """--link NAME[:ALIAS] in docker's record form, "/NAME:/ME/ALIAS" (the target must exist now; it must be
    running when this container starts)."""
    from .containers import find
    from .errors import CliError

    found = []
    for text in given:
        target, _, alias = text.partition(":")
        if not target.strip("/"):
            raise ContainerFailed(f"invalid link format: {text}")
        if alias and not (alias[0].isascii() and alias[0].isalnum() and  # it becomes a name in /etc/hosts
                          all(c.isascii() and (c.isalnum() or c in "_.-") for c in alias)):
            raise ContainerFailed(f"invalid alias for --link {target}: {alias!r}, only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                  "are allowed")
        try:
            target = find(env, target.strip("/")).name
        except CliError as exc:
            raise ContainerFailed(f"could not get container for {target}: {exc.message}") from None
        found.append(f"/{target}:/{name or ''}/{alias or target}".replace("//", "/"))
    return found
