"""The token flow end to end in-process: challenge, token, push, pull."""

from registry.services import accounts

from ..api.oci import push_image
from .conftest import ADMIN_PASSWORD, bearer, token_for


async def test_challenge_then_token_then_pull(registry, admin_session):
    await admin_session(lambda s: accounts.create_user(s, "alice", "alice-password"))
    challenge = await registry.get("/v2/")
    assert challenge.status == 401
    assert challenge.headers["WWW-Authenticate"].startswith('Bearer realm="http://')
    answer = await token_for(registry, "repository:alice/app:pull,push", credentials=("alice", "alice-password"))
    registry_headers = bearer(answer["token"])
    assert (await registry.get("/v2/", headers=registry_headers)).status == 200
    assert answer["expires_in"] == 3600 and answer["access_token"] == answer["token"]
    admin = await token_for(registry, "repository:library/x:*", credentials=("admin", ADMIN_PASSWORD))
    assert admin["token"]
    anonymous = await token_for(registry, "repository:alice/app:pull")
    assert (await registry.get("/v2/alice/app/tags/list", headers=bearer(anonymous["token"]))).status == 401

    class Authed:  # push_image's client: every request with alice's token
        def __getattr__(self, name):
            method = getattr(registry, name)
            return lambda *a, **k: method(*a, headers={**k.pop("headers", {}), **registry_headers}, **k)
    await push_image(Authed(), "alice/app", "v1")
    # The token asked before the repository existed holds no pull: a fresh one does.
    assert (await registry.get("/v2/alice/app/tags/list", headers=bearer(anonymous["token"]))).status == 401
    anonymous = await token_for(registry, "repository:alice/app:pull")
    tags = await registry.get("/v2/alice/app/tags/list", headers=bearer(anonymous["token"]))
    assert tags.status == 200 and (await tags.json())["tags"] == ["v1"]


async def test_a_remembered_login_ends_with_its_password_or_token(registry, admin_session):
    from registry.services import credentials

    from .conftest import basic

    user = await admin_session(lambda s: accounts.create_user(s, "carol", "carol-password"))
    token = await admin_session(lambda s: credentials.issue_token(s, user.id, "read"))
    for secret in ("carol-password", token.secret):
        assert (await registry.get("/v2/", headers=basic("carol", secret))).status == 200
    await admin_session(lambda s: accounts.set_password(s, "carol", "new-password"))
    assert (await registry.get("/v2/", headers=basic("carol", "carol-password"))).status == 401
    assert (await registry.get("/v2/", headers=basic("carol", "new-password"))).status == 200
    assert (await registry.get("/v2/", headers=basic("carol", token.secret))).status == 200
    await admin_session(lambda s: credentials.revoke_token(s, user.id, token.id))
    assert (await registry.get("/v2/", headers=basic("carol", token.secret))).status == 401
