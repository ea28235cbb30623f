"""A container's stdin, stdout and stderr as its supervisor holds them: pipes, or a terminal (`-t`).

With pipes, runc passes our pipes' other ends to the container. With a terminal, runc creates the pty
inside the container and hands its master to us over a unix socket (`--console-socket`, runtime-spec
"Console socket"); the master then carries output (logged as stdout, as docker does) and input. `relay`
copies output to the json-file log and to an attached terminal, and input from that terminal, until the
container closes its side.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
from collections.abc import Callable, Iterator

from .logs import JsonLogWriter

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    import socket

CHUNK = 64 << 10
EIO = 5  # reading a pty master once every slave is closed


class Stdio:
    def __init__(self, child: tuple[int, int, int], outputs: dict[int, str] | None = None, stdin: int = -1,
                 console: socket.socket | None = None) -> None:
        self.child = child  # stdin, stdout, stderr for the runtime (and the container, without a terminal)
        self.outputs = outputs or {}  # our read ends: fd -> "stdout" | "stderr"
        self.stdin = stdin  # our write end of the container's stdin, or -1
        self.console = console  # where runc sends the pty master

    def after_start(self) -> None:
        """The runtime is done with its ends (close ours of them); a terminal's master arrives now."""
        for fd in set(self.child):
            os.close(fd)
        if self.console is not None:
            try:
                master = _receive_fd(self.console)
            finally:
                self._close_console()
            self.outputs = {master: "stdout"}
            if self.stdin >= 0:
                self.stdin = os.dup(master)

    @property
    def console_address(self) -> str | None:
        """The console socket's path, for the runtime's --console-socket."""
        return str(self.console.getsockname()) if self.console is not None else None

    def _close_console(self) -> None:
        """Close the socket and remove its file (`console` stays set: it says the container has a terminal)."""
        if self.console is not None and self.console.fileno() >= 0:
            address = self.console.getsockname()
            self.console.close()
            with contextlib.suppress(OSError):
                os.unlink(address)

    def abandon(self) -> None:
        """The runtime failed: close everything, its ends too."""
        for fd in set(self.child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._close_console()
        self.close()

    def close(self) -> None:
        for fd in (*self.outputs, self.stdin):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.outputs, self.stdin = {}, -1


def open_stdio(open_stdin: bool, tty: bool) -> Stdio:
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    if tty:
        import socket  # only terminals need it: loading it costs `berth run` a few milliseconds

        # A short path in /tmp: one under BERTH_HOME can outgrow sun_path's 108 bytes, and crun (unlike runc)
        # cannot connect to an abstract socket. Only root may connect to it (write permission, umask).
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        listener.bind(f"/tmp/berth-console-{os.urandom(12).hex()}")
        listener.listen(1)
        return Stdio((null, null, null), stdin=0 if open_stdin else -1, console=listener)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if open_stdin else (null, -1)
    if open_stdin:
        os.close(null)
    return Stdio((in_r, out_w, err_w), {out_r: "stdout", err_r: "stderr"}, in_w)


def _receive_fd(listener: socket.socket) -> int:
    import socket

    listener.settimeout(10)
    connection, _ = listener.accept()  # runc connected and sent before it exited: it is queued
    with connection:
        _, fds, _, _ = socket.recv_fds(connection, 4096, 1)
    if not fds:
        raise OSError("the runtime sent no terminal")
    return fds[0]


def relay(stdio: Stdio, log: JsonLogWriter, write: Callable[[str, bytes], None] | None,
          feed: int | bytes | None) -> None:
    """Copy output to `log` (and `write`) until the container closes it; send `feed` (an fd to forward, or
    bytes) to its stdin, closing that when the feed ends."""
    streams = dict(stdio.outputs)
    source = feed if isinstance(feed, int) else -1
    pending = feed if isinstance(feed, bytes) else b""
    if stdio.stdin >= 0 and feed is None:
        os.close(stdio.stdin)
        stdio.stdin = -1
    while streams:
        if stdio.stdin >= 0 and not pending and source < 0:
            os.close(stdio.stdin)  # all of stdin is sent: the container sees end of file
            stdio.stdin = -1
        readers = list(streams) + ([source] if source >= 0 else [])
        ready_r, ready_w, _ = select.select(readers, [stdio.stdin] if stdio.stdin >= 0 and pending else [], [])
        for fd in ready_r:
            try:
                data = os.read(fd, CHUNK)
            except OSError as exc:
                if exc.errno != EIO:
                    raise
                data = b""
            if fd == source:
                pending, source = (pending + data, source) if data else (pending, -1)
            elif data:
                log.write(streams[fd], data)
                if write is not None:
                    write(streams[fd], data)
            else:
                del streams[fd]
        if ready_w:
            try:
                pending = pending[os.write(stdio.stdin, pending[:CHUNK]):]
            except BrokenPipeError:
                pending, source = b"", -1


@contextlib.contextmanager
def raw_terminal(fd: int | None, master: int | None = None) -> Iterator[None]:
    """Our terminal in raw mode while attached to a container's terminal (keys go to it as typed, Ctrl-C
    included), its size copied to the container's; restored afterwards."""
    if fd is None or not os.isatty(fd):
        yield
        return
    import termios  # only now: most runs have no terminal to set
    import tty as terminal

    saved = termios.tcgetattr(fd)
    if master is not None:
        with contextlib.suppress(OSError):
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    terminal.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
