"""Content discovery (distribution-spec "Listing Tags", "Listing Referrers") and the catalog."""

from __future__ import annotations

import pytest
from yarl import URL

from .oci import (
    OCI_CONFIG,
    OCI_INDEX,
    Content,
    error_codes,
    image,
    index,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    random_blob,
)

REPO = "discover/repo"
TAGS = ["1.0", "2.0", "A", "a", "b", "latest"]  # byte order: digits, upper case, lower case
SBOM, SIG = "application/vnd.example.sbom.v1", "application/vnd.example.sig.v2"


async def push_tags(client, tags: list[str], repo: str = REPO) -> None:
    config = random_blob()
    await push_blob(client, repo, config)
    content = image(config, [])
    for tag in reversed(tags):  # push out of order: the list must still be sorted
        await push_manifest(client, repo, tag, content)


async def get_json(client, url: str, **params):
    response = await client.get(url, params=params or None)
    assert response.status == 200, await response.text()
    return response, await response.json()


async def test_tags_list_is_complete_and_in_lexical_order(client):
    await push_tags(client, TAGS)
    response, body = await get_json(client, f"/v2/{REPO}/tags/list")
    assert body == {"name": REPO, "tags": TAGS}
    assert "Link" not in response.headers


async def test_tags_list_pages_with_n_and_link(client):
    await push_tags(client, TAGS)
    pages, url, params = [], f"/v2/{REPO}/tags/list", {"n": "4"}
    while True:
        response, body = await get_json(client, url, **params)
        pages.append(body["tags"])
        if "Link" not in response.headers:
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"') and link.startswith("<")
        url, params = link[1:link.index(">")], {}
    assert pages == [TAGS[:4], TAGS[4:]]
    assert response.headers.get("Link") is None


async def test_tags_list_first_link_names_the_next_page(client):
    await push_tags(client, TAGS)
    response, body = await get_json(client, f"/v2/{REPO}/tags/list", n="2")
    assert body["tags"] == ["1.0", "2.0"]
    assert response.headers["Link"] == f'</v2/{REPO}/tags/list?n=2&last=2.0>; rel="next"'


async def test_tags_list_last_without_n_returns_every_later_tag(client):
    await push_tags(client, TAGS)
    _, body = await get_json(client, f"/v2/{REPO}/tags/list", last="A")
    assert body["tags"] == ["a", "b", "latest"]
    _, body = await get_json(client, f"/v2/{REPO}/tags/list", last="0")  # before every tag, not one of them
    assert body["tags"] == TAGS


async def test_tags_list_n_and_last_together(client):
    await push_tags(client, TAGS)
    _, body = await get_json(client, f"/v2/{REPO}/tags/list", n="2", last="2.0")
    assert body["tags"] == ["A", "a"]
    response, body = await get_json(client, f"/v2/{REPO}/tags/list", n="10", last="latest")
    assert body["tags"] == []
    assert "Link" not in response.headers


async def test_tags_list_n_zero_is_empty_without_link(client):
    await push_tags(client, TAGS)
    response, body = await get_json(client, f"/v2/{REPO}/tags/list", n="0")
    assert body == {"name": REPO, "tags": []}
    assert "Link" not in response.headers


async def test_tags_list_n_equal_to_the_count_has_no_link(client):
    await push_tags(client, TAGS)
    response, body = await get_json(client, f"/v2/{REPO}/tags/list", n=str(len(TAGS)))
    assert body["tags"] == TAGS
    assert "Link" not in response.headers


async def test_tags_list_of_unknown_repository_is_404_name_unknown(client):
    response = await client.get("/v2/discover/nothing/tags/list")
    assert response.status == 404
    assert await error_codes(response) == ["NAME_UNKNOWN"]


@pytest.mark.parametrize("n", ["-1", "abc", "1.5"])
async def test_tags_list_with_a_bad_n_is_400(client, n):
    await push_tags(client, ["x"])
    response = await client.get(f"/v2/{REPO}/tags/list", params={"n": n})
    assert response.status == 400
    await error_codes(response)


async def test_catalog_lists_repositories_in_order_and_pages(client):
    names = ["b/two", "a/one", "c"]
    for name in names:
        await push_blob(client, name, random_blob())
    _, body = await get_json(client, "/v2/_catalog")
    assert body == {"repositories": sorted(names)}
    response, body = await get_json(client, "/v2/_catalog", n="2")
    assert body["repositories"] == ["a/one", "b/two"]
    link = response.headers["Link"]
    assert link.endswith('>; rel="next"')
    next_page = URL(link[1:link.index(">")])
    assert (next_page.path, dict(next_page.query)) == ("/v2/_catalog", {"n": "2", "last": "b/two"})
    response, body = await get_json(client, str(next_page))
    assert body["repositories"] == ["c"]
    assert "Link" not in response.headers
    response, body = await get_json(client, "/v2/_catalog", n="0")
    assert body["repositories"] == [] and "Link" not in response.headers
    _, body = await get_json(client, "/v2/_catalog", last="\0")  # a NUL (PostgreSQL's 500 before): all after ""
    assert body == {"repositories": sorted(names)}
    _, body = await get_json(client, "/v2/_catalog", last="b/two\0x")
    assert body == {"repositories": ["c"]}


