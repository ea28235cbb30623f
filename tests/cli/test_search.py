"""Searching a registry with `berth search`, `docker search` and `podman search` (GET /v1/search).

Repositories are pushed with skopeo first. On the open registry everything is listed; on the token
registry a private repository appears only to callers proving they may read it: berth logged in (an
identity token traded for a registry token), berth with credentials only docker keeps (Basic), and
docker logged in. podman never sends credentials to /v1/search (containers/image asks it with `noAuth`),
so its owner sees a private repository only through the catalog (`podman search HOST/`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cli.commands.search import ellipsis
from cli.errors import ExitCode
from tests.support.accounts import command_output, docker_login, podman_login
from tests.support.podman import Podman
from tests.support.registry_process import free_port
from tests.support.skopeo import copy

from .conftest import Berth

# "zebra" is this module's own word: the session's registries are shared with other tests.
OPEN_REPOSITORIES = ["alice/zebra-tools", "zebra", "bob/notzebra", "alice/zebra", "library/zebras"]
RANKED = ["zebra", "library/zebras", "alice/zebra", "alice/zebra-tools", "bob/notzebra"]
PUBLIC, PRIVATE = "zebraowner/zebra-public", "zebraowner/zebra-private"


@pytest.fixture(scope="module")
def open_zebras(open_registry, busybox_layout):
    for name in OPEN_REPOSITORIES:
        copy(busybox_layout.ref, f"docker://{open_registry.host}/{name}:1")
    return open_registry


@pytest.fixture(scope="module")
def owner(token_registry, busybox_layout) -> str:
    """zebraowner's password; it has pushed a public and a private repository."""
    password = token_registry.create_user("zebraowner")
    for name in (PUBLIC, PRIVATE):
        copy(busybox_layout.ref, f"docker://{token_registry.host}/{name}:1", "--dest-creds",
             f"zebraowner:{password}")
    token_registry.admin("repo", "visibility", PRIVATE, "private")
    return password


def names_in_table(output: str) -> list[str]:
    header, *rows = output.splitlines()
    assert header.split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], output
    return [row.split()[0] for row in rows]


# -- berth search ---------------------------------------------------------------------------------

def test_the_table_lists_matches_ranked_as_docker_lays_it_out(berth, open_zebras):
    result = berth.ok("search", f"{open_zebras.host}/zebra")
    width = len("alice/zebra-tools") + 3
    header = "NAME".ljust(width) + "DESCRIPTION".ljust(14) + "STARS".ljust(10) + "OFFICIAL"
    rows = [name.ljust(width) + "".ljust(14) + "0".ljust(10) + ("[OK]" if "/" not in name or
                                                                  name.startswith("library/") else "")
            for name in RANKED]
    assert result.out.splitlines() == [header, *rows]


def test_limit_is_sent_as_n_and_checked_first(berth, open_zebras):
    mark = open_zebras.log_size()
    assert names_in_table(berth.ok("search", "--limit", "2", f"{open_zebras.host}/zebra").out) == RANKED[:2]
    assert any(line.startswith("GET /v1/search?q=zebra&n=2 200") for line in open_zebras.access_lines(mark))
    for limit in ("0", "101"):
        result = berth.run("search", "--limit", limit, f"{open_zebras.host}/zebra")
        assert (result.code, result.err) == (1, f"Error: Limit {limit} is outside the range of [1, 100]\n")


def test_filters(berth, open_zebras):
    host = open_zebras.host
    assert names_in_table(berth.ok("search", "--filter", "is-official=true", f"{host}/zebra").out) \
        == ["zebra", "library/zebras"]
    assert names_in_table(berth.ok("search", "-f", "is-official=false", f"{host}/zebra").out) == RANKED[2:]
    assert names_in_table(berth.ok("search", "--filter", "stars=1", f"{host}/zebra").out) == []
    assert names_in_table(berth.ok("search", "--filter", "stars=0", f"{host}/zebra").out) == RANKED
    for bad in ("colour=red", "is-official=yes", "stars=many", "is-official"):
        result = berth.run("search", "--filter", bad, f"{host}/zebra")
        assert result.code == ExitCode.ERROR and result.err.startswith("Error: "), (bad, result)


