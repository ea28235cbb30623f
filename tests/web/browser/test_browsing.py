"""What a person does with the pages in a browser: describe a repository, hear of pushes through a webhook,
search and copy a pull command, sign in and star, make and revoke an access token, hide a repository."""

from __future__ import annotations

import json
from typing import Any

from tests.support.accounts import TokenRegistry, basic, http
from tests.support.images import OciImage
from tests.support.skopeo import copy, inspect

from .conftest import DESCRIPTION, Shot, choose_from_account_menu, expect, sign_in


def test_describe_a_repository_in_its_settings(page: Any, alice: str, shots: Shot) -> None:
    sign_in(page, alice)
    page.goto("/r/alice/tools/settings")
    page.get_by_label("Short description").fill("Small Unix tools in one static binary")
    page.get_by_label("Overview").fill(DESCRIPTION)
    page.get_by_role("button", name="Save descriptions").click()
    expect(page.get_by_role("status")).to_have_text("The descriptions were saved.")
    shots(page, "settings")
    page.goto("/r/alice/tools")
    overview = page.locator(".markdown")
    expect(overview.get_by_role("heading", name="Use it")).to_be_visible()
    expect(overview.locator("table")).to_contain_text("fetching")


def test_a_webhook_hears_of_a_push_and_logs_it(page: Any, server: TokenRegistry, alice: str,
                                               busybox_layout: OciImage, receiver: tuple[str, list[bytes]],
                                               shots: Shot) -> None:
    url, got = receiver
    sign_in(page, alice)
    page.goto("/r/alice/secretapp/settings")
    page.get_by_label("Name").fill("ci")
    page.get_by_label("URL").fill(url)
    page.get_by_role("button", name="Add webhook").click()
    secret = server.remember(page.get_by_label("Signing secret").input_value())
    assert len(secret) == 64
    copy(busybox_layout.ref, f"docker://{server.host}/alice/secretapp:2", "--dest-creds", f"alice:{alice}")
    delivered = page.locator(".state-delivered")
    for _ in range(50):  # every worker looks for due deliveries each second
        page.goto("/r/alice/secretapp/settings")
        if delivered.count():
            break
        page.wait_for_timeout(200)
    expect(delivered.first).to_have_text("delivered")
    assert got and json.loads(got[0])["push_data"]["tag"] == "2"
    shots(page, "settings-webhooks")
    page.get_by_role("button", name="Delete webhook ci").click()
    expect(page.get_by_role("status")).to_have_text("The webhook was deleted.")


def test_search_from_the_home_page_and_copy_the_pull_command(page: Any, server: TokenRegistry,
                                                            shots: Shot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find, pull and share container images")
    shots(page, "home")
    page.get_by_role("search").get_by_label("Search repositories").fill("tools")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=tools")
    expect(page.get_by_role("status")).to_have_text("1 result")
    shots(page, "search")
    page.get_by_role("link", name="alice/tools").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("alice/tools")
    command = page.get_by_label("With docker")
    expect(command).to_have_value(f"docker pull {server.host}/alice/tools:1")
    expect(page.get_by_label("With berth")).to_have_value(f"berth pull {server.host}/alice/tools:1")
    row = page.locator("table.tags tbody tr").first
    expect(row).to_contain_text("linux/amd64")
    expect(row.locator("th")).to_have_text("1")
    copy_button = page.locator("button[data-copy=docker-pull]")
    copy_button.click()  # the optional script shows the button; the command lands on the clipboard
    expect(copy_button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {server.host}/alice/tools:1"
    shots(page, "repository")


def test_sign_in_and_star(page: Any, alice: str, shots: Shot) -> None:
    page.goto("/r/alice/tools")
    page.get_by_role("link", name="Sign in to star").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shots(page, "signin")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    page.get_by_label("Password").fill(alice)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/r/alice/tools")  # back where she came from
    page.get_by_role("button", name="Star").click()
    expect(page.get_by_role("button", name="Starred")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".stats")).to_contain_text("1 star")
    page.get_by_role("button", name="Starred").click()
    expect(page.locator(".stats")).to_contain_text("0 stars")


def test_create_then_revoke_an_access_token(page: Any, server: TokenRegistry, alice: str, shots: Shot) -> None:
    sign_in(page, alice)
    choose_from_account_menu(page, "Access tokens")
    page.get_by_label("Description").fill("laptop")
    page.get_by_label("Access", exact=True).select_option("read-write")
    page.get_by_label("Expires", exact=True).select_option("30")
    page.get_by_role("button", name="Generate").click()
    token = server.remember(page.get_by_label("Your new access token").input_value())
    assert token.startswith("bpat_")
    shots(page, "tokens")
    # A real client logs in with it.
    assert inspect(f"docker://{server.host}/alice/tools:1", "--creds", f"alice:{token}")["Architecture"] == "amd64"
    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.get_by_role("status")).to_have_text("The token was revoked.")
    expect(page.get_by_text("You have no access tokens.")).to_be_visible()
    assert http("GET", f"{server.url}/token?service=berth", basic("alice", token)).status == 401


def test_a_repository_made_private_vanishes_for_those_signed_out(page: Any, alice: str, shots: Shot) -> None:
    sign_in(page, alice)
    page.goto("/r/alice/secretapp")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Private").check()
    page.get_by_role("button", name="Change visibility").click()
    expect(page.get_by_role("status")).to_have_text("The visibility was changed.")
    page.goto("/r/alice/secretapp")
    expect(page.locator(".repo-title .badge-private")).to_have_text("Private")
    choose_from_account_menu(page, "Sign out", "button")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    response = page.goto("/r/alice/secretapp")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    shots(page, "not-found")
    page.goto("/search?q=secretapp")
    expect(page.get_by_role("status")).to_have_text("0 results")
    page.goto("/u/alice")
    expect(page.get_by_role("link", name="alice/tools")).to_be_visible()
    assert page.get_by_text("alice/secretapp").count() == 0
