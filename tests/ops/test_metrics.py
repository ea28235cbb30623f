"""/metrics after real pushes and pulls: every request of the access log is counted once, under its route
pattern, whichever worker served it and whichever worker answers the scrape."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accounts import http
from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess
from tests.support.skopeo import copy

from .conftest import WORKERS, MakeServer, Samples, scrape, value, wait_for_flush

MANIFEST_ROUTE = "/v2/{name}/manifests/{reference}"
# The test's own mapping of request paths to route patterns (not the server's).
ROUTES = [(re.compile(r"/v2/.+/blobs/uploads/[0-9a-f-]{36}"), "/v2/{name}/blobs/uploads/{upload_id}"),
          (re.compile(r"/v2/.+/blobs/uploads/"), "/v2/{name}/blobs/uploads/"),
          (re.compile(r"/v2/.+/blobs/sha256:[0-9a-f]{64}"), "/v2/{name}/blobs/{digest}"),
          (re.compile(r"/v2/.+/manifests/[^/]+"), MANIFEST_ROUTE),
          (re.compile(r"/v2/"), "/v2/"), (re.compile(r"/metrics"), "/metrics")]
_ACCESS = re.compile(r"(\S+) (\S+) (\d{3}) (\d+)B ")


def route_of(path: str) -> str:
    path = path.split("?", 1)[0]
    return next(route for pattern, route in ROUTES if pattern.fullmatch(path))


def served(server: RegistryProcess, since: int) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str]]]:
    """From the access log: requests by (method, route, status) and bytes sent by (method, route)."""
    requests: Counter[tuple[str, str, str]] = Counter()
    sent: Counter[tuple[str, str]] = Counter()
    for line in server.access_lines(since):
        method, path, status, size = _ACCESS.match(line).groups()  # type: ignore[union-attr]
        requests[method, route_of(path), status] += 1
        sent[method, route_of(path)] += int(size)
    return requests, sent


def per_worker(metrics_dir: Path, scratch: Path) -> dict[int, Samples]:
    """Each worker's own numbers: its files alone, summed by prometheus_client's own collector."""
    found: dict[int, Samples] = {}
    for pid in {int(f.stem.rsplit("_", 1)[1]) for f in metrics_dir.glob("*.db")}:
        alone = scratch / str(pid)
        alone.mkdir(parents=True)
        for f in metrics_dir.glob(f"*_{pid}.db"):
            shutil.copy(f, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(alone))
        found[pid] = {(s.name, frozenset(s.labels.items())): s.value
                      for family in text_string_to_metric_families(generate_latest(registry).decode())
                      for s in family.samples}
    return found


def test_push_and_pull_are_counted_once_by_route_across_workers(make_server: MakeServer, busybox_layout: OciImage,
                                                                 tmp_path: Path) -> None:
    metrics_dir = tmp_path / "registry-metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by a server long gone")  # unreadable if summed
    server = make_server()
    assert not (metrics_dir / "counter_1.db").exists()
    repo = f"docker://{server.host}/ops/metrics-push"
    copy(busybox_layout.ref, f"{repo}:1")
    copy(f"{repo}:1", OciImage(tmp_path / "pulled", "1").ref)
    for _ in range(10 * WORKERS):  # fresh connections, spread over the workers by the kernel
        assert http("GET", f"{server.url}/v2/ops/metrics-push/manifests/1").status == 200
    requests, sent = served(server, 0)  # every request of this server: its start's pings too
    wait_for_flush()
    scrapes = [scrape(server) for _ in range(2 * WORKERS)]  # answered by different workers

    assert requests["PUT", MANIFEST_ROUTE, "201"] == 1 and requests["GET", MANIFEST_ROUTE, "200"] > 10 * WORKERS
    for samples in scrapes:
        counted = {(dict(labels)["method"], dict(labels)["route"], dict(labels)["status"]): v
                   for (name, labels), v in samples.items() if name == "berth_http_requests_total"}
        assert {k: v for k, v in counted.items() if k[1] != "/metrics"} == \
            {k: v for k, v in requests.items() if k[1] != "/metrics"}
        for method, route in {(m, r) for m, r, _ in requests if r != "/metrics"}:
            total = sum(n for (m, r, _), n in requests.items() if (m, r) == (method, route))
            labels = {"method": method, "route": route}
            assert value(samples, "berth_http_request_duration_seconds_count", **labels) == total
            assert value(samples, "berth_http_request_duration_seconds_bucket", le="+Inf", **labels) == total
            assert value(samples, "berth_http_sent_bytes_total", **labels) == sent[method, route]
        uploaded = sum(v for (name, labels), v in samples.items()
                       if name == "berth_http_received_bytes_total" and "/blobs/uploads/" in dict(labels)["route"])
        assert uploaded == busybox_layout.size  # config and layer, each byte once
        manifest = len(busybox_layout.blob(busybox_layout.digest))
        assert value(samples, "berth_http_received_bytes_total", method="PUT", route=MANIFEST_ROUTE) == manifest
        assert not [labels for _, labels in samples if any("metrics-push" in v for _, v in labels)]

    workers = per_worker(metrics_dir, tmp_path / "split")
    manifest_gets = {pid: value(s, "berth_http_requests_total", method="GET", route=MANIFEST_ROUTE, status="200")
                     for pid, s in workers.items()}
    assert len([n for n in manifest_gets.values() if n]) >= 2, manifest_gets  # really several workers
    assert sum(manifest_gets.values()) == requests["GET", MANIFEST_ROUTE, "200"]


def test_unknown_paths_are_one_label_not_one_per_path(make_server: MakeServer) -> None:
    server = make_server()
    for n in range(5):
        assert http("GET", f"{server.url}/no/such/page-{n}").status == 404
        assert http("DELETE", f"{server.url}/v2/").status == 405
    wait_for_flush()
    samples = scrape(server)
    assert value(samples, "berth_http_requests_total", method="GET", route="(unmatched)", status="404") == 5
    assert value(samples, "berth_http_requests_total", method="DELETE", route="(unmatched)", status="405") == 5
    assert not [labels for _, labels in samples if any("page-" in v for _, v in labels)]


def test_uploads_in_progress_is_the_same_from_every_worker(make_server: MakeServer) -> None:
    server = make_server()
    assert value(scrape(server), "berth_uploads_in_progress") == 0
    started = http("POST", f"{server.url}/v2/ops/gauge/blobs/uploads/")
    assert started.status == 202
    assert {value(scrape(server), "berth_uploads_in_progress") for _ in range(2 * WORKERS)} == {1}
    assert http("DELETE", server.url + started.headers["Location"]).status == 204
    assert {value(scrape(server), "berth_uploads_in_progress") for _ in range(2 * WORKERS)} == {0}
    assert value(scrape(server), "berth_read_only") == 0


def test_gc_runs_counted_by_another_process_show_in_the_servers_metrics(make_server: MakeServer,
                                                                       tmp_path: Path) -> None:
    server = make_server()
    assert value(scrape(server), "berth_gc_runs_total", outcome="ok") == 0
    program = "from registry import metrics; metrics.record_gc_run(); metrics.record_gc_run(); " \
              "metrics.record_gc_run(ok=False)"
    assert server.env is not None  # the server's PROMETHEUS_MULTIPROC_DIR, as a `gc` command would get it
    subprocess.run([sys.executable, "-c", program], env=dict(server.env), check=True, timeout=60)
    for _ in range(WORKERS):
        samples = scrape(server)
        assert value(samples, "berth_gc_runs_total", outcome="ok") == 2
        assert value(samples, "berth_gc_runs_total", outcome="failed") == 1
