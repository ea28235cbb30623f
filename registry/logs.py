"""Logging: plain text or JSON lines, and one access-log line per request."""

from __future__ import annotations

import json
import logging
import sys
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

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
    """method, path, status, bytes sent, duration: as text, or as fields of a JSON line."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, duration: float) -> None:
        sent = response.body_length
        if isinstance(response, web.FileResponse) and request.method != "HEAD":
            sent += response.content_length or 0  # sendfile bypasses the writer that body_length counts
        fields = {"method": request.method, "path": request.path_qs, "status": response.status,
                  "bytes": sent, "duration_ms": round(duration * 1000, 2), "remote": request.remote}
        self.logger.info("%s %s %s %sB %.1fms", request.method, request.path_qs, response.status, sent,
                         duration * 1000, extra={"fields": fields})
