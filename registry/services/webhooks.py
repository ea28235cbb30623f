"""Repository webhooks: Docker Hub's push payload, sent through an outbox that the push transaction fills.

A push adds one WebhookDelivery per active webhook and pushed tag in the push's own transaction, so the
push never waits on a receiver and a crash loses nothing. Every worker polls for due deliveries and claims
each one with a single UPDATE that pushes its next_attempt_at a lease into the future and counts the
attempt: another worker's claim of the same row then matches nothing, and the attempt number fences
off a worker whose lease ran out. The claimant POSTs the stored body, signed with HMAC-SHA256 as GitHub
signs, and records the outcome: delivered on 2xx, else another attempt after the next backoff step,
and failed once the steps are used up. Delivery is at least once: a worker that dies mid-send leaves
its claim to expire and another worker sends again, so receivers should dedupe on X-Berth-Delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.base import as_utc, is_row_id, utcnow
from ..db.database import rowcount
from ..db.hub import Webhook, WebhookDelivery
from ..db.models import Repository
from ..db.readpath import Reader
from .access import OFFICIAL_NAMESPACE, namespace_of
from .errors import AccountError, NotFound

log = logging.getLogger("berth.webhooks")
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
EVENT = "push"
SIGNATURE_HEADER, DELIVERY_HEADER, EVENT_HEADER = "X-Berth-Signature-256", "X-Berth-Delivery", "X-Berth-Event"
NAME_MAX, URL_MAX, ERROR_MAX = 100, 2000, 500
# In the callback URL template the API layer passes to enqueue_push: each delivery's id and callback token.
ID_PLACEHOLDER, TOKEN_PLACEHOLDER = "{id}", "{token}"


class WebhookRefused(AccountError):
    """A webhook that cannot be created as asked: its name or URL (only http and https) is not acceptable."""


class DeliveryFailed(Exception):
    """The receiver gave no HTTP answer: unreachable, connection closed, or too slow (the message says)."""


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` to `url` and return the answer's status; raise DeliveryFailed when there is none."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How often workers look for due deliveries, how long they wait for a receiver, and when they retry."""
    backoff: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0, 7200.0)  # seconds before attempts 2, 3, ...
    poll_interval: float = 1.0
    timeout: float = 10.0
    lease: float = 60.0  # a claim outlives any send (timeout), so only a dead worker's claim expires
    batch: int = 20  # deliveries one worker claims per poll and sends concurrently

    def __post_init__(self) -> None:
        if self.lease <= self.timeout:
            raise ValueError("a delivery's lease must be longer than the send timeout")
        if self.poll_interval <= 0 or self.batch < 1 or min(self.backoff, default=1) <= 0:
            raise ValueError("poll interval, batch and backoff steps must be positive")


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    name: str
    url: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    webhook_name: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None  # while pending


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker may send now, as attempt number `attempt` (which fences off stale claims)."""
    id: int
    attempt: int
    url: str
    secret: str
    body: bytes


def signature(secret: str, body: bytes) -> str:
    """The X-Berth-Signature-256 value: as GitHub's X-Hub-Signature-256, over the exact bytes sent."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(claim: Claim) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "berth-webhooks", EVENT_HEADER: EVENT,
            DELIVERY_HEADER: str(claim.id), SIGNATURE_HEADER: signature(claim.secret, claim.body)}


