"""`docker search` and `podman search` against a token-auth server: what they print, `--limit`, and private
repositories shown only to those who may read them (anonymous searches, then logged in, then logged out).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.accounts import TokenRegistry, basic, docker_login, http
from tests.support.docker_engine import DockerEngine
from tests.support.images import OciImage
from tests.support.podman import Podman
from tests.support.skopeo import copy

# Pushed by alice, in the order a search for "searchbox" ranks them: the names holding it as a word (ties
# go to stars, then pulls, then the name: none has any), then a match in the description only.
PUBLIC = {"alice/my-searchbox": "A word of the name",
          "alice/searchbox": "The last component",
          "alice/searchbox-tools": "The first word of the last component",
          "alice/unrelated": "Mentions searchbox in its description"}
PRIVATE = "alice/searchbox-secret"


@pytest.fixture(scope="module")
def pushed(server: TokenRegistry, alice: str, busybox_layout: OciImage) -> str:
    """The repositories above pushed by skopeo with descriptions set through the API; returns the host."""
    for name in [*PUBLIC, PRIVATE]:
        copy(busybox_layout.ref, f"docker://{server.host}/{name}:1", "--dest-creds", f"alice:{alice}")
        description = PUBLIC.get(name, "Nobody else may see this")
        answer = http("PATCH", f"{server.url}/api/v1/repositories/{name}",
                      {**basic("alice", alice), "Content-Type": "application/json"},
                      json.dumps({"description": description}).encode())
        assert answer.status == 200, answer
    server.admin("repo", "visibility", PRIVATE, "private")
    return server.host


def rows(output: str) -> list[list[str]]:
    """The table's rows (header left out) split into columns on runs of 2+ spaces."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


def test_docker_search_prints_ranked_results(docker_engine: DockerEngine, pushed: str) -> None:
    output = docker_engine.docker("search", f"{pushed}/searchbox").stdout
    assert output.splitlines()[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    # The docker CLI re-sorts what it gets by stars (unstably), so with no stars the order is its own.
    found = {row[0]: row[1:] for row in rows(output)}
    assert found == {name: [description, "0"] for name, description in PUBLIC.items()}  # no private one


def test_docker_search_limit(docker_engine: DockerEngine, pushed: str) -> None:
    output = docker_engine.docker("search", "--limit", "2", f"{pushed}/searchbox").stdout
    assert {row[0] for row in rows(output)} == set(list(PUBLIC)[:2])  # the best two (see above for order)


def test_docker_search_shows_private_repositories_to_their_owner(docker_engine: DockerEngine, pushed: str,
                                                                 alice: str) -> None:
    anonymous = docker_engine.docker("search", f"{pushed}/searchbox-secret").stdout
    assert PRIVATE not in anonymous
    docker_login(docker_engine, pushed, "alice", alice)
    try:
        signed_in = docker_engine.docker("search", f"{pushed}/searchbox-secret").stdout
        assert [row[0] for row in rows(signed_in)] == [PRIVATE]
    finally:
        docker_engine.docker("logout", pushed)
    assert PRIVATE not in docker_engine.docker("search", f"{pushed}/searchbox").stdout


def test_podman_search(podman: Podman, pushed: str) -> None:
    anonymous = podman("search", "--tls-verify=false", f"{pushed}/searchbox").stdout
    names = [row[0] for row in rows(anonymous)]
    assert names == [f"{pushed}/{name}" for name in PUBLIC]  # podman prefixes the registry
    assert "Mentions searchbox in its description" in anonymous

    limited = podman("search", "--tls-verify=false", "--limit", "1", f"{pushed}/searchbox").stdout
    assert [row[0] for row in rows(limited)] == [f"{pushed}/alice/my-searchbox"]

    # podman sends no credentials to /v1/search (containers/image searches anonymously), so it never
    # lists private repositories, logged in or not: docker's test above covers the signed-in search.
    assert f"{pushed}/{PRIVATE}" not in [row[0] for row in rows(anonymous)]
