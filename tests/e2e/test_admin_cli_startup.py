"""`berth-registry --help` and a mistyped command answer at once: parsing loads argparse and the settings,
never the database, the migrations, the web server or the blob stores behind the commands (together about a
second). Those load when a command runs, looked up by the name its parser sets."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from registry import admin, admin_storage
from registry.__main__ import build_parser
from tests.support.commands import run
from tests.support.registry_process import serve_command

NOT_LOADED_BY_PARSING = ("sqlalchemy", "alembic", "aiohttp", "passlib", "argon2", "boto3", "botocore",
                         "aiobotocore", "jinja2", "jwt", "registry.services", "registry.db", "registry.storage",
                         "registry.admin", "registry.admin_storage", "registry.logs", "registry.server",
                         "registry.app")
TOP_LEVEL = ("serve", "migrate", "user", "org", "team", "robot", "repo", "token", "key", "audit", "gc", "quota",
             "retention")
Parsers = dict[tuple[str, ...], argparse.ArgumentParser]


@pytest.mark.parametrize(("argv", "status"), [
    (["--help"], 0), (["user", "--help"], 0), (["token", "create", "--help"], 0), (["gc", "--help"], 0),
    (["bogus"], 2), (["user"], 2), (["token", "create", "bob", "--scope", "nope"], 2), (["gc", "--grace", "soon"], 2),
], ids=lambda value: "-".join(value) if isinstance(value, list) else None)
def test_parsing_loads_none_of_what_the_commands_need(argv: list[str], status: int) -> None:
    script = ("import contextlib, io, sys\n"
              "from registry.__main__ import main\n"
              "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
              "    try:\n"
              f"        main({argv!r})\n"
              "    except SystemExit as exc:\n"
              "        print(exc.code, ' '.join(sorted(sys.modules)), file=sys.__stdout__)\n")
    code, *loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                   text=True).stdout.split()
    assert int(code) == status
    assert "registry.admin_parser" in loaded
    too_soon = [m for m in loaded if any(m == heavy or m.startswith(heavy + ".") for heavy in NOT_LOADED_BY_PARSING)]
    assert too_soon == []


def test_help_lists_every_command() -> None:
    done = run([str(serve_command()), "--help"], timeout=30)
    assert done.stderr == ""
    listed = re.findall(r"^ {4}(\S+)", done.stdout, re.MULTILINE)
    assert listed == list(TOP_LEVEL), done.stdout


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Parsers:
    """The parser of every command that runs something (`user create`, `gc`), by its words."""
    subcommands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if subcommands is None:
        return {path: parser}
    found: Parsers = {}
    for name, sub in subcommands.choices.items():
        found.update(_leaves(sub, (*path, name)))
    return found


def test_every_command_names_an_implementation_that_exists() -> None:
    leaves = _leaves(build_parser())
    actions = {path: p.get_default("action") for path, p in leaves.items() if p.get_default("action")}
    runs = {path: p.get_default("run") for path, p in leaves.items() if p.get_default("run")}
    assert sorted(actions.values()) == sorted(admin.ACTIONS)
    assert sorted(runs.values()) == sorted(admin_storage.COMMANDS)
    assert set(leaves) - set(actions) - set(runs) == {("serve",), ("migrate",)}  # run by __main__ itself
    assert not set(actions) & set(runs)
