"""A user's session with `berth login` and `berth logout` against real registries, and `berth config`.

berth-registry with token auth (a Bearer challenge: the login is traded for an identity token), the
reference registry with htpasswd (a Basic challenge: the password is kept), wrong passwords, an
unreachable registry, prompts on a terminal, credentials docker keeps, and the default registry.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import stat
from pathlib import Path

import pytest

from cli.environment import Environment
from cli.errors import ExitCode
from cli.session import default_registry, insecure_registries
from tests.support.registry_process import free_port

from .conftest import BERTH, Berth

WARNING = "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"


def stored(berth: Berth) -> dict:
    path = berth.home / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def entry_of(berth: Berth, host: str) -> dict:
    return stored(berth).get("auths", {}).get(host, {})


def decoded_auth(entry: dict) -> str:
    return base64.b64decode(entry["auth"]).decode()


def login(berth: Berth, host: str, user: str, secret: str, *extra: str):
    return berth.run("login", host, "-u", user, "--password-stdin", *extra, stdin=secret + "\n")


@pytest.fixture(scope="module")
def loginuser(token_registry) -> str:
    """A user of the session's token registry; returns the password."""
    return token_registry.create_user("loginuser")


# -- berth-registry with token authentication ------------------------------------------------------

def test_login_keeps_an_identity_token_and_not_the_password(berth, token_registry, loginuser):
    result = login(berth, token_registry.host, "loginuser", loginuser)
    assert (result.code, result.out, result.err) == (0, "Login Succeeded\n", "")
    entry = entry_of(berth, token_registry.host)
    assert set(entry) == {"auth", "identitytoken"} and entry["identitytoken"].startswith("brt_")
    assert decoded_auth(entry) == "loginuser:"
    token_registry.remember(entry["identitytoken"])
    assert loginuser not in (berth.home / "config.json").read_text()
    assert stat.S_IMODE((berth.home / "config.json").stat().st_mode) == 0o600


def test_a_second_login_without_credentials_reuses_the_identity_token(berth, token_registry, loginuser):
    login(berth, token_registry.host, "loginuser", loginuser)
    mark = token_registry.log_size()
    result = berth.run("login", token_registry.host)  # stdin is no terminal: no prompt possible
    assert (result.code, result.out) == (0, "Login Succeeded\n"), result.err
    assert any(line.startswith("POST /token 200") for line in token_registry.access_lines(mark))


def test_a_forged_identity_token_is_refused(berth, token_registry):
    berth.home.mkdir(parents=True)
    forged = {"auth": base64.b64encode(b"loginuser:").decode(), "identitytoken": "brt_forged"}
    (berth.home / "config.json").write_text(json.dumps({"auths": {token_registry.host: forged}}))
    result = berth.run("login", token_registry.host)
    assert result.code == ExitCode.AUTH and "unauthorized" in result.err, result.err
    assert "Login Succeeded" not in result.out


def test_a_personal_access_token_is_a_password_and_p_warns(berth, token_registry):
    token_registry.create_user("patuser")
    secret = token_registry.create_token("patuser", "read")
    result = berth.run("login", token_registry.host, "-u", "patuser", "-p", secret)
    assert (result.code, result.out, result.err) == (0, "Login Succeeded\n", WARNING)
    entry = entry_of(berth, token_registry.host)
    assert entry["identitytoken"].startswith("brt_") and secret not in json.dumps(entry)
    token_registry.remember(entry["identitytoken"])


def test_a_wrong_password_is_refused_and_nothing_is_stored(berth, token_registry):
    token_registry.create_user("wrongpw")
    result = login(berth, token_registry.host, "wrongpw", "not-the-password")
    assert result.code == ExitCode.AUTH
    assert result.err == f"Error: {token_registry.host}: unauthorized: incorrect username or password\n"
    assert result.out == "" and stored(berth) == {}


def test_the_default_registry_is_logged_in_to_without_naming_it(berth, token_registry, loginuser):
    berth.ok("config", "set", "registry", token_registry.host)
    result = berth.run("login", "-u", "loginuser", "--password-stdin", stdin=loginuser)  # no newline: fine too
    assert result.code == 0, result.err
    assert "identitytoken" in entry_of(berth, token_registry.host)
    token_registry.remember(entry_of(berth, token_registry.host)["identitytoken"])