def test_json_lines_with_dockers_fields(berth, open_zebras):
    lines = berth.ok("search", "--format", "json", f"{open_zebras.host}/zebra").out.splitlines()
    first = json.loads(lines[0])
    assert first == {"Description": "", "IsAutomated": "", "IsOfficial": "[OK]", "Name": "zebra", "StarCount": "0"}
    assert [json.loads(line)["Name"] for line in lines] == RANKED
    template = berth.ok("search", "--format", "{{.Name}}", f"{open_zebras.host}/zebras").out
    assert template == "library/zebras\n"


def test_the_default_registry_is_searched_when_the_term_names_none(berth, open_zebras):
    berth.ok("config", "set", "registry", open_zebras.host)
    assert names_in_table(berth.ok("search", "zebra-tools").out) == ["alice/zebra-tools"]
    assert names_in_table(berth.ok("search", "alice/zebra-tools").out) == ["alice/zebra-tools"]  # alice: no host


def test_descriptions_are_cut_to_45_columns_unless_no_trunc():
    assert ellipsis("x" * 45, 45) == "x" * 45
    assert ellipsis("x" * 46, 45) == "x" * 44 + "…"
    assert ellipsis("界" * 30, 45) == "界" * 22 + "…"  # wide characters take two columns


def test_no_match_prints_only_the_header(berth, open_zebras):
    assert berth.ok("search", f"{open_zebras.host}/no-such-animal").out.split() == \
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]


def test_what_cannot_be_searched(berth, reference_registry, open_zebras):
    result = berth.run("search", f"{reference_registry.host}/zebra")
    assert result.code == ExitCode.NOT_FOUND and "offers no search" in result.err, result.err
    result = berth.run("search", f"127.0.0.1:{free_port()}/zebra")
    assert result.code == ExitCode.NETWORK, result.err
    result = berth.run("search", f"{open_zebras.host}/")
    assert (result.code, result.err) == (ExitCode.ERROR, "Error: a search term is required: berth search "
                                                         "[SERVER/]TERM\n")
    result = berth.run("search", "zebra")
    assert result.code == ExitCode.REFERENCE and "no default" in result.err


# -- private repositories and credentials ---------------------------------------------------------

def test_anonymous_callers_do_not_see_a_private_repository(berth, token_registry, owner):
    assert names_in_table(berth.ok("search", f"{token_registry.host}/zebra").out) == [PUBLIC]


def test_the_owner_logged_in_sees_it(berth, token_registry, owner):
    berth.ok("login", token_registry.host, "-u", "zebraowner", "--password-stdin", stdin=owner)
    token_registry.remember(json.loads((berth.home / "config.json").read_text())["auths"][token_registry.host]
                            ["identitytoken"])
    mark = token_registry.log_size()
    assert names_in_table(berth.ok("search", f"{token_registry.host}/zebra").out) == [PRIVATE, PUBLIC]
    requests = token_registry.access_lines(mark)
    assert any(line.startswith("POST /token 200") for line in requests), requests  # the identity token
    berth.ok("logout", token_registry.host)
    assert names_in_table(berth.ok("search", f"{token_registry.host}/zebra").out) == [PUBLIC]


def docker_config_with(tmp_path: Path, host: str, user: str, secret: str) -> Berth:
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return Berth(tmp_path / "berth-home", {"DOCKER_CONFIG": str(docker_config)})


def test_credentials_docker_keeps_are_used(tmp_path, token_registry, owner):
    berth = docker_config_with(tmp_path, token_registry.host, "zebraowner", owner)
    mark = token_registry.log_size()
    assert names_in_table(berth.ok("search", f"{token_registry.host}/zebra").out) == [PRIVATE, PUBLIC]
    searches = [line for line in token_registry.access_lines(mark) if line.startswith("GET /v1/search")]
    assert searches and searches[0].startswith("GET /v1/search?q=zebra&n=25 200")


