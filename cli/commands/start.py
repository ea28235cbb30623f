"""`berth start`: start stopped containers again, each under a new supervisor (attached with -a)."""

from __future__ import annotations

import argparse

from runtime.containers import Container
from runtime.lifecycle import detach
from runtime.supervisor import Supervisor

from ..containers import container_errors, container_store, for_each, runtime_home
from ..environment import Environment
from ..errors import CliError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("start", help="start one or more stopped containers",
                                 description="Start stopped containers, in the background unless -a is given.")
    parser.add_argument("-a", "--attach", action="store_true",
                        help="attach to the container's output and exit with its exit code")
    parser.add_argument("-i", "--interactive", action="store_true", help="forward stdin to the container")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise CliError("you cannot start and attach multiple containers at once")
        return start_attached(env, args.containers[0], args.interactive)
    return for_each(env, args.containers, lambda container: start_detached(env, container))


def start_detached(env: Environment, container: Container) -> None:
    if container.status == "paused":  # moby daemon/start.go's words
        raise CliError("cannot start a paused container, try unpause instead")
    if container.running:
        return  # docker start of a running container does nothing
    from .run import container_layers

    home = runtime_home(env)
    store, layers = home.containers(), container_layers(env, container)
    runtime = home.runtime(container.host_config.get("Runtime"))
    detach(lambda started: Supervisor(store, container, runtime, layers).run(started),
           f"{container.dir}/supervisor.log")


def start_attached(env: Environment, name: str, interactive: bool) -> int:
    from .run import attachment, container_layers

    with container_errors():
        store = container_store(env)
        container = store.get(name)
        if container.running:
            raise CliError(f"container {container.name} is already running: use `berth logs -f` to follow it")
        home = runtime_home(env)
        runtime = home.runtime(container.host_config.get("Runtime"))
        supervisor = Supervisor(store, container, runtime, container_layers(env, container),
                                attachment(env, interactive))
        return supervisor.run()
