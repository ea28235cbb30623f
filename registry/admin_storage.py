"""The storage subcommands of berth-registry: `gc` (garbage collection, while the registry serves),
`quota` (per-namespace storage quotas) and `retention` (per-repository tag retention policies). Their
parsers are in admin_parser.py, which names them by their keys in COMMANDS."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .db import Database
from .services import quotas, retention
from .services.errors import NotFound
from .services.gc import GcOptions, collect_garbage
from .services.gc_lease import Lease
from .settings import Settings
from .storage import open_configured_store

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, str]]  # asyncio.run takes a coroutine


class StorageCommandError(Exception):
    """A refusal to print as one line (exit status 1)."""


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        output = asyncio.run(COMMANDS[args.run](settings, args))
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


COMMANDS: dict[str, Command] = {
    "gc": _gc, "quota_set": _quota_set, "quota_remove": _quota_remove, "quota_show": _quota_show,
    "retention_set": _retention_set, "retention_remove": _retention_remove, "retention_show": _retention_show}
