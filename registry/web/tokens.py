"""The signed-in user's personal access tokens (`/account/tokens`): create one (shown once) and revoke.

The same operations, in the same transactions with the same audit events, as the JSON API's
`/api/v1/users/NAME/tokens`.
"""

from __future__ import annotations

from aiohttp import web

from ..services import audit, credentials
from ..services.credentials import TOKEN_SCOPES, IssuedToken, personal_tokens
from ..services.errors import AccountError
from ..services.web_sessions import SignedIn
from .browse import database
from .render import not_found, render
from .signin import see_other
from .visitor import require_signed_in

PATH = "/account/tokens"
EXPIRIES = {"30": 30, "90": 90, "365": 365, "never": None}  # form value -> days
MAX_LABEL = 100


def routes() -> list[web.RouteDef]:
    return [web.get(PATH, tokens_page, name="web.tokens"), web.post(PATH, create_token, name="web.create_token"),
            web.post(PATH + "/{id:[0-9]{1,18}}/revoke", revoke_token, name="web.revoke_token")]


async def tokens_page(request: web.Request) -> web.Response:
    user = await require_signed_in(request)
    notice = "The token was revoked." if request.query.get("revoked") == "1" else ""
    return await _page(request, user, notice=notice)


async def _page(request: web.Request, user: SignedIn, status: int = 200, new_token: IssuedToken | None = None,
                notice: str = "", error: str = "", label: str = "") -> web.Response:
    async with database(request).read() as session:
        tokens = await personal_tokens(session, user.user_id)
    return await render(request, "tokens.html", status=status, tokens=tokens, scopes=list(TOKEN_SCOPES),
                        expiries=list(EXPIRIES), new_token=new_token, notice=notice, error=error, label=label)


async def create_token(request: web.Request) -> web.Response:
    user = await require_signed_in(request)
    form = await request.post()
    scope, expiry = str(form.get("scope", "")), str(form.get("expires", ""))
    label = str(form.get("label", "")).strip()
    if scope not in TOKEN_SCOPES or expiry not in EXPIRIES:
        return await _page(request, user, 400, error="Choose a scope and an expiry.", label=label)
    if len(label) > MAX_LABEL or any(c < " " for c in label):
        return await _page(request, user, 400, error=f"A description is one line of at most {MAX_LABEL} "
                                                     "characters.", label=label[:MAX_LABEL])
    try:
        async with database(request).write() as session:
            issued = await credentials.issue_token(session, user.user_id, scope, expires_days=EXPIRIES[expiry],
                                                   label=label)
            audit.record(session, user.name, "access_token_created", user.name, request.remote or "",
                         scope=issued.scope, token_id=issued.id)
    except AccountError as exc:
        return await _page(request, user, 400, error=str(exc), label=label)
    return await _page(request, user, 201, new_token=issued)


async def revoke_token(request: web.Request) -> web.Response:
    user = await require_signed_in(request)
    token_id = int(request.match_info["id"])  # the route admits 1 to 18 digits
    async with database(request).write() as session:
        if not await personal_tokens(session, user.user_id, token_id):
            raise not_found()  # someone else's token, or a refresh token: not this page's business
        await credentials.revoke_token(session, user.user_id, token_id)
        audit.record(session, user.name, "access_token_revoked", user.name, request.remote or "",
                     token_id=token_id)
    return see_other(PATH + "?revoked=1")
