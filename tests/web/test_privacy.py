"""Private repositories are invisible on every page to whoever may not read them: the very 404 page a missing
repository gets, and no trace in any list. Those who may read them see them everywhere."""

from __future__ import annotations

import pytest

from .conftest import ALICE, BOBBY, CAROL

LISTS = ("/", "/search", "/search?q=secret", "/search?q=internal", "/search?q=alice", "/search?q=acme",
         "/u/alice", "/orgs/acme")
MISSING = "alice/never-pushed"
PAGES = ("/r/{name}", "/r/{name}?tag=v1", "/r/{name}/settings")


async def visitor(browsers, who):
    browser = await browsers()
    if who is not None:
        await browser.sign_in(who)
    return browser


@pytest.mark.parametrize("who", [None, CAROL], ids=["anonymous", "stranger"])
async def test_strangers_see_no_trace_of_private_repositories(browsers, world, who):
    browser = await visitor(browsers, who)
    for path in LISTS:
        page = await browser.open(path)
        assert page.status == 200, path
        for name in world.private:
            assert name not in page.text, (path, name)
        assert "top secret thing" not in page.text
    for name in world.private:
        for pattern in PAGES:
            page = await browser.open(pattern.format(name=name))
            expected = 303 if who is None and pattern.endswith("settings") else 404  # settings: sign in first
            assert page.status == expected, pattern
            if expected == 404:  # byte for byte the page of a repository that does not exist
                missing = await browser.open(pattern.format(name=MISSING))
                assert page.text == missing.text.replace(MISSING, name)
        # With a good CSRF token (an anonymous visitor's comes from its cookie), starring finds nothing.
        token = browser.csrf or browser.cookie("berth_csrf")
        star = await browser.submit(f"/r/{name}/star", {"starred": "true"}, csrf=token)
        missing = await browser.submit(f"/r/{MISSING}/star", {"starred": "true"}, csrf=token)
        assert star.status == 404 and star.text == missing.text.replace(MISSING, name)


async def test_the_owner_and_team_members_see_private_repositories(browsers, world):
    alice = await visitor(browsers, ALICE)
    for path in ("/", "/search?q=secret", "/u/alice"):
        assert 'href="/r/alice/secret"' in (await alice.open(path)).text, path
    page = await alice.open("/r/alice/secret")
    assert page.status == 200 and "Private" in page.text and "Settings" in page.text
    bobby = await visitor(browsers, BOBBY)  # in acme's devs team (read): acme's private one, not alice's
    assert 'href="/r/acme/internal"' in (await bobby.open("/orgs/acme")).text
    assert (await bobby.open("/r/acme/internal")).status == 200
    assert (await bobby.open("/r/alice/secret")).status == 404
    assert "alice/secret" not in (await bobby.open("/search?q=secret")).text


async def test_a_reader_gets_403_on_settings_not_404(browsers, world):
    bobby = await visitor(browsers, BOBBY)
    page = await bobby.open("/r/acme/internal/settings")
    assert page.status == 403 and "needs admin rights" in page.text
    assert "Settings</a>" not in (await bobby.open("/r/acme/internal")).text
