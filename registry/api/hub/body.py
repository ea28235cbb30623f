"""Strict JSON request bodies for the JSON API: declared fields only, of the declared types, at most 64 KiB.

Anything else answers 400 naming the field, so that a client's typo (`"expire_days"`) is an error
rather than a silently ignored option. A JSON null counts as leaving an optional field out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ... import errors

MAX_BODY = 64 * 1024
JSON = "application/json"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
# JSON may escape a lone surrogate ("\ud800") or NUL ("\u0000"): neither can be stored (UTF-8 cannot encode
# the one, PostgreSQL refuses the other), so no string field takes them.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer"}


@dataclass(frozen=True, slots=True)
class Field:
    kind: type = str  # str, bool or int
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int = 256
    pattern: re.Pattern[str] | None = None
    minimum: int = 0
    maximum: int = 2**31 - 1

    def check(self, name: str, value: Any) -> Any:
        if type(value) is not self.kind:  # `type is`: JSON true is not an integer here
            raise errors.ApiError(f"{name!r} must be {_TYPE_NAMES[self.kind]}")
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise errors.ApiError(f"{name!r} must not hold NUL characters or lone surrogates")
            if self.choices and value not in self.choices:
                raise errors.ApiError(f"{name!r} must be one of: {', '.join(self.choices)}")
            if len(value) > self.max_length:
                raise errors.ApiError(f"{name!r} is longer than {self.max_length} characters")
            if self.pattern and not self.pattern.fullmatch(value):
                raise errors.ApiError(f"{name!r} is not valid: {value[:60]!r}")
        if isinstance(value, int) and not self.minimum <= value <= self.maximum:
            raise errors.ApiError(f"{name!r} must be between {self.minimum} and {self.maximum}")
        return value


PASSWORD = Field(max_length=1024)


async def json_body(request: web.Request, **fields: Field) -> dict[str, Any]:
    """The request's JSON object, holding only `fields` (each checked); optional ones absent when not sent."""
    body = _parse(await _read(request), request.content_type)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise errors.ApiError(f"unknown field(s): {', '.join(repr(n[:40]) for n in unknown[:5])}",
                              detail={"allowed": sorted(fields)})
    checked = {}
    for name, field in fields.items():
        if body.get(name) is not None:
            checked[name] = field.check(name, body[name])
        elif field.required:
            raise errors.ApiError(f"missing field {name!r}")
    return checked


async def _read(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.PayloadTooLarge(f"the request body is larger than {MAX_BODY // 1024} KiB")
    data = bytearray()
    while len(data) <= MAX_BODY:  # a chunked body has no length up front: read one byte past the limit
        chunk = await request.content.read(MAX_BODY + 1 - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
    raise errors.PayloadTooLarge(f"the request body is larger than {MAX_BODY // 1024} KiB")


def _parse(data: bytes, content_type: str) -> dict[str, Any]:
    if not data:
        raise errors.ApiError("a JSON object is required as the request body")
    # Requiring the JSON media type keeps other sites' plain HTML forms out: a browser may attach cached
    # Basic credentials to them, but cannot send application/json across origins without asking (CORS).
    if content_type != JSON:
        raise errors.UnsupportedMediaType()
    try:
        body = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # RecursionError: 64 KiB of "[" nests deeper than the parser goes
        raise errors.ApiError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise errors.ApiError("the request body must be a JSON object")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
