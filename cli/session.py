"""What the commands share: the default registry, insecure registries, and a logged-in client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .environment import Environment, read_config
from .references import ImageRef, parse_ref, plain_http

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

    from .client import RegistryClient

USER_AGENT = "berth/0.1"


def settings(env: Environment) -> dict[str, Any]:
    """berth's own settings in its config.json (beside docker's `auths`)."""
    found = read_config(env.config_path).get("berth", {})
    return found if isinstance(found, dict) else {}


def default_registry(env: Environment) -> str | None:
    return env.environ.get("BERTH_REGISTRY") or settings(env).get("registry") or None


def insecure_registries(env: Environment) -> list[str]:
    found = settings(env).get("insecure-registries", [])
    return [str(r) for r in found] if isinstance(found, list) else []


def image_ref(env: Environment, text: str) -> ImageRef:
    return parse_ref(text, default_registry(env))


@asynccontextmanager
async def registry_client(env: Environment, registry: str, *, use_credentials: bool = True,
                          connect_seconds: float = 30.0) -> AsyncIterator[RegistryClient]:
    """A client of `registry` with the stored credentials, over HTTP or HTTPS as references.py decides."""
    # Imported here: aiohttp takes longer to load than `berth run` takes to start a container.
    import aiohttp

    from .client import RegistryClient
    from .credentials import credentials_for  # and base64: `berth run` of a local image needs neither

    connector = aiohttp.TCPConnector(limit=16)
    client_timeout = aiohttp.ClientTimeout(total=None, connect=connect_seconds, sock_read=connect_seconds * 4)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout,
                                     headers={"User-Agent": USER_AGENT}) as session:
        credentials = credentials_for(env, registry) if use_credentials else None
        yield RegistryClient(session, registry, plain_http(registry, insecure_registries(env)), credentials)
