"""The server's command line as operators meet it: JSON logs, a busy port, bad settings, --help."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.registry_process import RegistryProcess, free_port, serve_command


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_json_logs_have_one_line_per_request_with_the_bytes_sent(tmp_path: Path):
    server = RegistryProcess(tmp_path / "data", tmp_path / "log", workers=1, extra_args=("--log-format", "json"))
    layer = os.urandom(300_000)  # large enough to go out with sendfile
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    blob_path = f"/v2/logs/blobs/{digest}"
    with server:
        urllib.request.urlopen(f"{server.url}/v2/", timeout=5).read()
        push = urllib.request.Request(f"{server.url}/v2/logs/blobs/uploads/?digest={digest}", data=layer,
                                      method="POST")
        assert urllib.request.urlopen(push, timeout=5).status == 201
        assert urllib.request.urlopen(server.url + blob_path, timeout=5).read() == layer
        assert _wait_for(lambda: blob_path in server.log_text())
    entries = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    ping = [e for e in entries if e.get("path") == "/v2/"]
    assert ping and ping[0]["method"] == "GET" and ping[0]["status"] == 200
    assert ping[0]["bytes"] > 0 and ping[0]["duration_ms"] >= 0
    pull = [e for e in entries if e.get("path") == blob_path]
    assert pull and pull[0]["status"] == 200 and pull[0]["bytes"] > len(layer)


def test_a_busy_port_is_a_clear_error(registry: RegistryProcess, tmp_path: Path):
    result = subprocess.run([str(serve_command()), "serve", "--port", str(registry.port), "--data-dir",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{registry.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_one_line_errors(tmp_path: Path):
    result = subprocess.run([str(serve_command()), "serve", "--port", str(free_port()), "--data-dir",
                             str(tmp_path)], env={**os.environ, "BERTH_WORKERS": "many"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "berth-registry: setting workers: 'many' is not a valid int"


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_every_subcommand_has_help_with_data_dir_and_config(command: str):
    result = subprocess.run([str(serve_command()), command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--data-dir" in result.stdout and "--config" in result.stdout

