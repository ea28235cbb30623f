"""`berth volume`: create, list, inspect, remove and prune volumes, with docker's output."""

from __future__ import annotations

import argparse
import json

from runtime.volumes import VolumeStore

from ..containers import container_errors, container_store
from ..docker_words import human_size
from ..environment import Environment
from ..errors import CliError, ExitCode
from ..templates import render_rows

PRUNE_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
PRUNE_ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container.\n"
DEFAULT = "table {{.Driver}}\t{{.Name}}"
HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
           "Labels": "LABELS"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("volume", help="manage volumes", description="Manage volumes.")
    group = parser.add_subparsers(dest="volume_command", metavar="COMMAND")
    parser.set_defaults(func=lambda env, _args: parser.print_help(env.stderr) or ExitCode.USAGE)
    create = group.add_parser("create", help="create a volume", description="Create a volume (a random name "
                              "when none is given); an existing volume of that name is left as it is.")
    create.add_argument("-d", "--driver", default="local", help="the volume driver (only local)")
    create.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set metadata")
    create.add_argument("--name", dest="name_flag", metavar="NAME", help="the volume's name")
    create.add_argument("name", nargs="?", metavar="VOLUME")
    create.set_defaults(func=run_create)
    listing = group.add_parser("ls", aliases=["list"], help="list volumes", description="List volumes.")
    listing.add_argument("-q", "--quiet", action="store_true", help="only show volume names")
    listing.add_argument("--format", default="", metavar="FORMAT", help="'table', 'json' or a Go template")
    listing.set_defaults(func=run_ls)
    inspect = group.add_parser("inspect", help="display detailed information on volumes",
                               description="Display detailed information on volumes, as JSON.")
    inspect.add_argument("-f", "--format", default="", metavar="FORMAT", help="a Go template")
    inspect.add_argument("volumes", nargs="+", metavar="VOLUME")
    inspect.set_defaults(func=run_inspect)
    remove = group.add_parser("rm", aliases=["remove"], help="remove volumes",
                              description="Remove volumes; a volume a container uses cannot be removed.")
    remove.add_argument("-f", "--force", action="store_true", help="do not complain about missing volumes")
    remove.add_argument("volumes", nargs="+", metavar="VOLUME")
    remove.set_defaults(func=run_rm)
    prune = group.add_parser("prune", help="remove unused volumes",
                             description="Remove the anonymous volumes no container uses (all unused with -a).")
    prune.add_argument("-a", "--all", action="store_true", help="remove unused named volumes too")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=run_prune)


def volume_store(env: Environment) -> VolumeStore:
    with container_errors():
        return VolumeStore.beside(container_store(env))


def run_create(env: Environment, args: argparse.Namespace) -> int:
    if args.driver != "local":
        raise CliError(f'plugin "{args.driver}" not found')
    if args.name and args.name_flag and args.name != args.name_flag:
        raise CliError("conflicting options: either specify --name or provide positional arg, not both")
    labels = dict(label.partition("=")[::2] for label in args.label)
    with container_errors():
        volume = volume_store(env).create(args.name or args.name_flag, labels or None)
    env.print(volume.name)
    return 0


def run_ls(env: Environment, args: argparse.Namespace) -> int:
    with container_errors():
        volumes = volume_store(env).list()
    if args.quiet:
        for volume in volumes:
            env.print(volume.name)
        return 0
    rows = [{"Driver": "local", "Name": v.name, "Scope": "local", "Mountpoint": str(v.mountpoint),
             "Labels": ",".join(f"{k}={val}" for k, val in v.labels.items())} for v in volumes]
    for line in render_rows(args.format, rows, HEADERS, DEFAULT):
        env.print(line)
    return 0


def run_inspect(env: Environment, args: argparse.Namespace) -> int:
    store, found, missing = volume_store(env), [], []
    for name in args.volumes:
        try:
            with container_errors():
                found.append(store.get(name).inspect())
        except CliError:
            missing.append(name)
    if args.format:
        from ..templates import JSON_FORMAT, Template

        template = Template(JSON_FORMAT if args.format == "json" else args.format)
        for payload in found:
            env.print(template.render(payload))
    else:
        env.print(json.dumps(found, indent=4))
    for name in missing:
        env.stderr.write(f"Error: No such volume: {name}\n")
    return 1 if missing else 0


def run_rm(env: Environment, args: argparse.Namespace) -> int:
    """Like docker: each name in turn, the ones removed printed; an error does not stop the rest."""
    store, failed = volume_store(env), False
    for name in args.volumes:
        try:
            with container_errors():
                store.remove(name, force=args.force)
            env.print(name)
        except CliError as exc:
            env.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    return 1 if failed else 0


def run_prune(env: Environment, args: argparse.Namespace) -> int:
    if not args.force:
        env.stdout.write((PRUNE_ALL_WARNING if args.all else PRUNE_WARNING) +
                         "Are you sure you want to continue? [y/N] ")
        env.stdout.flush()
        if env.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    with container_errors():
        removed, freed = volume_store(env).prune(everything=args.all)
    if removed:
        env.print("\n".join(["Deleted Volumes:", *removed, ""]))
    env.print(f"Total reclaimed space: {human_size(freed, 4)}")
    return 0
