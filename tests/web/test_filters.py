"""How the pages write sizes, counts, moments, digests and addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from registry.web.render import ago, demote_headings, human_count, human_size, repo_url, short_digest


@pytest.mark.parametrize("size,shown", [(None, "–"), (0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1499, "1.5 kB"),
                                        (1_100_000, "1.1 MB"), (999_999_999, "1 GB"), (2_500_000_000, "2.5 GB")])
def test_sizes_in_decimal_units(size, shown):
    assert human_size(size) == shown


@pytest.mark.parametrize("count,shown", [(0, "0"), (999, "999"), (1000, "1k"), (1234, "1.2k"), (1_500_000, "1.5M")])
def test_counts_are_short(count, shown):
    assert human_count(count) == shown


def test_moments_are_relative():
    now = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
    assert ago(None) == "never"
    assert ago(now - timedelta(seconds=30), now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago(now - timedelta(hours=5), now) == "5 hours ago"
    assert ago(now - timedelta(days=40), now) == "40 days ago"


def test_digests_addresses_and_headings():
    assert short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert repo_url("alice/app") == "/r/alice/app" and repo_url("alice/app", "/settings") == "/r/alice/app/settings"
    assert repo_url("busybox") == "/_/busybox" and repo_url("library/busybox") == "/r/library/busybox"
    assert demote_headings("<h1>A</h1><h2>B</h2><h5>C</h5>&lt;h1&gt;") == "<h3>A</h3><h4>B</h4><h6>C</h6>&lt;h1&gt;"
