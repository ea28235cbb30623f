"""`berth stop`, `kill`, `wait` and `restart`: what one berth process does to a container another one supervises."""

from __future__ import annotations

import argparse
import signal

from runtime.containers import Container, ContainerStore, NoSuchContainer
from runtime.lifecycle import signal_container, stop, wait_stopped

from ..containers import container_errors, container_store, for_each
from ..environment import Environment
from ..errors import CliError
from ..local_images import BadOption


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("stop", help="stop one or more running containers",
                                 description="Send the image's stop signal (default SIGTERM), then SIGKILL after "
                                             "a grace period.")
    parser.add_argument("-t", "--time", type=float, default=None, metavar="SECONDS",
                        help="seconds to wait before killing the container (default 10)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=run_stop)
    kill = commands.add_parser("kill", help="kill one or more running containers",
                               description="Send a signal (default SIGKILL) to running containers.")
    kill.add_argument("-s", "--signal", default="KILL", metavar="SIGNAL", help="a name (TERM, SIGHUP) or number")
    kill.add_argument("containers", nargs="+", metavar="CONTAINER")
    kill.set_defaults(func=run_kill)
    wait = commands.add_parser("wait", help="wait for containers to stop, then print their exit codes",
                               description="Block until the containers stop, then print their exit codes.")
    wait.add_argument("containers", nargs="+", metavar="CONTAINER")
    wait.set_defaults(func=run_wait)
    restart = commands.add_parser("restart", help="restart one or more containers",
                                  description="Stop (as `berth stop`) and start again one or more containers.")
    restart.add_argument("-t", "--time", type=float, default=None, metavar="SECONDS",
                         help="seconds to wait before killing the container (default 10)")
    restart.add_argument("containers", nargs="+", metavar="CONTAINER")
    restart.set_defaults(func=run_restart)


def run_stop(env: Environment, args: argparse.Namespace) -> int:
    store = container_store(env)
    return for_each(env, args.containers, lambda container: stop(store, container, args.time))


def run_kill(env: Environment, args: argparse.Namespace) -> int:
    number = parse_signal(args.signal)
    store = container_store(env)
    return for_each(env, args.containers, lambda container: signal_container(store, container, number))


def run_wait(env: Environment, args: argparse.Namespace) -> int:
    store = container_store(env)
    failed = False
    for name in args.containers:
        try:
            with container_errors():
                container = store.get(name)
                wait_stopped(store, container, None)
                env.print(str(_exit_code(store, container)))
        except CliError as exc:
            env.stderr.write(f"Error response from daemon: {exc.message}\n")
            failed = True
    return 1 if failed else 0


def run_restart(env: Environment, args: argparse.Namespace) -> int:
    from .start import start_detached

    store = container_store(env)

    def restart(container: Container) -> None:
        stop(store, container, args.time)
        start_detached(env, store.reload(container))

    return for_each(env, args.containers, restart)


def _exit_code(store: ContainerStore, container: Container) -> int:
    try:
        return int(store.reload(container).state.get("ExitCode", 0))
    except NoSuchContainer:
        return 0  # removed (--rm) once it exited


def parse_signal(text: str) -> int:
    name = text.upper()
    if name.isdigit() and 0 < int(name) < signal.NSIG:
        return int(name)
    try:
        return int(getattr(signal, name if name.startswith("SIG") else f"SIG{name}"))
    except AttributeError:
        raise BadOption(f"invalid signal: {text}") from None
