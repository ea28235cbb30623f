"""`berth pause` and `unpause`: freeze every process of running containers (the runtime's freezer), and thaw them."""

from __future__ import annotations

import argparse

from runtime.lifecycle import pause, unpause

from ..containers import for_each, runtime_home
from ..environment import Environment


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("pause", help="pause all processes within one or more containers",
                                 description="Freeze every process of running containers (the freezer cgroup) "
                                             "until `berth unpause`; stop, kill and rm -f still end them.")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=run_pause)
    parser = commands.add_parser("unpause", help="unpause all processes within one or more containers",
                                 description="Thaw containers frozen by `berth pause`.")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=run_unpause)


def run_pause(env: Environment, args: argparse.Namespace) -> int:
    home = runtime_home(env)
    return for_each(env, args.containers, lambda container: pause(home, container))


def run_unpause(env: Environment, args: argparse.Namespace) -> int:
    home = runtime_home(env)
    return for_each(env, args.containers, lambda container: unpause(home, container))
