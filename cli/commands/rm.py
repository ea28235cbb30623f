"""`berth rm`: remove containers (a running one only with -f, which kills it first)."""

from __future__ import annotations

import argparse

from runtime.containers import Container
from runtime.lifecycle import remove
from runtime.volumes import VolumeStore

from ..containers import for_each, runtime_home
from ..environment import Environment


def register(commands: argparse._SubParsersAction, name: str = "rm", aliases: tuple[str, ...] = ()) -> None:
    parser = commands.add_parser(name, aliases=list(aliases), help="remove one or more containers",
                                 description="Remove containers: their record, logs and changes to the image.")
    parser.add_argument("-f", "--force", action="store_true", help="kill and remove a running container")
    parser.add_argument("-v", "--volumes", action="store_true", help="remove the container's anonymous volumes")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    home = runtime_home(env)

    def remove_container(container: Container) -> None:
        remove(home, container, args.force)
        if args.volumes:
            VolumeStore.beside(home.containers()).release_anonymous(container.doc)

    return for_each(env, args.containers, remove_container)
