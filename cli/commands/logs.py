"""`berth logs`: a container's output from its json-file log, following it with -f."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from runtime.containers import NoSuchContainer
from runtime.logs import read_entries

from ..containers import container_errors, container_store
from ..environment import Environment
from ..local_images import BadOption


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("logs", help="show a container's output",
                                 description="Show what a container wrote to stdout and stderr.")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing output until the container stops")
    parser.add_argument("-n", "--tail", default="all", metavar="N", help="only the last N lines (default: all)")
    parser.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    parser.add_argument("--since", metavar="TIME", help="only output since TIME (2013-01-02T13:23:37Z, or 42m ago)")
    parser.add_argument("--until", metavar="TIME", help="only output before TIME (2013-01-02T13:23:37Z, or 42m ago)")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    if args.tail != "all" and not args.tail.lstrip("-").isdigit():
        raise BadOption(f"invalid value for --tail: {args.tail}")
    tail = None if args.tail == "all" or int(args.tail) < 0 else int(args.tail)
    with container_errors():
        store = container_store(env)
        container = store.get(args.container)

    def still_running() -> bool:
        try:
            return store.reload(container).running
        except NoSuchContainer:
            return False

    shown = log_window(args)
    for entry in read_entries(container.log_path, tail, still_running if args.follow else None):
        if not shown(entry.time):
            continue
        target = env.stderr if entry.stream == "stderr" else env.stdout
        target.write(f"{entry.time} {entry.log}" if args.timestamps else entry.log)
        target.flush()
    return 0


def log_window(args: argparse.Namespace) -> Callable[[str], bool]:
    """Whether an entry's time is inside --since and --until."""
    from ..timestamps import BadTimestamp, window

    try:
        return window(args.since, args.until)
    except BadTimestamp as exc:
        raise BadOption(f'invalid value for "--since" or "--until": failed to parse value as time or duration: '
                        f'"{exc}"') from None
