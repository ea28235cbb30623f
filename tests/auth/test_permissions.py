"""Who may do what: Docker Hub's model of organizations, teams, robots, access tokens and visibility.

The matrix is written out as the tables below; each cell is checked through the registry (a token asked
as docker asks it, then the request), except "admin" (may change visibility), which has no HTTP API yet
and is checked at the service level.
"""

from __future__ import annotations

import pytest

from registry import keys
from registry.services import accounts
from registry.services.access import ADMIN, ANONYMOUS, repository_level
from registry.services.credentials import authenticate, issue_token

from ..api.oci import push_image
from .conftest import ADMIN_PASSWORD, AsCaller, as_caller, basic, challenge_of, token_for

PRIVATE_REPO = """
                  | pull | push | delete | tags | catalog | admin
anonymous         |  -   |  -   |   -    |  -   |    -    |   -
other user        |  -   |  -   |   -    |  -   |    -    |   -
team read         | yes  |  -   |   -    | yes  |   yes   |   -
team write        | yes  | yes  |   -    | yes  |   yes   |   -
team admin        | yes  | yes  |  yes   | yes  |   yes   |  yes
org owner         | yes  | yes  |  yes   | yes  |   yes   |  yes
repo team (write) | yes  | yes  |   -    | yes  |   yes   |   -
robot read        | yes  |  -   |   -    | yes  |   yes   |   -
robot write       | yes  | yes  |   -    | yes  |   yes   |   -
site admin        | yes  | yes  |  yes   | yes  |   yes   |  yes
owner PAT read    | yes  |  -   |   -    | yes  |   yes   |   -
owner PAT rw      | yes  | yes  |   -    | yes  |   yes   |   -
"""

# The repo team's grant is on acme/private only: on acme/public it reads like everyone.
PUBLIC_REPO = """
                  | pull | push | delete | tags | catalog | admin
anonymous         | yes  |  -   |   -    | yes  |   yes   |   -
other user        | yes  |  -   |   -    | yes  |   yes   |   -
team read         | yes  |  -   |   -    | yes  |   yes   |   -
team write        | yes  | yes  |   -    | yes  |   yes   |   -
team admin        | yes  | yes  |  yes   | yes  |   yes   |  yes
org owner         | yes  | yes  |  yes   | yes  |   yes   |  yes
repo team (write) | yes  |  -   |   -    | yes  |   yes   |   -
robot read        | yes  |  -   |   -    | yes  |   yes   |   -
robot write       | yes  | yes  |   -    | yes  |   yes   |   -
site admin        | yes  | yes  |  yes   | yes  |   yes   |  yes
owner PAT read    | yes  |  -   |   -    | yes  |   yes   |   -
owner PAT rw      | yes  | yes  |   -    | yes  |   yes   |   -
"""


def parse(table: str) -> dict[str, dict[str, str]]:
    header, *rows = [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()]
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


PASSWORD = "a-good-password"
USERS = {"other user": "stranger", "team read": "reader", "team write": "writer", "team admin": "manager",
         "org owner": "owner", "repo team (write)": "member"}


async def organization(session) -> dict[str, tuple[str, str] | None]:
    """acme, its teams and robots, and everyone's credentials by role."""
    for name in USERS.values():
        await accounts.create_user(session, name, PASSWORD)
    await accounts.create_organization(session, "acme", "owner")
    for team, permission, user in (("readers", "read", "reader"), ("writers", "write", "writer"),
                                   ("managers", "admin", "manager"), ("apps", None, "member")):
        await accounts.create_team(session, "acme", team, permission)
        await accounts.add_team_member(session, "acme", team, user)
    await accounts.grant_team(session, "acme", "apps", "write", "acme/private")
    roles: dict[str, tuple[str, str] | None] = {"anonymous": None, "site admin": ("admin", ADMIN_PASSWORD)}
    roles |= {role: (name, PASSWORD) for role, name in USERS.items()}
    for robot, permission in (("pull", "read"), ("push", "write")):
        secret = await accounts.create_robot(session, "acme", robot)
        for repository in ("acme/private", "acme/public"):
            await accounts.grant_robot(session, "acme", robot, repository, permission)
        roles[f"robot {permission}"] = (f"acme+{robot}", secret)
    owner_id = (await accounts.get_user(session, "owner")).id
    for role, scope in (("owner PAT read", "read"), ("owner PAT rw", "read-write")):
        roles[role] = ("owner", (await issue_token(session, owner_id, scope)).secret)
    return roles