def test_stale_credentials_docker_keeps_are_an_auth_error(tmp_path, token_registry, owner):
    berth = docker_config_with(tmp_path, token_registry.host, "zebraowner", "stale-password")
    result = berth.run("search", f"{token_registry.host}/zebra")
    assert result.code == ExitCode.AUTH, result


# -- the real clients -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return Podman(tmp_path_factory.mktemp("podman"))


def docker_names(output: str) -> list[str]:
    header, *rows = output.splitlines()
    assert header.split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"], output
    return [row.split()[0] for row in rows]


def test_docker_search_shows_the_ranked_table(docker_engine, open_zebras):
    done = docker_engine.docker("search", f"{open_zebras.host}/zebra")
    assert docker_names(done.stdout) == RANKED
    official = [row.split()[0] for row in done.stdout.splitlines()[1:] if "[OK]" in row]
    assert official == ["zebra", "library/zebras"]
    assert docker_names(docker_engine.docker("search", "--limit", "2", f"{open_zebras.host}/zebra").stdout) \
        == RANKED[:2]


def test_docker_search_shows_a_private_repository_to_its_owner_only(docker_engine, token_registry, owner):
    assert docker_names(docker_engine.docker("search", f"{token_registry.host}/zebra").stdout) == [PUBLIC]
    done = docker_login(docker_engine, token_registry.host, "zebraowner", owner)
    assert "Login Succeeded" in done.stdout, command_output(done)
    try:
        mark = token_registry.log_size()
        names = docker_names(docker_engine.docker("search", f"{token_registry.host}/zebra").stdout)
        assert names == [PRIVATE, PUBLIC]
        assert any(line.startswith("POST /token 200") for line in token_registry.access_lines(mark))
    finally:
        docker_engine.docker("logout", token_registry.host, check=False)


def podman_names(output: str, host: str) -> list[str]:
    header, *rows = output.splitlines()
    assert header.split() == ["NAME", "DESCRIPTION"], output
    names = [row.split()[0] for row in rows]
    assert all(name.startswith(host + "/") for name in names), output
    return [name.removeprefix(host + "/") for name in names]


def test_podman_search_shows_the_ranked_list(podman, open_zebras):
    host = open_zebras.host
    assert podman_names(podman("search", "--tls-verify=false", f"{host}/zebra").stdout, host) == RANKED
    limited = podman("search", "--tls-verify=false", "--limit", "3", f"{host}/zebra").stdout
    assert podman_names(limited, host) == RANKED[:3]
    compatible = podman("search", "--tls-verify=false", "--compatible", f"{host}/zebras").stdout
    assert "[OK]" in compatible.splitlines()[1], compatible


def test_podman_sends_no_credentials_to_v1_search_so_its_owner_finds_private_ones_in_the_catalog(
        podman, token_registry, owner, tmp_path):
    host, authfile = token_registry.host, tmp_path / "auth.json"
    assert podman_names(podman("search", "--tls-verify=false", f"{host}/zebra").stdout, host) == [PUBLIC]
    podman_login(podman, authfile, host, "zebraowner", owner)
    mark = token_registry.log_size()
    searched = podman("search", "--tls-verify=false", "--authfile", str(authfile), f"{host}/zebra").stdout
    assert podman_names(searched, host) == [PUBLIC]  # no credentials came: the private one stays hidden
    search_lines = [line for line in token_registry.access_lines(mark) if line.startswith("GET /v1/search")]
    assert search_lines and " 200 " in search_lines[0]
    listed = podman("search", "--tls-verify=false", "--authfile", str(authfile), f"{host}/").stdout
    assert {PUBLIC, PRIVATE} <= set(podman_names(listed, host))
    anonymous = podman("search", "--tls-verify=false", f"{host}/").stdout
    assert PRIVATE not in podman_names(anonymous, host)
