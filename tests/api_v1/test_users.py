"""Users through the JSON API: who am I, the site administrator's user management, passwords."""

from registry import keys
from registry.services.logins import LoginLimits

from .conftest import ADMIN, ALICE, BOBBY, error_code


async def test_unauthenticated_callers_are_challenged_for_basic(api):
    for method, path in [("GET", "/user"), ("GET", "/users"), ("POST", "/orgs"), ("GET", "/audit")]:
        answer = await api(method, path)
        assert answer.status == 401, path
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="berth"'
        assert error_code(answer) == "UNAUTHORIZED"
    wrong = await api("GET", "/user", ("alice", "not-her-password"))
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"] == 'Basic realm="berth"'
    odd = await api("GET", "/user", headers={"Authorization": "Digest whatever"})
    assert odd.status == 401


async def test_who_am_i(api):
    assert (await api("GET", "/user", ALICE)).body == {"name": "alice", "email": "alice@example.com",
                                                      "admin": False}
    assert (await api("GET", "/user", ADMIN)).body == {"name": "admin", "email": None, "admin": True}


async def test_the_site_administrator_manages_users(api, audit_log):
    created = await api("POST", "/users", ADMIN, {"name": "carol", "password": "carol-password",
                                                  "email": "carol@example.com", "admin": False})
    assert created.status == 201, created.body
    assert created.body == {"name": "carol", "email": "carol@example.com", "admin": False}
    assert created.headers["Location"] == "/api/v1/users/carol"
    assert (await api("GET", "/user", ("carol", "carol-password"))).status == 200
    listed = await api("GET", "/users", ADMIN)
    assert [u["name"] for u in listed.body["users"]] == ["admin", "alice", "bobby", "carol"]
    assert (await api("GET", "/users/carol", ADMIN)).body["email"] == "carol@example.com"
    assert (await api("DELETE", "/users/carol", ADMIN)).status == 204
    assert (await api("GET", "/users/carol", ADMIN)).status == 404
    assert (await api("DELETE", "/users/carol", ADMIN)).status == 404
    events = [(e["actor"], e["action"], e["target"]) for e in await audit_log()]
    assert ("admin", "user_created", "carol") in events and ("admin", "user_deleted", "carol") in events
    assert all(e["address"] for e in await audit_log() if e["action"] == "user_created")


async def test_user_management_refusals(api):
    assert (await api("GET", "/users", ALICE)).status == 403
    assert error_code(await api("POST", "/users", ALICE, {"name": "mallory", "password": "x" * 12})) == "FORBIDDEN"
    assert (await api("DELETE", "/users/bobby", ALICE)).status == 403
    # Another user's account is not there at all for alice, exactly like a missing one.
    other, missing = await api("GET", "/users/bobby", ALICE), await api("GET", "/users/nobody", ALICE)
    assert other.status == missing.status == 404
    assert (await api("GET", "/users/alice", ALICE)).status == 200
    taken = await api("POST", "/users", ADMIN, {"name": "alice", "password": "long-enough"})
    assert taken.status == 409 and error_code(taken) == "CONFLICT"
    short = await api("POST", "/users", ADMIN, {"name": "dave", "password": "short"})
    assert short.status == 400 and "8 characters" in short.body["errors"][0]["message"]
    assert (await api("POST", "/users", ADMIN, {"name": "No Spaces", "password": "long-enough"})).status == 400
    assert (await api("POST", "/users", ADMIN, {"name": "erin", "password": "long-enough",
                                                "email": "not-an-address"})).status == 400
    assert (await api("DELETE", "/users/admin", ADMIN)).status == 409  # the last administrator


async def test_changing_your_own_password_needs_the_current_one(api, audit_log):
    path = "/users/alice/password"
    missing = await api("PUT", path, ALICE, {"password": "new-alice-password"})
    assert missing.status == 400 and "current_password" in missing.body["errors"][0]["message"]
    wrong = await api("PUT", path, ALICE, {"password": "new-alice-password", "current_password": "guess-guess"})
    assert wrong.status == 403
    assert "password_change_refused" in [e["action"] for e in await audit_log()]
    changed = await api("PUT", path, ALICE, {"password": "new-alice-password", "current_password": ALICE[1]})
    assert changed.status == 204
    assert (await api("GET", "/user", ("alice", "new-alice-password"))).status == 200
    assert ("alice", "password_changed", "alice") in [(e["actor"], e["action"], e["target"])
                                                      for e in await audit_log()]


async def test_an_administrator_resets_passwords_and_others_cannot(api):
    assert (await api("PUT", "/users/bobby/password", ADMIN, {"password": "reset-by-admin"})).status == 204
    assert (await api("GET", "/user", ("bobby", "reset-by-admin"))).status == 200
    refused = await api("PUT", "/users/bobby/password", ALICE, {"password": "alice-owns-you",
                                                                "current_password": ALICE[1]})
    assert refused.status == 404
    assert (await api("GET", "/user", ("bobby", "reset-by-admin"))).status == 200


async def test_wrong_current_passwords_count_as_failed_logins(api, registry):
    registry.app[keys.gatekeeper].login_limits = LoginLimits(per_account=2)
    body = {"password": "new-bobby-password", "current_password": "guess-guess"}
    assert [(await api("PUT", "/users/bobby/password", BOBBY, body)).status for _ in range(2)] == [403, 403]
    limited = await api("PUT", "/users/bobby/password", BOBBY, {**body, "current_password": BOBBY[1]})
    assert limited.status == 429 and "Retry-After" in limited.headers
