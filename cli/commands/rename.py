"""`berth rename`: give a container (running or not) another name, as docker's rules allow."""

from __future__ import annotations

import argparse

from ..containers import container_errors, container_store
from ..environment import Environment
from ..errors import CliError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("rename", help="rename a container",
                                 description="Rename a container, running or not; links to it follow the new name.")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("new_name", metavar="NEW_NAME")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    old, new = args.container.strip(), args.new_name.strip()
    if not old or not new:
        raise CliError("Neither old nor new names may be empty")
    try:
        with container_errors():
            store = container_store(env)
            store.rename(store.get(old), new)
    except CliError as exc:  # docker prints the daemon's reason, then its own line (cli/command/container/rename.go)
        env.stderr.write(f"Error response from daemon: {exc.message}\n")
        raise CliError(f"failed to rename container named {old}") from None
    return 0
