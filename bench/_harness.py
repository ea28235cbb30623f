"""Machinery for registry_bench: the two registry processes, the test image, skopeo, HTTP setup and wrk.

Everything here drives real processes; nothing imports berth, so the benchmark sees berth exactly as a
client does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BERTH_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "berth-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ADMIN = ("admin", "bench-admin-password")  # the administrator of the --auth token server
IMAGE_TAG = "1"
LAYER_BYTES = 70_000_000  # three layers of this much /dev/urandom: a 210 MB image

REFERENCE_CONFIG = """\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
"""


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One registry process we started, in its own session so a last-resort kill reaches its workers."""

    name: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/v2/", timeout=2) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for a token
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM our pid, then SIGKILL the process group it leads (ours: started with a new session)."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines: int = 30, pattern: str | None = None) -> str:
        """The last lines of the server log, or the last lines matching a regex (errors, 5xx)."""
        text = self.log_path.read_text(errors="replace").splitlines()
        if pattern:
            text = [line for line in text if re.search(pattern, line)]
        return "\n".join(text[-lines:])


def _spawn(name: str, argv: list[str], port: int, workdir: Path, env: dict[str, str] | None = None) -> Server:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **(env or {})})
    return Server(name, port, log_path, proc)


def start_berth(workdir: Path, name: str = "berth", auth: str = "none") -> Server:
    # Like the reference, no authentication by default: the comparison is of the registry itself.
    port = free_port()
    argv = [str(BERTH_BIN), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(workdir / "data"), "--auth", auth]
    return _spawn(name, argv, port, workdir, {"BERTH_ADMIN_PASSWORD": ADMIN[1]})


def bearer_token(base: str, scope: str, credentials: tuple[str, str]) -> dict[str, str]:
    """An Authorization header with a registry token from berth's token server."""
    basic = base64.b64encode(":".join(credentials).encode()).decode()
    status, _, body = _request("GET", f"{base}/token?service=berth&scope={urllib.parse.quote(scope)}",
                               headers={"Authorization": f"Basic {basic}"})
    if status != 200:
        raise BenchError(f"GET /token from {base}: {status} {body[:300]!r}")
    return {"Authorization": "Bearer " + json.loads(body)["token"]}


def start_reference(workdir: Path) -> Server:
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(REFERENCE_CONFIG.format(root=workdir / "data", port=port))
    return _spawn("reference", ["docker-registry", "serve", str(config)], port, workdir)


