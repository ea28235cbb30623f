"""Container networking, as docker's default networks: none (a loopback only), host (the host's), and bridge:
berth's own bridge `berth0` on a private range, one veth pair per container into a network namespace of its
own, /etc/hosts and /etc/resolv.conf as docker writes them, legacy --link, and ports published on the host
through a userland TCP and UDP proxy that lives in the container's supervisor.

Nothing here changes the host's global settings: no ip_forward, no iptables chains. Everything made for a
container (namespace, veth, address lease, proxy) goes when it stops, and what a crash leaves behind is
swept by the next container that needs the same name or address.
"""

from __future__ import annotations

from ..containers import ContainerError


class NetworkError(ContainerError):
    """A container's network cannot be set up as asked (a port taken, no address left, `ip` failed)."""
