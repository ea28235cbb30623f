"""`alembic upgrade head` on an empty database leaves autogenerate with nothing to change; downgrade works.

On the run's database: an SQLite file, or an empty PostgreSQL database (tests/support/databases.py)."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support import databases

ROOT = Path(__file__).resolve().parent.parent


def _alembic(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"BERTH_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if databases.on_postgresql():
        env["BERTH_DATABASE_URL"] = databases.empty_database_url(tmp_path)
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_head_then_autogenerate_finds_nothing(tmp_path):
    assert _alembic(tmp_path, "upgrade", "head").returncode == 0
    check = _alembic(tmp_path, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_downgrade_to_base_and_up_again(tmp_path):
    for step in (("upgrade", "head"), ("downgrade", "base"), ("upgrade", "head")):
        result = _alembic(tmp_path, *step)
        assert result.returncode == 0, result.stderr


def test_berth_registry_migrate_creates_the_database(tmp_path):
    url = databases.empty_database_url(tmp_path / "d")
    env = {**os.environ, "BERTH_DATABASE_URL": url} if databases.on_postgresql() else None
    result = subprocess.run([str(Path(sys.executable).parent / "berth-registry"), "migrate",
                             "--data-dir", str(tmp_path / "d")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    if databases.on_postgresql():
        tables = databases.postgres_cluster().psql("SELECT count(*) FROM alembic_version", make_url(url).database)
        assert tables.strip() == "1"
    else:
        assert (tmp_path / "d" / "registry.db").stat().st_size > 0