def tag_of(role: str) -> str:
    return role.replace(" ", "-").replace("(", "").replace(")", "")


@pytest.fixture
async def acme(registry, admin_session):
    roles = await admin_session(organization)
    owner = await as_caller(registry, "repository:acme/private:push", "repository:acme/public:push",
                            credentials=("owner", PASSWORD))
    manifests = {}
    for repository in ("acme/private", "acme/public"):
        manifests[repository] = pushed = await push_image(owner, repository, "v1")
        for role in roles:  # a tag of its own for each role to delete
            response = await owner.put(f"/v2/{repository}/manifests/del-{tag_of(role)}", data=pushed.data,
                                       headers={"Content-Type": pushed.media_type})
            assert response.status == 201
    await admin_session(lambda s: accounts.set_visibility(s, "acme/private", True))
    return roles, manifests


async def outcome(response, allowed_status: int) -> str:
    """"yes" for the success status, "-" for the challenge a token without the action gets, else what came."""
    if response.status == allowed_status:
        return "yes"
    if response.status == 401 and challenge_of(response).get("error") == "insufficient_scope":
        return "-"
    return f"?{response.status}"


async def cells(registry, role: str, credentials, repository: str, manifest) -> dict[str, str]:
    async def client(*scopes: str) -> AsCaller:
        return await as_caller(registry, *scopes, credentials=credentials)
    scope = f"repository:{repository}"
    pull = await (await client(f"{scope}:pull")).get(f"/v2/{repository}/manifests/v1")
    push = await (await client(f"{scope}:pull,push")).put(
        f"/v2/{repository}/manifests/new-{tag_of(role)}", data=manifest.data,
        headers={"Content-Type": manifest.media_type})
    delete = await (await client(f"{scope}:delete")).delete(f"/v2/{repository}/manifests/del-{tag_of(role)}")
    tags = await (await client(f"{scope}:pull")).get(f"/v2/{repository}/tags/list")
    catalog = await (await client("registry:catalog:*")).get("/v2/_catalog")
    assert catalog.status == 200
    async with registry.app[keys.database].read() as session:
        principal = ANONYMOUS if credentials is None else await authenticate(session, *credentials)
        assert principal is not None, role
        level = await repository_level(session, principal, repository)
    return {"pull": await outcome(pull, 200), "push": await outcome(push, 201), "delete": await outcome(delete, 202),
            "tags": await outcome(tags, 200),
            "catalog": "yes" if repository in (await catalog.json())["repositories"] else "-",
            "admin": "yes" if level >= ADMIN else "-"}


@pytest.mark.parametrize(("repository", "table"), [("acme/private", PRIVATE_REPO), ("acme/public", PUBLIC_REPO)])
async def test_permission_matrix(registry, acme, repository, table):
    roles, manifests = acme
    actual = {role: await cells(registry, role, credentials, repository, manifests[repository])
              for role, credentials in roles.items()}
    assert actual == parse(table)


async def pull_status(registry, headers, repository="alice/app") -> int:
    return (await registry.get(f"/v2/{repository}/manifests/v1", headers=headers)).status


@pytest.fixture
async def alice(registry, admin_session):
    await admin_session(lambda s: accounts.create_user(s, "alice", PASSWORD))
    await push_image(await as_caller(registry, "repository:alice/app:push", credentials=("alice", PASSWORD)),
                     "alice/app", "v1")


