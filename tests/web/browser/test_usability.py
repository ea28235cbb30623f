"""The pages for everyone: a phone-sized screen, the keyboard alone, enough contrast, no JavaScript; and no
secret typed into them ever reaches the server's log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.accounts import TokenRegistry

from .conftest import PHONE, Shot, account_menu, expect, new_page, sign_in


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_a_phone_sized_screen_never_scrolls_sideways(chromium: Any, server: TokenRegistry, alice: str,
                                                     shots: Shot, signed_in: bool) -> None:
    page = new_page(chromium, server, PHONE, is_mobile=True, has_touch=True)
    try:
        paths = {"home": "/", "search": "/search?q=tools", "repository": "/r/alice/tools", "official": "/_/busybox",
                 "user": "/u/alice", "signin": "/signin"}
        if signed_in:
            sign_in(page, alice)
            paths = {"tokens": "/account/tokens", "settings": "/r/alice/tools/settings",
                     "teams": "/orgs/acme/teams", "repository-signed-in": "/r/alice/tools"}
        for name, path in paths.items():
            page.goto(path)
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1] == PHONE["width"], (path, widths)
            shots(page, f"phone-{name}")
    finally:
        page.context.close()


def focused(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {id: e.id, text: e.textContent.trim(), tag: e.tagName, visible: e.matches(':focus-visible'),
                outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")


def tab_to(page: Any, wanted: Callable[[dict[str, Any]], bool], limit: int = 25) -> dict[str, Any]:
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if wanted(now):
            return now
    raise AssertionError(f"Tab never reached the element (last: {now})")


def assert_focus_visible(element: dict[str, Any]) -> None:
    assert element["visible"] and element["outline"] != "none" and element["width"] >= 2, element


def test_the_keyboard_reaches_the_search_box_and_sign_in_with_visible_focus(page: Any, alice: str,
                                                                          shots: Shot) -> None:
    page.goto("/")
    sign_in_link = tab_to(page, lambda e: e["tag"] == "A" and e["text"] == "Sign in")
    assert_focus_visible(sign_in_link)
    search_box = tab_to(page, lambda e: e["id"] == "q")
    assert_focus_visible(search_box)
    shots(page, "keyboard-focus")
    page.keyboard.type("busybox")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=busybox")
    # Sign in with the keyboard alone.
    page.goto("/signin")
    assert_focus_visible(tab_to(page, lambda e: e["id"] == "username"))
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(alice)
    button = tab_to(page, lambda e: e["tag"] == "BUTTON" and e["text"] == "Sign in", limit=2)
    assert_focus_visible(button)
    page.keyboard.press("Enter")
    expect(account_menu(page)).to_be_visible()


CONTRAST = """() => {
  const parse = s => { const p = s.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map(Number);
                       return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => 0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      const gradient = s.backgroundImage.match(/rgba?\\([^)]+\\)/);
      if (gradient) return parse(gradient[0]);
      const c = parse(s.backgroundColor);
      if (c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    // What a control holds counts as its text (a pull command in its dark field, say).
    const text = el.matches('input:not([type=hidden]), textarea, select') ? el.value
      : [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join(' ').trim();
    const box = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (!text || box.width <= 1 || box.height <= 1 || s.visibility === 'hidden') continue;
    const [a, b] = [lum(parse(s.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push(`${text.slice(0, 30)}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def test_text_has_enough_contrast_everywhere(page: Any, alice: str, shots: Shot) -> None:
    paths = ["/", "/search?q=tools", "/search?q=none-such", "/r/alice/tools", "/_/busybox", "/u/alice", "/signin",
             "/no/such/page"]
    for path in paths:
        page.goto(path)
        assert page.evaluate(CONTRAST) == [], path
    sign_in(page, alice)
    for path in ("/account/tokens", "/r/alice/tools/settings", "/orgs/acme/teams", "/r/alice/tools", "/u/alice"):
        page.goto(path)
        assert page.evaluate(CONTRAST) == [], path
    shots(page, "user")
    account_menu(page).click()  # open: the menu's items are checked too
    assert page.evaluate(CONTRAST) == []
    shots(page, "account-menu")
    page.goto("/orgs/acme/teams")
    shots(page, "teams")


def test_everything_works_without_javascript(chromium: Any, server: TokenRegistry, alice: str) -> None:
    page = new_page(chromium, server, java_script_enabled=False)
    try:
        page.goto("/")
        page.get_by_role("search").get_by_label("Search repositories").fill("tools")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="alice/tools").click()
        expect(page.get_by_label("With docker")).to_have_value(f"docker pull {server.host}/alice/tools:1")
        expect(page.locator("button[data-copy]").first).to_be_hidden()  # nothing to copy with
        sign_in(page, alice)
        page.goto("/r/alice/tools")
        page.get_by_role("button", name="Star").click()
        expect(page.get_by_role("button", name="Starred")).to_be_visible()
        page.get_by_role("button", name="Starred").click()
    finally:
        page.context.close()


def test_no_secret_reached_the_log(server: TokenRegistry, alice: str) -> None:
    """Passwords typed into the sign-in form and tokens made on the pages never appear in the server's log."""
    server.remember(alice)
    assert server.leaked_secrets() == []
