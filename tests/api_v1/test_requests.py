"""What the JSON API accepts: strict JSON bodies, sizes, media types; unknown routes and methods answer JSON."""

import json

from .conftest import ADMIN, ALICE, error_code

ENDPOINTS = [("POST", "/users"), ("PUT", "/users/alice/password"), ("POST", "/users/alice/tokens"),
             ("POST", "/orgs"), ("POST", "/orgs/acme/teams"), ("PUT", "/orgs/acme/teams/owners/permissions"),
             ("POST", "/orgs/acme/robots"), ("PUT", "/orgs/acme/robots/ci/permissions"),
             ("PATCH", "/repositories/acme/app"), ("PUT", "/namespaces/acme/visibility")]


def message(answer) -> str:
    return answer.body["errors"][0]["message"]


async def test_bodies_are_checked_field_by_field(api):
    unknown = await api("POST", "/users", ADMIN, {"name": "carol", "password": "long-enough", "is_admin": True})
    assert unknown.status == 400 and "'is_admin'" in message(unknown)
    assert unknown.body["errors"][0]["detail"] == {"allowed": ["admin", "email", "name", "password"]}
    missing = await api("POST", "/users", ADMIN, {"name": "carol"})
    assert missing.status == 400 and message(missing) == "missing field 'password'"
    wrong = await api("POST", "/users", ADMIN, {"name": "carol", "password": 12345678})
    assert wrong.status == 400 and message(wrong) == "'password' must be a string"
    not_bool = await api("POST", "/users", ADMIN, {"name": "carol", "password": "long-enough", "admin": "yes"})
    assert not_bool.status == 400 and message(not_bool) == "'admin' must be true or false"
    null_is_absent = await api("POST", "/users", ADMIN, {"name": "carol", "password": "long-enough", "email": None})
    assert null_is_absent.status == 201 and null_is_absent.body["email"] is None
    assert (await api("POST", "/users", ADMIN, {"name": None, "password": "long-enough"})).status == 400


async def test_bodies_must_be_one_json_object(api):
    for raw in [b"", b"not json", b"[1, 2]", b'"text"', b"{", b'{"scope": NaN}', b"\xff\xfe", b"[" * 60_000]:
        answer = await api("POST", "/users/alice/tokens", ALICE, data=raw, headers={"Content-Type": "application/json"})
        assert answer.status == 400 and error_code(answer) == "BAD_REQUEST", raw[:20]
    form = await api("POST", "/users/alice/tokens", ALICE, data=b'{"scope": "read"}',
                     headers={"Content-Type": "text/plain"})
    assert form.status == 415 and error_code(form) == "UNSUPPORTED_MEDIA_TYPE"


async def test_bodies_over_64_kib_are_refused(api):
    big = {"scope": "read", "label": "x" * (64 * 1024)}
    answer = await api("POST", "/users/alice/tokens", ALICE, big)
    assert answer.status == 413 and error_code(answer) == "PAYLOAD_TOO_LARGE"

    async def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"scope": "read", "label": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'
    chunked = await api("POST", "/users/alice/tokens", ALICE, data=chunks(),
                        headers={"Content-Type": "application/json"})
    assert chunked.status == 413
    assert (await api("GET", "/users/alice/tokens", ALICE)).body["tokens"] == []


async def test_unknown_routes_and_methods_answer_json(api):
    nowhere = await api("GET", "/nowhere", ALICE)
    assert nowhere.status == 404 and error_code(nowhere) == "NOT_FOUND"
    wrong_method = await api("PATCH", "/user", ALICE)
    assert wrong_method.status == 405 and error_code(wrong_method) == "METHOD_NOT_ALLOWED"
    assert "GET" in wrong_method.headers["Allow"]
    assert (await api("DELETE", "/users/alice/tokens/not-a-number", ALICE)).status in (404, 405)
    assert (await api("DELETE", "/users/alice/tokens/" + "9" * 30, ALICE)).status in (404, 405)


async def test_nothing_odd_is_a_server_error(api):
    odd_bodies = [{}, {"name": ["a"]}, {"name": {"b": 1}}, {"name": "x" * 300}, {"permission": 3},
                  {"repository": "acme/../etc", "permission": "read"}, {"visibility": 1}, {"default": []},
                  {"scope": "read", "expires_days": 10**30}, {"name": "ÄÖÜ", "password": "\u0000" * 9}]
    for method, path in ENDPOINTS:
        for body in odd_bodies:
            for who in (ALICE, ADMIN):
                answer = await api(method, path, who, body)
                assert answer.status < 500 and isinstance(answer.body, dict), (method, path, body, answer.body)
                json.dumps(answer.body)
