"""The pages of a registry run with --auth none: no accounts, so everything is public and nothing is posted."""

from __future__ import annotations

import asyncio
import dataclasses

from multidict import CIMultiDict, CIMultiDictProxy

from registry import keys
from registry.app import create_app
from registry.db.migrate import migrate
from registry.services import accounts, hub

from ..api.oci import push_image
from .conftest import Page


async def test_everything_is_public_and_there_is_no_sign_in(client):
    await push_image(client, "team/app", "v1")
    await push_image(client, "team/hidden", "v1")
    async with client.app[keys.database].write() as session:
        await accounts.set_visibility(session, "team/hidden", True)  # without accounts, nobody is kept out
        await hub.set_descriptions(session, "team/app", "an app")
    home = await client.get("/")
    text = await home.text()
    assert home.status == 200 and 'href="/r/team/app"' in text and 'href="/r/team/hidden"' in text
    assert "Sign in" not in text and "/signin" not in text
    for path in ("/signin", "/account/tokens", "/r/team/app/settings", "/orgs/team/teams"):
        assert (await client.get(path)).status == 404, path
    repository = await client.get("/r/team/hidden")
    body = await repository.text()
    assert repository.status == 200 and "Settings" not in body and "Star" not in body
    assert (await client.get("/u/team")).status == 200  # a namespace without an account, holding repositories
    assert (await client.get("/search?q=hidden")).status == 200
    assert 'href="/r/team/hidden"' in await (await client.get("/search?q=hidden")).text()
    # No form exists, so nothing may be posted (405 from the router, rendered as a page).
    star = await client.post("/r/team/app/star", data={"starred": "true"})
    assert star.status == 405 and star.content_type == "text/html"


async def test_public_url_names_the_host_in_pull_commands(settings, aiohttp_client):
    public = dataclasses.replace(settings, public_url="https://hub.example.com")
    public.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, public.database_url)
    client = await aiohttp_client(create_app(public))
    await push_image(client, "team/app", "v1")
    page = Page(200, await (await client.get("/r/team/app")).text(), CIMultiDictProxy(CIMultiDict()))
    assert page.copyable("docker-pull") == "docker pull hub.example.com/team/app:v1"
    assert page.copyable("berth-pull") == "berth pull hub.example.com/team/app:v1"
