"""`berth login [SERVER]`: check credentials against a registry and keep them, as `docker login` does.

The registry's challenge decides how: Bearer sends the credentials to its token server asking for an
offline token (kept as the identity token, and then the password is not), Basic checks them on /v2/.
Without -u and -p, credentials already kept for the registry (berth's, else docker's) are tried first.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass

from ..credentials import Credentials, credentials_for, save_credentials
from ..environment import Environment
from ..errors import AuthError, CliError, ReferenceError_
from ..references import parse_registry
from ..session import default_registry, registry_client

PASSWORD_WARNING = "WARNING! Using --password via the CLI is insecure. Use --password-stdin."


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("login", help="log in to a registry", description=__doc__.split("\n")[0])
    parser.add_argument("server", nargs="?", metavar="SERVER", help="the registry (default: the default registry)")
    parser.add_argument("-u", "--username", help="user name")
    parser.add_argument("-p", "--password", help="password or access token")
    parser.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    registry = registry_named(env, args.server)
    password = _given_password(env, args)
    stored = credentials_for(env, registry) if not args.username and not password else None
    if stored:
        try:
            return _succeeded(env, registry, asyncio.run(login(env, registry, stored)))
        except AuthError:
            if not _interactive(env):
                raise
    credentials = _ask(env, args.username or "", password, stored.username if stored else "")
    return _succeeded(env, registry, asyncio.run(login(env, registry, credentials)))


def registry_named(env: Environment, server: str | None) -> str:
    """SERVER as given, else the default registry."""
    if server:
        return parse_registry(server)
    registry = default_registry(env)
    if not registry:
        raise ReferenceError_("no registry given and no default: name one, set BERTH_REGISTRY, or run "
                              "`berth config set registry HOST`")
    return registry


async def login(env: Environment, registry: str, credentials: Credentials) -> Credentials:
    """Check `credentials` against `registry`; return what to keep: with the identity token it gave, if any."""
    async with registry_client(env, registry, use_credentials=False) as client:
        client.credentials = credentials
        await client.login()
    if client.refresh_token:
        return Credentials(credentials.username, "", client.refresh_token)
    return credentials


def _succeeded(env: Environment, registry: str, credentials: Credentials) -> int:
    save_credentials(env, registry, credentials)
    env.print("Login Succeeded")
    return 0


def _given_password(env: Environment, args: argparse.Namespace) -> str:
    if args.password and args.password_stdin:
        raise CliError("--password and --password-stdin are mutually exclusive")
    if args.password_stdin:
        if not args.username:
            raise CliError("Must provide --username with --password-stdin")
        password = env.stdin.read().removesuffix("\n").removesuffix("\r")
        if not password:
            raise CliError("Password Required: stdin was empty")
        return password
    if args.password:
        env.note(PASSWORD_WARNING)
    return args.password or ""


def _interactive(env: Environment) -> bool:
    return bool(getattr(env.stdin, "isatty", lambda: False)())


def _ask(env: Environment, username: str, password: str, known_username: str) -> Credentials:
    """Prompt for what is missing, on a terminal only (as docker does)."""
    if not password and not _interactive(env):
        raise CliError("Cannot perform an interactive login from a non TTY device")
    if not username.strip():
        if not _interactive(env):
            raise CliError("Username required: give it with --username (stdin is not a terminal)")
        env.stdout.write(f"Username ({known_username}): " if known_username else "Username: ")
        env.stdout.flush()
        username = env.stdin.readline().strip() or known_username
        if not username:
            raise CliError("Non-null Username Required")
    if not password:
        password = getpass.getpass("Password: ", stream=env.stdout)
        if not password:
            raise CliError("Password Required")
    return Credentials(username.strip(), password)
