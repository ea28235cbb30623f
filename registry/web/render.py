"""Rendering pages: the template environment's filters, one `render` for every page, and error pages.

Every page gets the same frame (who is signed in, the CSRF token for its forms, whether sign-in exists)
and the same security headers: a Content-Security-Policy that admits only our own scripts and styles, so
that even a rendering mistake in a description could not run script.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from .visitor import Visitor, visitor, with_csrf_cookie

_HEADING = re.compile(r"<(/?)h([1-6])>")
TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    # Descriptions may show images from elsewhere (badges); nothing else may come from another origin.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; script-src 'self'; "
                               "style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class PageError(Exception):
    """A request that cannot be answered with the page it asked for: rendered as an error page."""

    def __init__(self, status: int, title: str, message: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.message, self.headers = status, title, message, headers or {}


def not_found() -> PageError:
    # The same words for a missing repository and one the visitor may not read: nothing leaks.
    return PageError(404, "Page not found", "There is nothing here, or you do not have access to it.")


def environment(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(size=human_size, count=human_count, ago=ago, short_digest=short_digest,
                       repo_url=repo_url, demote_headings=demote_headings)
    return env


async def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """The page `template` in the common frame; sets the anonymous CSRF cookie when a form needs one."""
    who = await visitor(request)
    response = aiohttp_jinja2.render_template(template, request, {**frame(request, who), **context},
                                              status=status)
    # Pages show who is signed in and what they may see: no shared cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    return with_csrf_cookie(request, who, response)


def frame(request: web.Request, who: Visitor) -> dict[str, Any]:
    return {"visitor": who, "signed_in": who.signed_in, "csrf_token": who.csrf_token,
            "sign_in_exists": not who.open_registry,
            # Where signing in returns to: this page, unless it answered a form.
            "path": request.path_qs if request.method in ("GET", "HEAD") else "/"}


async def error_page(request: web.Request, error: PageError) -> web.Response:
    response = await render(request, "error.html", status=error.status, code=error.status, title=error.title,
                            message=error.message)
    response.headers.update(error.headers)
    return response


def add_security_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


# -- filters ----------------------------------------------------------------------------------------------

def human_size(size: int | None) -> str:
    """Bytes in decimal units, as Docker Hub shows compressed sizes."""
    if size is None:
        return "–"
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if round(value, 1) < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}".replace(".0 ", " ")


def human_count(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k".replace(".0k", "k")
    return f"{count / 1_000_000:.1f}M".replace(".0M", "M")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            amount = seconds // length
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return "just now"


def demote_headings(html: str, below: int = 2) -> str:
    """A description's headings as sections of the page's level-`below` heading: its `# Title` becomes an
    h3 under "Overview" (h2), so the page keeps one h1 and an outline without gaps. markdown-it writes
    heading tags bare and escapes raw HTML, so a tag in the text cannot be mistaken for one."""
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + below, 6)}>", html)


def short_digest(digest: str) -> str:
    algorithm, _, hexa = digest.partition(":")
    return f"{algorithm}:{hexa[:12]}"


def repo_url(name: str, suffix: str = "") -> str:
    """The page of a repository: `/_/NAME` for a single-component name, `/r/NAMESPACE/NAME` for the rest
    (`library/NAME` included, so that each of `NAME` and `library/NAME` has an address of its own)."""
    return ("/r/" if "/" in name else "/_/") + quote(name) + suffix
