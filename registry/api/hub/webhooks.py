"""JSON API for a repository's webhooks and their delivery log, the callback receivers may answer with, and
the sending side of deliveries: each worker's task and its aiohttp client.

Routes, under /api/v1 (OPENAPI_PATHS describes them with paths relative to that prefix):
  GET, POST  /repositories/{namespace}/{name}/webhooks               list; create (the secret is shown once)
  DELETE     /repositories/{namespace}/{name}/webhooks/{id}
  GET        /repositories/{namespace}/{name}/webhooks/deliveries    the delivery log, newest first
  POST       /webhooks/deliveries/{id}/callback?token=...            the payload's callback_url (Docker Hub's)
All but the callback take admin on the repository; to those who cannot read it, they answer 404.
`{namespace}/{name}` names the repository as repositories.py says (deeper names send `name` with %2F,
`library/x` is the official `x`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ... import errors, keys
from ...services import audit, hub, webhooks
from ...services.webhooks import DeliveryFailed, DeliveryPolicy, DeliveryView, WebhookView
from . import openapi as oa
from .audit_log import parse_limit
from .body import Field, json_body
from .caller import Caller, authenticate, database, require_repository_admin
from .pagination import query
from .repositories import NAME_PARAMETER, NAMESPACE_PARAMETER, REPOSITORY, path_name

# Tests set a fast policy on the app before it starts; production uses the defaults.
DELIVERY_POLICY = web.AppKey("webhook_delivery_policy", DeliveryPolicy)
API_PREFIX = "/api/v1"  # where setup_api mounts this module (api.PREFIX: api.py imports this module)
HOOKS = REPOSITORY + "/webhooks"
CALLBACK_STATES = ("success", "failure", "error")
DEFAULT_LIMIT = 20


def routes() -> list[web.RouteDef]:
    return [web.get(HOOKS, list_hooks), web.post(HOOKS, create_hook), web.get(HOOKS + "/deliveries", list_deliveries),
            web.delete(HOOKS + r"/{id:\d{1,18}}", delete_hook),
            web.post(r"/webhooks/deliveries/{id:\d{1,18}}/callback", receive_callback)]


async def _administered(request: web.Request, session: AsyncSession, caller: Caller) -> str:
    """The stored name of the path's repository, which the caller must administer (else 403, or 404)."""
    repository = await hub.stored_name(session, *path_name(request))
    await require_repository_admin(session, caller, repository)
    return repository


