"""The storage subcommands of berth-registry: `gc` (garbage collection, while the registry serves),
`quota` (per-namespace storage quotas) and `retention` (per-repository tag retention policies)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from .db import Database
from .services import quotas, retention
from .services.errors import NotFound
from .services.gc import GcOptions, collect_garbage
from .services.gc_lease import Lease
from .settings import Settings
from .storage import open_configured_store

Command = Callable[[Settings, argparse.Namespace], Awaitable[str]]
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"(\d+)([kmgtp]?)(i?b?)", re.IGNORECASE)


class StorageCommandError(Exception):
    """A refusal to print as one line (exit status 1)."""


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


def add_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add `gc`, `quota` and `retention`; each sets `args.run` (admin.run calls it)."""
    def command(parent: argparse._SubParsersAction, name: str, run: Command, help_: str,  # type: ignore[type-arg]
                *arguments: tuple[tuple[str, ...], dict[str, Any]]) -> None:
        parser = parent.add_parser(name, parents=[common], help=help_, description=help_)
        for flags, options in arguments:
            parser.add_argument(*flags, **options)
        parser.set_defaults(run=run)

    def group(name: str, help_: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
        parser = commands.add_parser(name, help=help_, description=help_)
        return parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    as_json = (("--json",), {"action": "store_true", "help": "print JSON"})
    command(commands, "gc", _gc, "collect garbage while the registry serves: apply retention policies, remove "
            "links and blobs nothing has referenced for the grace period",
            (("--dry-run",), {"action": "store_true", "help": "report what would be freed; change nothing"}),
            (("--delete-untagged",), {"action": "store_true",
                                      "help": "also delete untagged manifests no index or kept manifest needs"}),
            (("--grace",), {"type": duration, "default": timedelta(hours=1), "metavar": "AGE",
                            "help": "spare what was linked or pushed within AGE (default 1h)"}), as_json)
    quota = group("quota", "manage per-namespace storage quotas")
    command(quota, "set", _quota_set, "limit a namespace's storage (blobs shared by its repositories count once)",
            (("namespace",), {}), (("bytes",), {"type": byte_size, "metavar": "SIZE",
                                               "help": "bytes, or with a unit: 500M, 20G, 1T"}))
    command(quota, "remove", _quota_remove, "remove a namespace's quota", (("namespace",), {}))
    command(quota, "show", _quota_show, "show a namespace's usage and quota", (("namespace",), {}), as_json)
    policy = group("retention", "manage per-repository tag retention policies")
    command(policy, "set", _retention_set, "keep the newest tags matching a pattern; the GC deletes the others",
            (("repository",), {"metavar": "NS/NAME"}),
            (("--pattern",), {"default": "*", "help": "a glob of the tags the policy applies to (default *)"}),
            (("--keep-last",), {"type": int, "metavar": "N", "help": "keep the N most recently pushed"}),
            (("--keep-days",), {"type": int, "metavar": "D", "help": "keep those pushed within D days"}))
    command(policy, "remove", _retention_remove, "remove a repository's policy",
            (("repository",), {"metavar": "NS/NAME"}))
    command(policy, "show", _retention_show, "show a policy and the tags it would delete now",
            (("repository",), {"metavar": "NS/NAME"}), as_json)


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        output = asyncio.run(args.run(settings, args))
    except (StorageCommandError, NotFound, ValueError) as exc:
        print(f"berth-registry: {exc}", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[str]]) -> str:
    db = Database(settings.database_url)
    try:
        return await work(db)
    finally:
        await db.close()


async def _gc(settings: Settings, args: argparse.Namespace) -> str:
    options = GcOptions(grace=args.grace, delete_untagged=args.delete_untagged, dry_run=args.dry_run)

    async def work(db: Database) -> str:
        store = open_configured_store(settings)
        lease = Lease(db)
        try:
            if not options.dry_run and not await lease.acquire():
                holder = await lease.current()
                raise StorageCommandError("another garbage collection is running" +
                                          (f" ({holder[0]}, lease until {holder[1]:%H:%M:%S} UTC)" if holder else ""))
            try:
                report = await collect_garbage(db, store, options, None if options.dry_run else lease)
            finally:
                if not options.dry_run:
                    await lease.release()
        finally:
            await store.close()
        return json.dumps(report.json()) if args.json else report.summary()
    return await _with_database(settings, work)


async def _quota_set(settings: Settings, args: argparse.Namespace) -> str:
    async def work(db: Database) -> str:
        async with db.write() as session:
            await quotas.set_quota(session, args.namespace, args.bytes)
        return f"namespace {args.namespace} may store {args.bytes} bytes"
    return await _with_database(settings, work)


async def _quota_remove(settings: Settings, args: argparse.Namespace) -> str:
    async def work(db: Database) -> str:
        async with db.write() as session:
            await quotas.set_quota(session, args.namespace, None)
        return f"namespace {args.namespace} has no quota"
    return await _with_database(settings, work)


async def _quota_show(settings: Settings, args: argparse.Namespace) -> str:
    async def work(db: Database) -> str:
        async with db.read() as session:
            found = await quotas.usage(session, args.namespace)
        if args.json:
            return json.dumps(found.json())
        limit = "no quota" if found.quota_bytes is None else f"quota {found.quota_bytes} bytes"
        return f"{found.namespace}: {found.used_bytes} bytes in {found.blobs} blob(s), {limit}"
    return await _with_database(settings, work)


async def _retention_set(settings: Settings, args: argparse.Namespace) -> str:
    policy = retention.Policy(args.pattern, args.keep_last, args.keep_days)

    async def work(db: Database) -> str:
        async with db.write() as session:
            await retention.set_policy(session, args.repository, policy)
        return f"{args.repository}: {json.dumps(policy.json())}"
    return await _with_database(settings, work)


async def _retention_remove(settings: Settings, args: argparse.Namespace) -> str:
    async def work(db: Database) -> str:
        async with db.write() as session:
            await retention.set_policy(session, args.repository, None)
        return f"{args.repository} has no retention policy"
    return await _with_database(settings, work)


async def _retention_show(settings: Settings, args: argparse.Namespace) -> str:
    async def work(db: Database) -> str:
        async with db.read() as session:
            policy = await retention.get_policy(session, args.repository)
            doomed = await retention.preview(session, args.repository)
        if args.json:
            return json.dumps({"policy": policy.json() if policy else None, "would_delete": doomed})
        if policy is None:
            return f"{args.repository} has no retention policy"
        return f"{args.repository}: {json.dumps(policy.json())}\nwould delete: {' '.join(doomed) or '(nothing)'}"
    return await _with_database(settings, work)
