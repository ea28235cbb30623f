"""`berth attach`: this terminal to a running container's output (and its stdin, if created with -i), until
it exits; berth then exits with the container's exit code. Ctrl-C and other signals go to the container, as
docker's default --sig-proxy does."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal

from runtime.attach import StdinFeed
from runtime.containers import Container, ContainerStore, NoSuchContainer
from runtime.logs import read_entries, timestamp

from ..containers import container_errors, container_store
from ..environment import Environment
from ..errors import CliError

PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("attach", help="attach to a running container's output and input",
                                 description="Attach to a running container: its output, its stdin when it was "
                                             "created with -i; exit with its exit code.")
    parser.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    parser.add_argument("--sig-proxy", default="true", choices=("true", "false"),
                        help="proxy received signals to the container (default true)")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    with container_errors():
        store = container_store(env)
        container = store.get(args.container)
    if not container.running:
        raise CliError("You cannot attach to a stopped container, start it first")
    if container.status == "paused":  # moby daemon/attach.go's words
        raise CliError("You cannot attach to a paused container, unpause it first")
    proxy = {}
    if args.sig_proxy == "true":
        proxy = {number: signal.signal(number, _forwarder(store, container)) for number in PROXIED}
    # Output from now on: the whole log is read and older entries skipped, so that nothing the container
    # writes while we open the log (say, its answer to the stdin fed next) is missed.
    attached_at = timestamp()
    feed = None
    if container.config.get("OpenStdin") and not args.no_stdin:
        feed = StdinFeed.start(container, env.stdin)
    try:
        for entry in read_entries(container.log_path, None, lambda: _running(store, container)):
            if entry.time < attached_at:  # the same RFC 3339 form, in UTC: they sort as text
                continue
            target = env.stderr if entry.stream == "stderr" else env.stdout
            target.write(entry.log)
            target.flush()
    finally:
        for number, handler in proxy.items():
            signal.signal(number, handler)
        if feed is not None:
            feed.stop()
    try:
        return int(store.reload(container).state.get("ExitCode") or 0)
    except NoSuchContainer:
        return 0  # removed (--rm) once it exited


def _running(store: ContainerStore, container: Container) -> bool:
    try:
        return store.reload(container).running
    except NoSuchContainer:
        return False


def _forwarder(store: ContainerStore, container: Container):  # type: ignore[no-untyped-def]
    def forward(number: int, _frame: object) -> None:
        with contextlib.suppress(NoSuchContainer, ProcessLookupError):
            pid = int(store.reload(container).state.get("Pid") or 0)
            if pid:
                os.kill(pid, number)

    return forward
