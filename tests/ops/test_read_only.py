"""Read-only maintenance mode on a real server: pulls, HEADs, searches and listings work; a real client's
push, deletions and JSON API changes answer 405 UNSUPPORTED; the mode shows in /readyz and /metrics."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.accounts import TokenRegistry, basic, http
from tests.support.commands import CommandFailed
from tests.support.images import OciImage
from tests.support.skopeo import copy

from .conftest import WORKERS, MakeServer, scrape, value, wait_for_listeners

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def assert_refused(answer_status: int, body: bytes) -> None:
    assert answer_status == 405
    [error] = json.loads(body)["errors"]
    assert error["code"] == "UNSUPPORTED"
    assert "read-only maintenance mode" in error["message"]


def test_pulls_work_and_writes_are_refused(make_server: MakeServer, busybox_layout: OciImage, tmp_path: Path) -> None:
    server = make_server("ro")
    repo = f"docker://{server.host}/ops/read-only"
    copy(busybox_layout.ref, f"{repo}:1")
    server.stop()
    assert server.env is not None
    server.env = {**server.env, "BERTH_READ_ONLY": "true"}  # the environment's way; the flag is tested below
    server.start()
    wait_for_listeners(server.port, WORKERS)
    since = server.log_size()

    pulled = OciImage(tmp_path / "pulled", "1")
    copy(f"{repo}:1", pulled.ref)
    assert pulled.digest == busybox_layout.digest
    with pytest.raises(CommandFailed):
        copy(busybox_layout.ref, f"docker://{server.host}/ops/new:1")
    assert any(line.startswith("POST /v2/ops/new/blobs/uploads/ 405 ") for line in server.access_lines(since))

    base = f"{server.url}/v2/ops/read-only"
    manifest_url, blob_url = f"{base}/manifests/1", f"{base}/blobs/{busybox_layout.layer_digests[0]}"
    for method, url, body in [("POST", f"{base}/blobs/uploads/", None),
                              ("PUT", manifest_url, busybox_layout.blob(busybox_layout.digest)),
                              ("DELETE", manifest_url, None), ("DELETE", blob_url, None)]:
        answer = http(method, url, {"Content-Type": OCI_MANIFEST}, body)
        assert_refused(answer.status, answer.body)
    answer = http("PATCH", f"{server.url}/api/v1/repositories/ops/read-only", {"Content-Type": "application/json"},
                  b'{"description": "changed"}')
    assert_refused(answer.status, answer.body)
    assert answer.headers["Allow"] == "GET, HEAD"  # what this resource still answers

    for url in (manifest_url, blob_url, f"{server.url}/v2/_catalog", f"{base}/tags/list",
                f"{server.url}/v1/search?q=read-only", f"{server.url}/api/v1/repositories/ops/read-only",
                f"{server.url}/r/ops/read-only"):
        assert http("GET", url).status == 200, url
    assert http("HEAD", manifest_url).status == 200
    assert http("GET", manifest_url).body == busybox_layout.blob(busybox_layout.digest)  # nothing was deleted
    for _ in range(WORKERS):
        assert http("GET", f"{server.url}/readyz").json() == {"status": "ready", "read_only": True, "failed": {}}
        assert value(scrape(server), "berth_read_only") == 1


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[TokenRegistry]:
    server = TokenRegistry(tmp_path / "token", workers=WORKERS)
    server.extra_args = ("--read-only",)
    server.start()
    wait_for_listeners(server.port, WORKERS)
    yield server
    server.stop()


def test_tokens_and_sign_in_work_and_forms_show_a_page(token_server: TokenRegistry) -> None:
    admin = ("admin", token_server.admin_password)
    scope = urllib.parse.urlencode({"service": "berth", "scope": "repository:ops/app:pull,push"})
    assert http("GET", f"{token_server.url}/token?{scope}", basic(*admin)).status == 200
    form = urllib.parse.urlencode({"grant_type": "password", "username": admin[0], "password": admin[1],
                                   "service": "berth", "scope": "repository:ops/app:pull"}).encode()
    assert http("POST", f"{token_server.url}/token", {"Content-Type": "application/x-www-form-urlencoded"},
                form).status == 200

    browser = requests.Session()
    csrf = _csrf(browser.get(f"{token_server.url}/signin").text)
    signed_in = browser.post(f"{token_server.url}/signin", allow_redirects=False,
                             data={"username": admin[0], "password": admin[1], "next": "/", "csrf_token": csrf})
    assert signed_in.status_code == 303, signed_in.text
    tokens_page = browser.get(f"{token_server.url}/account/tokens")
    assert tokens_page.status_code == 200
    refused = browser.post(f"{token_server.url}/account/tokens", allow_redirects=False,
                           data={"label": "ops-ro-label", "scope": "repo:read", "csrf_token": _csrf(tokens_page.text)})
    assert refused.status_code == 405
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "read-only maintenance mode" in refused.text
    assert "ops-ro-label" not in browser.get(f"{token_server.url}/account/tokens").text  # none was made
    signed_out = browser.post(f"{token_server.url}/signout", allow_redirects=False,
                              data={"csrf_token": _csrf(browser.get(f"{token_server.url}/").text)})
    assert signed_out.status_code == 303


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    assert marker in page, page[:500]
    return page.split(marker, 1)[1].split('"', 1)[0]