def callback_token(secret: str, delivery_id: int) -> str:
    """What a delivery's callback URL carries to prove the caller got the delivery: receivers written
    for Docker Hub POST to callback_url as they find it, without signing anything."""
    return hmac.new(secret.encode(), f"callback {delivery_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def callback_repository(session: Reader, delivery_id: int, token: str) -> str | None:
    """The repository of delivery `delivery_id` if `token` is its callback token, else None."""
    if not is_row_id(delivery_id):
        return None
    row = (await session.execute(
        select(Webhook.secret, Repository.name).join(WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id)
        .join(Repository, Repository.id == Webhook.repository_id).where(WebhookDelivery.id == delivery_id))).first()
    if row is None or not hmac.compare_digest(callback_token(row[0], delivery_id), token):
        return None
    return str(row[1])


def check_url(url: str) -> str:
    """`url` when it is an absolute http(s) URL with a host; other schemes (file:, ftp:, ...) are refused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"a webhook URL must be an http:// or https:// URL with a host, not {url[:80]!r}")
    if len(url) > URL_MAX or any(c.isspace() or not c.isprintable() for c in url):
        raise WebhookRefused(f"a webhook URL has at most {URL_MAX} characters and no spaces")
    return url


async def _repository_id(session: Reader, repository: str) -> int:
    found = await session.scalar(select(Repository.id).where(Repository.name == repository))
    if found is None:
        raise NotFound(f"no repository {repository!r}")
    return int(found)


def _webhook_view(hook: Webhook) -> WebhookView:
    return WebhookView(hook.id, hook.name, hook.url, hook.active, as_utc(hook.created_at))


async def list_webhooks(session: AsyncSession, repository: str) -> list[WebhookView]:
    repository_id = await _repository_id(session, repository)
    hooks = await session.scalars(select(Webhook).where(Webhook.repository_id == repository_id).order_by(Webhook.id))
    return [_webhook_view(hook) for hook in hooks]


async def create_webhook(session: AsyncSession, repository: str, name: str, url: str) -> tuple[WebhookView, str]:
    """A new active webhook and its signing secret: the only time the secret is shown."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise WebhookRefused(f"a webhook name is one line of 1 to {NAME_MAX} characters")
    hook = Webhook(repository_id=await _repository_id(session, repository), name=name, url=check_url(url),
                   secret=secrets.token_hex(32), active=True, created_at=utcnow())
    session.add(hook)
    await session.flush()
    return _webhook_view(hook), hook.secret


async def delete_webhook(session: AsyncSession, repository: str, webhook_id: int) -> bool:
    """Remove the webhook and (by the foreign key's cascade) its deliveries, sent or not; False if none.

    A delivery that a worker is sending at this moment still arrives; its outcome is then dropped."""
    if not is_row_id(webhook_id):
        return False
    in_repository = select(Repository.id).where(Repository.name == repository).scalar_subquery()
    result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id,
                                                         Webhook.repository_id == in_repository))
    return rowcount(result) > 0


async def recent_deliveries(session: AsyncSession, repository: str, limit: int = 20) -> list[DeliveryView]:
    """The repository's latest deliveries, newest first: the log its settings page shows."""
    repository_id = await _repository_id(session, repository)
    rows = await session.execute(
        select(WebhookDelivery, Webhook.name).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(Webhook.repository_id == repository_id).order_by(WebhookDelivery.id.desc()).limit(limit))
    return [DeliveryView(d.id, name, d.state, d.attempts, d.last_status, d.last_error, as_utc(d.created_at),
                         as_utc(d.delivered_at) if d.delivered_at else None,
                         as_utc(d.next_attempt_at) if d.state == PENDING else None) for d, name in rows]


# -- the outbox: filled by pushes, emptied by every worker's delivery task ------------------------------

async def enqueue_push(session: AsyncSession, repository: str, tags: Sequence[str], pusher: str,
                       callback_url: str, repo_url: str) -> int:
    """In the push's transaction: one pending delivery per active webhook and tag. Returns how many.

    `callback_url` holds ID_PLACEHOLDER and TOKEN_PLACEHOLDER, filled in for each delivery."""
    if not tags:
        return 0
    hooks = list(await session.execute(  # the one query a push to a repository without webhooks costs
        select(Webhook.id, Webhook.secret).join(Repository, Repository.id == Webhook.repository_id)
        .where(Repository.name == repository, Webhook.active.is_(True)).order_by(Webhook.id)))
    if not hooks:
        return 0
    row = (await session.scalars(select(Repository).where(Repository.name == repository))).one()
    now = utcnow()
    deliveries = [(tag, secret, WebhookDelivery(webhook_id=hook, payload="", state=PENDING, attempts=0,
                                                next_attempt_at=now, created_at=now))
                  for tag in tags for hook, secret in hooks]
    session.add_all([delivery for *_, delivery in deliveries])
    await session.flush()  # the ids, for the callback URLs
    about = _repository_json(row, repo_url)
    for tag, secret, delivery in deliveries:
        callback = callback_url.replace(ID_PLACEHOLDER, str(delivery.id))
        delivery.payload = json.dumps({
            "callback_url": callback.replace(TOKEN_PLACEHOLDER, callback_token(secret, delivery.id)),
            "push_data": {"pusher": pusher, "tag": tag, "pushed_at": int(now.timestamp()), "images": []},
            "repository": about})
    return len(deliveries)


