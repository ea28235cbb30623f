"""Changing a repository through the JSON API: descriptions and visibility, who may, what is checked,
what the audit log keeps, and Markdown that comes back harmless."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from .conftest import ADMIN, ALICE, BOBBY, error_code
from .test_repositories import repositories

CHANGE = {"description": "Changed", "full_description": "# Changed"}


async def acme(api, admin_session) -> None:
    """Organization acme (alice owns it) with acme/app, and teams reader, writer, admins with bobby in none."""
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await repositories(admin_session, "acme/app")
    for team, permission in (("reader", "read"), ("writer", "write"), ("admins", "admin")):
        await api("POST", "/orgs/acme/teams", ALICE, {"name": team})
        await api("PUT", f"/orgs/acme/teams/{team}/permissions", ALICE, {"repository": "acme/app",
                                                                         "permission": permission})


async def token(api, scope: str) -> str:
    return (await api("POST", "/users/alice/tokens", ALICE, {"scope": scope})).body["token"]


async def test_the_owner_changes_the_descriptions(api, admin_session, audit_log):
    await repositories(admin_session, "alice/app")
    answer = await api("PATCH", "/repositories/alice/app", ALICE,
                       {"description": "A small app", "full_description": "# App\n\n| a |\n|---|\n| 1 |"})
    assert answer.status == 200 and answer.body["repository"] == "alice/app"
    assert answer.body["description"] == "A small app" and "<table>" in answer.body["full_description_html"]
    assert (await api("GET", "/repositories/alice/app")).body == {**answer.body, "has_starred": False}
    short_only = await api("PATCH", "/repositories/alice/app", ALICE, {"description": "Shorter"})
    assert short_only.body["full_description"].startswith("# App") and short_only.body["description"] == "Shorter"
    emptied = await api("PATCH", "/repositories/alice/app", ALICE, {"full_description": ""})
    assert emptied.body["full_description"] == emptied.body["full_description_html"] == ""
    changes = [(e["actor"], e["action"], e["target"], e["detail"]) for e in await audit_log()
               if e["action"] == "description_changed"]
    assert changes == [("alice", "description_changed", "alice/app", {"fields": ["full_description"]}),
                       ("alice", "description_changed", "alice/app", {"fields": ["description"]}),
                       ("alice", "description_changed", "alice/app",
                        {"fields": ["description", "full_description"]})]


async def test_visibility_and_descriptions_in_one_change(api, admin_session, audit_log):
    await repositories(admin_session, "alice/app")
    answer = await api("PATCH", "/repositories/alice/app", ALICE, {"visibility": "private", **CHANGE})
    assert answer.status == 200 and answer.body["is_private"] is True and answer.body["description"] == "Changed"
    assert (await api("GET", "/repositories/alice/app")).status == 404
    actions = {e["action"] for e in await audit_log() if e["target"] == "alice/app"}
    assert {"visibility_changed", "description_changed"} <= actions


# Who may PATCH acme/app (alice owns acme; bobby is in the team named, if any) and alice/app.
MATRIX = [
    ("the organization's owner", "alice", None, 200),
    ("a member of a team with admin on it", "bobby", "admins", 200),
    ("a member of a team with write on it", "bobby", "writer", 403),
    ("a read-only member", "bobby", "reader", 403),
    ("a stranger, when it is public", "bobby", None, 403),
    ("a site administrator", "admin", None, 200),
    ("nobody", None, None, 401),
]


@pytest.mark.parametrize(("who", "user", "team", "status"), MATRIX, ids=[row[0] for row in MATRIX])
async def test_changing_needs_admin_on_the_repository(api, admin_session, who, user, team, status):
    await acme(api, admin_session)
    if team:
        await api("PUT", f"/orgs/acme/teams/{team}/members/bobby", ALICE)
    credentials = {"alice": ALICE, "bobby": BOBBY, "admin": ADMIN, None: None}[user]
    answer = await api("PATCH", "/repositories/acme/app", credentials, CHANGE)
    assert answer.status == status, answer.body
    changed = (await api("GET", "/repositories/acme/app")).body["description"] == "Changed"
    assert changed is (status == 200)


async def test_a_stranger_cannot_tell_a_private_repository_from_a_missing_one(api, admin_session):
    await acme(api, admin_session)
    await api("PATCH", "/repositories/acme/app", ALICE, {"visibility": "private"})
    hidden = await api("PATCH", "/repositories/acme/app", BOBBY, CHANGE)
    missing = await api("PATCH", "/repositories/acme/nope", BOBBY, CHANGE)
    assert hidden.status == missing.status == 404
    assert hidden.body["errors"][0]["message"].replace("app", "X") == \
        missing.body["errors"][0]["message"].replace("nope", "X")
    assert (await api("PATCH", "/repositories/alice/nope", ALICE, CHANGE)).status == 404  # hers to make, not made


@pytest.mark.parametrize(("scope", "status"), [("read", 403), ("read-write", 403), ("read-write-delete", 200)])
async def test_a_token_changes_only_what_its_scope_allows(api, admin_session, scope, status):
    await repositories(admin_session, "alice/app")
    answer = await api("PATCH", "/repositories/alice/app", await token(api, scope), CHANGE)
    assert answer.status == status and (status == 200 or error_code(answer) == "FORBIDDEN")


async def test_the_official_names_are_for_site_administrators(api, admin_session):
    await repositories(admin_session, "busybox")
    assert (await api("PATCH", "/repositories/library/busybox", ALICE, CHANGE)).status == 403
    answer = await api("PATCH", "/repositories/library/busybox", ADMIN, CHANGE)
    assert answer.status == 200 and answer.body["repository"] == "busybox"


BAD_CHANGES = [{}, {"description": None}, {"description": "x" * 101}, {"description": "two\nlines"},
               {"description": "tab\there"}, {"description": 5}, {"full_description": "x" * 25_001},
               {"full_description": "bell\x07"}, {"full_description": "nul\u0000"}, {"visibility": "hidden"},
               {"visibility": None}, {"private": True}, {"description": "ok", "colour": "red"}]


async def test_changes_are_checked_before_anything_changes(api, admin_session, audit_log):
    await repositories(admin_session, "alice/app")
    before = (await api("GET", "/repositories/alice/app")).body
    for body in BAD_CHANGES:
        answer = await api("PATCH", "/repositories/alice/app", ALICE, body)
        assert answer.status == 400 and error_code(answer) == "BAD_REQUEST", body
    lone_surrogate = b'{"description": "\\ud800"}'
    answer = await api("PATCH", "/repositories/alice/app", ALICE, data=lone_surrogate,
                       headers={"Content-Type": "application/json"})
    assert answer.status == 400
    form = await api("PATCH", "/repositories/alice/app", ALICE, data=b'{"description": "x"}',
                     headers={"Content-Type": "text/plain"})
    assert form.status == 415
    assert (await api("GET", "/repositories/alice/app")).body == before
    assert not [e for e in await audit_log() if e["target"] == "alice/app"]
    multilingual = {"description": "Ünïcode ✓ 日本", "full_description": "Tabs\tand\r\nline ends"}
    assert (await api("PATCH", "/repositories/alice/app", ALICE, multilingual)).status == 200


class Elements(HTMLParser):
    """The tags and attributes of an HTML fragment, as a browser would build them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


