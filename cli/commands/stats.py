"""`berth stats`: containers' CPU, memory, network, block I/O and pids, as docker stats shows them (docker/cli's
cli/command/container/stats.go and formatter_stats.go): one table with --no-stream, else redrawn every
second until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from typing import Any

from runtime.containers import Container

from ..cgroup_stats import Sample, cpu_percent, sample
from ..containers import container_errors, container_store
from ..docker_words import human_size
from ..environment import Environment
from ..errors import CliError
from ..templates import render_rows

DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
HEADERS = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
CLEAR_SCREEN = "\033[2J\033[H"  # what docker writes before each redraw
FIRST_INTERVAL = 0.5  # between the two samples of the first table (CPU % is a rate)
INTERVAL = 1.0  # docker's daemon sends a sample a second
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def register(commands: argparse._SubParsersAction, name: str = "stats") -> None:
    parser = commands.add_parser(name, help="display a live stream of container(s) resource usage statistics",
                                 description="Show the containers' resource usage (the running ones, all with -a, "
                                             "or those named), refreshed every second.")
    parser.add_argument("-a", "--all", action="store_true", help="show all containers (default shows just running)")
    parser.add_argument("--no-stream", action="store_true",
                        help="disable streaming stats and only pull the first result")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("--format", default="", metavar="FORMAT",
                        help="'table' (default), 'table TEMPLATE', 'json', or a Go template such as '{{.CPUPerc}}'")
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    watched = _watched(env, args)
    before = {given: sample(c) for given, c in watched}
    time.sleep(FIRST_INTERVAL if watched else 0)
    while True:
        watched = _watched(env, args) if not args.containers else _refreshed(env, watched)
        after = {given: sample(c) for given, c in watched}
        rows = [row(given, c, before.get(given, after[given]), after[given], args.no_trunc) for given, c in watched]
        if not args.no_stream:
            env.stdout.write(CLEAR_SCREEN)
        for line in render_rows(args.format, rows, HEADERS, DEFAULT):
            env.print(line)
        if args.no_stream or (args.containers and not watched):
            return 0
        before = after
        time.sleep(INTERVAL)


def _watched(env: Environment, args: argparse.Namespace) -> list[tuple[str, Container]]:
    """(the name shown as CONTAINER, the container): those named, in order, else the running ones (all with
    -a), newest first. A name that matches nothing is docker's error, before any table."""
    with container_errors():
        store = container_store(env)
        if not args.containers:
            return [(c.short_id, c) for c in store.list() if args.all or c.status in ("running", "paused")]
    found, missing = [], []
    for name in dict.fromkeys(args.containers):
        try:
            with container_errors():
                found.append((name, store.get(name)))
        except CliError:
            missing.append(f"No such container: {name}")
    if missing:
        raise CliError("\n".join(missing))
    return found


def _refreshed(env: Environment, watched: list[tuple[str, Container]]) -> list[tuple[str, Container]]:
    """The named containers' records now (a removed one drops out, as its stream ends in docker)."""
    store = container_store(env)
    found = []
    for given, container in watched:
        try:
            with container_errors():
                found.append((given, store.get(container.id)))
        except CliError:
            continue
    return found


def row(given: str, container: Container, before: Sample, after: Sample, no_trunc: bool) -> dict[str, Any]:
    """docker's statsContext fields, keys sorted as its JSON prints them."""
    return {"BlockIO": f"{human_size(after.block_read)} / {human_size(after.block_write)}",
            "CPUPerc": f"{cpu_percent(before, after):.2f}%", "Container": given,
            "ID": container.id if no_trunc else container.short_id,
            "MemPerc": f"{after.memory_percent:.2f}%",
            "MemUsage": f"{bytes_size(after.memory)} / {bytes_size(after.memory_limit)}",
            "Name": container.name or "--", "NetIO": f"{human_size(after.net_rx)} / {human_size(after.net_tx)}",
            "PIDs": str(after.pids)}


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units with 4 significant digits (docker's MEM USAGE / LIMIT)."""
    unit = 0
    while size >= 1024 and unit < len(_BINARY) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{_BINARY[unit]}"
