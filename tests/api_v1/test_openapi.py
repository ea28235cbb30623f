"""The OpenAPI document at /api/v1/openapi.json: it names exactly the routes the sub-app serves, it is
valid, and schemathesis, fuzzing every operation it describes against the running registry, finds no
server error and no answer that strays from it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry.api.hub import openapi
from registry.api.hub.api import PREFIX

from ..api.oci import push_image
from ..auth.conftest import AsCaller, basic
from .conftest import ALICE

METHODS = {"get", "put", "post", "delete", "patch"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
EXAMPLES, FEW_EXAMPLES = 15, 5  # per operation and pass: about 1,600 requests in all


def served_operations(app: Any) -> set[tuple[str, str]]:
    """(method, path under /api/v1) of every route of the JSON API sub-app."""
    [subapp] = [r.get_info()["app"] for r in app.router.resources() if r.get_info().get("prefix") == PREFIX]
    # aiohttp adds a HEAD route to every GET one: the document describes the GET.
    return {(route.method, route.resource.canonical.removeprefix(PREFIX)) for route in subapp.router.routes()
            if route.method != "HEAD"}


def described_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item
            if method in METHODS}


async def test_the_document_names_every_route_and_nothing_else(api, registry):
    answer = await api("GET", "/openapi.json")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
    served, described = served_operations(registry.app), described_operations(answer.body)
    assert served - described == set(), "routes the document does not describe"
    assert described - served == set(), "operations the document describes but nobody serves"
    assert ("GET", "/repositories/{namespace}/{name}/tags") in described  # the comparison sees the new ones
    assert len(described) >= 25


async def test_the_document_is_openapi_3_1_with_valid_schemas(api):
    document = (await api("GET", "/openapi.json")).body
    assert document["openapi"].startswith("3.1") and document["servers"] == [{"url": "/api/v1"}]
    assert set(document["components"]["securitySchemes"]) == {"basic", "bearer"}
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are unique"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            named = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert named == {part[1:-1] for part in path.split("/") if part.startswith("{")}, (method, path)
            assert operation["responses"] and operation["security"] is not None, (method, path)
    schemathesis.openapi.from_dict(document)  # loads (schemathesis checks the document's structure)


def test_an_operation_or_schema_described_twice_is_refused():
    first = SimpleNamespace(__name__="first", OPENAPI_PATHS={"/x": {"get": {}}}, OPENAPI_SCHEMAS={"X": {}})
    other_method = SimpleNamespace(__name__="other", OPENAPI_PATHS={"/x": {"post": {}}})
    assert set(openapi.document([first, other_method])["paths"]["/x"]) == {"get", "post"}
    with pytest.raises(ValueError, match="GET /x is described twice"):
        openapi.document([first, SimpleNamespace(__name__="again", OPENAPI_PATHS={"/x": {"get": {}}})])
    with pytest.raises(ValueError, match="schema X is described twice"):
        openapi.document([first, SimpleNamespace(__name__="again", OPENAPI_PATHS={}, OPENAPI_SCHEMAS={"X": {}})])


async def test_the_document_is_served_without_accounts_too(client):
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200 and "/repositories" in (await response.json())["paths"]


# -- schemathesis --------------------------------------------------------------------------------------------

def known_values(path: str) -> dict[str, Any]:
    """Path parameters naming the things seeded below, so that fuzzing gets past 404 into the handlers."""
    values: dict[str, Any] = {"namespace": "alice", "name": "app", "org": "acme", "team": "devs", "user": "bobby",
                              "id": 1}
    if path.startswith("/users/"):
        values["name"] = "alice"
    elif "/robots/" in path:
        values["name"] = "ci"
    return {name: value for name, value in values.items() if "{" + name + "}" in path}


def fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run schemathesis over every operation: valid and invalid data, with path parameters generated (mostly
    404s, so fewer of them) and naming the seeded things. Returns the failures (each pass stops at its first)."""
    schema = schemathesis.openapi.from_dict(document)
    session, failures = requests.Session(), []
    for result in schema.get_all_operations():
        operation = result.ok()
        known = known_values(operation.path)
        passes = [({}, FEW_EXAMPLES if known else EXAMPLES)] + ([(known, EXAMPLES)] if known else [])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters, examples in passes:
                @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
                @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                def check(case: schemathesis.Case) -> None:
                    case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)
                try:
                    check()
                except Unsatisfiable:  # nothing in the operation to make invalid (no parameters, no body)
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (Exception, FailureGroup) as exc:  # a failed check, with the request that made it
                    failures.append(f"{operation.label} ({mode.value}, {path_parameters or 'generated'}):\n{exc}")
    return failures


async def seed(api, registry) -> None:
    """alice's public repository with a tag, a private one, an official one; her organization, a team, a robot."""
    alice = AsCaller(registry, basic(*ALICE))
    await push_image(alice, "alice/app", "v1")
    await push_image(alice, "alice/secret", "v1")
    assert (await api("PATCH", "/repositories/alice/secret", ALICE, {"visibility": "private"})).status == 200
    assert (await api("POST", "/orgs", ALICE, {"name": "acme"})).status == 201
    assert (await api("POST", "/orgs/acme/teams", ALICE, {"name": "devs"})).status == 201
    assert (await api("POST", "/orgs/acme/robots", ALICE, {"name": "ci"})).status == 201


async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(api, registry):
    await seed(api, registry)
    document = (await api("GET", "/openapi.json")).body
    base_url = str(registry.make_url(PREFIX))
    failures = await asyncio.to_thread(fuzz, document, base_url, basic(*ALICE))
    assert not failures, "\n\n".join(failures)


async def test_the_fuzzing_says_when_an_answer_strays_from_the_document(api, registry):
    """The harness can fail: with `has_starred` left out of the document, fuzzing one repository says so."""
    await seed(api, registry)
    document = (await api("GET", "/openapi.json")).body
    repository = document["components"]["schemas"]["Repository"]
    del repository["properties"]["has_starred"]
    repository["required"].remove("has_starred")
    document["paths"] = {"/repositories/{namespace}/{name}": {
        "get": document["paths"]["/repositories/{namespace}/{name}"]["get"]}}
    failures = await asyncio.to_thread(fuzz, document, str(registry.make_url(PREFIX)), basic(*ALICE))
    assert len(failures) == 1 and "has_starred" in failures[0], failures
