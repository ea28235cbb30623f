"""Registry credentials in Docker's config.json format (`auths` with base64 `auth` and identity tokens).

berth keeps its own config.json (see environment.py); for a registry it has nothing for, it reads
docker's (~/.docker/config.json, or $DOCKER_CONFIG), so a `docker login` also serves berth.
"""

from __future__ import annotations

import base64
import binascii
from collections import namedtuple

from .environment import Environment, read_config, write_config


class Credentials(namedtuple("Credentials", "username password identity_token", defaults=("", "", ""))):
    # A named tuple, not a frozen dataclass: dataclasses loads inspect, the largest import of `berth run`.
    __slots__ = ()
    username: str
    password: str
    identity_token: str  # a refresh token from the registry's token server

    def __repr__(self) -> str:  # never print secrets, not even in a traceback
        return f"Credentials(username={self.username!r})"


def credentials_for(env: Environment, registry: str) -> Credentials | None:
    for path in (env.config_path, env.docker_config_path):
        entry = read_config(path).get("auths", {}).get(registry)
        if isinstance(entry, dict):
            found = _decode(entry)
            if found:
                return found
    return None


def _decode(entry: dict[str, object]) -> Credentials | None:
    username, password = str(entry.get("username", "")), str(entry.get("password", ""))
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            username, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
    token = str(entry.get("identitytoken", "") or "")
    return Credentials(username, password, token) if username or token else None


def save_credentials(env: Environment, registry: str, credentials: Credentials) -> None:
    """Store like docker: with an identity token, the password is not kept (only the user name)."""
    config = read_config(env.config_path)
    secret = "" if credentials.identity_token else credentials.password
    entry: dict[str, str] = {"auth": base64.b64encode(f"{credentials.username}:{secret}".encode()).decode()}
    if credentials.identity_token:
        entry["identitytoken"] = credentials.identity_token
    config.setdefault("auths", {})[registry] = entry
    write_config(env.config_path, config)


def remove_credentials(env: Environment, registry: str) -> bool:
    config = read_config(env.config_path)
    if registry not in config.get("auths", {}):
        return False
    del config["auths"][registry]
    write_config(env.config_path, config)
    return True
