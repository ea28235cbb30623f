"""`berth-registry gc`, `quota` and `retention` as an operator runs them, beside nothing or a running
collection."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from registry.db import Database
from registry.db.migrate import migrate
from registry.services.gc_lease import Lease
from registry.settings import load_settings


def berth_registry(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "berth-registry"), *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)


def test_gc_prints_its_report_and_refuses_while_another_run_holds_the_lease(tmp_path: Path):
    ran = berth_registry(tmp_path, "gc", "--json", "--grace", "30m", "--delete-untagged")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) | {"seconds": 0} == {
        "dry_run": False, "tags_deleted": 0, "manifests_deleted": 0, "links_removed": 0, "blobs_deleted": 0,
        "bytes_freed": 0, "blobs_skipped": 0, "seconds": 0}

    async def hold() -> None:
        db = Database(load_settings({"data_dir": tmp_path}, env={}).database_url)
        assert await Lease(db).acquire()
        await db.close()
    asyncio.run(hold())
    busy = berth_registry(tmp_path, "gc")
    assert busy.returncode == 1 and "another garbage collection is running" in busy.stderr
    dry = berth_registry(tmp_path, "gc", "--dry-run")  # changes nothing: no lease needed
    assert dry.returncode == 0 and "would free 0 blob(s)" in dry.stdout
    assert berth_registry(tmp_path, "gc", "--grace", "soon").returncode == 2


def test_quota_and_retention_commands(tmp_path: Path):
    migrate(load_settings({"data_dir": tmp_path}, env={}).database_url)
    assert berth_registry(tmp_path, "quota", "set", "acme", "2G").stdout.strip() == \
        "namespace acme may store 2147483648 bytes"
    shown = json.loads(berth_registry(tmp_path, "quota", "show", "acme", "--json").stdout)
    assert shown == {"namespace": "acme", "used_bytes": 0, "blobs": 0, "quota_bytes": 2 * 1024**3}
    assert berth_registry(tmp_path, "quota", "remove", "acme").returncode == 0
    missing = berth_registry(tmp_path, "retention", "set", "acme/app", "--keep-last", "3")
    assert missing.returncode == 1 and "no repository 'acme/app'" in missing.stderr
    nothing = berth_registry(tmp_path, "retention", "set", "acme/app")
    assert nothing.returncode == 1 and "keep_last, keep_days or both" in nothing.stderr
