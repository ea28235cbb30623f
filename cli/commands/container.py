"""`berth container`: docker's container group (ls, run, start, stop, kill, wait, restart, rm, logs, inspect, prune)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.lifecycle import remove

from ..containers import container_errors, container_store, runtime_home
from ..docker_words import human_size
from ..environment import Environment
from ..errors import ExitCode
from . import attach, commit, cp, create, exec, export, inspect, logs, port, ps, rm, run, start, stats, stop, top

PRUNE_WARNING = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("container", help="manage containers", description="Manage containers.")
    group = parser.add_subparsers(dest="container_command", metavar="COMMAND")
    parser.set_defaults(func=lambda env, _args: parser.print_help(env.stderr) or ExitCode.USAGE)
    ps.register(group, "ls", aliases=("list", "ps"))
    rm.register(group, "rm", aliases=("remove",))
    inspect.register(group, "inspect", kinds=("container",))
    for module in (run, create, start, stop, attach, exec, top, logs, port, cp, export, commit, stats):
        module.register(group)
    prune = group.add_parser("prune", help="remove all stopped containers",
                             description="Remove every container that is not running.")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=run_prune)


def run_prune(env: Environment, args: argparse.Namespace) -> int:
    if not args.force:
        env.stdout.write(PRUNE_WARNING)
        env.stdout.flush()
        if env.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    deleted, freed = prune(env)
    if deleted:
        env.print("\n".join(["Deleted Containers:", *deleted, ""]))
    env.print(f"Total reclaimed space: {human_size(freed, 4)}")
    return 0


def prune(env: Environment) -> tuple[list[str], int]:
    """Remove every container that is not running; their ids and the bytes freed (what they wrote, and logs)."""
    home = runtime_home(env)
    deleted, freed = [], 0
    with container_errors():
        from runtime.leftovers import finish_removals  # only here: prune is what finishes crashed removals

        finish_removals(home)  # unmounts and forgets at runc what a crashed `--rm` left, then deletes it
        for container in container_store(env).list():
            if container.running:
                continue
            freed += _size(Path(container.dir, "upper")) + _size(Path(container.log_path))
            remove(home, container, force=False)
            deleted.append(container.id)
    return deleted, freed


def _size(root: Path) -> int:
    if root.is_file():
        return root.stat().st_size
    return sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir()) if root.is_dir() else 0