# -- referrers ------------------------------------------------------------------------------------

async def referrers(client, subject: str, repo: str = REPO, **params) -> tuple[object, list[dict]]:
    response = await client.get(f"/v2/{repo}/referrers/{subject}", params=params or None)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == OCI_INDEX
    body = await response.json()
    assert body["schemaVersion"] == 2 and body["mediaType"] == OCI_INDEX
    return response, body["manifests"]


def by_digest(descriptors: list[dict]) -> list[dict]:
    """The spec sets no order on referrers: compare them as sets."""
    return sorted(descriptors, key=lambda d: d["digest"])


def descriptor(content: Content, artifact_type: str | None, annotations: dict | None = None) -> dict:
    expected = content.descriptor()
    if artifact_type:
        expected["artifactType"] = artifact_type
    if annotations:
        expected["annotations"] = annotations
    return expected


async def push_referrers_of_an_image(client) -> tuple[Content, list[dict]]:
    subject = await push_image(client, REPO, "subject")
    plain = await push_image(client, REPO, subject=subject.descriptor())  # artifactType: config type
    notes = {"org.example.a": "1", "org.example.b": "2"}
    sbom = await push_artifact(client, REPO, SBOM, subject, annotations=notes)
    sig = await push_artifact(client, REPO, SIG, subject)
    return subject, [descriptor(plain, OCI_CONFIG), descriptor(sbom, SBOM, notes), descriptor(sig, SIG)]


async def test_referrers_of_an_image_list_every_referrer_with_its_descriptor(client):
    subject, expected = await push_referrers_of_an_image(client)
    response, found = await referrers(client, subject.digest)
    assert by_digest(found) == by_digest(expected)
    assert "OCI-Filters-Applied" not in response.headers


@pytest.mark.parametrize("artifact_type", [SBOM, SIG, OCI_CONFIG])
async def test_referrers_filtered_by_artifact_type(client, artifact_type):
    subject, expected = await push_referrers_of_an_image(client)
    response, found = await referrers(client, subject.digest, artifactType=artifact_type)
    assert by_digest(found) == by_digest([d for d in expected if d["artifactType"] == artifact_type])
    assert response.headers["OCI-Filters-Applied"] == "artifactType"


async def test_referrers_filter_matching_nothing_is_an_empty_index(client):
    subject, _ = await push_referrers_of_an_image(client)
    response, found = await referrers(client, subject.digest, artifactType="application/vnd.none")
    assert found == []
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    response, found = await referrers(client, subject.digest, artifactType="application/\0")  # PostgreSQL's 500
    assert found == []


async def test_referrers_of_an_index_include_an_artifact_index_and_its_children(client):
    subject = index([await push_image(client, REPO)])
    await push_manifest(client, REPO, "subject-index", subject)
    children = [await push_artifact(client, REPO, SBOM, subject) for _ in range(2)]
    artifact_index = index(children, artifactType=SBOM, subject=subject.descriptor())
    await push_manifest(client, REPO, artifact_index.digest, artifact_index)
    _, found = await referrers(client, subject.digest)
    expected = [descriptor(c, SBOM) for c in children] + [descriptor(artifact_index, SBOM)]
    assert by_digest(found) == by_digest(expected)


async def test_index_referrer_without_artifact_type_has_none(client):
    subject = await push_image(client, REPO, "s")
    referrer = index([], subject=subject.descriptor())
    await push_manifest(client, REPO, referrer.digest, referrer)
    _, found = await referrers(client, subject.digest)
    assert found == [descriptor(referrer, None)]


async def test_referrers_of_a_missing_subject_list_the_artifact(client):
    missing = image(random_blob(), [])  # never pushed
    sbom = await push_artifact(client, REPO, SBOM, missing)
    _, found = await referrers(client, missing.digest)
    assert found == [descriptor(sbom, SBOM)]


async def test_referrers_are_per_repository(client):
    subject, _ = await push_referrers_of_an_image(client)
    _, found = await referrers(client, subject.digest, repo="discover/other")
    assert found == []


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_referrers_of_unknown_digest_or_repository_are_an_empty_index(client, algorithm):
    await push_image(client, REPO, "x")
    unknown = random_blob(algorithm=algorithm).digest
    for repo in (REPO, "discover/never-pushed"):
        _, found = await referrers(client, unknown, repo=repo)
        assert found == []


async def test_referrers_with_a_malformed_digest_is_400(client):
    response = await client.get(f"/v2/{REPO}/referrers/sha256:not-a-digest")
    assert response.status == 400
    assert await error_codes(response) == ["DIGEST_INVALID"]
