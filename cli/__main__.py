"""berth: a daemonless client for container registries (login, search, pull, push, and the local store)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .environment import Environment
from .errors import CliError, ExitCode
from .parser import Parser

# Each command module has `register(commands)`, which adds its parser with `func(env, args) -> int`.
COMMAND_MODULES = ["login", "logout", "search", "pull", "push", "images", "tag", "rmi", "image", "history",
                   "save", "load", "import_", "config", "run", "ps", "start", "stop", "rm", "logs", "inspect",
                   "container", "commit", "build", "create", "attach", "exec", "top", "volume", "cp", "export",
                   "port", "pause", "rename", "diff", "system", "stats"]
# A container command loads only its own module: `berth run` must start in milliseconds, and the registry
# client's imports (aiohttp) take longer than starting a container does.
CONTAINER_COMMANDS = {"run": "run", "ps": "ps", "start": "start", "stop": "stop", "kill": "stop", "wait": "stop",
                      "restart": "stop", "rm": "rm", "logs": "logs", "inspect": "inspect", "container": "container",
                      "create": "create", "attach": "attach", "exec": "exec", "top": "top",
                      "volume": "volume", "cp": "cp", "export": "export", "port": "port", "pause": "pause",
                      "unpause": "pause", "rename": "rename", "diff": "diff",
                      "system": "system", "stats": "stats"}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    command = next((a for a in (argv or ()) if not a.startswith("-")), None)
    parser = Parser(prog="berth", description=__doc__)  # and so each command's parser (without shutil)
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = commands.add_parser("version", help="show the version", description="Show berth's version.")
    version.set_defaults(func=lambda env, _args: env.print(f"berth {__version__}") or 0)
    for name in [CONTAINER_COMMANDS[command]] if command in CONTAINER_COMMANDS else COMMAND_MODULES:
        module = __import__(f"cli.commands.{name}", fromlist=["register"])
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(env.stderr)
        return ExitCode.USAGE
    try:
        code = int(args.func(env, args) or 0)
    except CliError as exc:
        if args.debug:
            import traceback

            traceback.print_exc(file=env.stderr)
        env.stderr.write(f"Error: {exc.message}\n")
        return int(exc.code)
    except KeyboardInterrupt:
        env.stderr.write("\n")
        return 130
    if argv is None and getattr(args, "exit_at_once", False):  # a command's own process (tests pass argv)
        exit_at_once(env, code)
    return code


def exit_at_once(env: Environment, code: int) -> None:
    """End this process now, without the interpreter's teardown of every loaded module: about 10 ms, a tenth
    of `berth run`. Safe once the standard streams are flushed and no other thread is left to join."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    try:
        env.stdout.flush()
        env.stderr.flush()
    except OSError:
        return  # a closed pipe: the usual exit reports it
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