HOSTILE = """# Hello

<script>alert(1)</script>
<img src=x onerror="alert(2)">
<a href="javascript:alert(3)">raw link</a>

[click](javascript:alert(4)) [again](JaVaScRiPt:alert(5)) [data](data:text/html;base64,PHNjcmlwdD4=)
<javascript:alert(6)> ![pic](javascript:alert(7)) [ok](https://example.com/a?b=1&c=2)

<iframe src="https://evil.example"></iframe><svg onload=alert(8)>

**bold** `<script>code</script>`
"""


async def test_full_descriptions_come_back_harmless(api, admin_session):
    await repositories(admin_session, "alice/app")
    answer = await api("PATCH", "/repositories/alice/app", ALICE, {"full_description": HOSTILE})
    assert answer.status == 200 and answer.body["full_description"] == HOSTILE  # kept as written
    html = (await api("GET", "/repositories/alice/app")).body["full_description_html"]
    parsed = Elements()
    parsed.feed(html)
    assert parsed.tags <= {"h1", "p", "a", "strong", "code", "img", "em"}, parsed.tags
    assert not parsed.tags & {"script", "iframe", "svg"}
    for name, value in parsed.attributes:
        assert not name.startswith("on"), (name, value)
        assert value.strip().lower().split(":")[0] not in ("javascript", "data", "vbscript"), (name, value)
    assert ("href", "https://example.com/a?b=1&c=2") in parsed.attributes  # safe links stay links
    assert "<strong>bold</strong>" in html and "&lt;script&gt;" in html  # shown as text, not run
