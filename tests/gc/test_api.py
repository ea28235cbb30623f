"""The JSON API of retention policies (admin on the repository) and of quotas and usage (site
administrators set quotas; owners read their namespace's usage)."""

from __future__ import annotations

from ..api.oci import push_image
from ..api_v1.conftest import ADMIN, ALICE, BOBBY, api  # noqa: F401
from ..auth.conftest import AsCaller, admin_session, basic, registry, token_settings  # noqa: F401

RETENTION = "/repositories/alice/app/retention"


async def test_a_repository_admin_sets_reads_and_removes_a_retention_policy(api, registry):  # noqa: F811
    await push_image(AsCaller(registry, basic(*ALICE)), "alice/app", "v1")
    assert (await api("GET", RETENTION, ALICE)).body == {"repository": "alice/app", "policy": None,
                                                         "would_delete": []}
    answer = await api("PUT", RETENTION, ALICE, {"tag_pattern": "v*", "keep_last": 0})
    assert answer.status == 200
    assert answer.body == {"repository": "alice/app", "would_delete": ["v1"],
                           "policy": {"tag_pattern": "v*", "keep_last": 0, "keep_days": None}}
    assert (await api("GET", RETENTION, ALICE)).body == answer.body

    assert (await api("GET", RETENTION, BOBBY)).status == 403  # a public repository: he may read, not administer
    assert (await api("PUT", RETENTION, ALICE, {"tag_pattern": "v*"})).status == 400
    assert (await api("PUT", RETENTION, ALICE, {"keep_days": 1, "keep_every": 2})).status == 400
    assert (await api("PUT", "/repositories/alice/missing/retention", ALICE, {"keep_last": 1})).status == 404
    assert (await api("DELETE", RETENTION, ALICE)).status == 204
    assert (await api("GET", RETENTION, ALICE)).body["policy"] is None
    events = (await api("GET", "/audit", ADMIN)).body
    assert {"retention_changed", "retention_removed"} <= {e["action"] for e in events["events"]}


async def test_site_administrators_set_quotas_and_owners_see_their_usage(api, registry):  # noqa: F811
    await push_image(AsCaller(registry, basic(*ALICE)), "alice/app", "v1")
    usage = await api("GET", "/namespaces/alice/usage", ALICE)
    assert usage.status == 200 and usage.body["quota_bytes"] is None and usage.body["blobs"] == 2
    assert (await api("GET", "/namespaces/alice/usage", BOBBY)).status == 404
    assert (await api("PUT", "/namespaces/alice/quota", ALICE, {"bytes": 10**9})).status == 403

    limited = await api("PUT", "/namespaces/alice/quota", ADMIN, {"bytes": usage.body["used_bytes"]})
    assert limited.status == 200 and limited.body == {**usage.body, "quota_bytes": usage.body["used_bytes"]}
    pushed = await AsCaller(registry, basic(*ALICE)).post("/v2/alice/app/blobs/uploads/?digest=sha256:"
                                                          "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                                                          data=b"hello")
    assert pushed.status == 403 and (await pushed.json())["errors"][0]["code"] == "DENIED"
    assert (await api("PUT", "/namespaces/alice/quota", ADMIN, {"bytes": -1})).status == 400
    assert (await api("DELETE", "/namespaces/alice/quota", ADMIN)).status == 204
    assert (await api("GET", "/namespaces/alice/usage", ALICE)).body["quota_bytes"] is None
