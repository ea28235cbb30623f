"""GET /v1/search on SQLite and on PostgreSQL alike: ranking, official short names, full text, terms that
look like query syntax, the index following updates and deletions, and visibility with paging."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from registry.db.models import Repository

from .conftest import Repo, SearchRegistry, basic, create_accounts

# Each tier of a search for "web", several times over, with stars and pulls to break ties.
WEB = [
    Repo("web", stars=1),                                   # exact (an official image)
    Repo("library/web", stars=0),                           # exact, by its short name
    Repo("acme/web", stars=50, pulls=10**6),                # a word of the name
    Repo("webapp", stars=0),                                # prefix
    Repo("library/webhooks", stars=3),                      # prefix, by its short name
    Repo("web-ui/frontend", stars=3, pulls=10),             # prefix (of the namespace)
    Repo("alice/my-web_tools", stars=2, pulls=1),           # a word of the name
    Repo("bob/web.site", stars=2, pulls=7),                 # a word of the name
    Repo("alice/cobweb", stars=9),                          # inside the name
    Repo("bob/webs-and-cobwebs", stars=0),                  # inside the name
    Repo("alice/crawler", short="Crawls the Web", stars=99, pulls=99),          # words only
    Repo("bob/spider", full="# Spider\n\nA *web* crawler.\n", stars=99, pulls=100),  # words only
    Repo("carol/unrelated", short="web-less", full="nothing", stars=1000),      # "web" is a word here too
    Repo("carol/nothing", short="webbing", full="cobweb", stars=1000),          # no word "web": no match
]


async def test_tiers_then_stars_then_pulls_then_name(search_registry: SearchRegistry) -> None:
    await search_registry.load(WEB)
    assert await search_registry.names("web", n="100") == [
        "web", "library/web",                                   # exact: 1 star, then 0
        "web-ui/frontend", "library/webhooks", "webapp",        # prefix: 3 stars (10 pulls, then 0), then 0
        "acme/web", "bob/web.site", "alice/my-web_tools",       # word: 50 stars; 2 stars, 7 pulls then 1
        "alice/cobweb", "bob/webs-and-cobwebs",                 # in the name: 9 stars, then 0
        "carol/unrelated", "bob/spider", "alice/crawler",       # words only: 1000 stars; 99, 100 pulls then 99
    ]


async def test_case_and_surrounding_spaces_do_not_matter(search_registry: SearchRegistry) -> None:
    await search_registry.load(WEB)
    expected = await search_registry.names("web", n="100")
    assert await search_registry.names("WeB", n="100") == expected
    assert await search_registry.names("  web ", n="100") == expected
    body = await search_registry.search(" WeB ")
    assert body["query"] == " WeB "  # echoed as written


async def test_official_images_go_by_their_short_names(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("library/busybox"), Repo("busyboxer"), Repo("alice/busybox", stars=100),
                                Repo("library/alpine"), Repo("alpine-extra")])
    assert await search_registry.names("busybox") == ["library/busybox", "busyboxer", "alice/busybox"]
    assert await search_registry.names("alp") == ["alpine-extra", "library/alpine"]  # a tie: by name
    assert await search_registry.names("library/alpine") == ["library/alpine"]
    hits = (await search_registry.search("busybox"))["results"]
    assert [hit["is_official"] for hit in hits] == [True, True, False]


async def test_the_body_carries_descriptions_and_stars(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("acme/web", short="A web server", full="Long **text**", stars=7, pulls=5)])
    assert (await search_registry.search("server"))["results"] == [
        {"name": "acme/web", "description": "A web server", "star_count": 7, "is_official": False,
         "is_automated": False}]


async def test_every_word_of_the_term_must_be_found_in_the_name_or_descriptions(
        search_registry: SearchRegistry) -> None:
    await search_registry.load([
        Repo("acme/nginx", short="Reverse proxy"), Repo("acme/proxy", full="Runs NGINX."),
        Repo("acme/other", short="nginx", full="load balancer"), Repo("acme/both", short="nginx-proxy: yes")])
    assert await search_registry.names("nginx proxy") == ["acme/both", "acme/nginx", "acme/proxy"]
    assert await search_registry.names("proxy nginx balancer") == []
    assert await search_registry.names("balancer") == ["acme/other"]
    assert await search_registry.names("load-balancer") == ["acme/other"]  # punctuation separates words
    assert await search_registry.names("balance") == []  # words, not prefixes of words


async def test_non_ascii_words_are_matched_as_written(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("acme/cafe", short="Café crème, 日本語のドキュメント"),
                                Repo("acme/other", full="CAFÉ naïve")])
    assert await search_registry.names("café") == ["acme/cafe"]
    assert await search_registry.names("CAFÉ") == ["acme/other"]  # only ASCII letters are folded
    assert await search_registry.names("Naïve") == ["acme/other"]
    assert await search_registry.names("日本語のドキュメント") == ["acme/cafe"]
    assert await search_registry.names("日本語") == []  # a word is the whole run


SYNTAX = [Repo("acme/c-plus_plus", short='Say "hello" to C++: 100% tested'),
          Repo("acme/near", full="NEAR(web server) and web* or -server"),
          Repo("acme/web", short="web server"), Repo("acme/plain", full="quotes ' \" \\ ; -- DROP TABLE")]


@pytest.mark.parametrize(("term", "expected"), [
    ('"', []), ('"hello"', ["acme/c-plus_plus"]), ("hello*", ["acme/c-plus_plus"]), ("hel*", []),
    ("web*", ["acme/near", "acme/web"]), ("*", []), ("-server", ["acme/near", "acme/web"]),
    ("web -server", ["acme/near", "acme/web"]),  # "-" is no NOT: both words must be there
    ("NEAR(web server)", ["acme/near"]), ("web NOT server", []), ("web OR nothing", []),
    ("web AND server", ["acme/near"]), ("name_words:web", []), ("description:web", []),
    ("c++", ["acme/c-plus_plus"]), ("c-plus", ["acme/c-plus_plus"]), ("%", []), ("100%", ["acme/c-plus_plus"]),
    ("_", ["acme/c-plus_plus"]), ("s_p", ["acme/c-plus_plus"]), ("c_p", []), ("c%s", []),
    ("plus_plus", ["acme/c-plus_plus"]), (":", []),
    ("'", []), ("\\", []), ("drop table", ["acme/plain"]), ("'; DROP TABLE repository; --", []),
    ("^web", ["acme/near", "acme/web"]), ("{name_words}: web", []),
    ("acme/", ["acme/c-plus_plus", "acme/near", "acme/plain", "acme/web"]),
], ids=repr)
async def test_terms_are_text_never_query_syntax(search_registry: SearchRegistry, term: str,
                                                  expected: list[str]) -> None:
    await search_registry.load(SYNTAX)
    body = await search_registry.search(term, n="100")
    assert [hit["name"] for hit in body["results"]] == expected
    assert body["num_results"] == len(expected)


async def test_changed_descriptions_are_searched_at_once(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("acme/app", short="old words", full="stale text")])
    assert await search_registry.names("stale") == ["acme/app"]
    await search_registry.load([Repo("acme/app", short="fresh words", full="")])
    assert await search_registry.names("stale") == []
    assert await search_registry.names("old") == []
    assert await search_registry.names("fresh words") == ["acme/app"]


async def test_new_pull_counts_reorder_at_once(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("acme/one", short="tool"), Repo("acme/two", short="tool")])
    assert await search_registry.names("tool") == ["acme/one", "acme/two"]
    await search_registry.write(lambda session: session.execute(
        update(Repository).where(Repository.name == "acme/two").values(pull_count=Repository.pull_count + 5)))
    assert await search_registry.names("tool") == ["acme/two", "acme/one"]


async def test_renamed_and_deleted_repositories(search_registry: SearchRegistry) -> None:
    await search_registry.load([Repo("acme/old-name", short="keep"), Repo("acme/gone", short="vanishing")])
    await search_registry.write(lambda session: session.execute(
        update(Repository).where(Repository.name == "acme/old-name").values(name="acme/new-name")))
    assert await search_registry.names("old") == []
    assert await search_registry.names("new") == ["acme/new-name"]
    assert await search_registry.names("keep") == ["acme/new-name"]
    await search_registry.delete("acme/gone")
    assert await search_registry.names("vanishing") == []
    assert await search_registry.names("gone") == []
    await search_registry.load([Repo("acme/gone", short="back again")])  # the same name, new words
    assert await search_registry.names("vanishing") == []
    assert await search_registry.names("again") == ["acme/gone"]


# -- who sees what ----------------------------------------------------------------------------------

VISIBILITY = [Repo("acme/public-tool", stars=5), Repo("acme/secret-tool", private=True, stars=4),
              Repo("acme/granted", short="tool", private=True, stars=3),
              Repo("acme/robot-only", short="tool", private=True, stars=2),
              Repo("alice/private-tool", private=True, stars=1), Repo("bobby/tool", private=True),
              Repo("tool"), Repo("zed/tools", short="tool", full="tool", pulls=1)]
# In ranking order: "tool" (exact); public-tool, secret-tool, private-tool, bobby/tool (words of the
# name, by stars); zed/tools (inside the name); granted, robot-only (descriptions only, by stars).
SEES = {
    "anonymous": ["tool", "acme/public-tool", "zed/tools"],
    "alice": ["tool", "acme/public-tool", "acme/secret-tool", "alice/private-tool", "zed/tools",  # owns acme
              "acme/granted", "acme/robot-only"],
    "bobby": ["tool", "acme/public-tool", "acme/secret-tool", "bobby/tool", "zed/tools", "acme/granted",
            "acme/robot-only"],  # reads all of acme through a team
    "carol": ["tool", "acme/public-tool", "zed/tools", "acme/granted"],  # a team granted one repository
    "acme+builder": ["tool", "acme/public-tool", "zed/tools", "acme/robot-only"],  # a robot granted one
    "admin": ["tool", "acme/public-tool", "acme/secret-tool", "alice/private-tool", "bobby/tool", "zed/tools",
              "acme/granted", "acme/robot-only"],
}


@pytest.mark.parametrize("caller", list(SEES))
async def test_each_caller_finds_and_counts_only_what_it_may_read(search_registry: SearchRegistry,
                                                                  caller: str) -> None:
    callers = await create_accounts(search_registry)
    await search_registry.load(VISIBILITY)
    assert await search_registry.everything("tool", callers[caller], n=2) == (len(SEES[caller]), SEES[caller])
    body = await search_registry.search("tool", callers[caller], n="3", page="2")
    assert body["num_results"] == len(SEES[caller])
    assert body["num_pages"] == -(-len(SEES[caller]) // 3)
    assert [hit["name"] for hit in body["results"]] == SEES[caller][3:6]


async def test_bad_credentials_are_refused(search_registry: SearchRegistry) -> None:
    await create_accounts(search_registry)
    await search_registry.search("tool", basic("alice", "wrong"), expect=401)
