"""`berth ps`: the containers, with docker's columns (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES)."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.containers import Container

from ..containers import command_text, container_errors, container_store, since, status_text
from ..environment import Environment
from ..local_images import human_duration
from ..templates import render_rows

DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
           "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES",
           "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "Size": "SIZE"}


def register(commands: argparse._SubParsersAction, name: str = "ps", aliases: tuple[str, ...] = ()) -> None:
    parser = commands.add_parser(name, aliases=list(aliases), help="list containers",
                                 description="List containers, newest first (only running ones without -a).")
    parser.add_argument("-a", "--all", action="store_true", help="show all containers (default: running only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show container IDs")
    parser.add_argument("-n", "--last", type=int, default=-1, metavar="N",
                        help="show the N last created containers (in any state)")
    parser.add_argument("-l", "--latest", action="store_true", help="show the latest created container")
    parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    parser.add_argument("--format", default="", metavar="FORMAT",
                        help="'table' (default), 'table TEMPLATE', 'json', or a Go template such as '{{.Names}}'")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    with container_errors():
        containers = container_store(env).list()
    last = 1 if args.latest else args.last
    if last >= 0:
        containers = containers[:last]
    elif not args.all:
        containers = [c for c in containers if c.running]
    if args.quiet:
        for container in containers:
            env.print(container.id if args.no_trunc else container.short_id)
        return 0
    for line in render_rows(args.format, [row(c, args.no_trunc) for c in containers], HEADERS, DEFAULT):
        env.print(line)
    return 0


def row(container: Container, no_trunc: bool) -> dict[str, Any]:
    status = container.status
    return {"ID": container.id if no_trunc else container.short_id, "Image": container.config.get("Image", ""),
            "Command": command_text(container, no_trunc), "CreatedAt": container.doc["Created"],
            "RunningFor": human_duration(since(container.doc["Created"])) + " ago",
            "Status": status_text(container), "State": "exited" if status == "dead" else status, "Ports": "",
            "Names": container.name, "Labels": ",".join(f"{k}={v}" for k, v in
                                                        (container.config.get("Labels") or {}).items()),
            "Mounts": ",".join(b.split(":")[0] for b in container.host_config.get("Binds") or []),
            "Networks": container.host_config.get("NetworkMode", ""), "Size": ""}
