"""`berth diff`: what a container changed in its image's files, as `docker diff` lists it ("A", "C", "D" /path)."""

from __future__ import annotations

import argparse

from runtime.rootfs import Rootfs
from runtime.rootfs.diff import changes

from ..containers import container_errors, container_store
from ..environment import Environment
from ..errors import CliError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("diff", help="inspect changes to files or directories on a container's filesystem",
                                 description="List what the container added (A), changed (C) and deleted (D) in "
                                             "its image's files, running or stopped; its volumes and the "
                                             "runtime's mount points (/etc/hosts, /dev, /proc, /sys...) are not "
                                             "listed.")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    from .run import container_layers

    try:
        with container_errors():
            container = container_store(env).get(args.container)
            found = changes(Rootfs(container.dir).upper, container_layers(env, container))
    except CliError as exc:
        env.stderr.write(f"Error response from daemon: {exc.message}\n")
        return 1
    for kind, path in found:
        env.print(f"{kind} {path}")
    return 0
