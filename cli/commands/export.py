"""`berth export`: a container's whole filesystem as a tar (to stdout or a file), which `berth import` takes back."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from runtime.copy import container_root, export

from ..containers import container_errors, find
from ..environment import Environment
from ..errors import CliError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("export", help="export a container's filesystem as a tar archive",
                                 description="Write a container's filesystem (without its volumes) as a tar "
                                             "archive, to stdout or a file; `berth import` makes an image of it.")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to a file instead of stdout")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    if args.output is None and env.stdout.isatty():
        raise CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    container = find(env, args.container)
    from .run import container_layers

    with container_errors(), container_root(container, container_layers(env, container)) as root:
        if args.output is None:
            env.stdout.flush()
            out = getattr(env.stdout, "buffer", None)
            if out is None:
                raise CliError("stdout does not take binary data: use the -o flag")
            try:
                export(root, out)
                out.flush()
            except BrokenPipeError:
                raise CliError("the reader of stdout went away before the archive was written") from None
            return 0
        temporary = args.output.with_name(f".{args.output.name}.{os.getpid()}.tmp")
        try:  # the file appears only once it is whole
            with open(temporary, "wb") as out:
                export(root, out)
            os.replace(temporary, args.output)
        finally:
            temporary.unlink(missing_ok=True)
    return 0
