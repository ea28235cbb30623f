"""Published ports: a userland TCP and UDP proxy (docker-proxy's job), one asyncio loop in a thread of the
container's supervisor, so that it lives exactly as long as the container is up and needs no iptables rule.

The host sockets are bound before the container starts, so a port already taken fails `berth run` at once,
as docker's does. A connection to a host port gets a connection to the container's address and port; bytes
are copied both ways, and a half-close is passed on (an HTTP client may shut down its side and still read).
UDP datagrams are relayed per client by udp_proxy.py, on the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import socket
import threading

from . import NetworkError
from .ports import PROTOCOLS, Binding, host_address
from .udp_proxy import UdpRelay

CHUNK = 65536
STOP_PATIENCE = 5.0


class PortProxy:
    def __init__(self, target: str, bindings: list[Binding]) -> None:
        self.target = target
        self.listeners: list[tuple[socket.socket, Binding]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.relays: list[UdpRelay] = []
        self.thread: threading.Thread | None = None
        try:
            for binding in bindings:
                self.listeners.append((_listen(binding), binding))
        except BaseException:
            self.stop()
            raise

    def published(self) -> list[tuple[Binding, int]]:
        """Each binding with the host port it got."""
        return [(binding, sock.getsockname()[1]) for sock, binding in self.listeners]

    def start(self) -> None:
        if not self.listeners:
            return
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), name="berth-port-proxy", daemon=True)
        self.thread.start()
        ready.wait()

    def stop(self) -> None:
        """Stop serving and close every host socket: the ports are free when this returns."""
        if self.loop is not None and self.thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STOP_PATIENCE)  # a daemon thread: one that hangs cannot keep the clean-up waiting
        for sock, _ in self.listeners:
            sock.close()
        self.listeners, self.relays, self.loop, self.thread = [], [], None, None

    def _serve(self, ready: threading.Event) -> None:
        loop = self.loop = asyncio.new_event_loop()
        try:
            for sock, binding in self.listeners:
                if binding.protocol == "udp":
                    self.relays.append(UdpRelay(loop, sock, (self.target, binding.container_port)))
                else:
                    loop.run_until_complete(asyncio.start_server(
                        functools.partial(self._connect, port=binding.container_port), sock=sock))
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            for relay in self.relays:
                relay.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
            loop.close()

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                       port: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.target, port)
        except OSError:
            client_writer.close()  # nothing listens in the container (yet): the client sees the connection end
            return
        try:
            await asyncio.gather(_copy(client_reader, writer), _copy(reader, client_writer))
        finally:
            for side in (writer, client_writer):
                side.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()  # a reset on one side ends the other too


def _listen(binding: Binding) -> socket.socket:
    """A host socket bound for `binding`: its port, or the first free one of its range (as docker takes one)."""
    if binding.protocol not in PROTOCOLS:
        raise NetworkError(f"Error starting userland proxy: {binding.protocol} ports cannot be published by berth")
    family = socket.AF_INET6 if ":" in binding.host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if binding.protocol == "tcp" else socket.SOCK_DGRAM
    failure = OSError()
    for port in binding.host_ports:
        sock = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:  # a restart must not wait out TIME_WAIT. Not for UDP: there it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # lets two sockets share a port
            if family == socket.AF_INET6:  # as docker: [::] and 0.0.0.0 are two bindings, both can be asked for
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((binding.host_ip, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
        except OSError as exc:
            sock.close()
            failure = exc
            if exc.errno == errno.EADDRINUSE:
                continue  # the next port of a range, if there is one
            break
        sock.setblocking(False)
        return sock
    reason = (failure.strerror or str(failure)).lower()  # Go's words: "address already in use"
    network = f"{binding.protocol}{6 if family == socket.AF_INET6 else 4}"  # Go's words: tcp4, udp6
    raise NetworkError(f"Error starting userland proxy: listen {network} "
                       f"{host_address(binding.host_ip, port)}: bind: {reason}") from None
