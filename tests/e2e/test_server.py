"""The server process as operators meet it: workers, logs, a TLS probe, a busy port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.registry_process import RegistryProcess, free_port, serve_command

# The first bytes of a TLS 1.2 ClientHello, as Go clients send to probe a plain-HTTP registry.
CLIENT_HELLO = bytes.fromhex("16030100a5010000a10303") + os.urandom(32) + bytes.fromhex(
    "000020c02bc02fc02cc030cca9cca8c009c013c00ac014009c009d002f0035c012000a0100005800000014")


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_tls_client_hello_on_the_plain_port_is_refused_at_once(registry: RegistryProcess):
    with socket.create_connection(("127.0.0.1", registry.port), timeout=5) as conn:
        started = time.monotonic()
        conn.sendall(CLIENT_HELLO)
        answer = conn.recv(4096)
        elapsed = time.monotonic() - started
    # An answer (400) or a close, well before the 10 s a Go client would otherwise wait.
    assert elapsed < 1.0
    assert answer == b"" or answer.split(b" ", 2)[1] == b"400"


def test_workers_are_supervised_and_restarted(own_registry: RegistryProcess):
    workers = _children(own_registry.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    assert _wait_for(lambda: len(_children(own_registry.pid)) == 2 and workers[0] not in _children(own_registry.pid))
    assert own_registry.ping()
    assert "exited" in own_registry.log_text()


def test_workers_stop_when_the_supervisor_is_killed(own_registry: RegistryProcess):
    workers = _children(own_registry.pid)
    own_registry.kill(signal.SIGKILL)
    assert _wait_for(lambda: not any(Path(f"/proc/{w}").exists() and _state(w) != "Z" for w in workers))
    assert not own_registry.ping()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def test_sigterm_stops_the_server_cleanly(own_registry: RegistryProcess):
    assert own_registry.stop() == 0


def test_json_logs_have_one_line_per_request(tmp_path: Path):
    server = RegistryProcess(tmp_path / "data", tmp_path / "log", workers=1, extra_args=("--log-format", "json"))
    with server:
        urllib.request.urlopen(f"{server.url}/v2/", timeout=5).read()
        assert _wait_for(lambda: '"path": "/v2/"' in server.log_text())
    entries = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    access = [e for e in entries if e.get("path") == "/v2/"]
    assert access and access[0]["method"] == "GET" and access[0]["status"] == 200
    assert access[0]["bytes"] > 0 and access[0]["duration_ms"] >= 0


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
