"""Reading repositories as Docker Hub's API shows them: one repository, listings with their pages and
links, tags; the official namespace; and what anonymous callers, strangers and members get to see."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from registry.db.models import Repository
from registry.services import hub

from ..api.oci import OCI_INDEX, OCI_MANIFEST, index, push_image, push_manifest
from ..auth.conftest import ADMIN_PASSWORD, AsCaller, basic
from .conftest import ADMIN, ALICE, BOBBY, error_code
from .test_repositories import repositories

IMAGE_SIZE = len(b'{"architecture":"amd64","os":"linux"}') + 256  # what push_image stores
REPOSITORY_FIELDS = {"name", "namespace", "repository", "description", "full_description", "full_description_html",
                     "is_private", "is_official", "star_count", "pull_count", "last_updated", "has_starred"}


async def private(api, *names: str) -> None:
    for name in names:
        assert (await api("PATCH", f"/repositories/{name}", ADMIN, {"visibility": "private"})).status == 200


async def set_counts(admin_session, name: str, pulls: int, stars: int) -> None:
    await admin_session(lambda s: s.execute(update(Repository).where(Repository.name == name)
                                            .values(pull_count=pulls, star_count=stars)))


def names(answer) -> list[str]:
    return [r["repository"] for r in answer.body["results"]]


def relative(link: str) -> str:
    """A next/previous link as the `api` helper takes it: the path under /api/v1 and the query."""
    parts = urlsplit(link)
    assert parts.scheme == "http" and parts.path.startswith("/api/v1/"), link
    return parts.path.removeprefix("/api/v1") + "?" + parts.query


async def test_a_repository_as_docker_hub_shows_it(api, registry, admin_session):
    await push_image(AsCaller(registry, basic(*ALICE)), "alice/app", "v1")
    await admin_session(lambda s: hub.set_descriptions(s, "alice/app", "A small app", "# App\n\nRuns *fast*."))
    answer = await api("GET", "/repositories/alice/app")  # anonymously
    assert answer.status == 200 and set(answer.body) == REPOSITORY_FIELDS
    body = answer.body
    assert (body["name"], body["namespace"], body["repository"]) == ("app", "alice", "alice/app")
    assert (body["description"], body["full_description"]) == ("A small app", "# App\n\nRuns *fast*.")
    assert body["full_description_html"] == "<h1>App</h1>\n<p>Runs <em>fast</em>.</p>\n"
    assert (body["is_private"], body["is_official"], body["star_count"], body["pull_count"]) == (False, False, 0, 0)
    assert datetime.fromisoformat(body["last_updated"]).tzinfo is not None and body["has_starred"] is False
    await repositories(admin_session, "alice/empty")
    assert (await api("GET", "/repositories/alice/empty")).body["last_updated"] is None


async def test_private_repositories_look_missing_to_anonymous_callers_and_strangers(api, admin_session):
    await repositories(admin_session, "alice/app", "alice/secret")
    await private(api, "alice/secret")
    for who in (None, BOBBY):
        hidden = await api("GET", "/repositories/alice/secret", who)
        missing = await api("GET", "/repositories/alice/nope", who)
        assert hidden.status == missing.status == 404 and error_code(hidden) == "NOT_FOUND"
        assert hidden.body["errors"][0]["message"].replace("secret", "X") == \
            missing.body["errors"][0]["message"].replace("nope", "X")
        assert (await api("GET", "/repositories/alice/secret/tags", who)).status == 404
        assert names(await api("GET", "/repositories", who)) == ["alice/app"]
        assert names(await api("GET", "/repositories/alice", who)) == ["alice/app"]
    for who in (ALICE, ADMIN):
        assert (await api("GET", "/repositories/alice/secret", who)).body["is_private"] is True
        assert names(await api("GET", "/repositories/alice?ordering=name", who)) == ["alice/app", "alice/secret"]
    read_only = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read"})).body["token"]
    assert (await api("GET", "/repositories/alice/secret", read_only)).status == 200


async def test_members_of_an_organization_see_what_their_teams_may_read(api, admin_session):
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await repositories(admin_session, "acme/tools", "acme/vault")
    await private(api, "acme/tools", "acme/vault")
    await api("POST", "/orgs/acme/teams", ALICE, {"name": "devs"})
    await api("PUT", "/orgs/acme/teams/devs/members/bobby", ALICE)
    assert names(await api("GET", "/repositories/acme", BOBBY)) == []
    await api("PUT", "/orgs/acme/teams/devs/permissions", ALICE, {"repository": "acme/tools", "permission": "read"})
    assert names(await api("GET", "/repositories/acme", BOBBY)) == ["acme/tools"]
    assert (await api("GET", "/repositories/acme/tools", BOBBY)).status == 200
    assert (await api("GET", "/repositories/acme/vault", BOBBY)).status == 404


async def test_credentials_on_reads_are_checked_not_ignored(api, admin_session):
    await repositories(admin_session, "alice/app")
    wrong = await api("GET", "/repositories/alice/app", ("alice", "wrong-password"))
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert (await api("GET", "/repositories", "bpat_not-a-token")).status == 401
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    robot = (await api("POST", "/orgs/acme/robots", ALICE, {"name": "ci"})).body
    assert (await api("GET", "/repositories", (robot["username"], robot["secret"]))).status == 403


async def test_listings_come_in_pages_linked_to_each_other(api, admin_session):
    await repositories(admin_session, *(f"alice/r{i}" for i in range(5)), "bobby/other")
    first = await api("GET", "/repositories/alice?page_size=2&ordering=name")
    assert first.status == 200 and set(first.body) == {"count", "next", "previous", "results"}
    assert first.body["count"] == 5 and names(first) == ["alice/r0", "alice/r1"] and first.body["previous"] is None
    assert parse_qs(urlsplit(first.body["next"]).query) == {"page": ["2"], "page_size": ["2"], "ordering": ["name"]}
    second = await api("GET", relative(first.body["next"]))
    assert names(second) == ["alice/r2", "alice/r3"]
    third = await api("GET", relative(second.body["next"]))
    assert names(third) == ["alice/r4"] and third.body["next"] is None
    assert names(await api("GET", relative(third.body["previous"]))) == names(second)
    past = await api("GET", "/repositories/alice?page=9&page_size=2")
    assert past.status == 200 and past.body["results"] == [] and past.body["count"] == 5 and past.body["next"] is None
    everything = await api("GET", "/repositories?page_size=100")
    assert everything.body["count"] == 6 and everything.body["next"] is None
    assert len((await api("GET", "/repositories")).body["results"]) == 6  # 25 a page by default


async def test_listings_order_and_filter(api, admin_session):
    await repositories(admin_session, "alice/popular", "alice/starred", "alice/quiet", "bobby/web_app", "bobby/webxapp")
    await set_counts(admin_session, "alice/popular", 100, 1)
    await set_counts(admin_session, "alice/starred", 10, 50)
    await admin_session(lambda s: s.execute(update(Repository).where(Repository.name == "alice/quiet")
                                            .values(last_pushed_at=datetime(2030, 1, 1))))
    assert names(await api("GET", "/repositories/alice"))[:2] == ["alice/popular", "alice/starred"]  # pulls
    assert names(await api("GET", "/repositories/alice?ordering=stars"))[:2] == ["alice/starred", "alice/popular"]
    assert names(await api("GET", "/repositories/alice?ordering=recent"))[0] == "alice/quiet"
    assert names(await api("GET", "/repositories?ordering=name&q=STAR")) == ["alice/starred"]
    assert names(await api("GET", "/repositories?ordering=name&q=ice/")) == ["alice/popular", "alice/quiet",
                                                                             "alice/starred"]
    assert names(await api("GET", "/repositories?q=web_")) == ["bobby/web_app"]  # `_` is no wildcard
    assert names(await api("GET", "/repositories?q=%25")) == []
    assert names(await api("GET", "/repositories/bobby?q=xapp")) == ["bobby/webxapp"]


async def test_listing_parameters_are_checked(api, admin_session):
    await repositories(admin_session, "alice/app")
    bad = ["page=0", "page=-1", "page=abc", "page=1.5", "page=²", "page=100000001", "page_size=0", "page_size=101",
           "page=1&page=2", "colour=red", "ordering=size", "ordering=", "q=" + "x" * 101, "q=a%00b", "q=%1b"]
    for path in ("/repositories", "/repositories/alice"):
        for query in bad:
            answer = await api("GET", f"{path}?{query}")
            assert answer.status == 400 and error_code(answer) == "BAD_REQUEST", (path, query)
    for query in ["page=0", "page_size=101", "q=app", "ordering=name", "page=1&page=1"]:
        assert (await api("GET", f"/repositories/alice/app/tags?{query}")).status == 400, query
    assert (await api("GET", "/repositories?page=100000000&page_size=100")).body["results"] == []
    assert (await api("GET", "/repositories/Alice")).status == 404  # no such namespace can exist


async def test_tags_newest_first_with_size_and_platforms(api, registry):
    alice = AsCaller(registry, basic(*ALICE))
    first = await push_image(alice, "alice/app", "v1")
    second = await push_image(alice, "alice/app", "v2")
    other = await push_image(alice, "alice/app")
    await push_manifest(alice, "alice/app", "multi", index([second, other], platforms=[("linux", "amd64"),
                                                                                         ("linux", "arm64")]))
    answer = await api("GET", "/repositories/alice/app/tags")
    assert answer.status == 200 and answer.body["count"] == 3
    assert [t["name"] for t in answer.body["results"]] == ["multi", "v2", "v1"]
    multi, _, v1 = answer.body["results"]
    assert v1 == {"name": "v1", "digest": first.digest, "media_type": OCI_MANIFEST, "full_size": IMAGE_SIZE,
                  "platforms": ["linux/amd64"], "last_pushed": v1["last_pushed"]}
    assert datetime.fromisoformat(v1["last_pushed"]) <= datetime.fromisoformat(multi["last_pushed"])
    assert multi["media_type"] == OCI_INDEX and multi["platforms"] == ["linux/amd64", "linux/arm64"]
    assert multi["full_size"] == 2 * IMAGE_SIZE
    page = await api("GET", "/repositories/alice/app/tags?page=2&page_size=1")
    assert [t["name"] for t in page.body["results"]] == ["v2"] and page.body["next"] and page.body["previous"]
    assert (await api("GET", "/repositories/alice/nope/tags")).status == 404
    assert (await api("GET", "/repositories/alice/app/tags?page=3&page_size=1")).body["next"] is None


async def test_single_component_names_live_in_the_official_namespace(api, registry, admin_session):
    admin = AsCaller(registry, basic("admin", ADMIN_PASSWORD))
    await push_image(admin, "busybox", "latest")
    await push_image(admin, "library/alpine", "3")
    await repositories(admin_session, "alice/busybox")
    busybox = await api("GET", "/repositories/library/busybox")
    assert busybox.status == 200 and busybox.body["is_official"] is True
    assert (busybox.body["namespace"], busybox.body["name"], busybox.body["repository"]) == \
        ("library", "busybox", "busybox")
    assert (await api("GET", "/repositories/library/busybox/tags")).body["results"][0]["name"] == "latest"
    assert (await api("GET", "/repositories/library/alpine")).body["repository"] == "library/alpine"
    assert names(await api("GET", "/repositories/library?ordering=name")) == ["busybox", "library/alpine"]
    assert "busybox" not in names(await api("GET", "/repositories/alice"))
    assert (await api("GET", "/repositories/busybox")).body["count"] == 0  # a namespace, not the repository
    await private(api, "library/busybox")  # official repositories are readable by everyone, whatever the flag
    assert (await api("GET", "/repositories/library/busybox")).body["is_private"] is False
    assert "busybox" in names(await api("GET", "/repositories/library"))
    await repositories(admin_session, "library/busybox")  # both stored: the exact name comes first
    assert (await api("GET", "/repositories/library/busybox")).body["repository"] == "library/busybox"


async def test_deeper_names_send_their_slashes_encoded(api, admin_session):
    await repositories(admin_session, "acme/team/app", "acme/team/tags")
    encoded = await api("GET", "/repositories/acme/team%2Fapp")
    assert encoded.status == 200 and (encoded.body["name"], encoded.body["repository"]) == ("team/app", "acme/team/app")
    assert (await api("GET", "/repositories/acme/team/app")).body == encoded.body  # raw slashes, for the repository
    assert (await api("GET", "/repositories/acme/team%2Fapp/tags")).body["count"] == 0
    assert (await api("GET", "/repositories/acme/team%2Ftags")).body["repository"] == "acme/team/tags"
    assert (await api("GET", "/repositories/acme/team/tags")).status == 404  # the tags of acme/team, not there
    assert names(await api("GET", "/repositories/acme?ordering=name")) == ["acme/team/app", "acme/team/tags"]
    for invalid in ("/repositories/alice/App", "/repositories/alice/a..b", "/repositories/alice/a%2F%2Fb",
                    "/repositories/alice/" + "x" * 260):
        assert (await api("GET", invalid)).status == 404, invalid
