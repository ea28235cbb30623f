"""Every page is built to be usable by everyone: a language, a title, landmarks, one h1 and no skipped
heading levels, a skip link, unique ids, and a name for every control (a label, its text or aria-label)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from .conftest import ALICE

PAGES = ("/", "/search", "/search?q=app", "/r/alice/app", "/_/busybox", "/u/alice", "/orgs/acme", "/signin",
         "/no/such/page")
SIGNED_IN_PAGES = ("/", "/r/alice/app", "/account/tokens", "/r/alice/app/settings", "/orgs/acme/teams")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Outline(HTMLParser):
    """What the checks need from a page: its elements with attributes, label targets and text of buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.labelled: set[str] = set()
        self.headings: list[int] = []
        self.buttons: list[tuple[dict[str, str], str]] = []
        self.title = ""
        self._open: list[str] = []
        self._button: dict[str, str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.elements.append((tag, found))
        if tag == "label" and "for" in found:
            self.labelled.add(found["for"])
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append(int(tag[1]))
        if tag == "button":
            self._button, self._text = found, ""
        if tag not in VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append((self._button, self._text.strip()))
            self._button = None
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._text += data
        if self._open and self._open[-1] == "title":
            self.title += data

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]


def check(text: str, path: str) -> None:
    page = Outline()
    page.feed(text)
    (html,) = page.all("html")
    assert html.get("lang") == "en", path
    assert page.title.strip().endswith("· berth"), path
    assert len(page.all("main")) == 1 and page.all("main")[0].get("id") == "content", path
    assert page.all("header") and page.all("footer"), path
    assert all(nav.get("aria-label") for nav in page.all("nav")), path
    assert page.all("a")[0].get("href") == "#content", path  # the skip link comes first
    assert page.headings.count(1) == 1 and page.headings[0] == 1, (path, page.headings)
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, (path, page.headings)
    ids = [attrs["id"] for _, attrs in page.elements if "id" in attrs]
    assert len(ids) == len(set(ids)), path
    for tag, attrs in page.elements:
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            assert attrs.get("id") in page.labelled or attrs.get("aria-label"), (path, tag, attrs)
    for attrs, label in page.buttons:
        assert label or attrs.get("aria-label"), (path, attrs)
    for form in page.all("form"):
        assert form.get("method") in ("get", "post"), path


@pytest.mark.usefixtures("world")
async def test_pages_are_accessible_to_anyone(browsers):
    browser = await browsers()
    for path in PAGES:
        page = await browser.open(path)
        assert page.status in (200, 404), path
        check(page.text, path)


@pytest.mark.usefixtures("world")
async def test_pages_are_accessible_when_signed_in(browsers):
    browser = await browsers()
    await browser.sign_in(ALICE)
    await browser.submit("/account/tokens", {"label": "x", "scope": "read", "expires": "30"})
    for path in SIGNED_IN_PAGES:
        page = await browser.open(path)
        assert page.status == 200, path
        check(page.text, path)


def test_the_checks_catch_an_unlabelled_control():
    good = ('<html lang="en"><head><title>x · berth</title></head><body><a href="#content">skip</a><header>'
            '<nav aria-label="Main"></nav></header><main id="content"><h1>x</h1>{}</main><footer></footer>'
            '</body></html>')
    check(good.format('<label for="q">Q</label><input id="q">'), "good")
    with pytest.raises(AssertionError):
        check(good.format('<input id="q">'), "unlabelled")
    with pytest.raises(AssertionError):
        check(good.format("<h3>skipped a level</h3>"), "skipped")