def _run(argv: list[str], what: str = "", env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        what = what or " ".join(argv)
        raise BenchError(f"{what} failed ({result.returncode}):\n{result.stderr.strip()}")


def build_image(cache: Path) -> Path:
    """An OCI layout with img:1 of three ~70 MB incompressible layers, built once with umoci."""
    layout, done = cache / "image", cache / "image.complete"
    if done.exists() and layout.is_dir() and _is_bench_image(layout):
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    bundle = cache / "bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    ref = f"{layout}:{IMAGE_TAG}"
    _run(["umoci", "init", "--layout", str(layout)])
    _run(["umoci", "new", "--image", ref])
    _run(["umoci", "unpack", "--image", ref, str(bundle)])
    rootfs = bundle / "rootfs"
    for d in ("bin", "etc", "data"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/usr/bin/busybox", rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    for n in range(3):
        with (rootfs / "data" / f"random{n}").open("wb") as f, open("/dev/urandom", "rb") as rnd:
            for _ in range(LAYER_BYTES // (1 << 20)):
                f.write(rnd.read(1 << 20))
            f.write(rnd.read(LAYER_BYTES % (1 << 20)))
        # Without --refresh-bundle the next repack diffs against the stale bundle and folds layers.
        _run(["umoci", "repack", "--refresh-bundle", "--image", ref, str(bundle)])
    _run(["umoci", "config", "--image", ref, "--config.cmd", "/bin/sh", "--os", "linux",
          "--architecture", "amd64"])
    _run(["umoci", "gc", "--layout", str(layout)])
    shutil.rmtree(bundle)
    if not _is_bench_image(layout):
        raise BenchError(f"built image in {layout} has layers of {layer_sizes(layout)} bytes, "
                         f"expected 3 of ~{LAYER_BYTES}")
    done.touch()
    return layout


def layer_sizes(layout: Path) -> list[int]:
    """Compressed sizes of the layers of the layout's only image."""
    index = json.loads((layout / "index.json").read_text())
    algo, hexdigest = index["manifests"][0]["digest"].split(":")
    manifest = json.loads((layout / "blobs" / algo / hexdigest).read_text())
    return [int(layer["size"]) for layer in manifest["layers"]]


def _is_bench_image(layout: Path) -> bool:
    sizes = layer_sizes(layout)
    return len(sizes) == 3 and min(sizes) >= LAYER_BYTES


def skopeo_copy(src: str, dest: str, scratch: Path) -> float:
    """Seconds one `skopeo copy` takes, with an empty blob-info cache so it never mounts across repos.

    skopeo remembers where it has seen each blob and then pushes by cross-repository mount instead of
    uploading; a cache private to this one copy keeps every round a full upload.
    """
    argv = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", src, dest]
    what, env = f"skopeo copy {src} {dest}", dict(os.environ)
    if os.geteuid() == 0:  # root's cache is /var/lib/containers/cache: hide it in a private mount namespace
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mkdir -p /var/lib/containers && mount -t tmpfs tmpfs /var/lib/containers && exec "$@"',
                "sh", *argv]
    else:
        env["XDG_DATA_HOME"] = str(scratch)
    start = time.perf_counter()
    _run(argv, what, env)
    return time.perf_counter() - start


def _request(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body if method in ("POST", "PUT") else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push_blob(base: str, repo: str, data: bytes, auth: dict[str, str] | None = None) -> str:
    """Monolithic upload (POST, then PUT ?digest= with the body); returns the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, body = _request("POST", f"{base}/v2/{repo}/blobs/uploads/", headers=auth)
    if status != 202:
        raise BenchError(f"POST upload to {base}: {status} {body[:300]!r}")
    location = headers["Location"]
    location = location if location.startswith("http") else base + location
    sep = "&" if "?" in location else "?"
    status, _, body = _request("PUT", f"{location}{sep}digest={digest}", data,
                               {"Content-Type": "application/octet-stream", **(auth or {})})
    if status != 201:
        raise BenchError(f"PUT blob to {base}: {status} {body[:300]!r}")
    return digest


def push_small_image(base: str, repo: str, tag: str, small_blob: bytes,
                     auth: dict[str, str] | None = None) -> tuple[str, str]:
    """An OCI image whose one layer is small_blob; returns (manifest digest, blob digest)."""
    blob = push_blob(base, repo, small_blob, auth)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [blob]}}).encode()
    config_digest = push_blob(base, repo, config, auth)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob,
                    "size": len(small_blob)}],
    }).encode()
    status, _, body = _request("PUT", f"{base}/v2/{repo}/manifests/{tag}", manifest,
                               {"Content-Type": OCI_MANIFEST, **(auth or {})})
    if status != 201:
        raise BenchError(f"PUT manifest to {base}: {status} {body[:300]!r}")
    return "sha256:" + hashlib.sha256(manifest).hexdigest(), blob


def check_get(url: str, headers: dict[str, str], digest: str) -> int:
    """What wrk will hammer answers 200 with the right bytes (wrk itself only counts status >= 400).

    Returns the body's size, the least every response of a healthy wrk run must carry on average.
    """
    status, _, body = _request("GET", url, headers=headers)
    got = "sha256:" + hashlib.sha256(body).hexdigest()
    if status != 200 or got != digest:
        raise BenchError(f"GET {url}: status {status}, body digest {got}, expected 200 and {digest}")
    return len(body)


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    bad_status: int  # wrk's "Non-2xx or 3xx responses": responses with status >= 400
    socket_errors: dict[str, int]
    bytes_read: float  # headers and bodies, as wrk reports it (rounded to its unit)
    min_body: int
    output: str

    @property
    def short_bodies(self) -> bool:
        """Fewer bytes than the bodies alone would take: some 2xx came back empty or truncated."""
        return self.bytes_read < 0.98 * self.requests * self.min_body

    @property
    def failed(self) -> bool:
        return self.bad_status > 0 or any(self.socket_errors.values()) or self.short_bodies

    def problems(self) -> str:
        errs = ", ".join(f"{k} {v}" for k, v in self.socket_errors.items() if v)
        return "; ".join(p for p in (f"{self.bad_status} non-2xx responses" if self.bad_status else "",
                                     f"socket errors: {errs}" if errs else "",
                                     f"only {self.bytes_read / self.requests:.0f} bytes a response, bodies "
                                     f"are {self.min_body}" if self.short_bodies else "") if p)


def run_wrk(url: str, headers: dict[str, str], seconds: int, min_body: int = 0, connections: int = 64,
            threads: int = 2) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    result = subprocess.run([*argv, url], capture_output=True, text=True)
    out = result.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", out)
    if result.returncode != 0 or not rps or not total or not int(total.group(1)):
        raise BenchError(f"wrk failed ({result.returncode}):\n{out}{result.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    counts = [int(n) for n in sock.groups()] if sock else [0, 0, 0, 0]
    errors = dict(zip(("connect", "read", "write", "timeout"), counts, strict=True))
    read = float(total.group(2)) * 1024 ** "BKMGT".index(total.group(3)[0])
    return WrkResult(float(rps.group(1)), int(total.group(1)), int(bad.group(1)) if bad else 0, errors, read,
                     min_body, out)
