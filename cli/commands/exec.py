"""`berth exec`: run a command in a running container, attached (with -i, -t) or detached (-d)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.containers import ContainerError
from runtime.exec import ExecRequest, execute, execute_detached
from runtime.oci_runtime import RuntimeFailed

from ..containers import container_errors, container_store, runtime_home
from ..environment import Environment
from ..errors import CliError, ContainerFailed


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("exec", help="run a command in a running container",
                                 description="Run COMMAND in a running container; berth exits with its exit code "
                                             "(126: it cannot be run, 127: it is not found).")
    add = parser.add_argument
    add("-d", "--detach", action="store_true", help="run the command in the background")
    add("-i", "--interactive", action="store_true", help="keep stdin open and forward it to the command")
    add("-t", "--tty", action="store_true", help="give the command a terminal")
    add("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="set an environment variable")
    add("--env-file", action="append", default=[], metavar="FILE", help="read environment variables from a file")
    add("-w", "--workdir", metavar="DIR", help="the working directory inside the container")
    add("-u", "--user", metavar="NAME|UID[:GROUP|GID]", help="the user the command runs as")
    add("container", metavar="CONTAINER")
    add("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    if not args.command:
        raise CliError('"berth exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]')
    if args.workdir is not None and not args.workdir.startswith("/"):
        raise ContainerFailed(f"the working directory '{args.workdir}' is invalid, it needs to be an absolute path")
    request = ExecRequest(list(args.command), tuple(environment(env, args.env_file, args.env)), args.workdir, args.user,
                          args.tty, args.interactive and not args.detach)
    try:
        with container_errors():
            container = container_store(env).get(args.container)
    except CliError as exc:
        env.stderr.write(f"Error response from daemon: {exc.message}\n")
        return 1
    try:
        runtime = runtime_home(env).runtime(container.host_config.get("Runtime"))
        if args.detach:
            execute_detached(runtime, container, request)
            return 0
        from .run import attachment

        return execute(runtime, container, request, attachment(env, request.interactive))
    except RuntimeFailed as exc:
        raise ContainerFailed(f"OCI runtime exec failed: {exc.message}", exc.exit_code) from None
    except ContainerError as exc:
        env.stderr.write(f"Error response from daemon: {exc}\n")
        return 1


def environment(env: Environment, files: list[str], given: list[str]) -> list[str]:
    """--env-file lines, then -e flags: KEY=VALUE as given; KEY alone takes this environment's value, or is
    left out, as docker does."""
    found, lines = [], []
    for path in files:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ContainerFailed(f"open {path}: {exc.strerror}") from None
        lines += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for item in lines + given:
        key, has_value, _ = item.partition("=")
        if not key:
            raise ContainerFailed(f"invalid environment variable: {item}")
        if has_value:
            found.append(item)
        elif key in env.environ:
            found.append(f"{key}={env.environ[key]}")
    return found
