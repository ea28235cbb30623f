"""`berth ps`: the containers, with docker's columns (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES)."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.containers import Container
from runtime.network.ports import ps_text

from ..container_filters import parse_filters, sizes
from ..containers import command_text, container_errors, container_store, since, status_text
from ..docker_words import human_duration
from ..environment import Environment
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
    parser.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="only containers that match: status, name, id, label, ancestor, exited, before, since, "
                             "volume, network, publish, expose, health")
    parser.add_argument("-s", "--size", action="store_true", help="show the containers' total file sizes")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    with container_errors():
        containers = container_store(env).list()
    wanted = parse_filters(env, args.filter)
    containers = [c for c in containers if wanted(c)]
    last = 1 if args.latest else args.last
    if last >= 0:
        containers = containers[:last]
    elif not args.all and not wanted.all:
        containers = [c for c in containers if c.running]
    if args.quiet:
        for container in containers:
            env.print(container.id if args.no_trunc else container.short_id)
        return 0
    rows = [row(c, args.no_trunc) for c in containers]
    if args.size:
        for found, size in zip(rows, sizes(env, containers).values(), strict=True):
            found["Size"] = size
    default = DEFAULT + "\t{{.Size}}" if args.size else DEFAULT
    for line in render_rows(args.format, rows, HEADERS, default):
        env.print(line)
    return 0


def row(container: Container, no_trunc: bool) -> dict[str, Any]:
    status = container.status
    return {"ID": container.id if no_trunc else container.short_id, "Image": container.config.get("Image", ""),
            "Command": command_text(container, no_trunc), "CreatedAt": container.doc["Created"],
            "RunningFor": human_duration(since(container.doc["Created"])) + " ago",
            "Status": status_text(container), "State": "exited" if status == "dead" else status,
            "Ports": ps_text(container.doc.get("NetworkSettings", {}).get("Ports")) if container.running else "",
            "Names": container.name, "Labels": ",".join(f"{k}={v}" for k, v in
                                                        (container.config.get("Labels") or {}).items()),
            "Mounts": ",".join(_ellipsis(m.get("Name") or m["Source"], 15, no_trunc)
                               for m in container.doc.get("Mounts") or []),
            "Networks": container.host_config.get("NetworkMode", ""), "Size": ""}


def _ellipsis(text: str, width: int, no_trunc: bool) -> str:
    """docker ps cuts each mount's name to 15 characters, the last an ellipsis."""
    return text if no_trunc or len(text) <= width else text[:width - 1] + "…"
