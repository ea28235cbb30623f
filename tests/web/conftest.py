"""The pages in-process: the token-auth registry of tests/auth, a small world of people and repositories,
and browsers (each with its own cookies) that open pages and submit forms as a person would.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from html import unescape
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from multidict import CIMultiDictProxy

from registry.services import accounts, hub

from ..api.oci import push_image
from ..auth.conftest import ADMIN_PASSWORD, admin_session, as_caller, registry, token_settings  # noqa: F401

ADMIN = ("admin", ADMIN_PASSWORD)
ALICE = ("alice", "alice-password")
BOBBY = ("bobby", "bobby-password")
CAROL = ("carol", "carol-password")
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Page:
    status: int
    text: str
    headers: CIMultiDictProxy[str]

    @property
    def csrf(self) -> str | None:
        found = _CSRF.search(self.text)
        return found.group(1) if found else None

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def copyable(self, id_: str) -> str | None:
        """The text of a read-only field to copy from (a pull command, a new secret), if the page has it."""
        found = re.search(rf'<textarea id="{id_}" class="command-text"[^>]*>([^<]*)</textarea>', self.text)
        return unescape(found.group(1)) if found else None

    def shows(self, text: str) -> bool:
        """Whether the page's HTML holds `text` (compared with entities decoded)."""
        return text in unescape(self.text)


class Browser:
    """A person at a browser: their own cookie jar; redirects are not followed unless asked, so that tests
    see each 303. The CSRF token of the last page that had forms is sent with every form."""

    def __init__(self, client: TestClient) -> None:
        self.base = str(client.make_url("")).rstrip("/")
        # As a browser behind an HTTPS proxy would, it sends Secure cookies back (tests of the flag need it).
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[self.base])
        self.session = aiohttp.ClientSession(cookie_jar=jar)
        self.csrf: str | None = None

    async def open(self, path: str, *, follow: bool = False, **options: Any) -> Page:
        return await self._request("GET", path, follow=follow, **options)

    async def submit(self, path: str, fields: dict[str, str] | None = None, *, csrf: str | None = "",
                     follow: bool = False, **options: Any) -> Page:
        """POST a form; `csrf` "" sends the remembered token, None sends none, anything else that."""
        data = dict(fields or {})
        token = self.csrf if csrf == "" else csrf
        if token is not None:
            data["csrf_token"] = token
        return await self._request("POST", path, data=data, follow=follow, **options)

    async def _request(self, method: str, path: str, *, follow: bool, **options: Any) -> Page:
        async with self.session.request(method, self.base + path, allow_redirects=follow, **options) as response:
            page = Page(response.status, await response.text(), response.headers)
        if page.csrf:
            self.csrf = page.csrf
        return page

    def cookie(self, name: str) -> str | None:
        found = [c.value for c in self.session.cookie_jar if c.key == name]
        return found[0] if found else None

    async def sign_in(self, credentials: tuple[str, str], next_path: str = "/") -> Page:
        await self.open("/signin")
        page = await self.submit("/signin", {"username": credentials[0], "password": credentials[1],
                                             "next": next_path})
        assert page.status == 303, page.text
        await self.open("/")  # pick up the session's CSRF token
        return page

    async def close(self) -> None:
        await self.session.close()


Browsers = Callable[[], Awaitable[Browser]]


@pytest.fixture
async def browsers(registry: TestClient) -> AsyncIterator[Browsers]:  # noqa: F811
    """`await browsers()` makes another browser of the registry's pages."""
    made: list[Browser] = []

    async def make() -> Browser:
        made.append(Browser(registry))
        return made[-1]
    yield make
    for browser in made:
        await browser.close()


async def push(registry: TestClient, name: str, tag: str = "v1") -> None:  # noqa: F811
    """Push a small image as the administrator."""
    caller = await as_caller(registry, f"repository:{name}:pull,push", credentials=ADMIN)
    await push_image(caller, name, tag)


@dataclass(frozen=True)
class World:
    """alice owns `alice/app` (public) and `alice/secret` (private); the organization acme (owner alice,
    team `devs` with bobby, read on the organization) has `acme/tool` (public) and `acme/internal`
    (private); `busybox` is official. carol belongs to nothing."""
    public: tuple[str, ...] = ("alice/app", "acme/tool", "busybox")
    private: tuple[str, ...] = ("alice/secret", "acme/internal")


@pytest.fixture
async def world(registry: TestClient, admin_session) -> World:  # noqa: F811
    async def people(session: Any) -> None:
        for name, password in (ALICE, BOBBY, CAROL):
            await accounts.create_user(session, name, password)
        await accounts.create_organization(session, "acme", "alice")
        await accounts.create_team(session, "acme", "devs", "read")
        await accounts.add_team_member(session, "acme", "devs", "bobby")
    await admin_session(people)
    found = World()
    for name in (*found.public, *found.private):
        await push(registry, name)

    async def describe(session: Any) -> None:
        for name in found.private:
            await accounts.set_visibility(session, name, True)
        await hub.set_descriptions(session, "alice/app", "Alice's app", "# App\n\nRuns **well**.")
        await hub.set_descriptions(session, "alice/secret", "top secret thing")
    await admin_session(describe)
    return found
