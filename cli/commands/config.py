"""`berth config set|get|unset|list`: berth's settings, kept under "berth" in its config.json.

registry             the registry of references that name none (BERTH_REGISTRY overrides it)
insecure-registries  registries to reach over plain HTTP (HOST[:PORT], comma-separated); loopback always is
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..environment import Environment, read_config, write_config
from ..errors import CliError
from ..references import parse_registry


def _hosts(value: str) -> list[str]:
    hosts = [parse_registry(part.strip()) for part in value.split(",") if part.strip()]
    if not hosts:
        raise CliError("give at least one registry: HOST[:PORT][,HOST[:PORT]...]")
    return list(dict.fromkeys(hosts))


# Each key: how a value given on the command line is checked and stored.
KEYS: dict[str, Callable[[str], Any]] = {"registry": parse_registry, "insecure-registries": _hosts}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("config", help="show or change berth's settings", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    set_ = actions.add_parser("set", help="set a setting")
    set_.add_argument("key", choices=KEYS, metavar="KEY")
    set_.add_argument("value", metavar="VALUE")
    get = actions.add_parser("get", help="print a setting")
    get.add_argument("key", choices=KEYS, metavar="KEY")
    unset = actions.add_parser("unset", help="remove a setting")
    unset.add_argument("key", choices=KEYS, metavar="KEY")
    actions.add_parser("list", help="print every setting that is set, as KEY=VALUE")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    config = read_config(env.config_path)
    found = config.get("berth")
    settings: dict[str, Any] = found if isinstance(found, dict) else {}
    if args.action == "list":
        for key in KEYS:
            if key in settings:
                env.print(f"{key}={_shown(settings[key])}")
    elif args.action == "get":
        if args.key not in settings:
            raise CliError(f"{args.key} is not set")
        env.print(_shown(settings[args.key]))
    else:
        if args.action == "set":
            settings[args.key] = KEYS[args.key](args.value)
        elif settings.pop(args.key, None) is None:
            return 0  # unsetting what is not set changes nothing
        config["berth"] = settings
        write_config(env.config_path, config)
    return 0


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
