"""Docker's v1 search (`GET /v1/search`, `GET /v1/_ping`), as `docker search` and `podman search` call it:
the body's exact shape, matching and ranking, paging, refusing bad parameters, and only what the caller
may read (anonymously, with Basic credentials, with a registry token, with a personal access token).
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from registry import keys
from registry.db.models import Repository
from registry.services import accounts, hub
from registry.services.credentials import issue_token

from ..auth import conftest as token_auth
from ..auth.conftest import as_caller, basic, bearer, token_for
from .oci import error_codes, push_image

# The token-auth registry of tests/auth/conftest.py, for the tests of what each caller may see.
token_settings, registry, admin_session = token_auth.token_settings, token_auth.registry, token_auth.admin_session

RESULT_KEYS = {"name", "description", "star_count", "is_official", "is_automated"}
BODY_KEYS = {"num_results", "query", "page", "num_pages", "page_size", "results"}
# In the order a search for "busybox" ranks them: exact name, name prefix, as a word, anywhere.
BUSYBOXES = ["busybox", "library/busybox", "busybox-extra", "library/busyboxes", "alice/busybox",
             "alice/my-busybox", "alice/notbusybox", "bob/busyboxes"]
OTHERS = ["alice/app", "alice/my_app", "bob/box"]


async def search(client, expect: int = 200, headers: dict[str, str] | None = None, **params):
    response = await client.get("/v1/search", params=params, headers=headers or {})
    assert response.status == expect, await response.text()
    return await response.json()


async def names(client, term: str, headers: dict[str, str] | None = None) -> list[str]:
    return [hit["name"] for hit in (await search(client, q=term, headers=headers))["results"]]


@pytest.fixture
async def repositories(client):
    for name in [*reversed(BUSYBOXES), *OTHERS]:  # pushed out of order: the ranking must not be push order
        await push_image(client, name, "1")
    return client


async def test_ping_answers_an_empty_object(client):
    response = await client.get("/v1/_ping")
    assert response.status == 200 and await response.json() == {}


async def test_the_body_has_exactly_the_fields_docker_and_podman_read(repositories):
    body = await search(repositories, q="busybox", n="25")
    assert set(body) == BODY_KEYS
    assert (body["num_results"], body["query"], body["page"], body["num_pages"], body["page_size"]) \
        == (len(BUSYBOXES), "busybox", 1, 1, 25)
    for hit in body["results"]:
        assert set(hit) == RESULT_KEYS, hit
        assert (hit["description"], hit["star_count"], hit["is_automated"]) == ("", 0, False)
        assert hit["is_official"] == (not hit["name"].startswith(("alice/", "bob/"))), hit


async def test_ranking_exact_then_prefix_then_word_then_the_rest(repositories):
    assert await names(repositories, "busybox") == BUSYBOXES
    assert await names(repositories, "BusyBox") == BUSYBOXES  # case does not matter
    assert await names(repositories, "app") == ["alice/app", "alice/my_app"]
    assert await names(repositories, "box") == ["bob/box", *sorted(BUSYBOXES)]  # "box" is a word only there


async def test_the_term_is_text_not_a_pattern(repositories):
    assert await names(repositories, "_") == ["alice/my_app"]
    assert await names(repositories, "%") == []
    assert await names(repositories, "b%x") == []
    assert (await search(repositories, q="nothing-like-it"))["num_results"] == 0


async def test_pages(repositories):
    body = await search(repositories, q="busybox", n="3", page="2")
    assert [hit["name"] for hit in body["results"]] == BUSYBOXES[3:6]
    assert (body["num_results"], body["num_pages"], body["page"], body["page_size"]) == (8, 3, 2, 3)
    assert [hit["name"] for hit in (await search(repositories, q="busybox", n="3", page="3"))["results"]] \
        == BUSYBOXES[6:]
    beyond = await search(repositories, q="busybox", n="3", page="99")
    assert beyond["results"] == [] and beyond["num_results"] == 8
    assert len((await search(repositories, q="b", n="100"))["results"]) == len(BUSYBOXES) + 1


@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "  "}, {"q": "a\x00b"}, {"q": "a\nb"}, {"q": "x" * 256},
    {"q": "a", "n": "0"}, {"q": "a", "n": "101"}, {"q": "a", "n": "-1"}, {"q": "a", "n": "abc"},
    {"q": "a", "n": ""}, {"q": "a", "n": "1e3"}, {"q": "a", "n": "²"}, {"q": "a", "n": "9" * 40},
    {"q": "a", "page": "0"}, {"q": "a", "page": "x"}, {"q": "a", "page": "-2"}, {"q": "a", "page": "9" * 40},
], ids=repr)
async def test_bad_parameters_are_refused_with_400(client, params):
    response = await client.get("/v1/search", params=params)
    assert response.status == 400, await response.text()
    assert await error_codes(response)


async def test_two_terms_are_refused(client):
    response = await client.get("/v1/search?q=a&q=b")
    assert response.status == 400


async def test_a_term_of_255_characters_and_the_largest_page_are_fine(repositories):
    assert (await search(repositories, q="x" * 255))["results"] == []
    assert (await search(repositories, q="busybox", n="100", page="999999999"))["results"] == []


# -- with token authentication: only what the caller may read ----------------------------------------

PASSWORD = "a-good-password"


@pytest.fixture
async def private_and_public(registry, admin_session):
    async def users(session):
        for name in ("alice", "carol"):
            await accounts.create_user(session, name, PASSWORD)
    await admin_session(users)
    alice = await as_caller(registry, "repository:alice/public-app:push", "repository:alice/secret-app:push",
                            credentials=("alice", PASSWORD))
    for name in ("alice/public-app", "alice/secret-app"):
        await push_image(alice, name, "1")
    await admin_session(lambda session: accounts.set_visibility(session, "alice/secret-app", True))
    return registry


async def test_anonymous_callers_see_public_repositories_only(private_and_public):
    body = await search(private_and_public, q="app")
    assert [hit["name"] for hit in body["results"]] == ["alice/public-app"]
    assert body["num_results"] == 1  # the private one is not even counted


async def test_ping_and_search_need_no_login(private_and_public):
    response = await private_and_public.get("/v1/_ping")
    assert response.status == 200 and "WWW-Authenticate" not in response.headers


async def test_the_owner_sees_a_private_repository_with_basic_credentials(private_and_public):
    both = ["alice/public-app", "alice/secret-app"]
    assert await names(private_and_public, "app", basic("alice", PASSWORD)) == both
    assert await names(private_and_public, "app", basic("carol", PASSWORD)) == ["alice/public-app"]


async def test_a_registry_token_for_the_catalog_search_scope_shows_what_its_owner_reads(private_and_public):
    token = (await token_for(private_and_public, "registry:catalog:search", credentials=("alice", PASSWORD)))["token"]
    assert await names(private_and_public, "app", bearer(token)) == ["alice/public-app", "alice/secret-app"]
    anonymous = (await token_for(private_and_public, "registry:catalog:search"))["token"]
    assert await names(private_and_public, "app", bearer(anonymous)) == ["alice/public-app"]


async def test_a_read_only_access_token_is_a_password_here(private_and_public, admin_session):
    async def read_token(session):
        return (await issue_token(session, (await accounts.get_user(session, "alice")).id, "read")).secret
    secret = await admin_session(read_token)
    assert await names(private_and_public, "secret", basic("alice", secret)) == ["alice/secret-app"]


async def test_bad_credentials_are_refused_not_treated_as_anonymous(private_and_public):
    await search(private_and_public, 401, basic("alice", "wrong"), q="app")
    await search(private_and_public, 401, bearer("not.a.token"), q="app")
    await search(private_and_public, 401, {"Authorization": "Negotiate abc"}, q="app")


async def test_a_private_repository_made_public_shows_at_once(private_and_public, admin_session):
    assert await names(private_and_public, "secret") == []
    await admin_session(lambda session: accounts.set_visibility(session, "alice/secret-app", False))
    assert await names(private_and_public, "secret") == ["alice/secret-app"]


# -- descriptions, stars and pulls (the Hub's metadata) ----------------------------------------------

async def _describe(client, name: str, short: str = "", full: str = "", stars: int = 0, pulls: int = 0) -> None:
    async with client.app[keys.database].write() as session:
        await hub.set_descriptions(session, name, short, full)
        await session.execute(update(Repository).where(Repository.name == name)
                              .values(star_count=stars, pull_count=pulls))


async def test_descriptions_match_after_names_and_ties_go_to_stars_then_pulls(repositories):
    await _describe(repositories, "alice/app", short="Runs a tiny busybox shell", stars=3)
    await _describe(repositories, "bob/box", full="# Box\n\nBased on **BusyBox**.", stars=3, pulls=9)
    await _describe(repositories, "alice/busybox", stars=1)  # now first of the names holding the word
    names_found = await names(repositories, "busybox")
    assert names_found == [*BUSYBOXES[:4], "alice/busybox", "alice/my-busybox", *BUSYBOXES[6:], "bob/box",
                           "alice/app"]
    hits = {hit["name"]: hit for hit in (await search(repositories, q="tiny shell"))["results"]}
    assert hits == {"alice/app": {"name": "alice/app", "description": "Runs a tiny busybox shell",
                                  "star_count": 3, "is_official": False, "is_automated": False}}


async def test_new_descriptions_are_found_at_once_and_old_words_are_forgotten(repositories):
    await _describe(repositories, "alice/my_app", short="first draft")
    assert await names(repositories, "draft") == ["alice/my_app"]
    await _describe(repositories, "alice/my_app", short="final text")
    assert await names(repositories, "draft") == []
    assert await names(repositories, "final") == ["alice/my_app"]


@pytest.mark.parametrize("term", ['"', '"busybox', "busy*", "*", "NEAR(busybox app)", "busybox -app", "-",
                                  "name_words:busybox", ":", "busybox AND", "OR", "'", "\\", "(", "^box"])
async def test_query_syntax_in_a_term_is_searched_for_as_text(repositories, term):
    body = await search(repositories, q=term, n="100")
    # The term inside a name, or every word of the term among a repository's words (here only names
    # have words): never an FTS5 or tsquery operator, a LIKE wildcard or a prefix search.
    expected = {'"busybox': ["alice/busybox", "alice/my-busybox", "busybox", "busybox-extra", "library/busybox"],
                "-": ["alice/my-busybox", "busybox-extra"], "^box": ["bob/box"]}
    assert [hit["name"] for hit in body["results"]] == expected.get(term, [])
    assert body["num_results"] == len(body["results"])


async def test_an_organization_team_sees_its_private_repositories_and_counts_them(registry, admin_session):
    async def world(session):
        for name in ("alice", "carol", "dave"):
            await accounts.create_user(session, name, PASSWORD)
        await accounts.create_organization(session, "acme", "alice")
        await accounts.create_team(session, "acme", "readers", "read")
        await accounts.add_team_member(session, "acme", "readers", "carol")
    await admin_session(world)
    alice = await as_caller(registry, *(f"repository:acme/tool-{n}:push" for n in range(5)),
                            credentials=("alice", PASSWORD))
    for n in range(5):
        await push_image(alice, f"acme/tool-{n}", "1")

    async def rank_and_hide(session):
        for n in range(5):  # stars put the private ones between the public ones
            await session.execute(update(Repository).where(Repository.name == f"acme/tool-{n}")
                                  .values(star_count=10 - n, is_private=n % 2 == 1))
    await admin_session(rank_and_hide)
    everyone = ["acme/tool-0", "acme/tool-1", "acme/tool-2", "acme/tool-3", "acme/tool-4"]
    public = ["acme/tool-0", "acme/tool-2", "acme/tool-4"]
    for who, expected in ((None, public), ("dave", public), ("carol", everyone), ("alice", everyone)):
        headers = basic(who, PASSWORD) if who else None
        pages = [await search(registry, headers=headers, q="tool", n="2", page=str(page)) for page in (1, 2, 3)]
        assert [hit["name"] for body in pages for hit in body["results"]] == expected, who
        assert {(body["num_results"], body["num_pages"]) for body in pages} == {(len(expected), -(-len(expected) // 2))}
