"""Hostile input: random sequences of v2 requests never get a 5xx, and no stored blob fails its digest."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.app import create_app
from registry.db.migrate import migrate
from tests.support import databases

from .oci import OCI_MANIFEST, digest_of

SEED_BLOB = b"seed blob"
NAMES = st.sampled_from(["fuzz", "fuzz/a", "FUZZ", "a..b", "x" * 256, "fuzz%2Fb", "_catalog", "a/b/c/d",
                         "..", "fuzz/blobs", "fuzz/manifests"])
DIGESTS = st.one_of(
    st.sampled_from([digest_of(SEED_BLOB), digest_of(b""), digest_of(SEED_BLOB, "sha512"), "sha256:", "sha256",
                     "sha256:" + "A" * 64, "md5:" + "0" * 32, "sha256:../../../etc/passwd", "sha384:" + "a" * 96]),
    st.text(min_size=0, max_size=80).map(lambda s: "sha256:" + s),
)
TAGS = st.one_of(st.sampled_from(["latest", "v1", ".bad", "a" * 129, "-x"]), st.text(max_size=20))
BODIES = st.one_of(
    st.binary(max_size=2048),
    st.just(SEED_BLOB),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                 max_leaves=20).map(lambda doc: json.dumps(doc).encode()),
    st.fixed_dictionaries({"schemaVersion": st.sampled_from([2, 1, "2"]), "mediaType": st.just(OCI_MANIFEST),
                           "config": st.fixed_dictionaries({"mediaType": st.text(max_size=20), "digest": DIGESTS,
                                                            "size": st.integers(-5, 10**12)}),
                           "layers": st.lists(st.fixed_dictionaries({"mediaType": st.text(max_size=20),
                                                                     "digest": DIGESTS,
                                                                     "size": st.integers(-1, 99)}), max_size=3)},
                          ).map(lambda doc: json.dumps(doc).encode()),
)
HEADERS = st.dictionaries(
    st.sampled_from(["Content-Range", "Range", "Content-Type", "Accept"]),
    st.one_of(st.sampled_from(["0-8", "bytes=0-0", "bytes=5-1", "bytes=-3", "0-", "9-99", OCI_MANIFEST, "*/*",
                               "bytes=0-1,3-4", "1-0", "18446744073709551616-18446744073709551617"]),
              st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)),
    max_size=3)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], dict[str, str], bytes | None]:
    name = draw(NAMES)
    kind = draw(st.sampled_from(["blob", "upload", "uploads", "manifest", "tags", "referrers", "catalog", "raw"]))
    query: dict[str, str] = {}
    if kind == "blob":
        path = f"/v2/{name}/blobs/{draw(DIGESTS)}"
    elif kind == "uploads":
        path = f"/v2/{name}/blobs/uploads/"
        query = draw(st.dictionaries(st.sampled_from(["digest", "mount", "from"]), DIGESTS | NAMES, max_size=2))
    elif kind == "upload":
        path = f"/v2/{name}/blobs/uploads/{draw(st.sampled_from(['UPLOAD', 'nope', '..', '%00']))}"
        query = draw(st.dictionaries(st.just("digest"), DIGESTS, max_size=1))
    elif kind == "manifest":
        path = f"/v2/{name}/manifests/{draw(TAGS | DIGESTS)}"
        query = draw(st.dictionaries(st.just("tag"), TAGS, max_size=1))
    elif kind == "tags":
        path = f"/v2/{name}/tags/list"
        query = draw(st.dictionaries(st.sampled_from(["n", "last"]), st.text(max_size=12), max_size=2))
    elif kind == "referrers":
        path = f"/v2/{name}/referrers/{draw(DIGESTS)}"
        query = draw(st.dictionaries(st.just("artifactType"), st.text(max_size=12), max_size=1))
    elif kind == "catalog":
        path = "/v2/_catalog"
        query = draw(st.dictionaries(st.sampled_from(["n", "last"]), st.text(max_size=12), max_size=2))
    else:
        path = "/v2/" + draw(st.text(alphabet="abc/_.-:%", max_size=40))
    method = draw(st.sampled_from(["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]))
    body = draw(BODIES) if method in ("PUT", "PATCH", "POST") else None
    return method, path, query, draw(HEADERS), body


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated data directory, copied for each example (migrating every time would be slow)."""
    data = tmp_path_factory.mktemp("fuzz-template") / "data"
    data.mkdir()
    migrate(databases.database_url(data))
    return data


async def _run(data: Path, sequence: list) -> None:  # type: ignore[type-arg]
    settings = databases.registry_settings(data, workers=1, auth="none")
    async with TestClient(TestServer(create_app(settings))) as client:
        # A real upload in progress, so that upload URLs sometimes name one that exists.
        started = await client.post("/v2/fuzz/blobs/uploads/")
        upload_id = started.headers["Location"].rsplit("/", 1)[1]
        for method, path, query, headers, body in sequence:
            path = path.replace("UPLOAD", upload_id)
            response = await client.request(method, path, params=query, headers=headers, data=body,
                                            allow_redirects=False)
            text = await response.text()
            assert response.status < 500, f"{method} {path} {query} {headers} -> {response.status} {text}"
            if response.url.path.startswith("/v2"):  # the client may normalise "/v2/../x" away
                assert response.headers.get("Docker-Distribution-API-Version") == "registry/2.0"


def _assert_blobs_match_their_digests(data: Path) -> None:
    for path in (data / "blobs").rglob("*"):
        if path.is_file():
            algorithm = path.parent.parent.name
            assert hashlib.new(algorithm, path.read_bytes()).hexdigest() == path.name, path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(sequence=st.lists(requests(), min_size=1, max_size=12))
def test_random_requests_get_no_server_error_and_store_only_verified_blobs(template, tmp_path, sequence):
    data = tmp_path / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(template, data)
    databases.reset(data)  # on PostgreSQL, a fresh copy of the migrated database for each example
    asyncio.run(_run(data, sequence))
    _assert_blobs_match_their_digests(data)
