"""Query strings and pages of the JSON API, as Docker Hub's: `?page=2&page_size=25` in, and
`{"count", "next", "previous", "results"}` out, where next and previous are the URLs of the pages around.

Query strings are as strict as bodies (body.py): an unknown or repeated parameter answers 400 naming it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ... import errors, keys

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
MAX_PAGE = 10**8  # past any real listing; keeps the offset small enough for every database
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits: str.isdigit() also admits "²", which int() refuses


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int


def query(request: web.Request, *names: str) -> dict[str, str]:
    """The query parameters, each at most once and all of them among `names`."""
    unknown = sorted(set(request.query) - set(names))
    if unknown:
        raise errors.ApiError(f"unknown parameter(s): {', '.join(repr(n[:40]) for n in unknown[:5])}",
                              detail={"allowed": sorted(names)})
    repeated = sorted(name for name in request.query if len(request.query.getall(name)) > 1)
    if repeated:
        raise errors.ApiError(f"parameter {repeated[0]!r} is given more than once")
    return dict(request.query)


def page_of(params: dict[str, str]) -> Page:
    return Page(_number(params, "page", 1, MAX_PAGE), _number(params, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE))


def _number(params: dict[str, str], name: str, default: int, maximum: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not _NUMBER.fullmatch(value) or not 1 <= int(value) <= maximum:
        raise errors.ApiError(f"{name}={value[:20]!r}: use a number from 1 to {maximum}")
    return int(value)


def page_json(request: web.Request, page: Page, count: int, results: Sequence[Any]) -> dict[str, Any]:
    """One page of `count` results, linking to the pages before and after it."""
    more = page.number * page.size < count
    return {"count": count, "next": _link(request, page.number + 1) if more else None,
            "previous": _link(request, page.number - 1) if page.number > 1 else None, "results": list(results)}


def _link(request: web.Request, number: int) -> str:
    # The origin clients reach us at: public_url when set (behind a proxy), else the request's own.
    origin = request.config_dict[keys.settings].public_url or f"{request.scheme}://{request.host}"
    return origin + str(request.rel_url.update_query(page=number))
