"""Read-only mode against the route table itself (in process): every route that writes, today's and any
added later, is refused before its handler runs; only token requests and signing in or out go through.
And the setting, from the flag, BERTH_READ_ONLY and the config file."""

from __future__ import annotations

import dataclasses
import re

import pytest
from aiohttp.test_utils import TestClient

from registry.__main__ import build_parser
from registry.settings import Settings, SettingsError, load_settings

from ..auth.conftest import registry  # noqa: F401
from ..web.conftest import ADMIN, Browser

STILL_WRITABLE = {"/token", "/signin", "/signout"}
_PARAMETER = re.compile(r"\{(\w+)[^}]*\}")
EXAMPLES = {"name": "sweep", "namespace": "ops", "reference": "v1", "digest": "sha256:" + "0" * 64,
            "upload_id": "00000000-0000-4000-8000-000000000000", "id": "1"}


@pytest.fixture
def token_settings(settings: Settings) -> Settings:  # what auth.conftest's `registry` is made with
    return dataclasses.replace(settings, auth="token", admin_password="admin-password", read_only=True)


def write_routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, concrete path, route name) of every route that does not only read."""
    found = []
    for route in client.app.router.routes():
        if route.method in ("GET", "HEAD", "*") or route.resource is None:
            continue
        path = _PARAMETER.sub(lambda m: EXAMPLES.get(m[1], "x"), route.resource.canonical)
        found.append((route.method, path, route.resource.name or ""))
    return found


async def test_every_write_route_is_refused(registry: TestClient) -> None:  # noqa: F811
    browser = Browser(registry)
    try:
        await browser.sign_in(ADMIN)  # allowed: a session changes no content
        routes = write_routes(registry)
        assert len(routes) > 40  # v2, /api/v1 and the pages' forms: the sweep sees them all
        for method, path, name in routes:
            if path in STILL_WRITABLE:
                continue
            if name.startswith("web."):  # a form, with the session's CSRF token: an HTML page says why
                page = await browser.submit(path)
                assert page.status == 405, (path, page.status)
                assert page.shows("read-only maintenance mode"), path
                continue
            response = await registry.request(method, path, json={})
            assert response.status == 405, (method, path, response.status)
            assert (await response.json())["errors"][0]["code"] == "UNSUPPORTED", (method, path)
        assert (await browser.submit("/signout")).status == 303
    finally:
        await browser.close()


async def test_reads_are_not_refused(registry: TestClient) -> None:  # noqa: F811
    for path in ("/", "/search?q=x", "/v1/search?q=x", "/api/v1/repositories", "/healthz", "/readyz", "/metrics"):
        assert (await registry.get(path)).status == 200, path


def test_the_setting_comes_from_the_flag_the_environment_or_the_config_file(tmp_path) -> None:
    assert load_settings({}, env={}).read_only is False
    flags = vars(build_parser().parse_args(["serve"]))
    assert load_settings({"read_only": flags["read_only"]}, env={"BERTH_READ_ONLY": "yes"}).read_only is True
    flags = vars(build_parser().parse_args(["serve", "--read-only"]))
    assert load_settings({"read_only": flags["read_only"]}, env={"BERTH_READ_ONLY": "0"}).read_only is True
    config = tmp_path / "berth.toml"
    config.write_text("read_only = true\n")
    assert load_settings({}, env={}, config_file=config).read_only is True
    assert load_settings({}, env={"BERTH_READ_ONLY": "off"}, config_file=config).read_only is False
    with pytest.raises(SettingsError, match="read_only"):
        load_settings({}, env={"BERTH_READ_ONLY": "sometimes"})
