"""JSON API: organizations, their teams and robots (`/api/v1/orgs`).

The same operations as `berth-registry org|team|robot ...` (registry/admin.py). Anyone logged in may
create an organization they own; managing one takes its owners team or a site administrator, and to
anyone outside it an organization answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import errors
from ...oci.reference import is_valid_name
from ...services import accounts
from ...services.access import LEVELS, OWNERS_TEAM
from .body import Field, json_body
from .caller import authenticate, database, require_admin, require_organization

PERMISSION = Field(choices=tuple(LEVELS))
WHOLE_ORGANIZATION_PERMISSION = Field(required=False, choices=tuple(LEVELS))
NO_CONTENT = 204


def organization_json(info: accounts.OrganizationInfo) -> dict[str, Any]:
    return {"name": info.name,
            "teams": [{"name": t.name, "permission": t.permission, "members": list(t.members),
                       "repositories": t.repositories} for t in info.teams],
            "robots": [{"name": r.name, "username": r.username, "repositories": r.repositories}
                       for r in info.robots]}


def _repository(name: str) -> str:
    if not is_valid_name(name):
        raise errors.ApiError(f"invalid repository name {name[:80]!r}")
    return name  # the service checks that it lies in the organization


def routes() -> list[web.RouteDef]:
    org = "/orgs/{org}"
    return [web.post("/orgs", create_organization), web.get(org, get_organization, name="organization"),
            web.post(org + "/teams", create_team),
            web.put(org + "/teams/{team}/members/{user}", add_team_member),
            web.delete(org + "/teams/{team}/members/{user}", remove_team_member),
            web.put(org + "/teams/{team}/permissions", grant_team), web.post(org + "/robots", create_robot),
            web.put(org + "/robots/{name}/permissions", grant_robot)]


async def create_organization(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await json_body(request, name=Field(max_length=30), owner=Field(required=False, max_length=30))
    name, owner = body["name"], body.get("owner", caller.name)
    if owner != caller.name:
        require_admin(caller, "only site administrators may create an organization for someone else")
    async with database(request).write() as session:
        if await accounts.namespace_kind(session, name):
            raise errors.Conflict(f"the name {name!r} is taken")
        await accounts.create_organization(session, name, owner)
        caller.record(session, "organization_created", name, owner=owner)
    location = request.app.router["organization"].url_for(org=name)
    return web.json_response({"name": name, "owner": owner}, status=201, headers={"Location": str(location)})


async def get_organization(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization = request.match_info["org"]
    async with database(request).read() as session:
        await require_organization(session, caller, organization, accounts.MEMBER)
        info = await accounts.describe_organization(session, organization)
    return web.json_response(organization_json(info))


async def create_team(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization = request.match_info["org"]
    body = await json_body(request, name=Field(max_length=30), permission=WHOLE_ORGANIZATION_PERMISSION)
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        if await accounts.team_exists(session, organization, body["name"]):
            raise errors.Conflict(f"team {body['name']!r} already exists in {organization!r}")
        await accounts.create_team(session, organization, body["name"], body.get("permission"))
        caller.record(session, "team_created", f"{organization}/{body['name']}", permission=body.get("permission"))
    return web.json_response({"name": body["name"], "permission": body.get("permission")}, status=201)


async def add_team_member(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization, team, user = (request.match_info[k] for k in ("org", "team", "user"))
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        await accounts.add_team_member(session, organization, team, user)
        caller.record(session, "team_member_added", f"{organization}/{team}", user=user)
    return web.Response(status=NO_CONTENT)


async def remove_team_member(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization, team, user = (request.match_info[k] for k in ("org", "team", "user"))
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        if team == OWNERS_TEAM:  # an organization nobody owns could be managed by site administrators only
            teams = (await accounts.describe_organization(session, organization)).teams
            if any(t.name == OWNERS_TEAM and t.members == (user,) for t in teams):
                raise errors.Conflict(f"{user!r} is the last owner of {organization!r}")
        await accounts.remove_team_member(session, organization, team, user)
        caller.record(session, "team_member_removed", f"{organization}/{team}", user=user)
    return web.Response(status=NO_CONTENT)


async def grant_team(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization, team = request.match_info["org"], request.match_info["team"]
    body = await json_body(request, repository=Field(required=False), permission=PERMISSION)
    repository = _repository(body["repository"]) if "repository" in body else None
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        await accounts.grant_team(session, organization, team, body["permission"], repository)
        caller.record(session, "permission_changed", repository or organization,
                      team=f"{organization}/{team}", permission=body["permission"])
    return web.json_response({"team": team, "repository": repository, "permission": body["permission"]})


async def create_robot(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization = request.match_info["org"]
    body = await json_body(request, name=Field(max_length=30))
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        if await accounts.robot_exists(session, organization, body["name"]):
            raise errors.Conflict(f"robot {body['name']!r} already exists in {organization!r}")
        secret = await accounts.create_robot(session, organization, body["name"])
        caller.record(session, "robot_created", f"{organization}+{body['name']}")
    return web.json_response({"username": f"{organization}+{body['name']}", "secret": secret}, status=201,
                             headers={"Cache-Control": "no-store"})


async def grant_robot(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    organization, robot = request.match_info["org"], request.match_info["name"]
    body = await json_body(request, repository=Field(), permission=PERMISSION)
    repository = _repository(body["repository"])
    async with database(request).write() as session:
        await require_organization(session, caller, organization)
        await accounts.grant_robot(session, organization, robot, repository, body["permission"])
        caller.record(session, "permission_changed", repository, robot=f"{organization}+{robot}",
                      permission=body["permission"])
    return web.json_response({"robot": f"{organization}+{robot}", "repository": repository,
                              "permission": body["permission"]})
