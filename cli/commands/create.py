"""`berth create`: a container from an image, with `berth run`'s flags, left in state "created" for
`berth start` (docker create)."""

from __future__ import annotations

import argparse

from ..containers import container_errors, runtime_home
from ..environment import Environment
from ..errors import CliError, ContainerFailed
from ..run_options import add_flags, container_doc


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("create", help="create a new container", add_help=False,
                                 description="Create a container from IMAGE (pulled first if missing) and print its "
                                             "ID; `berth start` runs it.")
    parser.add_argument("--help", action="help", help="show this help message and exit")
    add_flags(parser)
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    from .run import find_or_pull, unpack_layers

    try:
        image = find_or_pull(env, args.image)
        home = runtime_home(env)
        with container_errors():
            doc = container_doc(env, args, image)
            home.runtime(args.runtime)  # fail now, as docker create does, for a runtime that is not there
            unpack_layers(env, home, image)  # so that start has nothing left to do but start
            container = home.containers().create(doc, args.name)
    except ContainerFailed:
        raise
    except CliError as exc:  # docker create exits 125 for its own failures, as docker run does
        raise ContainerFailed(exc.message) from None
    env.print(container.id)
    return 0
