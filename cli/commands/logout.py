"""`berth logout [SERVER]`: forget the credentials berth keeps for a registry, as `docker logout` does.

Only berth's own config.json is changed: credentials in docker's (which berth also reads) stay, and a
note says so.
"""

from __future__ import annotations

import argparse

from ..credentials import remove_credentials
from ..environment import Environment, read_config
from ..errors import CliError
from .login import registry_named


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("logout", help="log out of a registry", description=__doc__.split("\n")[0])
    parser.add_argument("server", nargs="?", metavar="SERVER", help="the registry (default: the default registry)")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    registry = registry_named(env, args.server)
    if remove_credentials(env, registry):
        env.print(f"Removing login credentials for {registry}")
    else:
        env.print(f"Not logged in to {registry}")
    if registry in _docker_auths(env):
        env.note(f"Note: {env.docker_config_path} still holds credentials for {registry}, which berth uses "
                 f"(remove them with `docker logout {registry}`)")
    return 0


def _docker_auths(env: Environment) -> dict[str, object]:
    try:
        auths = read_config(env.docker_config_path).get("auths", {})
    except CliError:  # docker's file is docker's business: a broken one does not stop a logout
        return {}
    return auths if isinstance(auths, dict) else {}
