"""`berth top`: a running container's processes, as the host's `ps` shows them (docker top)."""

from __future__ import annotations

import argparse
import subprocess

from runtime.process import container_pids

from ..containers import container_errors, container_store
from ..environment import Environment
from ..errors import CliError

COLUMN_MIN, PADDING = 20, 3  # docker's tabwriter for top


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("top", help="display the running processes of a container",
                                 description="Show the processes of a running container, as `ps -ef` (or the "
                                             "given ps options) shows them on the host.")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_options", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    try:
        with container_errors():
            container = container_store(env).get(args.container)
    except CliError as exc:  # docker's wording for what its daemon refuses
        env.stderr.write(f"Error response from daemon: {exc.message}\n")
        return 1
    if container.status not in ("running", "paused"):  # a frozen container's processes are still there
        env.stderr.write(f"Error response from daemon: container {container.id} is not running\n")
        return 1
    pids = set(container_pids(container))
    options = args.ps_options or ["-ef"]
    done = subprocess.run(["ps", *options], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        env.stderr.write(f"Error response from daemon: ps: {done.stderr.strip()}\n")
        return 1
    header, *lines = done.stdout.splitlines()
    titles = header.split()
    if "PID" not in titles:
        env.stderr.write('Error response from daemon: Couldn\'t find PID field in ps output\n')
        return 1
    column = titles.index("PID")
    rows = [_fields(line, len(titles)) for line in lines]
    rows = [r for r in rows if len(r) > column and r[column].isdigit() and int(r[column]) in pids]
    for line in table([titles, *rows]):
        env.print(line)
    return 0


def _fields(line: str, count: int) -> list[str]:
    """A ps line cut into `count` fields: the last one (the command) keeps its spaces."""
    return line.split(None, count - 1)


def table(rows: list[list[str]]) -> list[str]:
    """Columns padded as Go's tabwriter (minimum width 20, padding 3) pads docker top's output."""
    widths = [max(COLUMN_MIN, max(len(r[i]) for r in rows if i < len(r)) + PADDING)
              for i in range(max(len(r) for r in rows))]
    return ["".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
            for row in rows]
