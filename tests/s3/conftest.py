"""S3-specific tests run against a real S3 server: SeaweedFS on loopback, one per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.seaweedfs import SeaweedFS, running_seaweedfs


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    yield from running_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
