"""berth-registry's admin commands as an operator runs them: exact outputs and exit codes, one-line errors,
--help everywhere, and (against a running token-auth server) access tokens, the audit log and the
administrator created on first start."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.accounts import TokenRegistry, basic, berth_admin, http, jwt_claims, new_password, registry_token
from tests.support.commands import run
from tests.support.registry_process import serve_command

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GENERATED = re.compile(r"created the administrator 'admin' with password (\S+) \(shown once")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory no server uses, with one user, bobby."""
    path = tmp_path_factory.mktemp("admin-cli") / "data"
    berth_admin(path, "user", "create", "bobby", "--password-stdin", stdin="bobby-password\n")
    return path


def outcome(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    done = berth_admin(data_dir, *args, stdin=stdin, check=False)
    return done.returncode, done.stdout, done.stderr


def test_user_create_list_passwd_delete(data_dir: Path) -> None:
    assert outcome(data_dir, "user", "create", "alice", "--password-stdin", stdin="alice-password\n") == \
        (0, "created user alice\n", "")
    assert outcome(data_dir, "user", "create", "carol", "--admin", "--email", "carol@example.com",
                   "--password-stdin", stdin="carol-password\n") == (0, "created user carol\n", "")
    assert outcome(data_dir, "user", "list") == (0, "NAME    EMAIL               ADMIN\n"
                                                    "alice\n"
                                                    "bobby\n"
                                                    "carol   carol@example.com   yes\n", "")
    assert outcome(data_dir, "user", "passwd", "alice", "--password-stdin", stdin="another-password\n") == \
        (0, "changed the password of alice\n", "")
    assert outcome(data_dir, "user", "delete", "alice") == (0, "deleted user alice\n", "")
    assert outcome(data_dir, "user", "delete", "carol") == (0, "deleted user carol\n", "")
    assert outcome(data_dir, "user", "list") == (0, "NAME    EMAIL   ADMIN\nbobby\n", "")


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("user", "create", "bobby"), "some-password", "the name 'bobby' is taken"),
    (("user", "create", "Al"), "some-password", "invalid name 'Al': use 4 to 30 lowercase letters and digits"),
    (("user", "create", "library"), "some-password", "the name 'library' is reserved"),
    (("user", "create", "dave"), "short", "the password must have at least 8 characters"),
    (("user", "create", "erin"), "", "no password on standard input"),
    (("user", "passwd", "bobby"), "", "no password on standard input"),
    (("user", "passwd", "nobody"), "some-password", "no user 'nobody'"),
    (("user", "delete", "nobody"), None, "no user 'nobody'"),
    (("token", "create", "nobody", "--scope", "read"), None, "no user 'nobody'"),
    (("org", "create", "acme", "--owner", "nobody"), None, "no user 'nobody'"),
    (("robot", "create", "nope", "ci"), None, "no organization 'nope'"),
    (("repo", "visibility", "bobby/missing", "private"), None, "no repository 'bobby/missing'"),
    (("audit", "--since", "yesterday"), None, "--since 'yesterday': use an ISO date-time or an age like 2h or 7d"),
], ids=lambda value: "-".join(value) if isinstance(value, tuple) else None)
def test_errors_are_one_line_and_exit_1(data_dir: Path, args: tuple[str, ...], stdin: str | None,
                                        message: str) -> None:
    if stdin is not None:
        args = (*args, "--password-stdin")
        stdin += "\n" if stdin else ""
    assert outcome(data_dir, *args, stdin=stdin) == (1, "", f"berth-registry: {message}\n")


