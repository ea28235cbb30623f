"""`berth port`: a container's published ports, as docker prints them ("80/tcp -> 0.0.0.0:32768")."""

from __future__ import annotations

import argparse

from runtime.network.ports import mappings

from ..containers import find
from ..environment import Environment
from ..errors import CliError


def register(commands: argparse._SubParsersAction, name: str = "port") -> None:
    parser = commands.add_parser(name, help="list port mappings of a container",
                                 description="List the container's published ports, or the host address of one.")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("private_port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    container = find(env, args.container)
    published = [(private, public) for private, public in
                 mappings((container.doc.get("NetworkSettings") or {}).get("Ports")) if public]
    if args.private_port is None:
        for private, public in published:
            env.print(f"{private} -> {public}")
        return 0
    port, _, proto = args.private_port.partition("/")
    wanted = f"{port}/{proto or 'tcp'}"
    found = [public for private, public in published if private == wanted]
    if not found:
        raise CliError(f"No public port '{wanted}' published for {args.container}")
    for public in found:
        env.print(public)
    return 0