def _time(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def webhook_json(hook: WebhookView) -> dict[str, Any]:
    return {"id": hook.id, "name": hook.name, "url": hook.url, "active": hook.active,
            "created_at": _time(hook.created_at)}


def delivery_json(d: DeliveryView) -> dict[str, Any]:
    return {"id": d.id, "webhook": d.webhook_name, "state": d.state, "attempts": d.attempts,
            "last_status": d.last_status, "last_error": d.last_error, "created_at": _time(d.created_at),
            "delivered_at": _time(d.delivered_at), "next_attempt_at": _time(d.next_attempt_at)}


async def list_hooks(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with database(request).read() as session:
        hooks = await webhooks.list_webhooks(session, await _administered(request, session, caller))
    return web.json_response({"webhooks": [webhook_json(hook) for hook in hooks]})


async def create_hook(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await json_body(request, name=Field(max_length=webhooks.NAME_MAX), url=Field(max_length=webhooks.URL_MAX))
    async with database(request).write() as session:
        repository = await _administered(request, session, caller)
        hook, secret = await webhooks.create_webhook(session, repository, body["name"], body["url"])
        # The host, not the URL: a URL may carry credentials, and the audit log is for administrators to read.
        caller.record(session, "webhook_created", repository, webhook=hook.id, name=hook.name,
                      host=urlsplit(hook.url).hostname)
    # The request's own path, encoded as it came: url_for would not send a deeper name's slashes as %2F.
    location = f"{request.rel_url.raw_path}/{hook.id}"
    return web.json_response({**webhook_json(hook), "secret": secret}, status=201, headers={"Location": location})


async def delete_hook(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    webhook_id = int(request.match_info["id"])
    async with database(request).write() as session:
        repository = await _administered(request, session, caller)
        if not await webhooks.delete_webhook(session, repository, webhook_id):
            raise errors.NotFound(f"no webhook {webhook_id} on {repository!r}")
        caller.record(session, "webhook_deleted", repository, webhook=webhook_id)
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    limit = parse_limit(query(request, "limit").get("limit", str(DEFAULT_LIMIT)))
    async with database(request).read() as session:
        found = await webhooks.recent_deliveries(session, await _administered(request, session, caller), limit)
    return web.json_response({"deliveries": [delivery_json(d) for d in found]})


async def receive_callback(request: web.Request) -> web.Response:
    """Docker Hub's callback: the receiver reports how it handled a delivery, in the audit log.

    The token in the URL is the credential: receivers written for Docker Hub just POST to callback_url."""
    delivery_id = int(request.match_info["id"])
    async with database(request).read() as session:
        repository = await webhooks.callback_repository(session, delivery_id, request.query.get("token", ""))
    if repository is None:
        raise errors.NotFound(f"no delivery {delivery_id} with this token")
    body = await json_body(request, state=Field(choices=CALLBACK_STATES), description=Field(required=False),
                           context=Field(required=False, max_length=100),
                           target_url=Field(required=False, max_length=webhooks.URL_MAX))
    async with database(request).write() as session:
        audit.record(session, "", "webhook_callback", repository, request.remote or "", delivery=delivery_id, **body)
    return web.json_response({"id": delivery_id, "state": body["state"]})


# -- sending: the push enqueues, each worker's task delivers --------------------------------------------

def public_origin(request: web.Request) -> str:
    """How clients reach the registry: settings.public_url, else what the token realm says (it honours
    X-Forwarded-Proto and -Host), else the request's own scheme and Host."""
    settings, gate = request.config_dict[keys.settings], request.config_dict.get(keys.gatekeeper)
    if settings.public_url or gate is None:
        return settings.public_url or f"{request.scheme}://{request.host}"
    return gate.realm(request).removesuffix("/token")


async def enqueue_push(request: web.Request, session: AsyncSession, repository: str, tags: Sequence[str],
                       pusher: str) -> None:
    """Called by the manifest PUT in its transaction: the deliveries are kept only if the push is."""
    origin = public_origin(request)
    callback = (f"{origin}{API_PREFIX}/webhooks/deliveries/{webhooks.ID_PLACEHOLDER}/callback"
                f"?token={webhooks.TOKEN_PLACEHOLDER}")
    # The repository's web page, as web/render.py's repo_url addresses it.
    page = ("/r/" if "/" in repository else "/_/") + quote(repository)
    await webhooks.enqueue_push(session, repository, tags, pusher, callback, origin + page)


class HttpTransport:
    """POSTs deliveries. A fresh connection each time: a receiver's idle keep-alive connection closing
    under a reused one would count as a failed attempt and cost a backoff step."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._client: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        if self._client is None:  # made here, in the running loop
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout),
                                                 connector=aiohttp.TCPConnector(force_close=True))
        try:
            async with self._client.post(url, data=body, headers=headers, allow_redirects=False) as answer:
                return answer.status
        except TimeoutError:
            raise DeliveryFailed(f"no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class WebhookDeliveries:
    """One worker's delivery task (app.py runs `deliver_due` every policy.poll_interval seconds)."""

    def __init__(self, app: web.Application) -> None:
        self.policy = app.get(DELIVERY_POLICY) or DeliveryPolicy()
        self.database = app[keys.database]
        self.transport = HttpTransport(self.policy.timeout)

    async def deliver_due(self) -> None:
        await webhooks.deliver_due(self.database, self.transport, self.policy)

    async def close(self) -> None:
        await self.transport.close()


# -- the OpenAPI description (openapi.py's conventions) ------------------------------------------------

_URL: oa.Schema = {"type": "string", "format": "uri", "maxLength": webhooks.URL_MAX}
_ID: oa.Schema = {"type": "integer", "minimum": 1}
_STATE: oa.Schema = {"enum": [webhooks.PENDING, webhooks.DELIVERED, webhooks.FAILED]}
_WEBHOOK = oa.obj({"id": _ID, "name": oa.STRING, "url": _URL, "active": oa.BOOLEAN, "created_at": oa.MOMENT})
_CREATED = oa.obj({**_WEBHOOK["properties"], "secret": oa.STRING})
_DELIVERY = oa.obj({
    "id": _ID, "webhook": oa.STRING, "state": _STATE, "attempts": oa.COUNT,
    "last_status": oa.nullable({"type": "integer"}), "last_error": oa.nullable(oa.STRING), "created_at": oa.MOMENT,
    "delivered_at": oa.nullable(oa.MOMENT), "next_attempt_at": oa.nullable(oa.MOMENT)})
_CALLBACK_STATE: oa.Schema = {"enum": list(CALLBACK_STATES)}
_ON_REPOSITORY = [NAMESPACE_PARAMETER, NAME_PARAMETER]
_LIMIT = oa.parameter("limit", "query", {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT})
_ADMIN = "Needs admin on the repository; to those who cannot read it, it answers 404."
_SIGNED = ("Created. `secret` signs every delivery (`X-Berth-Signature-256: sha256=<hex HMAC-SHA256 of the body>`) "
           "and is shown this once.")


def _list_of(name: str, item: oa.Schema) -> oa.Schema:
    return oa.obj({name: {"type": "array", "items": item}})


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    HOOKS: {
        "get": oa.operation(
            "listWebhooks", "The repository's webhooks (without their secrets)", "webhooks",
            {200: oa.answer(_list_of("webhooks", _WEBHOOK))}, errors=[404], parameters=_ON_REPOSITORY,
            description=_ADMIN),
        "post": oa.operation(
            "createWebhook", "Add a webhook, called with Docker Hub's payload on every tag pushed", "webhooks",
            {201: oa.answer(_CREATED, _SIGNED, headers={"Location": {"schema": oa.STRING}})}, errors=[404],
            parameters=_ON_REPOSITORY, description=_ADMIN + " Only http and https URLs are accepted.",
            request=oa.body({"name": {**oa.STRING, "minLength": 1, "maxLength": webhooks.NAME_MAX}, "url": _URL}))},
    HOOKS + "/{id}": {
        "delete": oa.operation(
            "deleteWebhook", "Remove a webhook and its deliveries (pending ones are not sent)", "webhooks",
            {204: oa.answer(None, "Removed")}, errors=[404],
            parameters=[*_ON_REPOSITORY, *oa.path_parameters(id=_ID)], description=_ADMIN)},
    HOOKS + "/deliveries": {
        "get": oa.operation(
            "listWebhookDeliveries", "The delivery log: attempts and answers, newest first", "webhooks",
            {200: oa.answer(_list_of("deliveries", _DELIVERY))}, errors=[404],
            parameters=[*_ON_REPOSITORY, _LIMIT], description=_ADMIN)},
    "/webhooks/deliveries/{id}/callback": {
        "post": oa.operation(
            "webhookCallback", "A receiver reports how it handled a delivery (the payload's callback_url)",
            "webhooks", {200: oa.answer(oa.obj({"id": _ID, "state": _CALLBACK_STATE}))}, errors=[404],
            login=oa.NO_LOGIN,
            parameters=[*oa.path_parameters(id=_ID), oa.parameter("token", "query", oa.STRING, "From callback_url")],
            request=oa.body({"state": _CALLBACK_STATE, "description": oa.STRING, "context": oa.STRING,
                             "target_url": oa.STRING}, optional=("description", "context", "target_url")),
            description="Docker Hub's callback, recorded in the audit log. The token that callback_url carries "
                        "is the credential: receivers written for Docker Hub POST to it as they find it.")},
}
