"""The OpenAPI description (openapi.py) of the modules older than the document: users and tokens
(accounts.py), organizations (organizations.py) and the audit log (audit_log.py). Written down here so
that those modules stay as they are; it moves into them, as their OPENAPI_PATHS, when they next change.
"""

from __future__ import annotations

from typing import Any

from ...oci.reference import NAME, NAME_MAX
from ...services.access import LEVELS
from ...services.accounts import ACCOUNT_NAME, TEAM_NAME
from ...services.credentials import TOKEN_SCOPES
from . import openapi as oa
from .audit_log import MAX_LIMIT

_ACCOUNT_NAME = {"type": "string", "pattern": f"^{ACCOUNT_NAME.pattern}$"}
_TEAM_NAME = {"type": "string", "pattern": f"^{TEAM_NAME.pattern}$"}
_PASSWORD = {"type": "string", "minLength": 8, "maxLength": 1024}
_PERMISSION = {"enum": list(LEVELS)}
_REPOSITORY = {"type": "string", "maxLength": NAME_MAX, "pattern": f"^{NAME.pattern}$"}
_LOCATION = {"Location": {"description": "Where the new thing is", "schema": oa.STRING}}
_DONE = {204: oa.answer(None, "Done")}
_ADMINS = "For site administrators."
_SELF = "For the user and site administrators; to others the user is missing (404)."
_OWNERS = "For the organization's owners and site administrators; to non-members it is missing (404)."
_ORG = oa.path_parameters("org")
_TEAM = oa.path_parameters("org", "team")
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    "User": oa.obj({"name": oa.STRING, "email": oa.nullable(oa.STRING), "admin": oa.BOOLEAN}),
    "AccessToken": oa.obj({
        "id": {"type": "integer", "minimum": 1}, "scope": {"enum": list(TOKEN_SCOPES)}, "label": oa.STRING,
        "created_at": oa.STRING, "expires_at": oa.nullable(oa.STRING), "last_used_at": oa.nullable(oa.STRING)}),
    "Organization": oa.obj({
        "name": oa.STRING,
        "teams": {"type": "array", "items": oa.obj({
            "name": oa.STRING, "permission": oa.nullable(_PERMISSION),
            "members": {"type": "array", "items": oa.STRING},
            "repositories": {"type": "object", "additionalProperties": _PERMISSION}})},
        "robots": {"type": "array", "items": oa.obj({
            "name": oa.STRING, "username": oa.STRING,
            "repositories": {"type": "object", "additionalProperties": _PERMISSION}})}}),
}
_TOKEN_CREATED = oa.obj({"token": oa.STRING, **OPENAPI_SCHEMAS["AccessToken"]["properties"]})
_EVENT = oa.obj({"id": {"type": "integer"}, "at": oa.STRING, "actor": oa.STRING, "action": oa.STRING,
                 "target": oa.STRING, "address": oa.STRING, "detail": {"type": "object"}})

