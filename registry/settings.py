"""Settings: one frozen dataclass, validated once. Precedence: CLI flags > BERTH_* env > config file > defaults."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class SettingsError(ValueError):
    """A setting is missing, unknown or out of range: the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path("berth-data")
    database_url: str = ""  # an SQLAlchemy async URL; default: SQLite in data_dir
    storage_url: str = ""  # file:///path; default: data_dir
    auth: str = "token"
    public_url: str = ""  # how clients reach us (token realm); default: from the request or X-Forwarded-*
    token_service: str = "berth"  # the `service` of token requests and the tokens' audience
    token_ttl: int = 3600  # seconds a registry token lives: long pushes must not fail halfway
    # The first admin's password; default: random, printed once in the log. Never in a repr.
    admin_password: str = dataclasses.field(default="", repr=False)
    workers: int = 0  # 0: one per core
    log_format: str = "text"
    log_level: str = "info"
    upload_ttl: float = 24 * 3600.0  # seconds an idle upload session lives
    upload_purge_interval: float = 0.0  # seconds between purges; 0: derived from upload_ttl

    @property
    def storage_root(self) -> Path:
        return Path(urlparse(self.storage_url).path)


ENV_PREFIX = "BERTH_"
_CHOICES = {"auth": ("token", "none"), "log_format": ("text", "json"),
            "log_level": ("debug", "info", "warning", "error")}


def load_settings(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_file: str | Path | None = None) -> Settings:
    """Merge the sources, convert types, fill derived defaults and validate. Raises SettingsError."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG")
    values: dict[str, Any] = {}
    if config_file:
        values.update(_read_config_file(Path(config_file)))
    names = {f.name for f in dataclasses.fields(Settings)}
    values.update({n: env[ENV_PREFIX + n.upper()] for n in names if ENV_PREFIX + n.upper() in env})
    unknown = set(flags) - names
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values.update(flags)
    return _validate(Settings(**{n: _convert(n, v) for n, v in values.items()}))


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(data) - names
    if unknown:
        raise SettingsError(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
    return data


def _convert(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name}: {value!r} is not a valid {kind}") from None


def _validate(s: Settings) -> Settings:
    for name, choices in _CHOICES.items():
        if getattr(s, name) not in choices:
            raise SettingsError(f"setting {name}: {getattr(s, name)!r} is not one of {', '.join(choices)}")
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"setting port: {s.port} is out of range")
    if s.workers < 0:
        raise SettingsError("setting workers: must be 0 (one per core) or more")
    if s.token_ttl < 60:
        raise SettingsError("setting token_ttl: must be at least 60 seconds")
    if s.public_url and urlparse(s.public_url).scheme not in ("http", "https"):
        raise SettingsError(f"setting public_url: {s.public_url!r} is not an http(s) URL")
    if s.upload_ttl <= 0 or s.upload_purge_interval < 0:
        raise SettingsError("settings upload_ttl and upload_purge_interval must be positive")
    data_dir = s.data_dir.expanduser().absolute()
    storage_url = s.storage_url or data_dir.as_uri()
    scheme = urlparse(storage_url).scheme
    if scheme != "file":
        raise SettingsError(f"setting storage_url: scheme {scheme!r} is not supported (use file:///path)")
    return dataclasses.replace(
        s,
        data_dir=data_dir,
        database_url=s.database_url or f"sqlite+aiosqlite:///{data_dir / 'registry.db'}",
        storage_url=storage_url,
        workers=s.workers or os.cpu_count() or 1,
        upload_purge_interval=s.upload_purge_interval or min(s.upload_ttl / 4, 3600.0),
        public_url=s.public_url.rstrip("/"),
    )
