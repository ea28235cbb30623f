"""The administration subcommands of berth-registry: users, organizations, teams, robots, repositories,
access tokens, signing keys and the audit log. Each runs one transaction against the database; their
parsers are in admin_parser.py, which names them by their keys in ACTIONS."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from . import admin_storage
from .db import Database
from .services import accounts, audit
from .services.credentials import issue_token
from .services.signing import rotate_signing_key
from .settings import Settings

Action = Callable[[AsyncSession, argparse.Namespace], Awaitable[str | None]]


def run(settings: Settings, args: argparse.Namespace) -> int:
    if getattr(args, "run", None) is not None:
        return admin_storage.run(settings, args)
    try:
        output = asyncio.run(_in_transaction(settings, args))
    except accounts.AccountError as exc:
        print(f"berth-registry: {exc}", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0


async def _in_transaction(settings: Settings, args: argparse.Namespace) -> str | None:
    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            return await ACTIONS[args.action](session, args)
    finally:
        await db.close()


def _password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise accounts.AccountError("no password on standard input")
    return password


async def _user_create(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.create_user(session, args.name, _password(), email=args.email, is_admin=args.admin)
    audit.record(session, "(cli)", "user_created", args.name, admin=args.admin)
    return f"created user {args.name}"


async def _user_passwd(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.set_password(session, args.name, _password())
    audit.record(session, "(cli)", "password_changed", args.name)
    return f"changed the password of {args.name}"


async def _user_delete(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.delete_user(session, args.name)
    audit.record(session, "(cli)", "user_deleted", args.name)
    return f"deleted user {args.name}"


async def _user_list(session: AsyncSession, _args: argparse.Namespace) -> str:
    rows = [("NAME", "EMAIL", "ADMIN")] + [(u.name, u.email or "", "yes" if u.is_admin else "")
                                           for u in await accounts.list_users(session)]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{width[0]}}   {r[1]:<{width[1]}}   {r[2]}".rstrip() for r in rows)


async def _org_create(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.create_organization(session, args.name, args.owner)
    audit.record(session, "(cli)", "organization_created", args.name, owner=args.owner)
    return f"created organization {args.name} (owners: {args.owner})"


async def _team_create(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.create_team(session, args.org, args.team, args.permission)
    audit.record(session, "(cli)", "team_created", f"{args.org}/{args.team}", permission=args.permission)
    return f"created team {args.team} in {args.org}"


async def _team_add(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.add_team_member(session, args.org, args.team, args.user)
    audit.record(session, "(cli)", "team_member_added", f"{args.org}/{args.team}", user=args.user)
    return f"added {args.user} to {args.org}/{args.team}"


async def _team_grant(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.grant_team(session, args.org, args.team, args.permission, args.repository)
    audit.record(session, "(cli)", "permission_changed", args.repository, team=f"{args.org}/{args.team}",
                 permission=args.permission)
    return f"team {args.org}/{args.team} has {args.permission} on {args.repository}"


async def _robot_create(session: AsyncSession, args: argparse.Namespace) -> str:
    secret = await accounts.create_robot(session, args.org, args.name)
    audit.record(session, "(cli)", "robot_created", f"{args.org}+{args.name}")
    return f"username: {args.org}+{args.name}\nsecret: {secret}"


async def _robot_grant(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.grant_robot(session, args.org, args.name, args.repository, args.permission)
    audit.record(session, "(cli)", "permission_changed", args.repository, robot=f"{args.org}+{args.name}",
                 permission=args.permission)
    return f"robot {args.org}+{args.name} has {args.permission} on {args.repository}"


async def _repo_visibility(session: AsyncSession, args: argparse.Namespace) -> str:
    await accounts.set_visibility(session, args.repository, args.visibility == "private")
    audit.record(session, "(cli)", "visibility_changed", args.repository, visibility=args.visibility)
    return f"{args.repository} is now {args.visibility}"


async def _token_create(session: AsyncSession, args: argparse.Namespace) -> str:
    user = await accounts.get_user(session, args.user)
    issued = await issue_token(session, user.id, args.scope, expires_days=args.expires, label=args.label)
    audit.record(session, "(cli)", "access_token_created", args.user, scope=args.scope, token_id=issued.id)
    return issued.secret


async def _key_rotate(session: AsyncSession, _args: argparse.Namespace) -> str:
    kid = await rotate_signing_key(session)
    audit.record(session, "(cli)", "signing_key_rotated", kid)
    return f"tokens are now signed with key {kid}"


async def _audit(session: AsyncSession, args: argparse.Namespace) -> str:
    events = await audit.events(session, _since(args.since) if args.since else None)
    if args.json:
        return "\n".join(json.dumps(e) for e in events)
    return "\n".join(f"{e['at'][:19]}  {e['actor'] or '-':<16} {e['action']:<20} {e['target']:<30} "
                     f"{e['address']} {json.dumps(e['detail']) if e['detail'] else ''}".rstrip() for e in events)


def _since(value: str) -> datetime:
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise accounts.AccountError(f"--since {value!r}: use an ISO date-time or an age like 2h or 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


ACTIONS: dict[str, Action] = {
    "user_create": _user_create, "user_passwd": _user_passwd, "user_delete": _user_delete, "user_list": _user_list,
    "org_create": _org_create, "team_create": _team_create, "team_add": _team_add, "team_grant": _team_grant,
    "robot_create": _robot_create, "robot_grant": _robot_grant, "repo_visibility": _repo_visibility,
    "token_create": _token_create, "key_rotate": _key_rotate, "audit": _audit}
