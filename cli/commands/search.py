"""`berth search [SERVER/]TERM`: find repositories in a registry, as `docker search` does (GET /v1/search).

The first path component names the registry when it looks like a host (`127.0.0.1:5000/busy`); otherwise
the whole argument is the term and the default registry is searched. Credentials go as docker sends
them: a password as Basic credentials, an identity token as a registry token for the catalog's search
scope; without any, the registry lists what anyone may read. Filters apply to the page the registry
returned, after --limit, as docker's do.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..environment import Environment
from ..errors import CliError, NetworkError, NotFound, ReferenceError_
from ..references import looks_like_host
from ..session import default_registry, registry_client
from ..templates import render_rows

SEARCH_SCOPE = ("registry:catalog:search",)
MAX_LIMIT = 100
DESCRIPTION_WIDTH = 45
DEFAULT_FORMAT = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL",
           "IsAutomated": "AUTOMATED"}


@dataclass(frozen=True, slots=True)
class SearchResult:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False


@dataclass(frozen=True, slots=True)
class Filters:
    """docker's search filters: is-official=BOOL, is-automated=BOOL, stars=N (at least N stars)."""
    official: bool | None = None
    automated: bool | None = None
    stars: int | None = None

    def admit(self, result: SearchResult) -> bool:
        return (self.official in (None, result.is_official) and self.automated in (None, result.is_automated)
                and (self.stars is None or result.star_count >= self.stars))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("search", help="search a registry's repositories",
                                 description=__doc__.split("\n")[0])
    parser.add_argument("term", metavar="[SERVER/]TERM")
    parser.add_argument("--limit", type=int, default=25, help="at most this many results (1 to 100; default 25)")
    parser.add_argument("--no-trunc", action="store_true", help="do not shorten descriptions")
    parser.add_argument("--format", default="table", help="table (default), json, or a Go template")
    parser.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                        help="is-official=true|false, is-automated=true|false, stars=N")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    registry, term = split_term(env, args.term)
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CliError(f"Limit {args.limit} is outside the range of [1, {MAX_LIMIT}]")
    filters = parse_filters(args.filter)
    results = asyncio.run(search(env, registry, term, args.limit))
    rows = [_row(result, truncate=not args.no_trunc) for result in results if filters.admit(result)]
    for line in render_rows(args.format, rows, HEADERS, DEFAULT_FORMAT):
        env.print(line)
    return 0


def split_term(env: Environment, text: str) -> tuple[str, str]:
    """(registry, term) from `[SERVER/]TERM`."""
    head, slash, rest = text.partition("/")
    registry, term = (head, rest) if slash and looks_like_host(head) else (default_registry(env), text)
    if not registry:
        raise ReferenceError_(f"{text!r} names no registry and there is no default: search HOST/TERM, set "
                              "BERTH_REGISTRY, or run `berth config set registry HOST`")
    if not term.strip():
        raise CliError("a search term is required: berth search [SERVER/]TERM")
    return registry, term


def parse_filters(values: list[str]) -> Filters:
    flags: dict[str, bool] = {}
    stars: int | None = None
    for value in values:
        key, equals, wanted = value.partition("=")
        if not equals:
            raise CliError(f"bad format of filter {value!r} (expected name=value)")
        if key in ("is-official", "is-automated"):
            if wanted not in ("true", "false") or flags.get(key, wanted == "true") != (wanted == "true"):
                raise CliError(f"Invalid filter '{value}'")
            flags[key] = wanted == "true"
        elif key == "stars":
            if not re.fullmatch(r"-?[0-9]{1,18}", wanted):
                raise CliError(f"Invalid filter '{value}'")
            stars = max(stars or 0, int(wanted))
        else:
            raise CliError(f"Invalid filter '{key}'")
    return Filters(flags.get("is-official"), flags.get("is-automated"), stars)


async def search(env: Environment, registry: str, term: str, limit: int) -> list[SearchResult]:
    """One page of `limit` results from the registry's /v1/search, as it ranked them."""
    async with registry_client(env, registry) as client:
        await client.authorize(SEARCH_SCOPE)
        try:
            async with client.request("GET", "/v1/search", SEARCH_SCOPE, params={"q": term, "n": str(limit)},
                                      headers={"X-Docker-Token": "true"}) as response:
                body = await response.json(content_type=None)
        except NotFound:
            raise NotFound(f"{registry} offers no search (GET /v1/search answered 404)") from None
        except aiohttp.ClientError as exc:
            raise NetworkError(f"{registry}: {exc}") from None
        except ValueError:
            raise CliError(f"{registry} answered the search with something other than JSON") from None
    return parse_results(registry, body)


def parse_results(registry: str, body: Any) -> list[SearchResult]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) and isinstance(r.get("name"), str)
                                                for r in results):
        raise CliError(f"{registry} answered the search with something other than search results")
    return [SearchResult(r["name"], str(r.get("description") or ""), _number(r.get("star_count")),
                         r.get("is_official") is True, r.get("is_automated") is True) for r in results]


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _row(result: SearchResult, truncate: bool) -> dict[str, str]:
    """What docker's search formatter shows (keys in the order its JSON has them)."""
    description = result.description.replace("\n", " ").replace("\r", " ")
    return {"Description": ellipsis(description, DESCRIPTION_WIDTH) if truncate else description,
            "IsAutomated": "[OK]" if result.is_automated else "",
            "IsOfficial": "[OK]" if result.is_official else "",
            "Name": result.name, "StarCount": str(result.star_count)}


def ellipsis(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns, ending in "…" when cut (docker's formatter.Ellipsis)."""
    if sum(map(_columns, text)) <= width:
        return text
    kept, used = [], 0
    for char in text:
        if used + _columns(char) > width - 1:
            break
        kept.append(char)
        used += _columns(char)
    return "".join(kept) + "…"


def _columns(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
