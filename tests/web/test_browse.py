"""Finding and reading repositories: the home page, search, namespaces, a repository's page, and --auth none."""

from __future__ import annotations

import re

import pytest

from .conftest import BOBBY, push

pytestmark = pytest.mark.usefixtures("world")


async def test_home_page_has_search_popular_and_recent(browsers, registry, admin_session):
    async def pulled(session):  # busybox is the most pulled, so it comes first under "Popular"
        from sqlalchemy import update

        from registry.db.models import Repository
        await session.execute(update(Repository).where(Repository.name == "busybox").values(pull_count=1234))
    await admin_session(pulled)
    page = await (await browsers()).open("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<form class="big-search" role="search" action="/search" method="get">' in page.text
    popular = page.text.split('id="popular-title"')[1].split('id="recent-title"')[0]
    recent = page.text.split('id="recent-title"')[1]
    assert popular.index('href="/_/busybox"') < popular.index('href="/r/alice/app"')
    assert "1.2k" in popular
    for name in ("alice/app", "acme/tool"):
        assert f'href="/r/{name}"' in recent
    assert 'href="/signin?next=/"' in page.text  # the sign-in link in the header


async def test_search_counts_and_pages_results(browsers, registry):
    for number in range(26):
        await push(registry, f"alice/many-{number:02d}")
    browser = await browsers()
    first = await browser.open("/search?q=many")
    assert first.status == 200
    assert first.shows("26 results")
    assert len(re.findall(r'class="card-title"><a href="/r/alice/many-', first.text)) == 25
    assert "Page 1 of 2" in first.text and 'href="/search?q=many&amp;page=2" rel="next"' in first.text
    second = await browser.open("/search?q=many&page=2")
    assert re.findall(r'href="/r/(alice/many-\d+)"', second.text) == ["alice/many-25"]
    assert 'rel="prev"' in second.text
    none = await browser.open("/search?q=nothing-like-this")
    assert none.status == 200 and none.shows("0 results") and none.shows("No repositories match “nothing-like-this”.")


async def test_search_without_a_term_browses_everything_readable(browsers):
    page = await (await browsers()).open("/search")
    assert page.shows("3 repositories, most pulled first")


async def test_search_refuses_control_characters(browsers):
    page = await (await browsers()).open("/search?q=a%00b")
    assert page.status == 400 and "Search term not valid" in page.text


async def test_repository_page_shows_descriptions_tags_and_pull_commands(browsers, registry):
    page = await (await browsers()).open("/r/alice/app")
    assert page.status == 200
    assert "<h1>alice/app</h1>" in page.text and page.shows("Alice's app")
    # The Markdown, rendered; its headings below the page's "Overview" (h2), so the page keeps one h1.
    assert "<h3>App</h3>" in page.text and "<strong>well</strong>" in page.text
    row = re.search(r'<tr class="selected">(.*?)</tr>', page.text, re.S)
    assert row is not None
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)
    assert ">v1<" in cells[0] and cells[1].startswith('<code title="sha256:') and cells[2].endswith(" B")
    assert "linux/amd64" in cells[3] and "just now" in cells[4]
    host = registry.make_url("").host + ":" + str(registry.make_url("").port)
    assert page.copyable("docker-pull") == f"docker pull {host}/alice/app:v1"
    assert page.copyable("berth-pull") == f"berth pull {host}/alice/app:v1"
    assert re.search(r"<strong>0</strong> stars", page.text) and re.search(r"<strong>0</strong> pulls", page.text)


async def test_the_pull_command_follows_the_chosen_tag(browsers, registry):
    await push(registry, "alice/app", "latest")
    browser = await browsers()
    command = "docker-pull"
    assert (await browser.open("/r/alice/app")).copyable(command).endswith("/alice/app:latest")  # when there is one
    assert (await browser.open("/r/alice/app?tag=v1")).copyable(command).endswith("/alice/app:v1")
    assert (await browser.open("/r/alice/app?tag=no-such-tag")).copyable(command).endswith("/alice/app:latest")


async def test_official_images_have_both_addresses(browsers, registry, admin_session):
    browser = await browsers()
    for path in ("/_/busybox", "/r/library/busybox"):
        page = await browser.open(path)
        assert page.status == 200 and "<h1>busybox</h1>" in page.text and "Official" in page.text
        assert re.fullmatch(r"docker pull [^/]+/busybox:v1", page.copyable("docker-pull"))
    await push(registry, "library/busybox", "stable")  # now a second repository spelled the long way
    assert "<h1>library/busybox</h1>" in (await browser.open("/r/library/busybox")).text
    assert "<h1>busybox</h1>" in (await browser.open("/_/busybox")).text


async def test_user_and_organization_pages_list_their_repositories(browsers):
    browser = await browsers()
    alice = await browser.open("/u/alice")
    assert alice.status == 200 and 'href="/r/alice/app"' in alice.text and "acme/tool" not in alice.text
    acme = await browser.open("/orgs/acme")
    assert acme.status == 200 and 'href="/r/acme/tool"' in acme.text and "Organization" in acme.text
    assert "Manage teams" not in acme.text
    for wrong in ("/u/acme", "/orgs/alice", "/u/nobody", "/orgs/nothing"):
        assert (await browser.open(wrong)).status == 404, wrong


async def test_unknown_pages_answer_an_html_404_but_apis_keep_json(browsers, registry):
    browser = await browsers()
    page = await browser.open("/no/such/page")
    assert page.status == 404 and page.headers["Content-Type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await registry.get("/v2/nope/nope/nope")
    assert api.status in (401, 404) and api.content_type == "application/json"


async def test_pages_carry_security_headers(browsers):
    page = await (await browsers()).open("/r/alice/app")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


async def test_pages_work_for_a_signed_in_member_too(browsers):
    browser = await browsers()
    await browser.sign_in(BOBBY)
    page = await browser.open("/")
    assert "Sign out" in page.text and 'aria-label="Account menu of bobby"' in page.text
    assert "Sign in</a>" not in page.text
