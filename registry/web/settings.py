"""A repository's settings (`/r/NAMESPACE/NAME/settings`), for those who administer it: descriptions,
visibility, and webhooks (list, add with the secret shown once, delete, and the log of recent deliveries).

Someone who may read the repository but not administer it gets 403; anyone else the 404 of a missing one.
Each change is one transaction with its audit event, like the JSON API's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ..services import accounts, audit, hub, webhooks
from ..services.access import ADMIN
from ..services.errors import AccountError
from ..services.hub import FULL_DESCRIPTION_MAX, SHORT_DESCRIPTION_MAX, RepositoryView
from ..services.web_sessions import SignedIn
from .browse import database
from .render import PageError, not_found, render, repo_url
from .repository import readable_repository
from .signin import see_other
from .visitor import require_signed_in

NOTICES = {"descriptions": "The descriptions were saved.", "visibility": "The visibility was changed.",
           "webhook-deleted": "The webhook was deleted."}
VISIBILITIES = ("public", "private")
DELIVERIES_SHOWN = 20


def _sentence(reason: str) -> str:
    """A service's one-line reason ("a webhook URL must be ...") as a sentence for the page."""
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def routes() -> list[web.RouteDef]:
    """Before the repository page's routes: `/r/{namespace}/{name:.+}` would take `.../settings` too."""
    found: list[web.RouteDef] = []
    for prefix, name in (("/r/{namespace}/{name:.+}/settings", "web.settings"),
                         ("/_/{name}/settings", "web.official_settings")):
        found += [web.get(prefix, settings_page, name=name),
                  web.post(prefix + "/descriptions", change_descriptions, name=name + "_descriptions"),
                  web.post(prefix + "/visibility", change_visibility, name=name + "_visibility"),
                  web.post(prefix + "/webhooks", add_webhook, name=name + "_add_webhook"),
                  web.post(prefix + "/webhooks/{id:[0-9]{1,18}}/delete", delete_webhook,
                           name=name + "_delete_webhook")]
    return found


async def administered_repository(request: web.Request) -> tuple[RepositoryView, SignedIn]:
    """The repository the address names, if the signed-in visitor administers it."""
    user = await require_signed_in(request)
    view, level = await readable_repository(request)
    if level < ADMIN:
        raise PageError(403, "Not allowed", f"Changing the settings of {view.name} needs admin rights on it.")
    return view, user


async def settings_page(request: web.Request, status: int = 200, error: str = "",
                        **context: object) -> web.Response:
    view, _ = await administered_repository(request)
    async with database(request).read() as session:
        hooks = await webhooks.list_webhooks(session, view.name)
        deliveries = await webhooks.recent_deliveries(session, view.name, limit=DELIVERIES_SHOWN)
    return await render(request, "settings.html", status=status, repository=view, error=error,
                        notice=NOTICES.get(request.query.get("done", ""), ""),
                        short_max=SHORT_DESCRIPTION_MAX, full_max=FULL_DESCRIPTION_MAX,
                        official=view.is_official, webhooks=hooks, deliveries=deliveries, **context)


async def change_descriptions(request: web.Request) -> web.Response:
    view, user = await administered_repository(request)
    form = await request.post()
    short = str(form.get("short_description", "")).strip()
    full = str(form.get("full_description", "")).replace("\r\n", "\n")
    try:
        async with database(request).write() as session:
            await hub.set_descriptions(session, view.name, short, full)
            audit.record(session, user.name, "descriptions_changed", view.name, request.remote or "")
    except ValueError as exc:
        return await settings_page(request, 400, error=_sentence(str(exc)))
    return see_other(repo_url(view.name, "/settings?done=descriptions"))


async def change_visibility(request: web.Request) -> web.Response:
    view, user = await administered_repository(request)
    visibility = (await request.post()).get("visibility")
    if visibility not in VISIBILITIES:
        return await settings_page(request, 400, error="Choose public or private.")
    if view.is_official:  # services.access reads them as public whatever the flag says
        return await settings_page(request, 400, error="Official images are always public.")
    async with database(request).write() as session:
        await accounts.set_visibility(session, view.name, visibility == "private")
        audit.record(session, user.name, "visibility_changed", view.name, request.remote or "",
                     visibility=visibility)
    return see_other(repo_url(view.name, "/settings?done=visibility"))


async def add_webhook(request: web.Request) -> web.Response:
    view, user = await administered_repository(request)
    form = await request.post()
    name, url = str(form.get("name", "")).strip(), str(form.get("url", "")).strip()
    try:
        async with database(request).write() as session:
            hook, secret = await webhooks.create_webhook(session, view.name, name, url)
            # The host, not the URL (as the JSON API): a URL may carry credentials.
            audit.record(session, user.name, "webhook_created", view.name, request.remote or "", webhook=hook.id,
                         name=hook.name, host=urlsplit(hook.url).hostname)
    except AccountError as exc:  # the service's WebhookRefused says what is wrong with the name or URL
        return await settings_page(request, 400, error=_sentence(str(exc)), webhook_name=name, webhook_url=url)
    return await settings_page(request, 201, new_webhook=hook, new_webhook_secret=secret)


async def delete_webhook(request: web.Request) -> web.Response:
    view, user = await administered_repository(request)
    webhook_id = int(request.match_info["id"])  # the route admits 1 to 18 digits
    async with database(request).write() as session:
        if not await webhooks.delete_webhook(session, view.name, webhook_id):
            raise not_found()
        audit.record(session, user.name, "webhook_deleted", view.name, request.remote or "", webhook=webhook_id)
    return see_other(repo_url(view.name, "/settings?done=webhook-deleted"))
