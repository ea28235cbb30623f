"""python-dxf against a real server: the registry as a blob store (push, pull, alias, list, mount, delete)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import pytest
import requests
from dxf import DXF

from tests.support.registry_process import RegistryProcess


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pull(client: DXF, digest: str) -> bytes:
    """The whole blob; python-dxf checks its digest while it streams."""
    return b"".join(cast(Iterable[bytes], client.pull_blob(digest)))


@pytest.fixture
def dxf(registry: RegistryProcess) -> Iterator[DXF]:
    with DXF(registry.host, "e2e/dxf", insecure=True) as client:
        yield client


def test_push_and_pull_blobs_from_a_file_and_from_chunks(dxf: DXF, tmp_path: Path) -> None:
    data = os.urandom(1_500_000)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert dxf.push_blob(str(path)) == sha256(data)
    pulled, size = cast(tuple[Iterable[bytes], int], dxf.pull_blob(sha256(data), size=True))
    assert size == len(data)
    assert b"".join(pulled) == data

    chunks = [os.urandom(100_000) for _ in range(5)]
    joined = b"".join(chunks)
    assert dxf.push_blob(data=iter(chunks), digest=sha256(joined)) == sha256(joined)
    assert pull(dxf, sha256(joined)) == joined
    assert dxf.blob_size(sha256(joined)) == len(joined)


def test_alias_names_a_set_of_blobs(dxf: DXF) -> None:
    blobs = [os.urandom(20_000) for _ in range(3)]
    digests = [dxf.push_blob(data=iter([blob]), digest=sha256(blob)) for blob in blobs]

    manifest = dxf.set_alias("set-1", *digests)
    dxf.set_alias("set-2", digests[0])

    assert dxf.get_alias("set-1") == digests
    assert dxf.get_alias("set-1", sizes=True) == [(digest, 20_000) for digest in digests]
    assert dxf.get_digest("set-1") == digests[0]  # dxf uses the first blob as the "config"
    assert dxf.get_manifest("set-1") == manifest  # the bytes dxf put are the bytes served
    assert {"set-1", "set-2"} <= set(dxf.list_aliases())
    assert list(dxf.list_aliases(batch_size=1, iterate=True)) == sorted(dxf.list_aliases())

    assert dxf.del_alias("set-2") == [digests[0]]
    assert "set-2" not in dxf.list_aliases()
    assert dxf.get_alias("set-1") == digests


def test_mount_then_delete_a_blob(registry: RegistryProcess, dxf: DXF) -> None:
    blob = os.urandom(50_000)
    digest = dxf.push_blob(data=iter([blob]), digest=sha256(blob))
    with DXF(registry.host, "e2e/dxf-other", insecure=True) as other:
        assert other.mount_blob("e2e/dxf", digest) == digest
        assert pull(other, digest) == blob

        dxf.del_blob(digest)
        with pytest.raises(requests.HTTPError) as gone:
            dxf.blob_size(digest)
        assert gone.value.response is not None and gone.value.response.status_code == 404
        # Deleting the link in one repository leaves the other's.
        assert pull(other, digest) == blob