async def test_making_a_repository_private_takes_effect_for_existing_tokens(registry, admin_session, alice):
    anonymous = await as_caller(registry, "repository:alice/app:pull")
    assert await pull_status(registry, anonymous.headers) == 200
    await admin_session(lambda s: accounts.set_visibility(s, "alice/app", True))
    response = await anonymous.get("/v2/alice/app/manifests/v1")
    assert response.status == 401 and challenge_of(response)["error"] == "insufficient_scope"
    assert (await anonymous.get("/v2/alice/app/tags/list")).status == 401
    await admin_session(lambda s: accounts.set_visibility(s, "alice/app", False))
    assert await pull_status(registry, anonymous.headers) == 200


async def test_leaving_a_team_takes_effect_at_once(registry, acme, admin_session):
    manifest = acme[1]["acme/private"]
    writer = await as_caller(registry, "repository:acme/private:pull,push", credentials=("writer", PASSWORD))
    by_basic = AsCaller(registry, basic("writer", PASSWORD))
    for client, tag in ((writer, "w1"), (by_basic, "w2")):
        response = await client.put(f"/v2/acme/private/manifests/{tag}", data=manifest.data,
                                    headers={"Content-Type": manifest.media_type})
        assert response.status == 201
    await admin_session(lambda s: accounts.remove_team_member(s, "acme", "writers", "writer"))
    response = await writer.put("/v2/acme/private/manifests/w3", data=manifest.data,
                                headers={"Content-Type": manifest.media_type})
    assert response.status == 401 and challenge_of(response)["error"] == "insufficient_scope"
    assert (await writer.get("/v2/acme/private/manifests/v1")).status == 401
    # Basic credentials are remembered for a minute, but what they may do is not.
    assert (await by_basic.get("/v2/acme/private/manifests/v1")).status == 403


async def test_a_namespace_default_visibility_makes_new_repositories_private(registry, admin_session, alice):
    await admin_session(lambda s: accounts.set_default_visibility(s, "alice", True))
    await push_image(await as_caller(registry, "repository:alice/new:push", credentials=("alice", PASSWORD)),
                     "alice/new", "v1")
    access = await token_for(registry, "repository:alice/new:pull", "repository:alice/app:pull")
    assert await pull_status(registry, {"Authorization": f"Bearer {access['token']}"}, "alice/new") == 401
    # Repositories pushed before stay as they were.
    assert await pull_status(registry, {"Authorization": f"Bearer {access['token']}"}, "alice/app") == 200
    owner = await as_caller(registry, "repository:alice/new:pull", credentials=("alice", PASSWORD))
    assert await pull_status(registry, owner.headers, "alice/new") == 200


OFFICIAL = ["library/base", "busybox"]


@pytest.mark.parametrize("repository", OFFICIAL)
async def test_official_repositories_admins_push_everyone_pulls(registry, admin_session, alice, repository):
    admin = await as_caller(registry, f"repository:{repository}:pull,push", credentials=("admin", ADMIN_PASSWORD))
    manifest = await push_image(admin, repository, "v1")
    user = await as_caller(registry, f"repository:{repository}:pull,push,delete", credentials=("alice", PASSWORD))
    for attempt in (user.post(f"/v2/{repository}/blobs/uploads/"), user.delete(f"/v2/{repository}/manifests/v1"),
                    user.put(f"/v2/{repository}/manifests/v2", data=manifest.data,
                             headers={"Content-Type": manifest.media_type})):
        response = await attempt
        assert response.status == 401 and challenge_of(response)["error"] == "insufficient_scope"
    denied = await registry.post(f"/v2/{repository}/blobs/uploads/", headers=basic("alice", PASSWORD))
    assert denied.status == 403
    # Everyone pulls, even after an attempt to make it private: official repositories are public.
    await admin_session(lambda s: accounts.set_visibility(s, repository, True))
    for credentials in (None, ("alice", PASSWORD)):
        client = await as_caller(registry, f"repository:{repository}:pull", credentials=credentials)
        assert await pull_status(registry, client.headers, repository) == 200
