"""Parsing and validating what a v2 request carries: names, digests, ranges, paging, bodies."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ... import errors
from ...oci.digest import Digest, InvalidDigest
from ...oci.reference import is_valid_name

MAX_PAGE = 10_000
_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?")


def repository_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_valid_name(name):
        raise errors.NameInvalid(detail={"name": name[:300]})
    return name


def upload_id_param(request: web.Request) -> str:
    """Upload ids are UUIDs we made; anything else (a path trick, a NUL) names no upload."""
    value = request.match_info["upload_id"]
    if not _UPLOAD_ID.fullmatch(value):
        raise errors.BlobUploadUnknown(detail={"uuid": value[:64]})
    return value


def digest_param(value: str | None, what: str = "digest") -> Digest:
    if not value:
        raise errors.DigestInvalid(f"{what} is required")
    try:
        return Digest.parse(value)
    except InvalidDigest as exc:
        raise errors.DigestInvalid(str(exc)) from None


def content_range(request: web.Request) -> tuple[int | None, int | None]:
    """(start, length) from a PATCH's Content-Range "start-end" (inclusive), or (None, None)."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None, None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if not match or int(match[2]) < int(match[1]):
        raise errors.RangeNotSatisfiable(f"invalid Content-Range {header[:100]!r}")
    start, length = int(match[1]), int(match[2]) - int(match[1]) + 1
    if request.content_length is not None and request.content_length != length:
        raise errors.RangeNotSatisfiable("Content-Range and Content-Length disagree")
    return start, length


def page(request: web.Request) -> tuple[int | None, str | None]:
    """The `n` and `last` query parameters of a paginated list (distribution-spec "Listing Tags"). `last` is
    cut at a NUL, which PostgreSQL cannot compare: no name or tag holds one, and those after "a" are exactly
    those after "a<NUL>...", so the page is the same."""
    n, last = request.query.get("n"), request.query.get("last")
    last = last.partition("\0")[0] if last is not None else None
    if n is not None:
        if not n.isdigit() or len(n) > 9:
            raise errors.PaginationInvalid(f"n must be a non-negative integer, not {n[:20]!r}")
        return min(int(n), MAX_PAGE), last
    return None, last


# Locations are built here rather than with url_for, which percent-encodes the ':' of digests; clients
# compare Location paths literally. Every part has been validated, so nothing needs quoting.
def blob_url(name: str, digest: object) -> str:
    return f"/v2/{name}/blobs/{digest}"


def upload_url(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def manifest_url(name: str, reference: object) -> str:
    return f"/v2/{name}/manifests/{reference}"


def next_link(request: web.Request, n: int, last: str) -> str:
    return f'<{request.path}?{urlencode({"n": n, "last": last})}>; rel="next"'


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a body cut short is the client's error, not ours."""
    try:
        async for chunk in request.content.iter_any():
            yield chunk
    except (HttpProcessingError, ConnectionError) as exc:
        raise errors.BlobUploadInvalid(f"request body ended early: {exc}") from None


async def read_limited(request: web.Request, limit: int, too_large: type[errors.RegistryError]) -> bytes:
    """The whole (small) body, refusing more than `limit` bytes without reading them all."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large()
    body = bytearray()
    async for chunk in body_chunks(request):
        body += chunk
        if len(body) > limit:
            raise too_large()
    return bytes(body)
