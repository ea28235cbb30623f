"""The JSON API of a registry without accounts (--auth none): everyone reads everything, and what needs
a caller says why it cannot be done."""

from __future__ import annotations

import dataclasses

import pytest

from registry import keys
from registry.services import accounts

from ..api.oci import push_image
from ..auth.conftest import basic
from .conftest import call, error_code

PUBLIC_URL = "https://hub.example.com"


@pytest.fixture
def settings(settings):
    """tests/conftest.py's registry without accounts, reached through a proxy at PUBLIC_URL."""
    return dataclasses.replace(settings, public_url=PUBLIC_URL)


async def test_everyone_reads_everything(client):
    assert client.app[keys.settings].auth == "none"
    await push_image(client, "team/app", "v1")
    await push_image(client, "team/vault", "v1")
    async with client.app[keys.database].write() as session:
        await accounts.set_visibility(session, "team/vault", True)
    listing = await call(client, "GET", "/repositories/team?ordering=name")
    assert listing.status == 200 and [r["repository"] for r in listing.body["results"]] == ["team/app", "team/vault"]
    vault = await call(client, "GET", "/repositories/team/vault")
    assert vault.status == 200 and (vault.body["is_private"], vault.body["has_starred"]) == (True, False)
    assert (await call(client, "GET", "/repositories/team/vault/tags")).body["results"][0]["name"] == "v1"
    assert (await call(client, "GET", "/repositories/team/nope")).status == 404
    # Credentials mean nothing here: they are neither checked nor needed.
    assert (await call(client, "GET", "/repositories/team/vault", ("nobody", "wrong"))).status == 200


async def test_page_links_use_the_public_url(client):
    for name in ("team/a", "team/b"):
        await push_image(client, name, "v1")
    page = (await call(client, "GET", "/repositories?page_size=1&ordering=name")).body
    assert page["next"] == f"{PUBLIC_URL}/api/v1/repositories?page_size=1&ordering=name&page=2"
    assert page["previous"] is None


NEEDS_A_CALLER = [("PATCH", "/repositories/team/app", {"description": "x"}),
                  ("POST", "/repositories/team/app/star", None), ("DELETE", "/repositories/team/app/star", None),
                  ("GET", "/user", None), ("GET", "/users", None),
                  ("POST", "/orgs", {"name": "acme"}), ("GET", "/audit", None),
                  ("PUT", "/namespaces/team/visibility", {"default": "private"}),
                  ("POST", "/users/admin/tokens", {"scope": "read"})]


@pytest.mark.parametrize(("method", "path", "body"), NEEDS_A_CALLER, ids=[f"{m} {p}" for m, p, _ in NEEDS_A_CALLER])
async def test_what_needs_a_caller_says_there_are_no_accounts(client, method, path, body):
    await push_image(client, "team/app", "v1")
    for credentials in (None, ("admin", "whatever")):
        answer = await call(client, method, path, credentials, body)
        assert answer.status == 403 and error_code(answer) == "FORBIDDEN", answer.body
        assert "runs without accounts" in answer.body["errors"][0]["message"]
    assert (await call(client, "GET", "/repositories/team/app")).body["description"] == ""  # nothing changed


async def test_basic_credentials_are_not_asked_for(client):
    answer = await call(client, "GET", "/user", headers=basic("admin", "whatever"))
    assert "WWW-Authenticate" not in answer.headers  # no login would help
