"""The UDP half of the userland proxy (docker-proxy's UDPProxy): datagrams to a published host port reach the
container's port, and its answers go back, with no iptables rule.

UDP has no connections, so the proxy keeps flows: each client address (host and port) gets a socket of its own
connected to the container's address, so the container sees one peer per client and its answers can be told
apart. A flow that has carried nothing either way for FLOW_IDLE_TIMEOUT goes. A listener on a wildcard address
answers from the address the client wrote to (IP_PKTINFO), or a client on a host with several addresses would
drop the answer as coming from a stranger.

Everything runs on the proxy's event loop through add_reader on plain non-blocking sockets: asyncio's datagram
transports pass neither the destination address of a datagram nor a source address to send from.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

# docker-proxy's UDPConnTrackTimeout: a flow idle this long (seconds) is forgotten, and its socket closed.
# Long enough for a DNS or game client between requests; a client that comes back later gets a new flow.
FLOW_IDLE_TIMEOUT = 90.0
DATAGRAM_MAX = 65535  # the largest datagram a socket can return: read whole, never truncated
BATCH = 64  # datagrams read at one readiness, so that one busy socket cannot starve the others
IP_PKTINFO = 8  # <linux/in.h>; Python's socket module names it only from 3.13
ANCILLARY_SPACE = socket.CMSG_SPACE(20)  # an in_pktinfo (12 bytes) or in6_pktinfo (20)

Address = tuple[Any, ...]  # a client's (host, port), or (host, port, flowinfo, scope_id) for IPv6


class Flow:
    """One client's traffic: a socket connected to the container's port, and when it was last used."""

    def __init__(self, sock: socket.socket, client: Address, local: bytes | None, now: float) -> None:
        self.sock, self.client, self.local, self.last_used = sock, client, local, now
        self.expiry: asyncio.TimerHandle | None = None


class UdpRelay:
    """Relays datagrams between one bound host socket and one container address and port."""

    def __init__(self, loop: asyncio.AbstractEventLoop, listener: socket.socket, target: tuple[str, int]) -> None:
        self.loop, self.listener, self.target = loop, listener, target
        self.flows: dict[Address, Flow] = {}
        self.family = listener.family
        host = listener.getsockname()[0]
        self.wildcard = host in ("0.0.0.0", "::")
        if self.wildcard:  # learn which local address each datagram was sent to
            level, option = ((socket.IPPROTO_IP, IP_PKTINFO) if self.family == socket.AF_INET else
                             (socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO))
            listener.setsockopt(level, option, 1)
        loop.add_reader(listener.fileno(), self._from_clients)

    def close(self) -> None:
        """Stop relaying and close every flow (the listener belongs to the caller)."""
        with contextlib.suppress(ValueError, OSError):  # the listener may be closed already
            self.loop.remove_reader(self.listener.fileno())
        for flow in list(self.flows.values()):
            self._forget(flow)

    def _from_clients(self) -> None:
        for _ in range(BATCH):
            try:
                data, ancillary, _, client = self.listener.recvmsg(DATAGRAM_MAX, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an error queued on the socket: it is read and cleared, the next datagram will come
            flow = self.flows.get(client) or self._open(client, ancillary)
            if flow is None:
                continue
            flow.last_used = self.loop.time()
            with contextlib.suppress(OSError):  # a full buffer or an earlier refusal: the datagram is lost, as in UDP
                flow.sock.send(data)

    def _open(self, client: Address, ancillary: list[tuple[int, int, bytes]]) -> Flow | None:
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(self.target)  # no packet sent: it only fixes the peer, so only its answers arrive
        except OSError:
            sock.close()
            return None
        flow = self.flows[client] = Flow(sock, client, _local_address(ancillary) if self.wildcard else None,
                                         self.loop.time())
        self.loop.add_reader(sock.fileno(), self._from_container, flow)
        flow.expiry = self.loop.call_later(FLOW_IDLE_TIMEOUT, self._expire, flow)
        return flow

    def _from_container(self, flow: Flow) -> None:
        for _ in range(BATCH):
            try:
                data = flow.sock.recv(DATAGRAM_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue  # nothing listened in the container when a datagram came: keep the flow, as docker does
            except OSError:
                self._forget(flow)
                return
            flow.last_used = self.loop.time()
            self._answer(flow, data)

    def _answer(self, flow: Flow, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a client gone or a full buffer: the datagram is lost, as in UDP
            if flow.local is None:
                self.listener.sendto(data, flow.client)
            elif self.family == socket.AF_INET:  # in_pktinfo: ifindex, the source address to use, (unused)
                info = struct.pack("=i4s4s", 0, flow.local, bytes(4))
                self.listener.sendmsg([data], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, flow.client)
            else:  # in6_pktinfo: the source address, ifindex
                info = struct.pack("=16sI", flow.local, 0)
                self.listener.sendmsg([data], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, info)], 0, flow.client)

    def _expire(self, flow: Flow) -> None:
        idle = self.loop.time() - flow.last_used
        if idle >= FLOW_IDLE_TIMEOUT:
            self._forget(flow)
        else:  # used since: look again when it could have been idle long enough (one timer per flow, not per datagram)
            flow.expiry = self.loop.call_later(FLOW_IDLE_TIMEOUT - idle, self._expire, flow)

    def _forget(self, flow: Flow) -> None:
        if self.flows.get(flow.client) is flow:
            del self.flows[flow.client]
        if flow.expiry is not None:
            flow.expiry.cancel()
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(flow.sock.fileno())
        flow.sock.close()


def _local_address(ancillary: list[tuple[int, int, bytes]]) -> bytes | None:
    """The address a datagram was sent to, from its IP_PKTINFO or IPV6_PKTINFO message."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            return data[8:12]  # in_pktinfo.ipi_addr: the header's destination
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 16:
            return data[:16]
    return None
