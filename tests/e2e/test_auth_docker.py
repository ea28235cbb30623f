"""The Docker engine against a server with token authentication: a user's session (login, push, pull,
logout), personal access tokens as passwords, private repositories, and a robot account of an organization.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.accounts import TokenRegistry, command_output, docker_config, docker_login
from tests.support.docker_engine import DockerEngine, load_image
from tests.support.images import OciImage

LOCAL_NAME = "berth-auth/busybox:1"
# What the engine says when it may not pull: the same whether the repository is private or missing.
PULL_DENIED = re.compile(r"pull access denied for (\S+), repository does not exist or may require "
                         r"'docker login'")


@pytest.fixture(scope="module")
def engine(docker_engine: DockerEngine, busybox_layout: OciImage, server: TokenRegistry) -> Iterator[DockerEngine]:
    """The session's engine with busybox loaded; logged out of this server afterwards."""
    load_image(docker_engine, busybox_layout.ref, LOCAL_NAME)
    yield docker_engine
    docker_engine.docker("logout", server.host, check=False)


def push(engine: DockerEngine, server: TokenRegistry, name: str, check: bool = True) -> str:
    """Tag busybox as HOST/NAME:1 and push it; returns the digest docker printed (or its output on failure)."""
    reference = f"{server.host}/{name}:1"
    engine.docker("tag", LOCAL_NAME, reference)
    done = engine.docker("push", reference, check=check)
    found = re.search(r"^1: digest: (sha256:[0-9a-f]{64}) size: \d+$", done.stdout, re.MULTILINE)
    return found.group(1) if found else command_output(done)


def forget(engine: DockerEngine, reference: str) -> None:
    engine.docker("rmi", "--force", reference, check=False)


def login(engine: DockerEngine, server: TokenRegistry, username: str, secret: str) -> None:
    done = docker_login(engine, server.host, username, secret)
    assert "Login Succeeded" in done.stdout, command_output(done)


def test_login_keeps_a_refresh_token_not_the_password(engine: DockerEngine, server: TokenRegistry,
                                                     alice: str) -> None:
    mark = server.log_size()
    login(engine, server, "alice", alice)
    entry = docker_config(engine)["auths"][server.host]  # type: ignore[index]
    assert entry["identitytoken"].startswith("brt_")
    server.remember(entry["identitytoken"])
    assert alice not in str(docker_config(engine))
    token_requests = [line for line in server.access_lines(mark, "GET") if line.startswith("GET /token")]
    assert token_requests and "offline_token=true" in token_requests[0] and " 200 " in token_requests[0]


def test_push_then_pull_by_tag_and_by_digest(engine: DockerEngine, server: TokenRegistry, alice: str) -> None:
    login(engine, server, "alice", alice)
    mark = server.log_size()
    digest = push(engine, server, "alice/app")
    assert digest.startswith("sha256:"), digest
    # The engine trades its refresh token for registry tokens with the OAuth2 POST.
    assert any(line.startswith("POST /token 200") for line in server.access_lines(mark)), server.access_lines(mark)
    reference = f"{server.host}/alice/app"
    forget(engine, f"{reference}:1")
    assert f"Digest: {digest}" in engine.docker("pull", f"{reference}:1").stdout
    forget(engine, f"{reference}:1")
    assert f"Digest: {digest}" in engine.docker("pull", f"{reference}@{digest}").stdout
    forget(engine, f"{reference}@{digest}")


def test_an_access_token_is_a_password_and_its_scope_holds(engine: DockerEngine, server: TokenRegistry,
                                                           alice: str) -> None:
    login(engine, server, "alice", server.create_token("alice", "read-write"))
    server.remember(docker_config(engine)["auths"][server.host]["identitytoken"])  # type: ignore[index]
    assert push(engine, server, "alice/pat").startswith("sha256:")

    login(engine, server, "alice", server.create_token("alice", "read"))
    server.remember(docker_config(engine)["auths"][server.host]["identitytoken"])  # type: ignore[index]
    forget(engine, f"{server.host}/alice/pat:1")
    engine.docker("pull", f"{server.host}/alice/pat:1")  # reading is in its scope
    refused = push(engine, server, "alice/readonly", check=False)
    assert not refused.startswith("sha256:"), "a read-only access token pushed"
    assert re.search(r"denied|unauthorized", refused), refused


def test_private_and_missing_repositories_look_the_same_after_logout(engine: DockerEngine,
                                                                     server: TokenRegistry, alice: str) -> None:
    login(engine, server, "alice", alice)
    push(engine, server, "alice/secret")
    assert server.admin("repo", "visibility", "alice/secret", "private").stdout == "alice/secret is now private\n"
    forget(engine, f"{server.host}/alice/secret:1")
    engine.docker("pull", f"{server.host}/alice/secret:1")  # its owner still may
    forget(engine, f"{server.host}/alice/secret:1")

    engine.docker("logout", server.host)
    assert server.host not in docker_config(engine).get("auths", {})  # type: ignore[operator]
    private = engine.docker("pull", f"{server.host}/alice/secret:1", check=False)
    missing = engine.docker("pull", f"{server.host}/alice/nothing:1", check=False)
    assert private.returncode != 0 and missing.returncode != 0
    found = PULL_DENIED.search(private.stderr)
    assert found and found.group(1) == f"{server.host}/alice/secret", private.stderr
    assert private.stderr.replace("alice/secret", "alice/nothing") == missing.stderr


def test_anonymous_pull_of_a_public_image(engine: DockerEngine, server: TokenRegistry, alice: str) -> None:
    login(engine, server, "alice", alice)
    digest = push(engine, server, "alice/public")
    engine.docker("logout", server.host)
    forget(engine, f"{server.host}/alice/public:1")
    assert f"Digest: {digest}" in engine.docker("pull", f"{server.host}/alice/public:1").stdout
    refused = push(engine, server, "alice/public", check=False)  # but not push
    assert re.search(r"denied|unauthorized|authentication required", refused), refused


def test_a_robot_pushes_only_where_it_was_granted(engine: DockerEngine, server: TokenRegistry,
                                                  alice: str) -> None:
    server.admin("org", "create", "acme", "--owner", "alice")
    username, secret = server.create_robot("acme", "ci")
    assert username == "acme+ci" and secret.startswith("brobot_")
    granted = server.admin("robot", "grant", "acme", "ci", "acme/app", "write").stdout
    assert granted == "robot acme+ci has write on acme/app\n"
    server.admin("robot", "grant", "acme", "ci", "acme/docs", "read")

    login(engine, server, username, secret)
    assert "identitytoken" not in docker_config(engine)["auths"][server.host]  # type: ignore[index]
    assert push(engine, server, "acme/app").startswith("sha256:")
    refused = push(engine, server, "acme/docs", check=False)
    assert re.search(r"denied|unauthorized", refused), refused
    engine.docker("logout", server.host)


def test_no_secret_reaches_the_server_log(server: TokenRegistry) -> None:
    assert len(server.secrets) >= 5
    assert server.leaked_secrets() == []