COMMANDS = [(), ("serve",), ("migrate",), ("user",), ("user", "create"), ("user", "passwd"), ("user", "delete"),
            ("user", "list"), ("org",), ("org", "create"), ("team",), ("team", "create"), ("team", "add"),
            ("team", "grant"), ("robot",), ("robot", "create"), ("robot", "grant"), ("repo",),
            ("repo", "visibility"), ("token",), ("token", "create"), ("key",), ("key", "rotate"), ("audit",)]


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """`berth-registry COMMAND --help` of every command, run side by side (parsing loads no database code:
    test_admin_cli_startup.py)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = pool.map(lambda c: run([str(serve_command()), *c, "--help"], timeout=60, check=False), COMMANDS)
        return dict(zip(COMMANDS, done, strict=True))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c) or "top")
def test_help_of_every_command(helps: dict[tuple[str, ...], subprocess.CompletedProcess[str]],
                               command: tuple[str, ...]) -> None:
    done = helps[command]
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: {' '.join(('berth-registry', *command))}"), done.stdout


# -- with a running server ----------------------------------------------------------------------------

def test_the_admin_from_the_environment_logs_in(server: TokenRegistry) -> None:
    assert server.admin_password and server.admin_password not in server.log_text()
    assert "created the administrator 'admin' with the password in BERTH_ADMIN_PASSWORD" in server.log_text()
    assert http("GET", f"{server.url}/v2/", basic("admin", server.admin_password)).status == 200
    assert server.admin("user", "list").stdout.splitlines()[1:] == ["admin           yes"]


def test_passwd_while_the_server_runs(server: TokenRegistry) -> None:
    old = server.create_user("paul")
    new = server.remember(new_password())
    done = server.admin("user", "passwd", "paul", "--password-stdin", stdin=new + "\n")
    assert done.stdout == "changed the password of paul\n"
    assert http("GET", f"{server.url}/v2/", basic("paul", new)).status == 200
    assert http("GET", f"{server.url}/v2/", basic("paul", old)).status == 401  # never used, so never cached


def test_token_create_prints_a_token_usable_with_basic(server: TokenRegistry) -> None:
    server.create_user("tina")
    token = server.create_token("tina", "read")
    assert re.fullmatch(r"bpat_[A-Za-z0-9_-]{43}", token), token
    assert http("GET", f"{server.url}/v2/", basic("tina", token)).status == 200
    assert http("GET", f"{server.url}/v2/", basic("tina", token[:-2] + "xx")).status == 401
    # A read token gets no push, even in its owner's namespace.
    granted = registry_token(server, "repository:tina/app:pull,push", credentials=("tina", token))
    claims = jwt_claims(granted)
    assert claims["sub"] == "tina" and claims["access"] == [{"type": "repository", "name": "tina/app",
                                                             "actions": ["pull"]}]
    labelled = server.create_token("tina", "read-write")
    assert labelled != token and http("GET", f"{server.url}/v2/", basic("tina", labelled)).status == 200


def _push_tiny_image(server: TokenRegistry, name: str, headers: dict[str, str]) -> str:
    """An OCI image with one small layer, pushed monolithically (POST, PUT ?digest=); returns its digest."""
    digests = []
    for blob in (b"tiny layer " + name.encode(), b"{}"):
        started = http("POST", f"{server.url}/v2/{name}/blobs/uploads/", headers)
        assert started.status == 202, started
        location = started.headers["Location"]
        url = (location if location.startswith("http") else server.url + location)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        sep = "&" if "?" in url else "?"
        done = http("PUT", f"{url}{sep}digest={digest}", {**headers, "Content-Type": "application/octet-stream"},
                    blob)
        assert done.status == 201, done
        digests.append((digest, len(blob)))
    (layer, layer_size), (config, config_size) = digests
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config, "size": config_size},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": layer, "size": layer_size}]}).encode()
    put = http("PUT", f"{server.url}/v2/{name}/manifests/1", {**headers, "Content-Type": OCI_MANIFEST}, manifest)
    assert put.status == 201, put
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_audit_json_shows_who_did_what_from_where(server: TokenRegistry) -> None:
    password = server.create_user("audra")
    assert http("GET", f"{server.url}/v2/", basic("audra", "wrong-password")).status == 401
    registry_token(server, "repository:audra/app:pull,push", credentials=("audra", password))
    digest = _push_tiny_image(server, "audra/app", basic("audra", password))
    assert server.admin("repo", "visibility", "audra/app", "private").stdout == "audra/app is now private\n"

    events = [json.loads(line) for line in server.admin("audit", "--json", "--since", "1h").stdout.splitlines()]
    mine = [(e["actor"], e["action"], e["target"], e["address"]) for e in reversed(events)
            if "audra" in (e["actor"], e["target"].split("/")[0].split("@")[0])]
    assert ("(cli)", "user_created", "audra", "") in mine
    assert ("audra", "login_failed", "", "127.0.0.1") in mine
    assert ("audra", "login", "", "127.0.0.1") in mine
    assert ("audra", "token_issued", "", "127.0.0.1") in mine
    assert ("audra", "push", f"audra/app@{digest}", "127.0.0.1") in mine
    assert ("(cli)", "visibility_changed", "audra/app", "") in mine
    issued = next(e for e in events if e["actor"] == "audra" and e["action"] == "token_issued")
    assert issued["detail"] == {"access": ["repository:audra/app:pull,push"]}
    assert server.admin("audit", "--json", "--since", "2999-01-01T00:00:00").stdout == ""
    text = server.admin("audit").stdout
    assert re.search(r"^\S+  audra\s+push\s+audra/app@sha256:[0-9a-f]{64}\s+127\.0\.0\.1", text, re.MULTILINE), text


def test_no_secret_reaches_the_server_log(server: TokenRegistry) -> None:
    assert len(server.secrets) >= 4
    assert server.leaked_secrets() == []


def test_a_generated_admin_password_is_logged_once_and_works(tmp_path: Path) -> None:
    first = TokenRegistry(tmp_path, admin_password=None)
    with first:
        found = GENERATED.findall(first.log_text())
        assert len(found) == 1, first.log_text()
        password = found[0]
        assert http("GET", f"{first.url}/v2/", basic("admin", password)).status == 200
        assert http("GET", f"{first.url}/v2/", basic("admin", new_password())).status == 401
    first.start()  # a second start finds the administrator and says nothing about it
    try:
        assert first.log_text().count(password) == 1
        assert http("GET", f"{first.url}/v2/", basic("admin", password)).status == 200
    finally:
        first.stop()
