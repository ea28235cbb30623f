"""`alembic upgrade head` on an empty database leaves autogenerate with nothing to change; downgrade works."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _alembic(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"BERTH_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
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
    result = subprocess.run([str(Path(sys.executable).parent / "berth-registry"), "migrate",
                             "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "registry.db").stat().st_size > 0
