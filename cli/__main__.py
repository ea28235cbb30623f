"""berth: a daemonless client for container registries (login, search, pull, push, and the local store)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .environment import Environment
from .errors import CliError, ExitCode

# Each command module has `register(commands)`, which adds its parser with `func(env, args) -> int`.
COMMAND_MODULES = ["login", "logout", "search", "pull", "push", "images", "tag", "rmi", "image", "history",
                   "save", "load", "import_", "config", "run", "ps", "start", "stop", "rm", "logs", "inspect",
                   "container"]
# A container command loads only its own module: `berth run` must start in milliseconds, and the registry
# client's imports (aiohttp) take longer than starting a container does.
CONTAINER_COMMANDS = {"run": "run", "ps": "ps", "start": "start", "stop": "stop", "kill": "stop", "wait": "stop",
                      "restart": "stop", "rm": "rm", "logs": "logs", "inspect": "inspect", "container": "container"}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    command = next((a for a in (argv or ()) if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="berth", description=__doc__)
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
        return int(args.func(env, args) or 0)
    except CliError as exc:
        if args.debug:
            import traceback

            traceback.print_exc(file=env.stderr)
        env.stderr.write(f"Error: {exc.message}\n")
        return int(exc.code)
    except KeyboardInterrupt:
        env.stderr.write("\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
