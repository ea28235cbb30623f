"""An organization's teams (`/orgs/ORG/teams`), for its owners: create teams, add and remove members, and
set what a team may do on the whole organization or on one repository.

To anyone outside the organization it answers 404 like a missing one; members who are not owners get 403.
The same rules as the JSON API (registry/api/hub/organizations.py), the last owner included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..oci.reference import is_valid_name
from ..services import accounts, audit
from ..services.access import LEVELS, OWNERS_TEAM
from ..services.errors import AccountError, NotFound
from ..services.web_sessions import SignedIn
from .browse import database
from .render import PageError, not_found, render
from .signin import see_other
from .visitor import require_signed_in

NOTICES = {"created": "The team was created.", "added": "The member was added.",
           "removed": "The member was removed.", "granted": "The permission was set."}


def routes() -> list[web.RouteDef]:
    teams, team = "/orgs/{org}/teams", "/orgs/{org}/teams/{team}"
    return [web.get(teams, teams_page, name="web.teams"), web.post(teams, create_team, name="web.create_team"),
            web.post(team + "/members", add_member, name="web.add_member"),
            web.post(team + "/members/{user}/remove", remove_member, name="web.remove_member"),
            web.post(team + "/permissions", grant, name="web.grant_team")]


async def _require_owner(session: AsyncSession, user: SignedIn, organization: str) -> None:
    if user.is_admin and await accounts.namespace_kind(session, organization) == accounts.ORGANIZATION:
        return
    role = await accounts.organization_role(session, organization, user.user_id)
    if role is None:
        raise not_found()
    if role != accounts.OWNER:
        raise PageError(403, "Not allowed", f"Only the owners of {organization} manage its teams.")


async def teams_page(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    user = await require_signed_in(request)
    organization = request.match_info["org"]
    async with database(request).read() as session:
        await _require_owner(session, user, organization)
        info = await accounts.describe_organization(session, organization)
    return await render(request, "teams.html", status=status, organization=info, error=error,
                        permissions=list(LEVELS), owners_team=OWNERS_TEAM,
                        notice=NOTICES.get(request.query.get("done", ""), ""))


Change = Callable[[AsyncSession], Awaitable[None]]


async def _change(request: web.Request, action: str, target: str, done: str, change: Change, **detail: object
                  ) -> web.Response:
    """Run `change(session)` for an owner of the organization, audited; a refusal re-renders the page."""
    user = await require_signed_in(request)
    organization = request.match_info["org"]
    try:
        async with database(request).write() as session:
            await _require_owner(session, user, organization)
            await change(session)
            audit.record(session, user.name, action, target, request.remote or "", **detail)
    except NotFound as exc:
        return await teams_page(request, 404, str(exc).capitalize() + ".")
    except AccountError as exc:
        return await teams_page(request, 400, str(exc).capitalize() + ".")
    except IntegrityError:  # a concurrent request made the same change
        return await teams_page(request, 409, "Someone else changed this at the same time; try again.")
    return see_other(f"/orgs/{organization}/teams?done={done}")


async def create_team(request: web.Request) -> web.Response:
    form = await request.post()
    organization, name = request.match_info["org"], str(form.get("name", "")).strip()
    permission = str(form.get("permission", "")) or None

    async def change(session: AsyncSession) -> None:
        await accounts.create_team(session, organization, name, permission)
    return await _change(request, "team_created", f"{organization}/{name}", "created", change,
                         permission=permission)


async def add_member(request: web.Request) -> web.Response:
    organization, team = request.match_info["org"], request.match_info["team"]
    user = str((await request.post()).get("user", "")).strip()

    async def change(session: AsyncSession) -> None:
        await accounts.add_team_member(session, organization, team, user)
    return await _change(request, "team_member_added", f"{organization}/{team}", "added", change, user=user)


async def remove_member(request: web.Request) -> web.Response:
    organization, team, user = (request.match_info[k] for k in ("org", "team", "user"))

    async def change(session: AsyncSession) -> None:
        if team == OWNERS_TEAM:  # an organization nobody owns could be managed by site administrators only
            teams = (await accounts.describe_organization(session, organization)).teams
            if any(t.name == OWNERS_TEAM and t.members == (user,) for t in teams):
                raise AccountError(f"{user} is the last owner of {organization}")
        await accounts.remove_team_member(session, organization, team, user)
    return await _change(request, "team_member_removed", f"{organization}/{team}", "removed", change, user=user)


async def grant(request: web.Request) -> web.Response:
    organization, team = request.match_info["org"], request.match_info["team"]
    form = await request.post()
    permission, repository = str(form.get("permission", "")), str(form.get("repository", "")).strip() or None
    if repository is not None and "/" not in repository:
        repository = f"{organization}/{repository}"  # the form asks for the name within the organization

    async def change(session: AsyncSession) -> None:
        if repository is not None and not is_valid_name(repository):
            raise AccountError(f"invalid repository name {repository[:80]!r}")
        await accounts.grant_team(session, organization, team, permission, repository)
    return await _change(request, "permission_changed", repository or organization, "granted", change,
                         team=f"{organization}/{team}", permission=permission)
