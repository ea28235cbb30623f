"""Container logs in Docker's json-file format: one JSON object per line, `{"log","stream","time"}`.

The writer splits output into lines as docker's does (a line keeps its "\\n"; a line longer than 16 KiB is
cut into parts without one); the reader yields entries, optionally following the file as it grows until
told to stop.
"""

from __future__ import annotations

import json
import time
from collections import deque, namedtuple
from collections.abc import Callable, Iterator

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import BinaryIO

MAX_LINE = 16 << 10  # docker's bufio size for a log line


def timestamp() -> str:
    """RFC 3339 in UTC with nanoseconds (through time, not datetime: `berth run` need not load it)."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds)) + f"{nanos:09d}Z"


class JsonLogWriter:
    def __init__(self, path: str) -> None:
        self.file: BinaryIO = open(path, "ab")
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        """Output of `stream` as it came: whole lines are written now, a trailing partial line waits."""
        pending = self._partial[stream] + data
        lines = pending.split(b"\n")
        self._partial[stream] = lines.pop()
        for line in lines:
            self._entry(stream, line + b"\n")
        while len(self._partial[stream]) >= MAX_LINE:
            self._entry(stream, self._partial[stream][:MAX_LINE])
            self._partial[stream] = self._partial[stream][MAX_LINE:]
        self.file.flush()

    def _entry(self, stream: str, line: bytes) -> None:
        doc = {"log": line.decode("utf-8", "replace"), "stream": stream, "time": timestamp()}
        self.file.write(json.dumps(doc, ensure_ascii=False).encode() + b"\n")

    def close(self) -> None:
        """Flush what is left of unfinished lines (the process ended without a final newline)."""
        for stream, rest in self._partial.items():
            if rest:
                self._entry(stream, rest)
        self._partial = {"stdout": b"", "stderr": b""}
        self.file.close()


class LogEntry(namedtuple("LogEntry", "log stream time")):  # not a dataclass: `berth run` loads this module
    __slots__ = ()
    log: str
    stream: str
    time: str


def read_entries(path: str, tail: int | None = None, follow: Callable[[], bool] | None = None,
                 poll: float = 0.05) -> Iterator[LogEntry]:
    """The entries of the log at `path` (only the last `tail` ones); with `follow`, keep reading new ones for
    as long as `follow()` says the container may still write."""
    while True:
        try:
            f = open(path, "rb")
            break
        except FileNotFoundError:
            if follow is None or not follow():
                return  # never started: nothing was written
            time.sleep(poll)
    with f:
        lines: deque[bytes] | list[bytes] = deque(f, maxlen=tail) if tail is not None else list(f)
        partial = b""
        for line in lines:
            if line.endswith(b"\n"):
                yield from _parse(line)
            else:
                partial = line  # a writer is in the middle of it
        while follow is not None:
            chunk = f.readline()
            if chunk:
                partial += chunk
                if partial.endswith(b"\n"):
                    yield from _parse(partial)
                    partial = b""
                continue
            if not follow():
                rest = f.read()
                for line in (partial + rest).splitlines(keepends=True):
                    yield from _parse(line)
                return
            time.sleep(poll)


def _parse(line: bytes) -> Iterator[LogEntry]:
    try:
        doc = json.loads(line)
        yield LogEntry(str(doc["log"]), str(doc.get("stream", "stdout")), str(doc.get("time", "")))
    except (ValueError, KeyError, TypeError):
        return
