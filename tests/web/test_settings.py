"""A repository's settings page: descriptions (Markdown rendered harmless), visibility, webhooks and their
delivery log; for the repository's administrators only."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import web

from .conftest import ALICE, push

pytestmark = pytest.mark.usefixtures("world")
HOSTILE = """# Hello

<script>alert("owned")</script>

<img src=x onerror="alert(1)">

[click](javascript:alert(1)) and [data](data:text/html,<script>alert(1)</script>)

```
<script>in code</script>
```
"""


async def alice_at(browsers):
    browser = await browsers()
    await browser.sign_in(ALICE)
    return browser


async def test_descriptions_are_saved_and_markdown_cannot_run_script(browsers):
    browser = await alice_at(browsers)
    form = await browser.open("/r/alice/app/settings")
    assert form.status == 200 and "<h1>Settings</h1>" in form.text
    assert 'id="short_description" name="short_description" type="text" maxlength="100" value="Alice&#39;s app"' \
        in form.text
    saved = await browser.submit("/r/alice/app/settings/descriptions",
                                 {"short_description": "A <b>bold</b> app", "full_description": HOSTILE})
    assert saved.status == 303 and saved.location == "/r/alice/app/settings?done=descriptions"
    assert "The descriptions were saved." in (await browser.open(saved.location)).text
    page = await (await browsers()).open("/r/alice/app")  # as anyone sees it
    assert "<h3>Hello</h3>" in page.text
    assert "A &lt;b&gt;bold&lt;/b&gt; app" in page.text  # the short description is text, not markup
    overview = page.text.split('class="markdown">')[1].split("</section>")[0]
    assert "<script" not in overview and "<img" not in overview and "onerror=" not in overview.replace(
        "onerror=&quot;", "")
    assert 'href="javascript:' not in overview and 'href="data:' not in overview
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in overview  # shown as text, harmless
    assert "&lt;script&gt;in code&lt;/script&gt;" in overview


async def test_descriptions_that_are_too_long_are_refused(browsers):
    browser = await alice_at(browsers)
    page = await browser.submit("/r/alice/app/settings/descriptions",
                                {"short_description": "x" * 101, "full_description": ""})
    assert page.status == 400 and "A short description is one line of at most 100 characters." in page.text
    assert "Alice&#39;s app" in (await browser.open("/r/alice/app")).text


async def test_making_a_repository_private_hides_it_from_others(browsers):
    alice, stranger = await alice_at(browsers), await browsers()
    assert (await stranger.open("/r/alice/app")).status == 200
    changed = await alice.submit("/r/alice/app/settings/visibility", {"visibility": "private"})
    assert changed.status == 303
    settings = await alice.open(changed.location)
    assert "The visibility was changed." in settings.text
    assert re.search(r'value="private" checked', settings.text)
    assert (await stranger.open("/r/alice/app")).status == 404
    assert "alice/app" not in (await stranger.open("/search?q=app")).text
    assert (await alice.open("/r/alice/app")).status == 200
    await alice.submit("/r/alice/app/settings/visibility", {"visibility": "public"})
    assert (await stranger.open("/r/alice/app")).status == 200
    assert (await alice.submit("/r/alice/app/settings/visibility", {"visibility": "hidden"})).status == 400


async def test_official_images_stay_public(browsers):
    admin = await browsers()
    from .conftest import ADMIN
    await admin.sign_in(ADMIN)
    page = await admin.open("/_/busybox/settings")
    assert page.status == 200 and "Official images are always public." in page.text
    refused = await admin.submit("/_/busybox/settings/visibility", {"visibility": "private"})
    assert refused.status == 400 and (await (await browsers()).open("/_/busybox")).status == 200


async def test_settings_send_strangers_to_sign_in(browsers):
    page = await (await browsers()).open("/r/alice/app/settings")
    assert page.status == 303 and page.location.startswith("/signin?next=")


@pytest.fixture
async def receiver(aiohttp_server):
    """A webhook receiver on loopback that answers 200 and keeps what it got."""
    got: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")
    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return str(server.make_url("/hook")), got


async def test_webhooks_are_added_delivered_logged_and_deleted(browsers, registry, receiver):
    url, got = receiver
    browser = await alice_at(browsers)
    empty = await browser.open("/r/alice/app/settings")
    assert "No webhooks yet." in empty.text and "Nothing delivered yet." in empty.text
    added = await browser.submit("/r/alice/app/settings/webhooks", {"name": "ci", "url": url})
    assert added.status == 201
    secret = added.copyable("webhook-secret")
    assert secret is not None and re.fullmatch("[0-9a-f]{64}", secret) and "shown only this once" in added.text
    listed = await browser.open("/r/alice/app/settings")
    assert secret not in listed.text and f"<code>{url}</code>" in listed.text
    await push(registry, "alice/app", "v2")
    for _ in range(100):  # the delivery task polls every second
        page = await browser.open("/r/alice/app/settings")
        if "state-delivered" in page.text:
            break
        await asyncio.sleep(0.1)
    log = page.text.split("<h3>Recent deliveries</h3>")[1]
    assert re.search(r"<td>ci</td>\s*<td><span class=\"state state-delivered\">delivered</span></td>\s*"
                     r"<td>HTTP 200</td>", log), log
    assert got and got[0]["push_data"]["tag"] == "v2"
    hook_id = re.search(r'action="/r/alice/app/settings/webhooks/(\d+)/delete"', page.text).group(1)
    deleted = await browser.submit(f"/r/alice/app/settings/webhooks/{hook_id}/delete")
    assert deleted.status == 303
    after = await browser.open(deleted.location)
    assert "The webhook was deleted." in after.text and "No webhooks yet." in after.text
    assert (await browser.submit(f"/r/alice/app/settings/webhooks/{hook_id}/delete")).status == 404


async def test_a_webhook_needs_a_name_and_an_http_url(browsers):
    browser = await alice_at(browsers)
    for fields in ({"name": "x", "url": "file:///etc/passwd"}, {"name": "", "url": "http://127.0.0.1/"},
                   {"name": "x", "url": "not a url"}):
        page = await browser.submit("/r/alice/app/settings/webhooks", fields)
        assert page.status == 400 and 'class="alert alert-error"' in page.text, fields
    assert "No webhooks yet." in (await browser.open("/r/alice/app/settings")).text
