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
    # Each worker process's connections to PostgreSQL: at most pool_size + max_overflow, and a request
    # waits up to pool_timeout seconds for one. Every worker of every replica has its own pool, so keep
    # replicas x workers x (pool_size + max_overflow) under the server's max_connections (100 by default,
    # 3 of them reserved): 2 replicas of 4 workers use at most 80. In a config file, a [database] table.
    database_pool_size: int = 5
    database_max_overflow: int = 5
    database_pool_timeout: float = 10.0
    storage_url: str = ""  # file:///path or s3://bucket/prefix; default: data_dir
    # S3 (storage_url s3://...): empty values fall back to the AWS_* variables, then to botocore's own
    # lookup (~/.aws, instance roles). In a config file, these are the keys of an [s3] table.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = dataclasses.field(default="", repr=False)  # never in a repr or a log
    s3_redirect: bool = True  # blob GETs answer 307 to a presigned URL; off: the bytes go through us
    s3_presign_seconds: int = 1200  # how long a presigned blob URL stays valid
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
    # Online garbage collection (services/gc.py): every gc_interval seconds one worker of one replica
    # (a lease in the database) removes what nothing has referenced for gc_grace seconds and applies the
    # retention policies; 0 turns it off. On by default: the grace period keeps pushes in progress safe.
    gc_interval: float = 6 * 3600.0
    gc_grace: float = 3600.0
    gc_delete_untagged: bool = False  # also delete untagged manifests nothing needs (after gc_grace)
    # Maintenance: pulls, searches and sign-ins work; every write answers 405 and upload purges pause.
    read_only: bool = False

    @property
    def storage_root(self) -> Path:
        return Path(urlparse(self.storage_url).path)


ENV_PREFIX = "BERTH_"
# The standard AWS variables, read like BERTH_* ones (which win over them).
_AWS_ENV = {"s3_endpoint_url": "AWS_ENDPOINT_URL", "s3_region": "AWS_REGION",
            "s3_access_key_id": "AWS_ACCESS_KEY_ID", "s3_secret_access_key": "AWS_SECRET_ACCESS_KEY"}
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
    values.update({n: env[var] for n, var in _AWS_ENV.items() if env.get(var)})
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
    # A table groups settings by their prefix: [s3] endpoint_url = ... is s3_endpoint_url.
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    data = {k: v for k, v in data.items() if k not in tables}
    data.update({f"{table}_{key}": value for table, group in tables.items() for key, value in group.items()})
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
        if kind == "bool":
            return _boolean(value)
        if kind == "Path":
            return Path(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name}: {value!r} is not a valid {kind}") from None


def _boolean(value: Any) -> bool:
    """TOML booleans as they are; flags and BERTH_* values spelled true/false, 1/0, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(word)


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
    if s.database_pool_size < 1 or s.database_max_overflow < 0 or s.database_pool_timeout <= 0:
        raise SettingsError("settings database_pool_size (at least 1), database_max_overflow (0 or more) and "
                            "database_pool_timeout (seconds, more than 0) are out of range")
    if s.gc_interval < 0 or s.gc_grace < 0:
        raise SettingsError("settings gc_interval and gc_grace must be 0 or more")
    if s.upload_ttl <= 0 or s.upload_purge_interval < 0:
        raise SettingsError("settings upload_ttl and upload_purge_interval must be positive")
    data_dir = s.data_dir.expanduser().absolute()
    storage_url = s.storage_url or data_dir.as_uri()
    scheme = urlparse(storage_url).scheme
    if scheme not in ("file", "s3"):
        raise SettingsError(f"setting storage_url: scheme {scheme!r} is not supported "
                            "(use file:///path or s3://bucket/prefix)")
    if scheme == "s3" and not urlparse(storage_url).netloc:
        raise SettingsError(f"setting storage_url: {storage_url!r} names no bucket (s3://bucket/prefix)")
    if not 1 <= s.s3_presign_seconds <= 7 * 24 * 3600:  # SigV4's longest
        raise SettingsError("setting s3_presign_seconds: must be between 1 and 604800")
    return dataclasses.replace(
        s,
        data_dir=data_dir,
        database_url=s.database_url or f"sqlite+aiosqlite:///{data_dir / 'registry.db'}",
        storage_url=storage_url,
        workers=s.workers or os.cpu_count() or 1,
        upload_purge_interval=s.upload_purge_interval or min(s.upload_ttl / 4, 3600.0),
        public_url=s.public_url.rstrip("/"),
    )
