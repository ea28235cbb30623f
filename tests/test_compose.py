"""docker-compose.yml as `docker-compose config` reads it: the scale-out topology, secrets demanded from the
environment, both replicas on one database and one bucket, nginx over both with the shared proxy settings.

The images are not pulled or built here (no registry outside loopback); the topology itself runs natively
in tests/scaleout with the same nginx settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.registry_process import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "S3_ACCESS_KEY": "s3-key", "S3_SECRET_KEY": "s3-secret"}
COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (make test installs it)")


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("BERTH_")}
    return subprocess.run([str(COMPOSE), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "config"], env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    done = _config(SECRETS)
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout))


def test_every_secret_must_be_given() -> None:
    for missing in SECRETS:
        done = _config({k: v for k, v in SECRETS.items() if k != missing})
        assert done.returncode != 0
        assert f"set {missing} in .env" in done.stderr


def test_the_services_and_their_volumes(stack: dict[str, Any]) -> None:
    assert set(stack["services"]) == {"postgres", "seaweedfs", "bucket", "registry-a", "registry-b", "nginx"}
    assert set(stack["volumes"]) == {"postgres", "seaweedfs"}
    assert stack["services"]["seaweedfs"]["image"] == "chrislusf/seaweedfs:4.48"
    assert "-master.telemetry=false" in stack["services"]["seaweedfs"]["command"]


def test_replicas_share_one_database_and_one_bucket(stack: dict[str, Any]) -> None:
    a, b = (stack["services"][name] for name in ("registry-a", "registry-b"))
    assert a["environment"] == b["environment"]
    env = a["environment"]
    assert env["BERTH_DATABASE_URL"] == "postgresql+asyncpg://berth:pg-secret@postgres:5432/berth"
    assert env["BERTH_STORAGE_URL"].startswith("s3://")
    assert env["AWS_ENDPOINT_URL"] == "http://seaweedfs:8333"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("s3-key", "s3-secret")
    assert a["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert a["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
    bucket = stack["services"]["bucket"]
    assert bucket["image"] == a["image"] and bucket["environment"]["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"]
    assert f'create_bucket(Bucket="{env["BERTH_STORAGE_URL"][5:].split("/")[0]}")' in bucket["command"][2]
    assert a["build"]["context"] == str(ROOT) and (ROOT / "Dockerfile").exists()


def test_nginx_balances_both_replicas_with_the_shared_settings(stack: dict[str, Any]) -> None:
    nginx = stack["services"]["nginx"]
    assert set(nginx["depends_on"]) == {"registry-a", "registry-b"}
    mounts = {volume.split(":")[1]: Path(volume.split(":")[0]) for volume in nginx["volumes"]}
    conf = mounts["/etc/nginx/nginx.conf"].read_text()
    assert "server registry-a:5000" in conf and "server registry-b:5000" in conf
    assert "include /etc/nginx/berth-proxy.conf;" in conf
    assert mounts["/etc/nginx/berth-proxy.conf"] == ROOT / "deploy" / "nginx" / "berth-proxy.conf"
    assert "proxy_request_buffering off;" in mounts["/etc/nginx/berth-proxy.conf"].read_text()


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed (make test installs it)")
def test_the_nginx_configuration_is_valid(tmp_path: Path) -> None:
    """`nginx -t` on the compose configuration, with the replicas' names pointed at loopback."""
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    conf = conf.replace("registry-a:5000", "127.0.0.1:5001").replace("registry-b:5000", "127.0.0.1:5002")
    conf = conf.replace("/etc/nginx/berth-proxy.conf", str(ROOT / "deploy" / "nginx" / "berth-proxy.conf"))
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    conf = f"pid {tmp_path / 'nginx.pid'};\n" + conf.replace("/dev/stdout", str(tmp_path / "access.log"))
    (tmp_path / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
