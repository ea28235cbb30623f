"""Browser tests: Debian's Chromium, driven by Playwright, against one real berth-registry process with
token authentication (for the whole package), holding images pushed by skopeo. Screenshots of the main pages
are kept as artifacts: under the session's temporary directory, and copied to tests/web/screenshots-latest/
(ignored by git).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import TokenRegistry
from tests.support.images import OciImage
from tests.support.skopeo import copy

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]
LATEST = Path(__file__).parent.parent / "screenshots-latest"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}
DESCRIPTION = """# Tools

Small Unix tools in **one static binary**, for the smallest images.

## Use it

```
docker run --rm IMAGE echo hello
```

| Applet | What for |
|--------|----------|
| `sh`   | a shell  |
| `wget` | fetching |
"""
Shot = Callable[[Any, str], None]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    registry = TokenRegistry(tmp_path_factory.mktemp("web-browser"))
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="package")
def alice(server: TokenRegistry, busybox_layout: OciImage) -> str:
    """alice, who pushed alice/tools:1 and alice/secretapp:1 with skopeo; busybox:1 is an official image,
    acme an organization she owns. Returns her password."""
    password = server.create_user("alice")
    for name in ("alice/tools", "alice/secretapp"):
        copy(busybox_layout.ref, f"docker://{server.host}/{name}:1", "--dest-creds", f"alice:{password}")
    copy(busybox_layout.ref, f"docker://{server.host}/busybox:1", "--dest-creds",
         f"admin:{server.admin_password}")
    server.admin("org", "create", "acme", "--owner", "alice")
    server.admin("team", "create", "acme", "devs", "--permission", "read")
    return password


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shot:
    """`shot(page, name)`: a full-page screenshot, kept under the test's temporary directory and copied
    to tests/web/screenshots-latest/."""
    directory = tmp_path_factory.mktemp("screenshots")
    LATEST.mkdir(exist_ok=True)

    def shot(page: Any, name: str) -> None:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copyfile(path, LATEST / path.name)
    return shot


def new_page(chromium: Any, server: TokenRegistry, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
    context = chromium.new_context(viewport=viewport, base_url=server.url, **options)
    return context.new_page()


@pytest.fixture
def page(chromium: Any, server: TokenRegistry, alice: str) -> Iterator[Any]:
    tab = new_page(chromium, server, permissions=["clipboard-read", "clipboard-write"])
    yield tab
    tab.context.close()


def sign_in(page: Any, password: str, user: str = "alice") -> None:
    page.goto("/signin")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    playwright_api.expect(account_menu(page, user)).to_be_visible()


def account_menu(page: Any, user: str = "alice") -> Any:
    """The header's menu of the signed-in user (a <details>: it opens without JavaScript)."""
    return page.locator("summary", has_text=user)


def choose_from_account_menu(page: Any, name: str, role: str = "link") -> None:
    account_menu(page).click()
    page.get_by_role(role, name=name).click()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A webhook receiver on loopback (a thread of this process) that answers 204 and keeps the bodies."""
    got: list[bytes] = []

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass
    httpd = HTTPServer(("127.0.0.1", 0), Receive)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hooks/berth", got
    httpd.shutdown()
    thread.join()
