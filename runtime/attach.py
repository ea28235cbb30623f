"""A detached container's stdin (created with -i), which `berth attach` writes to: a FIFO in its directory.

The supervisor opens the FIFO read-write (so that it never reads end-of-file when no one is attached: docker
keeps such a stdin open for the next attach) and feeds what arrives to the container's stdin or terminal;
each `berth attach` opens it for writing and copies its own stdin into it.
"""

from __future__ import annotations

import contextlib
import os

from .containers import Container

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    import threading
    from typing import IO, Any

FIFO = "stdin"
CHUNK = 64 << 10


def open_stdin_fifo(directory: str, config: dict[str, Any]) -> int | None:
    """The supervisor's end of the container's stdin FIFO (made now), or None when it has no stdin (-i)."""
    if not config.get("OpenStdin"):
        return None
    path = f"{directory}/{FIFO}"
    if not os.path.exists(path):
        os.mkfifo(path, 0o600)
    return os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)


class StdinFeed:
    """Copies an attached client's stdin into the container's FIFO, in a thread (reading stdin blocks)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.thread: threading.Thread | None = None

    @staticmethod
    def start(container: Container, stdin: IO[str]) -> StdinFeed | None:
        """Feeding from `stdin` (a file with an fd, or text read whole), or None if no supervisor reads it."""
        try:
            fd = os.open(f"{container.dir}/{FIFO}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None  # ENXIO: no reader, ENOENT: no FIFO (the supervisor predates it)
        os.set_blocking(fd, True)
        feed = StdinFeed(fd)
        try:
            source = stdin.fileno()
        except (AttributeError, OSError, ValueError):
            feed._write(stdin.read().encode())
            return feed
        import threading  # only attach needs it: the supervisor, which imports this module, does not

        feed.thread = threading.Thread(target=feed._copy, args=(source,), daemon=True)
        feed.thread.start()
        return feed

    def _copy(self, source: int) -> None:
        with contextlib.suppress(OSError):
            while data := os.read(source, CHUNK):
                self._write(data)

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):
            while data:
                data = data[os.write(self.fd, data):]

    def stop(self) -> None:
        """Stop feeding (the thread, blocked on our stdin, ends with the process)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