def test_without_a_server_or_a_default_it_says_what_to_do(berth):
    result = berth.run("login", "-u", "someone", "--password-stdin", stdin="pw\n")
    assert result.code == ExitCode.REFERENCE and "berth config set registry" in result.err


# -- the reference registry with htpasswd (Basic) -------------------------------------------------

def test_basic_login_keeps_the_password_as_docker_does(berth, basic_registry):
    result = login(berth, basic_registry.host, "bob", "bob-password")
    assert (result.code, result.out) == (0, "Login Succeeded\n"), result.err
    entry = entry_of(berth, basic_registry.host)
    assert set(entry) == {"auth"} and decoded_auth(entry) == "bob:bob-password"
    assert stat.S_IMODE((berth.home / "config.json").stat().st_mode) == 0o600


def test_basic_login_with_a_wrong_password_is_refused(berth, basic_registry):
    result = login(berth, basic_registry.host, "bob", "wrong")
    assert result.code == ExitCode.AUTH
    assert result.err == f"Error: {basic_registry.host}: unauthorized: incorrect username or password\n"
    assert stored(berth) == {}


# -- what cannot work -----------------------------------------------------------------------------

def test_an_unreachable_registry_is_a_network_error(berth):
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = login(berth, host, "someone", "pw")
    assert result.code == ExitCode.NETWORK and result.err.startswith(f"Error: {host}: "), result.err
    assert stored(berth) == {}


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("-u", "a", "-p", "x", "--password-stdin"), "pw\n", "--password and --password-stdin are mutually exclusive"),
    (("--password-stdin",), "pw\n", "Must provide --username with --password-stdin"),
    (("-u", "someone", "--password-stdin"), "", "Password Required: stdin was empty"),
    (("-u", "someone"), "pw\n", "Cannot perform an interactive login from a non TTY device"),
    ((), "pw\n", "Cannot perform an interactive login from a non TTY device"),
])
def test_missing_or_conflicting_credentials_without_a_terminal(berth, token_registry, args, stdin, message):
    result = berth.run("login", token_registry.host, *args, stdin=stdin)
    assert (result.code, result.err.splitlines()[-1]) == (ExitCode.ERROR, f"Error: {message}"), result.err
    assert stored(berth) == {}


# -- prompts on a terminal ------------------------------------------------------------------------

def on_terminal(berth: Berth, args: list[str], answers: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run the berth console script on a pseudo-terminal, answering each prompt as it appears."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout, stderr and controlling terminal are the pty
        os.execve(str(BERTH), [str(BERTH), *args], berth.environ)
    seen, pending = b"", dict(answers)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            assert ready, f"berth waited for input that never came; output so far: {seen!r}"
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child is gone
                break
            if not chunk:
                break
            seen += chunk
            for prompt in list(pending):
                if seen.rstrip().endswith(prompt.encode()):
                    os.write(fd, pending.pop(prompt).encode() + b"\n")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_a_terminal_is_asked_for_user_and_password_without_echo(berth, token_registry, loginuser):
    code, output = on_terminal(berth, ["login", token_registry.host],
                               {"Username:": "loginuser", "Password:": loginuser})
    assert code == 0 and "Login Succeeded" in output, output
    assert "loginuser" in output and loginuser not in output  # the name echoes, the password does not
    assert entry_of(berth, token_registry.host)["identitytoken"].startswith("brt_")
    token_registry.remember(entry_of(berth, token_registry.host)["identitytoken"])


# -- credentials docker keeps ---------------------------------------------------------------------

def with_docker_config(tmp_path: Path, auths: dict[str, dict[str, str]]) -> Berth:
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"auths": auths}))
    return Berth(tmp_path / "berth-with-docker", {"DOCKER_CONFIG": str(docker_config)})


def test_login_reuses_what_docker_keeps_for_the_registry(tmp_path, basic_registry):
    berth = with_docker_config(tmp_path, {basic_registry.host: {
        "auth": base64.b64encode(b"bob:bob-password").decode()}})
    result = berth.run("login", basic_registry.host)
    assert (result.code, result.out) == (0, "Login Succeeded\n"), result.err
    assert decoded_auth(entry_of(berth, basic_registry.host)) == "bob:bob-password"


