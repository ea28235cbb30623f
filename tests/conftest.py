"""Shared fixtures: an in-process registry (aiohttp test client) on a fresh data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from registry.app import create_app
from registry.db.migrate import migrate
from registry.settings import Settings, load_settings
from tests.support.images import ImageCache, OciImage


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"data_dir": tmp_path / "data", "workers": 1, "auth": "none"}, env={})


@pytest.fixture
async def client(settings: Settings, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    """A test client of a registry with an empty SQLite database and blob directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, settings.database_url)
    return await aiohttp_client(create_app(settings))


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> ImageCache:
    return ImageCache(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def busybox_layout(images: ImageCache) -> OciImage:
    return images.busybox()


@pytest.fixture(scope="session")
def multi_layer_layout(images: ImageCache) -> OciImage:
    return images.multi_layer(extra_layers=2)


@pytest.fixture(scope="session")
def multi_arch_layout(images: ImageCache) -> OciImage:
    return images.multi_arch()
