"""berth-registry: serve the registry and administer it (migrations, users, organizations, teams, tokens)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

# Only what parsing needs: the command implementations (and SQLAlchemy, Alembic, passlib, aiohttp behind
# them, about a second) are imported by the function that runs a command, so --help and a mistyped
# command answer at once. tests/e2e/test_admin_cli_startup.py keeps it so.
from . import __version__, admin_parser
from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("berth")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="where the SQLite database and blobs live (default ./berth-data)")
    common.add_argument("--config", help="a TOML config file (settings as top-level keys)")
    common.add_argument("--log-format", choices=["text", "json"], help="log lines as text (default) or JSON")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    parser = argparse.ArgumentParser(prog="berth-registry", description=__doc__)
    parser.add_argument("--version", action="version", version=f"berth-registry {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the registry",
                                description="Serve the OCI Distribution API (migrations are applied first).")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--auth", choices=["token", "none"],
                       help="token: Docker token authentication (default); none: everyone may pull and push")
    serve.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    # default None, not False: without the flag, BERTH_READ_ONLY or the config file decide.
    serve.add_argument("--read-only", action="store_true", default=None,
                       help="maintenance mode: pulls and searches work, every write answers 405")

    commands.add_parser("migrate", parents=[common], help="apply database migrations",
                        description="Upgrade the database to the newest schema.")
    admin_parser.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k in SETTING_FLAGS}
    try:
        settings = load_settings(flags, config_file=args.config)
    except SettingsError as exc:
        print(f"berth-registry: {exc}", file=sys.stderr)
        return 2
    if args.command in COMMANDS:
        return COMMANDS[args.command](settings)
    return _administer(settings, args)


def _serve(settings: Settings) -> int:
    from .server import serve
    _setup_logging(settings)
    try:
        return serve(settings)
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", settings.host, settings.port, exc.strerror or exc)
        return 1


def _migrate(settings: Settings) -> int:
    from .db.migrate import migrate
    _setup_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    log.info("database is at the newest schema")
    return 0


def _administer(settings: Settings, args: argparse.Namespace) -> int:
    from . import admin
    from .db.migrate import migrate
    _setup_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    return admin.run(settings, args)


def _setup_logging(settings: Settings) -> None:
    """Each command calls this after importing what it needs, never before: what libraries log while they
    load (alembic names its plugins at INFO, passlib its backends at DEBUG) then goes unsaid."""
    from .logs import setup_logging
    setup_logging(settings.log_format, settings.log_level)


COMMANDS = {"serve": _serve, "migrate": _migrate}
SETTING_FLAGS = ("data_dir", "log_format", "log_level", "host", "port", "auth", "workers", "read_only")

if __name__ == "__main__":
    sys.exit(main())