def _repository_json(row: Repository, repo_url: str) -> dict[str, Any]:
    """Docker Hub's `repository` object; `library/x` and the one-component `x` are official images."""
    namespace = namespace_of(row.name)
    return {"repo_name": row.name, "namespace": namespace, "name": row.name.removeprefix(namespace + "/"),
            "status": "Active", "is_private": row.is_private, "is_official": namespace == OFFICIAL_NAMESPACE,
            "is_trusted": False, "star_count": row.star_count, "pull_count": row.pull_count,
            "comment_count": 0, "date_created": int(as_utc(row.created_at).timestamp()),
            "description": row.short_description, "full_description": row.full_description,
            "dockerfile": "", "repo_url": repo_url, "owner": namespace}


async def claim_due(db: Database, policy: DeliveryPolicy) -> list[Claim]:
    """Claim up to policy.batch due deliveries of active webhooks for this worker."""
    now = utcnow()
    due_now = (WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
    async with db.read() as session:
        due = list(await session.scalars(
            select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(*due_now, Webhook.active.is_(True)).order_by(WebhookDelivery.next_attempt_at)
            .limit(policy.batch)))
    if not due:
        return []
    claimed = []
    async with db.write() as session:
        for delivery_id in due:
            # Atomic on both databases: a second claimant's UPDATE finds next_attempt_at in the future.
            result = await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, *due_now)
                .values(next_attempt_at=now + timedelta(seconds=policy.lease), attempts=WebhookDelivery.attempts + 1))
            if rowcount(result):
                claimed.append(delivery_id)
        if not claimed:
            return []
        rows = await session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempts, Webhook.url, Webhook.secret, WebhookDelivery.payload)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id).where(WebhookDelivery.id.in_(claimed)))
        return [Claim(i, attempt, url, secret, payload.encode()) for i, attempt, url, secret, payload in rows]


async def record_outcome(db: Database, claim: Claim, status: int | None, error: str | None,
                         policy: DeliveryPolicy) -> str:
    """Store how the attempt went and what happens next; returns the delivery's new state, or "stale" when
    nothing was stored: the webhook was deleted, or the lease ran out and another worker took over."""
    now = utcnow()
    values: dict[str, Any] = {"last_status": status, "last_error": error[:ERROR_MAX] if error else None}
    if status is not None and 200 <= status < 300:
        values.update(state=DELIVERED, delivered_at=now)
    elif claim.attempt > len(policy.backoff):
        values.update(state=FAILED)
    else:
        values.update(next_attempt_at=now + timedelta(seconds=policy.backoff[claim.attempt - 1]))
    async with db.write() as session:
        result = await session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == claim.id, WebhookDelivery.attempts == claim.attempt,
            WebhookDelivery.state == PENDING).values(**values))
    return values.get("state", PENDING) if rowcount(result) else "stale"


async def send(db: Database, transport: Transport, policy: DeliveryPolicy, claim: Claim) -> str:
    """Make one attempt at a claimed delivery and record it."""
    try:
        status = await transport.post(claim.url, claim.body, delivery_headers(claim))
    except DeliveryFailed as exc:
        return await record_outcome(db, claim, None, str(exc) or type(exc).__name__, policy)
    error = None if 200 <= status < 300 else f"the receiver answered HTTP {status}"
    return await record_outcome(db, claim, status, error, policy)


async def deliver_due(db: Database, transport: Transport, policy: DeliveryPolicy) -> int:
    """Claim what is due and send it concurrently (one slow receiver does not hold up the others)."""
    claims = await claim_due(db, policy)
    outcomes = await asyncio.gather(*(send(db, transport, policy, c) for c in claims), return_exceptions=True)
    for claim, outcome in zip(claims, outcomes, strict=True):
        if isinstance(outcome, Exception):  # the database failed; the lease expires and another try follows
            log.error("recording webhook delivery %d failed", claim.id, exc_info=outcome)
    return len(claims)