def test_wrong_credentials_docker_keeps_are_not_taken_for_a_login(tmp_path, basic_registry):
    berth = with_docker_config(tmp_path, {basic_registry.host: {"auth": base64.b64encode(b"bob:stale").decode()}})
    result = berth.run("login", basic_registry.host)
    assert result.code == ExitCode.AUTH and stored(berth) == {}, result.err


# -- logout ---------------------------------------------------------------------------------------

def test_logout_forgets_the_credentials_then_says_there_are_none(berth, basic_registry):
    login(berth, basic_registry.host, "bob", "bob-password")
    result = berth.run("logout", basic_registry.host)
    assert (result.code, result.out, result.err) == (0, f"Removing login credentials for {basic_registry.host}\n", "")
    assert basic_registry.host not in stored(berth).get("auths", {})
    again = berth.run("logout", basic_registry.host)
    assert (again.code, again.out, again.err) == (0, f"Not logged in to {basic_registry.host}\n", "")


def test_logout_keeps_other_registries_and_settings(berth, basic_registry, token_registry, loginuser):
    login(berth, basic_registry.host, "bob", "bob-password")
    login(berth, token_registry.host, "loginuser", loginuser)
    token_registry.remember(entry_of(berth, token_registry.host)["identitytoken"])
    berth.ok("config", "set", "registry", basic_registry.host)
    assert berth.ok("logout").out == f"Removing login credentials for {basic_registry.host}\n"  # the default
    assert list(stored(berth)["auths"]) == [token_registry.host]
    assert stored(berth)["berth"] == {"registry": basic_registry.host}


def test_logout_says_that_docker_still_holds_credentials(tmp_path, basic_registry):
    berth = with_docker_config(tmp_path, {basic_registry.host: {"auth": base64.b64encode(b"bob:x").decode()}})
    result = berth.run("logout", basic_registry.host)
    assert (result.code, result.out) == (0, f"Not logged in to {basic_registry.host}\n")
    assert "docker logout" in result.err


# -- berth config ---------------------------------------------------------------------------------

def test_config_set_get_list_unset(berth):
    berth.ok("config", "set", "registry", "https://registry.example:5000/ignored/path")
    berth.ok("config", "set", "insecure-registries", "a.example:5000, b.example,a.example:5000")
    assert berth.ok("config", "get", "registry").out == "registry.example:5000\n"
    assert berth.ok("config", "get", "insecure-registries").out == "a.example:5000,b.example\n"
    assert berth.ok("config", "list").out == ("registry=registry.example:5000\n"
                                             "insecure-registries=a.example:5000,b.example\n")
    env = Environment(environ=berth.environ)  # what the other commands read
    assert default_registry(env) == "registry.example:5000"
    assert insecure_registries(env) == ["a.example:5000", "b.example"]
    berth.ok("config", "unset", "registry")
    berth.ok("config", "unset", "registry")  # again: nothing to do, not an error
    assert berth.ok("config", "list").out == "insecure-registries=a.example:5000,b.example\n"
    result = berth.run("config", "get", "registry")
    assert (result.code, result.err) == (ExitCode.ERROR, "Error: registry is not set\n")
    assert stat.S_IMODE((berth.home / "config.json").stat().st_mode) == 0o600


def test_config_keeps_the_credentials_beside_it(berth, basic_registry):
    login(berth, basic_registry.host, "bob", "bob-password")
    berth.ok("config", "set", "registry", basic_registry.host)
    berth.ok("config", "unset", "registry")
    assert decoded_auth(entry_of(berth, basic_registry.host)) == "bob:bob-password"


@pytest.mark.parametrize("args", [("set", "colour", "blue"), ("get", "colour"), ("unset", "colour"),
                                  ("set", "registry"), ()])
def test_config_refuses_unknown_keys_as_usage_errors(berth, args):
    with pytest.raises(SystemExit) as exit_:  # argparse's usage error
        berth.run("config", *args)
    assert exit_.value.code == ExitCode.USAGE and stored(berth) == {}


@pytest.mark.parametrize("args", [("set", "registry", "bad host"), ("set", "insecure-registries", " , ")])
def test_config_refuses_bad_values(berth, args):
    result = berth.run("config", *args)
    assert result.code in (ExitCode.ERROR, ExitCode.REFERENCE) and result.err.startswith("Error: "), result
    assert stored(berth) == {}
