"""The parsers of berth-registry's administration subcommands: users, organizations, teams, robots,
repositories, access tokens, signing keys, the audit log, gc, quota and retention.

argparse and the standard library only, so that `--help` and a mistyped command answer without loading
SQLAlchemy, Alembic, passlib or aiohttp (about a second). A command names what runs it by a string, looked
up once parsing is done: `args.action`, one transaction in registry.admin (ACTIONS), or `args.run`, a
command of registry.admin_storage (COMMANDS) that takes more than one.
"""

from __future__ import annotations

import argparse
import functools
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .token_scopes import TOKEN_SCOPE_LEVELS

if TYPE_CHECKING:  # generic to type checkers only: subscripting it at run time fails
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

Argument = tuple[tuple[str, ...], dict[str, Any]]
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"(\d+)([kmgtp]?)(i?b?)", re.IGNORECASE)


def duration(value: str) -> timedelta:
    """`90`, `90s`, `15m`, `1h`, `7d` (argparse type)."""
    found = _AGE.fullmatch(value.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 30s, 15m, 1h or 7d")
    return timedelta(seconds=float(found[1]) * _UNITS[found[2]])


def byte_size(value: str) -> int:
    """`1000000`, `500M`, `20G`, `1TiB` (powers of 1024; argparse type)."""
    found = _SIZE.fullmatch(value.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size such as 500M, 20G or 1T")
    return int(found[1]) * 1024 ** " kmgtp".index(found[2].lower() or " ")


def add_commands(commands: SubParsers, common: argparse.ArgumentParser) -> None:
    """Add the admin subcommands to berth-registry's parser; `common` holds the flags each one takes."""
    command = functools.partial(_command, common)
    _add_account_commands(commands, command)
    _add_storage_commands(commands, command)  # gc, quota, retention


def _group(commands: SubParsers, name: str, help_: str) -> SubParsers:
    parser = commands.add_parser(name, help=help_, description=help_)
    return parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")


def _command(common: argparse.ArgumentParser, parent: SubParsers, name: str, help_: str, *arguments: Argument,
             **runs_with: str) -> None:
    """A leaf command; `runs_with` is action=NAME (registry.admin) or run=NAME (registry.admin_storage)."""
    parser = parent.add_parser(name, parents=[common], help=help_, description=help_)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    parser.set_defaults(**runs_with)


def _add_account_commands(commands: SubParsers, command: functools.partial[None]) -> None:
    stdin = (("--password-stdin",), {"action": "store_true", "required": True,
                                     "help": "read the password from standard input"})
    users = _group(commands, "user", "manage users")
    command(users, "create", "create a user", (("name",), {}), stdin,
            (("--admin",), {"action": "store_true", "help": "make the user a site administrator"}),
            (("--email",), {"help": "the user's email address"}), action="user_create")
    command(users, "passwd", "set a user's password", (("name",), {}), stdin, action="user_passwd")
    command(users, "delete", "delete a user and its namespace", (("name",), {}), action="user_delete")
    command(users, "list", "list users", action="user_list")
    orgs = _group(commands, "org", "manage organizations")
    command(orgs, "create", "create an organization with its owners team", (("name",), {}),
            (("--owner",), {"required": True, "help": "the first member of the owners team"}), action="org_create")
    permission = (("--permission",), {"choices": ["read", "write", "admin"]})
    level = (("permission",), {"choices": ["read", "write", "admin"]})
    teams = _group(commands, "team", "manage an organization's teams")
    command(teams, "create", "create a team (with a permission on the whole organization)",
            (("org",), {}), (("team",), {}), permission, action="team_create")
    command(teams, "add", "add a user to a team", (("org",), {}), (("team",), {}), (("user",), {}),
            action="team_add")
    command(teams, "grant", "give a team a permission on one repository of the organization",
            (("org",), {}), (("team",), {}), (("repository",), {}), level, action="team_grant")
    robots = _group(commands, "robot", "manage an organization's robot accounts")
    command(robots, "create", "create a robot (logs in as ORG+NAME; the secret is shown once)",
            (("org",), {}), (("name",), {}), action="robot_create")
    command(robots, "grant", "give a robot a permission on one repository",
            (("org",), {}), (("name",), {}), (("repository",), {}), level, action="robot_grant")
    repos = _group(commands, "repo", "manage repositories")
    command(repos, "visibility", "make a repository public or private", (("repository",), {"metavar": "NS/NAME"}),
            (("visibility",), {"choices": ["public", "private"]}), action="repo_visibility")
    tokens = _group(commands, "token", "manage personal access tokens")
    command(tokens, "create", "create an access token (printed once)", (("user",), {}),
            (("--scope",), {"required": True, "choices": list(TOKEN_SCOPE_LEVELS)}),
            (("--expires",), {"type": int, "metavar": "DAYS", "help": "expire after DAYS days"}),
            (("--label",), {"default": "", "help": "what the token is for"}), action="token_create")
    keys = _group(commands, "key", "manage the keys that sign registry tokens")
    command(keys, "rotate", "sign with a new key; tokens signed before keep working until they expire",
            action="key_rotate")
    command(commands, "audit", "show the audit log, newest first",
            (("--since",), {"help": "an ISO date-time, or an age such as 2h or 7d"}),
            (("--json",), {"action": "store_true", "help": "one JSON object per line"}), action="audit")


def _add_storage_commands(commands: SubParsers, command: functools.partial[None]) -> None:
    as_json = (("--json",), {"action": "store_true", "help": "print JSON"})
    command(commands, "gc", "collect garbage while the registry serves: apply retention policies, remove "
            "links and blobs nothing has referenced for the grace period",
            (("--dry-run",), {"action": "store_true", "help": "report what would be freed; change nothing"}),
            (("--delete-untagged",), {"action": "store_true",
                                      "help": "also delete untagged manifests no index or kept manifest needs"}),
            (("--grace",), {"type": duration, "default": timedelta(hours=1), "metavar": "AGE",
                            "help": "spare what was linked or pushed within AGE (default 1h)"}), as_json, run="gc")
    quota = _group(commands, "quota", "manage per-namespace storage quotas")
    command(quota, "set", "limit a namespace's storage (blobs shared by its repositories count once)",
            (("namespace",), {}), (("bytes",), {"type": byte_size, "metavar": "SIZE",
                                               "help": "bytes, or with a unit: 500M, 20G, 1T"}), run="quota_set")
    command(quota, "remove", "remove a namespace's quota", (("namespace",), {}), run="quota_remove")
    command(quota, "show", "show a namespace's usage and quota", (("namespace",), {}), as_json, run="quota_show")
    policy = _group(commands, "retention", "manage per-repository tag retention policies")
    command(policy, "set", "keep the newest tags matching a pattern; the GC deletes the others",
            (("repository",), {"metavar": "NS/NAME"}),
            (("--pattern",), {"default": "*", "help": "a glob of the tags the policy applies to (default *)"}),
            (("--keep-last",), {"type": int, "metavar": "N", "help": "keep the N most recently pushed"}),
            (("--keep-days",), {"type": int, "metavar": "D", "help": "keep those pushed within D days"}),
            run="retention_set")
    command(policy, "remove", "remove a repository's policy", (("repository",), {"metavar": "NS/NAME"}),
            run="retention_remove")
    command(policy, "show", "show a policy and the tags it would delete now",
            (("repository",), {"metavar": "NS/NAME"}), as_json, run="retention_show")
