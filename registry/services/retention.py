"""Retention policies: which tags of a repository the garbage collector keeps.

A policy applies to the tags matching its pattern, a glob (`*`, `?`, `[...]`, as fnmatch; `v1.*`,
`pr-*`): of those it keeps the `keep_last` most recently pushed and those pushed within `keep_days` days
(either rule keeping a tag keeps it), and the collector deletes the rest. Tags not matching are never
touched. A glob rather than a regular expression: it is what people write for tag names, and it cannot
be made to backtrack for minutes. When a tag was pushed is when it last moved (tag.updated_at).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.base import as_utc
from ..db.database import upsert
from ..db.models import Repository, RetentionPolicy, Tag, utcnow
from ..db.readpath import Reader
from .errors import NotFound

MAX_PATTERN = 128
MAX_KEEP = 1_000_000  # tags
MAX_DAYS = 36_500  # a century: further back than any date a tag has
_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class Policy:
    tag_pattern: str = "*"
    keep_last: int | None = None
    keep_days: int | None = None

    def __post_init__(self) -> None:
        if self.keep_last is None and self.keep_days is None:
            raise ValueError("a retention policy needs keep_last, keep_days or both")
        for name, most in (("keep_last", MAX_KEEP), ("keep_days", MAX_DAYS)):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= most:
                raise ValueError(f"{name} must be between 0 and {most}")
        if not _PATTERN.fullmatch(self.tag_pattern):
            raise ValueError(f"tag_pattern must be 1 to {MAX_PATTERN} printable characters, no spaces")

    def json(self) -> dict[str, object]:
        return {"tag_pattern": self.tag_pattern, "keep_last": self.keep_last, "keep_days": self.keep_days}


def doomed_tags(policy: Policy, tags: Sequence[tuple[str, datetime]], now: datetime) -> list[str]:
    """The names among `tags` ((name, pushed at)) that `policy` does not keep, in name order."""
    matching = sorted(((as_utc(at), name) for name, at in tags if fnmatch.fnmatchcase(name, policy.tag_pattern)),
                      reverse=True)  # newest first; same moment: by name, descending, so the order is fixed
    kept = {name for _, name in matching[:policy.keep_last]} if policy.keep_last is not None else set()
    if policy.keep_days is not None:
        since = now - timedelta(days=policy.keep_days)
        kept |= {name for at, name in matching if at >= since}
    return sorted(name for _, name in matching if name not in kept)


async def _repository_id(session: Reader, repository: str) -> int:
    found = await session.scalar(select(Repository.id).where(Repository.name == repository))
    if found is None:
        raise NotFound(f"no repository {repository!r}")
    return int(found)


async def get_policy(session: Reader, repository: str) -> Policy | None:
    repository_id = await _repository_id(session, repository)
    row = (await session.execute(select(RetentionPolicy.tag_pattern, RetentionPolicy.keep_last,
                                        RetentionPolicy.keep_days)
                                 .where(RetentionPolicy.repository_id == repository_id))).first()
    return Policy(row[0], row[1], row[2]) if row else None


async def set_policy(session: AsyncSession, repository: str, policy: Policy | None) -> None:
    """Store `policy` for `repository` (None removes it). The next collection applies it."""
    repository_id = await _repository_id(session, repository)
    if policy is None:
        await session.execute(delete(RetentionPolicy).where(RetentionPolicy.repository_id == repository_id))
        return
    await session.execute(upsert(session, RetentionPolicy, {"repository_id": repository_id, **policy.json(),
                                                            "updated_at": utcnow()},
                                 keys=["repository_id"], update=["tag_pattern", "keep_last", "keep_days",
                                                                 "updated_at"]))


async def preview(session: Reader, repository: str, now: datetime | None = None) -> list[str]:
    """The tags a collection would delete now under the repository's policy (none without one)."""
    policy = await get_policy(session, repository)
    if policy is None:
        return []
    repository_id = await _repository_id(session, repository)
    tags = (await session.execute(select(Tag.name, Tag.updated_at).where(Tag.repository_id == repository_id))).all()
    return doomed_tags(policy, [(name, at) for name, at in tags], now or utcnow())


async def repositories_with_policies(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(RetentionPolicy.repository_id).order_by(RetentionPolicy.repository_id)))


async def apply(session: AsyncSession, repository_id: int, now: datetime) -> tuple[int, list[int]]:
    """Delete the tags the repository's policy does not keep: (how many, the manifests they named).

    The repository's tags are locked first (tags being pushed right now are skipped: they are new)."""
    row = (await session.execute(select(RetentionPolicy.tag_pattern, RetentionPolicy.keep_last,
                                        RetentionPolicy.keep_days)
                                 .where(RetentionPolicy.repository_id == repository_id))).first()
    if row is None:
        return 0, []
    tags = {name: (at, manifest_id) for name, at, manifest_id in await session.execute(
        select(Tag.name, Tag.updated_at, Tag.manifest_id).where(Tag.repository_id == repository_id)
        .order_by(Tag.name).with_for_update(skip_locked=True))}
    doomed = doomed_tags(Policy(row[0], row[1], row[2]), [(name, at) for name, (at, _) in tags.items()], now)
    if not doomed:
        return 0, []
    await session.execute(delete(Tag).where(tuple_(Tag.repository_id, Tag.name).in_(
        [(repository_id, name) for name in doomed])))
    return len(doomed), sorted({tags[name][1] for name in doomed})
