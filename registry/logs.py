"""Logging: plain text or JSON lines, and one access-log line (and the request metrics) per request."""

from __future__ import annotations

import json
import logging
import sys
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from . import metrics

access_logger = logging.getLogger("berth.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic narrates every migration check at INFO; only say something when it has work to do.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)


class AccessLogger(AbstractAccessLogger):
    """method, path, status, bytes sent, duration: as text, or as fields of a JSON line.

    It also counts the request in the metrics: aiohttp calls it once per request, after the last byte
    was sent, with the final status, which no middleware sees (files go out after handlers return)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, duration: float) -> None:
        sent = response.body_length
        if isinstance(response, web.FileResponse) and request.method != "HEAD":
            sent += response.content_length or 0  # sendfile bypasses the writer that body_length counts
        metrics.observe_request(request.method, route_pattern(request), response.status, duration,
                                request.content.total_bytes, sent)
        fields = {"method": request.method, "path": request.path_qs, "status": response.status,
                  "bytes": sent, "duration_ms": round(duration * 1000, 2), "remote": request.remote}
        self.logger.info("%s %s %s %sB %.1fms", request.method, request.path_qs, response.status, sent,
                         duration * 1000, extra={"fields": fields})


def route_pattern(request: web.BaseRequest) -> str:
    """The pattern of the route that answered (`/v2/{name}/manifests/{reference}`), never the path."""
    match_info = getattr(request, "match_info", None)  # a request that failed to parse has none
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else metrics.UNMATCHED
