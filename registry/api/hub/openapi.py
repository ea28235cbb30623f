"""The OpenAPI 3.1 document of the JSON API, served at `GET /api/v1/openapi.json`, and the helpers that
describe an endpoint in a few lines.

The convention: each module of the JSON API lists its routes (`routes()`) and describes them in
`OPENAPI_PATHS`, a dict of OpenAPI path items keyed by the path under /api/v1 in OpenAPI's syntax
(`/repositories/{namespace}/{name}/tags`), each operation built with `operation()`; schemas that several
of its operations share may go in `OPENAPI_SCHEMAS` (referred to as `ref("Name")`). api.py names the
modules; `document()` merges them, refusing an operation or schema described twice, and
tests/api_v1/test_openapi.py checks that the routes and the document name the same operations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from aiohttp import web

from .body import JSON, MAX_BODY

Schema = dict[str, Any]
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
COUNT: Schema = {"type": "integer", "minimum": 0}
MOMENT: Schema = {"type": "string", "format": "date-time"}
# Who may call: a login is required, optional (anonymous callers see public things), or irrelevant.
LOGIN, OPTIONAL_LOGIN, NO_LOGIN = "login", "optional", "none"
Security = list[dict[str, list[str]]]  # OpenAPI security requirements: any one of them
_SECURITY: dict[str, Security] = {LOGIN: [{"basic": []}, {"bearer": []}],
                                  OPTIONAL_LOGIN: [{}, {"basic": []}, {"bearer": []}], NO_LOGIN: []}
ERRORS = {
    400: "The request is not valid: a parameter, a field or the body; the message says which",
    401: "No credentials, or wrong ones (Basic challenge)",
    403: "Not allowed: a site administrator's or owner's business, a robot account, a token whose scope is too "
         "narrow, or a registry that runs without accounts (--auth none)",
    404: "No such thing, or one the caller may not see (the two answer alike)",
    405: "The method is not supported here",
    409: "Conflicts with what exists",
    413: f"The request body is larger than {MAX_BODY // 1024} KiB",
    415: "The request body is not application/json",
    429: "Too many failed logins for this user or address: try again after Retry-After seconds",
}
TAGS = [{"name": "repositories", "description": "Repositories as Docker Hub's API shows them, tags and stars"},
        {"name": "accounts", "description": "Users and their personal access tokens"},
        {"name": "organizations", "description": "Organizations, teams and robot accounts"},
        {"name": "audit", "description": "The audit log"},
        {"name": "webhooks", "description": "Calls on every push (registry/api/hub/webhooks.py)"},
        {"name": "meta", "description": "This document"}]
_ERROR: Schema = {
    "type": "object", "required": ["errors"], "additionalProperties": False,
    "properties": {"errors": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["code", "message"], "additionalProperties": False,
        "properties": {"code": STRING, "message": STRING, "detail": {}}}}}}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *, optional: Iterable[str] = ()) -> Schema:
    """An object with exactly these properties, all of them required but the `optional` ones."""
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [name for name in properties if name not in set(optional)]}


def body(properties: dict[str, Schema], *, optional: Iterable[str] = ()) -> Schema:
    """A request body (body.py's rules): the declared fields only; a null counts as leaving one out."""
    optional = set(optional)
    return obj({name: nullable(schema) if name in optional else schema for name, schema in properties.items()},
               optional=optional)


def page(results: Schema) -> Schema:
    """pagination.py's page: how many in all, the URLs of the pages around (null at the ends), this page."""
    link = nullable({"type": "string", "format": "uri"})
    return obj({"count": COUNT, "next": link, "previous": link, "results": {"type": "array", "items": results}})


def parameter(name: str, where: str, schema: Schema, description: str = "") -> dict[str, Any]:
    described = {"description": description} if description else {}
    return {"name": name, "in": where, "required": where == "path", "schema": schema, **described}


def path_parameters(*names: str, **schemas: Schema) -> list[dict[str, Any]]:
    """Path parameters: `names` are strings of one path segment; `schemas` say more about some."""
    return [parameter(name, "path", {"type": "string", "minLength": 1}) for name in names] + \
        [parameter(name, "path", schema) for name, schema in schemas.items()]


def answer(schema: Schema | None = None, description: str = "OK", headers: dict[str, Any] | None = None) -> Schema:
    """A response: JSON of `schema`, or nothing (204) when None."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


def operation(operation_id: str, summary: str, tag: str, responses: dict[int, Schema], *, errors: Iterable[int] = (),
              login: str = LOGIN, request: Schema | None = None, parameters: Iterable[dict[str, Any]] = (),
              description: str = "") -> dict[str, Any]:
    """One operation. The errors every operation of its kind can answer are added: 401, 403 and 429 where
    credentials are checked; 400, 413 and 415 where a JSON body is read; 400 where a query is."""
    parameters = list(parameters)
    codes = set(errors)
    if login != NO_LOGIN:
        codes |= {401, 403, 429}
    if request is not None:
        codes |= {400, 413, 415}
    if any(p["in"] == "query" for p in parameters):
        codes.add(400)
    described: dict[str, Any] = {
        "operationId": operation_id, "summary": summary, "tags": [tag], "security": _SECURITY[login],
        "parameters": parameters,
        "responses": {str(code): r for code, r in sorted(responses.items())} |
                     {str(code): {"$ref": f"#/components/responses/E{code}"} for code in sorted(codes)}}
    if description:
        described["description"] = description
    if request is not None:
        described["requestBody"] = {"required": True, "content": {JSON: {"schema": request}}}
    return described


def document(modules: Iterable[ModuleType]) -> dict[str, Any]:
    """The whole document, from each module's OPENAPI_PATHS and OPENAPI_SCHEMAS."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Schema] = {"Error": _ERROR}
    for module in modules:
        for path, item in module.OPENAPI_PATHS.items():
            for method, described in item.items():
                if method in paths.setdefault(path, {}):
                    raise ValueError(f"{method.upper()} {path} is described twice ({module.__name__})")
                paths[path][method] = described
        for name, schema in getattr(module, "OPENAPI_SCHEMAS", {}).items():
            if name in schemas:
                raise ValueError(f"schema {name} is described twice ({module.__name__})")
            schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "berth JSON API", "version": "1",
                 "description": "Accounts, organizations, repositories, tags and stars of a berth registry, "
                                "as Docker Hub's API shows them. Errors have one shape: "
                                '`{"errors": [{"code", "message", "detail"}]}`.'},
        "servers": [{"url": "/api/v1"}],
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": {f"E{code}": answer(ref("Error"), text) for code, text in ERRORS.items()},
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic",
                          "description": "A password or a personal access token (checked by the registry's "
                                         "login limits)"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A personal access token (`bpat_...`)"}}},
    }


OPENAPI_PATHS = {"/openapi.json": {"get": operation(
    "getOpenApi", "This document", "meta", {200: answer({"type": "object"}, "The OpenAPI 3.1 document")},
    login=NO_LOGIN)}}


def routes(described: dict[str, Any]) -> list[web.RouteDef]:
    """The route serving `described` (made once, when the app is)."""
    text = json.dumps(described, indent=1)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type=JSON)
    return [web.get("/openapi.json", serve)]