USERS: dict[str, dict[str, Any]] = {
    "/user": {"get": oa.operation("whoami", "The calling user", "accounts", {200: oa.answer(oa.ref("User"))})},
    "/users": {
        "get": oa.operation("listUsers", "Every user", "accounts",
                            {200: oa.answer(oa.obj({"users": {"type": "array", "items": oa.ref("User")}}))},
                            description=_ADMINS),
        "post": oa.operation(
            "createUser", "Add a user", "accounts",
            {201: oa.answer(oa.ref("User"), "Created", headers=_LOCATION)}, errors=[409], description=_ADMINS,
            request=oa.body({"name": _ACCOUNT_NAME, "password": _PASSWORD,
                             "email": {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+$"},
                             "admin": oa.BOOLEAN}, optional=("email", "admin")))},
    "/users/{name}": {
        "get": oa.operation("getUser", "One user", "accounts", {200: oa.answer(oa.ref("User"))}, errors=[404],
                            parameters=oa.path_parameters("name"), description=_SELF),
        "delete": oa.operation("deleteUser", "Remove a user and everything in its namespace", "accounts", _DONE,
                               errors=[404, 409], parameters=oa.path_parameters("name"),
                               description=_ADMINS + " The last administrator stays (409).")},
    "/users/{name}/password": {"put": oa.operation(
        "changePassword", "Set a user's password", "accounts", _DONE, errors=[404],
        parameters=oa.path_parameters("name"),
        request=oa.body({"password": _PASSWORD, "current_password": {"type": "string", "maxLength": 1024}},
                        optional=("current_password",)),
        description=_SELF + " Your own needs `current_password`; wrong guesses count as failed logins.")},
    "/users/{name}/tokens": {
        "get": oa.operation("listTokens", "A user's personal access tokens (never their secrets)", "accounts",
                            {200: oa.answer(oa.obj({"tokens": {"type": "array", "items": oa.ref("AccessToken")}}))},
                            errors=[404], parameters=oa.path_parameters("name"), description=_SELF),
        "post": oa.operation(
            "createToken", "Issue a personal access token (its secret is shown this once)", "accounts",
            {201: oa.answer(_TOKEN_CREATED, "Created")}, errors=[404], parameters=oa.path_parameters("name"),
            request=oa.body({"scope": {"enum": list(TOKEN_SCOPES)}, "label": {"type": "string", "maxLength": 100},
                             "expires_days": {"type": "integer", "minimum": 1, "maximum": 3650}},
                            optional=("label", "expires_days")),
            description=_SELF + " Needs a password or a read-write-delete token.")},
    "/users/{name}/tokens/{id}": {"delete": oa.operation(
        "revokeToken", "Revoke a personal access token", "accounts", _DONE, errors=[404],
        parameters=oa.path_parameters("name", id={"type": "integer", "minimum": 0, "maximum": 10**18 - 1}),
        description=_SELF)},
}
ORGANIZATIONS: dict[str, dict[str, Any]] = {
    "/orgs": {"post": oa.operation(
        "createOrganization", "Add an organization, owned by the caller (or `owner`, for administrators)",
        "organizations", {201: oa.answer(oa.obj({"name": oa.STRING, "owner": oa.STRING}), "Created",
                                         headers=_LOCATION)},
        errors=[404, 409], request=oa.body({"name": _ACCOUNT_NAME, "owner": _ACCOUNT_NAME}, optional=("owner",)))},
    "/orgs/{org}": {"get": oa.operation(
        "getOrganization", "An organization's teams and robots", "organizations",
        {200: oa.answer(oa.ref("Organization"))}, errors=[404], parameters=_ORG,
        description="For its members and site administrators.")},
    "/orgs/{org}/teams": {"post": oa.operation(
        "createTeam", "Add a team, with a permission on the whole organization if given", "organizations",
        {201: oa.answer(oa.obj({"name": oa.STRING, "permission": oa.nullable(_PERMISSION)}), "Created")},
        errors=[404, 409], parameters=_ORG, description=_OWNERS,
        request=oa.body({"name": _TEAM_NAME, "permission": _PERMISSION}, optional=("permission",)))},
    "/orgs/{org}/teams/{team}/members/{user}": {
        "put": oa.operation("addTeamMember", "Put a user in a team", "organizations", _DONE, errors=[404],
                            parameters=oa.path_parameters("org", "team", "user"), description=_OWNERS),
        "delete": oa.operation("removeTeamMember", "Take a user out of a team", "organizations", _DONE,
                               errors=[404, 409], parameters=oa.path_parameters("org", "team", "user"),
                               description=_OWNERS + " The last owner stays (409).")},
    "/orgs/{org}/teams/{team}/permissions": {"put": oa.operation(
        "grantTeam", "Set a team's permission on one repository of the organization, or on all", "organizations",
        {200: oa.answer(oa.obj({"team": oa.STRING, "repository": oa.nullable(oa.STRING),
                                "permission": _PERMISSION}))},
        errors=[404], parameters=_TEAM, description=_OWNERS,
        request=oa.body({"repository": _REPOSITORY, "permission": _PERMISSION}, optional=("repository",)))},
    "/orgs/{org}/robots": {"post": oa.operation(
        "createRobot", "Add a robot account (its secret is shown this once)", "organizations",
        {201: oa.answer(oa.obj({"username": oa.STRING, "secret": oa.STRING}), "Created")},
        errors=[404, 409], parameters=_ORG, description=_OWNERS, request=oa.body({"name": _TEAM_NAME}))},
    "/orgs/{org}/robots/{name}/permissions": {"put": oa.operation(
        "grantRobot", "Set a robot's permission on one repository of the organization", "organizations",
        {200: oa.answer(oa.obj({"robot": oa.STRING, "repository": oa.STRING, "permission": _PERMISSION}))},
        errors=[404], parameters=oa.path_parameters("org", "name"), description=_OWNERS,
        request=oa.body({"repository": _REPOSITORY, "permission": _PERMISSION}))},
}
AUDIT: dict[str, dict[str, Any]] = {
    "/audit": {"get": oa.operation(
        "listAuditEvents", "The audit log, newest first", "audit",
        {200: oa.answer(oa.obj({"events": {"type": "array", "items": _EVENT}}))},
        parameters=[oa.parameter("since", "query", oa.STRING, "An ISO date-time, or an age such as 30m, 2h or 7d"),
                    oa.parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})],
        description=_ADMINS)},
}
OPENAPI_PATHS = USERS | ORGANIZATIONS | AUDIT
