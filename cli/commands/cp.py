"""`berth cp`: copy files and directories between a container (running or not) and this machine, as `docker cp`.

One side is CONTAINER:PATH, the other a local path or `-` (a tar stream on stdin or stdout). The rules for
what lands where (a missing destination, a trailing `/`, `SRC/.`) are docker's; see runtime/copy.py.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO

from runtime.containers import Container, ContainerError
from runtime.copy import Owner, check_writable, container_root, copy_in_or_out, mounted, resolve, unpack_into, write_tar

from ..containers import container_errors, container_store
from ..environment import Environment
from ..errors import CliError


class CopyFailed(CliError):
    """A failure on this side of the copy (docker's CLI reports it, not its daemon)."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "cp", help="copy files/folders between a container and the local filesystem",
        description="Copy files and directories between a container and the local filesystem: berth cp "
                    "CONTAINER:SRC_PATH DEST_PATH|-, or berth cp SRC_PATH|- CONTAINER:DEST_PATH. `-` is a tar "
                    "stream on stdin or stdout.")
    parser.add_argument("-a", "--archive", action="store_true", help="keep the files' owners (uid:gid)")
    parser.add_argument("-L", "--follow-link", action="store_true", help="always follow a symlink given as SRC_PATH")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output (berth prints none anyway)")
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("dest", metavar="DEST")
    parser.set_defaults(func=run)


def split(text: str) -> tuple[str | None, str]:
    """docker's reading of a cp argument: CONTAINER:PATH, unless it is absolute or starts with `.`."""
    if text.startswith(("/", ".")) or ":" not in text:
        return None, text
    container, _, path = text.partition(":")
    return container, path


def run(env: Environment, args: argparse.Namespace) -> int:
    (source_container, source), (dest_container, dest) = split(args.source), split(args.dest)
    if source_container is not None and dest_container is not None:
        raise CliError("copying between containers is not supported")
    if source_container is None and dest_container is None:
        raise CliError("must specify at least one container source")
    name, path = (source_container, source) if source_container is not None else (dest_container, dest)
    try:
        with container_errors():
            container = container_store(env).get(name or "")
    except CliError:
        raise CliError(f"No such container:path: {name}:{path}") from None
    try:
        with container_errors():
            if source_container is not None:
                copy_out(env, args, container, source, dest)
            else:
                copy_in(env, args, container, source, dest)
    except CopyFailed:
        raise
    except CliError as exc:  # what docker's daemon refuses, docker prints as its answer
        env.stderr.write(f"Error response from daemon: {exc.message}\n")
        return 1
    return 0


def copy_out(env: Environment, args: argparse.Namespace, container: Container, source: str, dest: str) -> None:
    follow = args.follow_link or source.endswith(("/", "/."))
    with container_root(container, _layers(env, container)) as root:
        found = resolve(root, container, source, follow)
        if dest == "-":
            if not os.path.lexists(found):
                raise ContainerError(f"Could not find the file {source} in container {container.name}")
            contents = source.endswith("/.") and found.is_dir()
            write_tar(_binary(env.stdout, "stdout"), found, None if contents else found.name or ".", None,
                      mounted(container, source))
            return
        owner = None if args.archive else Owner(os.getuid(), os.getgid())
        copy_in_or_out(found, source, Path(os.path.abspath(dest)), dest, owner,
                       f"{source} in container {container.name}", mounted(container, source))


def copy_in(env: Environment, args: argparse.Namespace, container: Container, source: str, dest: str) -> None:
    local = Path(os.path.abspath(source))
    if source != "-" and not os.path.lexists(local):
        raise CopyFailed(f"lstat {local}: no such file or directory")
    if args.follow_link and source != "-":
        local = Path(os.path.realpath(local))
    check_writable(container, dest)
    with container_root(container, _layers(env, container)) as root:
        target = resolve(root, container, dest, follow_last=True)
        if source == "-":
            if not target.is_dir():
                raise ContainerError(f'destination "{container.name}:{dest}" must be a directory')
            unpack_into(_binary(env.stdin, "stdin"), target)
            return
        owner = None if args.archive else Owner(0, 0)  # root in the container, as docker (no user namespaces)
        copy_in_or_out(local, source, target, dest, owner, str(local))


def _layers(env: Environment, container: Container) -> list[str]:
    from .run import container_layers  # the image's layers: needed only to mount a stopped container

    return container_layers(env, container)


def _binary(stream: object, name: str) -> IO[bytes]:
    found: IO[bytes] | None = getattr(stream, "buffer", None)
    if found is None:
        raise CliError(f"{name} does not take binary data")
    getattr(stream, "flush", lambda: None)()
    return found

