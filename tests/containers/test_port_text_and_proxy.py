"""Ports without a container: -p and --expose read as docker's nat.ParsePortSpec reads them, the text of `ps` and
`port` checked against what docker printed for the same records, and the UDP proxy in-process (a flow per
client, forgotten when idle, docker-proxy's words for a port taken, every socket closed when it stops)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time

import pytest

from cli.errors import ContainerFailed
from cli.network_options import expose, publish
from runtime.network import NetworkError, ports, udp_proxy
from runtime.network.ports import Binding
from runtime.network.proxy import PortProxy
from tests.containers.test_port_publishing import ask, udp_client

# NetworkSettings.Ports of two containers of a docker 20.10 daemon (`docker run -p 5353:53/udp -p 8000-8002:8000-8002
# -p 9000-9002:80 -p 127.0.0.1::53/udp -p 8080:80/udp --expose 53 --expose 7000-7001/udp -P`, and one with
# exposed ports only beside two published elsewhere), with what docker 28.2's ps and port printed for them.
DOCKER_PORTS = json.loads("""{"53/tcp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32768"}],
"53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"},{"HostIp":"::","HostPort":"5353"},{"HostIp":"127.0.0.1","HostPort":"32769"}],
"7000/udp":[{"HostIp":"0.0.0.0","HostPort":"32770"},{"HostIp":"::","HostPort":"32769"}],
"7001/udp":[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"::","HostPort":"32768"}],
"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"9000"},{"HostIp":"::","HostPort":"9000"}],
"80/udp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],
"8000/tcp":[{"HostIp":"0.0.0.0","HostPort":"8000"},{"HostIp":"::","HostPort":"8000"}],
"8001/tcp":[{"HostIp":"0.0.0.0","HostPort":"8001"},{"HostIp":"::","HostPort":"8001"}],
"8002/tcp":[{"HostIp":"0.0.0.0","HostPort":"8002"},{"HostIp":"::","HostPort":"8002"}]}""")
DOCKER_PS = ("0.0.0.0:8000-8002->8000-8002/tcp, [::]:8000-8002->8000-8002/tcp, 0.0.0.0:5353->53/udp, "
             "0.0.0.0:32768->53/tcp, 127.0.0.1:32769->53/udp, [::]:5353->53/udp, [::]:32768->53/tcp, "
             "0.0.0.0:8080->80/udp, 0.0.0.0:9000->80/tcp, [::]:8080->80/udp, [::]:9000->80/tcp, "
             "0.0.0.0:32770->7000/udp, [::]:32769->7000/udp, 0.0.0.0:32768->7001/udp, [::]:32768->7001/udp")
DOCKER_PORT = """53/tcp -> 0.0.0.0:32768
53/tcp -> [::]:32768
53/udp -> 0.0.0.0:5353
53/udp -> 127.0.0.1:32769
53/udp -> [::]:5353
80/tcp -> 0.0.0.0:9000
80/tcp -> [::]:9000
80/udp -> 0.0.0.0:8080
80/udp -> [::]:8080
7000/udp -> 0.0.0.0:32770
7000/udp -> [::]:32769
7001/udp -> 0.0.0.0:32768
7001/udp -> [::]:32768
8000/tcp -> 0.0.0.0:8000
8000/tcp -> [::]:8000
8001/tcp -> 0.0.0.0:8001
8001/tcp -> [::]:8001
8002/tcp -> 0.0.0.0:8002
8002/tcp -> [::]:8002"""
EXPOSED_PORTS = json.loads("""{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],
"53/tcp":null,"53/udp":null,"54/tcp":null,"80/tcp":null,"81/tcp":null,"82/udp":null,"83/tcp":null,
"9000/udp":[{"HostIp":"127.0.0.1","HostPort":"9000"}],"9001/udp":[{"HostIp":"127.0.0.1","HostPort":"9001"}]}""")
EXPOSED_PS = ("53-54/tcp, 53/udp, 80-81/tcp, 83/tcp, 82/udp, 127.0.0.1:9000-9001->9000-9001/udp, "
              "0.0.0.0:8080->443/tcp, [::]:8080->443/tcp")


def test_port_text_is_dockers() -> None:
    assert ports.ps_text(DOCKER_PORTS) == DOCKER_PS
    assert ports.ps_text(EXPOSED_PORTS) == EXPOSED_PS
    assert "\n".join(f"{private} -> {public}" for private, public in ports.mappings(DOCKER_PORTS)) == DOCKER_PORT
    assert ports.ps_text({}) == "" and ports.mappings(None) == []


def test_udp_and_range_flags_in_the_record() -> None:
    assert expose("53/udp") == ["53/udp"] and expose("7000-7002/UDP") == ["7000/udp", "7001/udp", "7002/udp"]
    assert publish("127.0.0.1:8000-8001:8000-8001/udp") == [
        ("8000/udp", {"HostIp": "127.0.0.1", "HostPort": "8000"}),
        ("8001/udp", {"HostIp": "127.0.0.1", "HostPort": "8001"})]
    assert publish("::80") == [("80/tcp", {"HostIp": "", "HostPort": ""})]  # nat.ParsePortSpec's reading
    assert publish("0:80") == [("80/tcp", {"HostIp": "", "HostPort": "0"})]  # 0: any free port
    for text, message in [("70000", "invalid containerPort: 70000"), ("x:80", "invalid hostPort: x"),
                          ("999.1.1.1:80:80", "invalid IP address: 999.1.1.1"), ("0", "invalid containerPort: 0")]:
        with pytest.raises(ContainerFailed, match=f"^{message}$"):
            publish(text)
    for text, message in [("abc", 'strconv.ParseUint: parsing "abc": invalid syntax'),
                          ("70000", 'strconv.ParseUint: parsing "70000": value out of range')]:
        with pytest.raises(ContainerFailed, match=f"^invalid range format for --expose: {text}, error: {message}$"):
            expose(text)
    host = {"PortBindings": {"53/udp": [{"HostIp": "", "HostPort": "5353"}],
                             "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8000-8002"}]}, "PublishAllPorts": True}
    config = {"ExposedPorts": {"53/udp": {}, "80/tcp": {}, "7/udp": {}}}
    assert ports.bindings(host, config) == [Binding(53, "0.0.0.0", 5353, "udp"),
                                            Binding(80, "127.0.0.1", 8000, "tcp", 8002), Binding(7, protocol="udp")]
    assert list(Binding(80, host_port=8000, last_host_port=8002).host_ports) == [8000, 8001, 8002]


class Echo:
    """A UDP echo server on 127.0.0.1 standing in for a container's, in a thread; it notes its peers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.peers: set[tuple[str, int]] = set()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                data, peer = self.sock.recvfrom(65535)
                self.peers.add(peer)
                self.sock.sendto(data, peer)


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_udp_proxy_keeps_a_flow_per_client_until_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp_proxy, "FLOW_IDLE_TIMEOUT", 0.3)
    echo, before = Echo(), open_files()
    proxy = PortProxy("127.0.0.1", [Binding(echo.port, "127.0.0.1", 0, "udp"), Binding(echo.port, "::1", 0, "udp")])
    try:
        (_, port4), (_, port6) = proxy.published()
        proxy.start()
        clients = [udp_client("127.0.0.1", port4), udp_client("127.0.0.1", port4), udp_client("::1", port6)]
        assert [ask(client, b"ping %d" % n) for n, client in enumerate(clients)] == [b"ping 0", b"ping 1", b"ping 2"]
        assert len(echo.peers) == 3 and sum(len(relay.flows) for relay in proxy.relays) == 3
        time.sleep(0.8)  # idle: every flow and its socket goes
        assert sum(len(relay.flows) for relay in proxy.relays) == 0
        assert ask(clients[0], b"back") == b"back" and len(echo.peers) == 4  # a new flow, a new source port
        for host, port, network in [("127.0.0.1", port4, "udp4"), ("::1", port6, "udp6")]:  # the port again
            with pytest.raises(NetworkError) as refused:
                PortProxy("127.0.0.1", [Binding(echo.port, host, port, "udp")])
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            assert str(refused.value) == f"Error starting userland proxy: listen {network} {address}: bind: " \
                                         "address already in use"
        for client in clients:
            client.close()
    finally:
        proxy.stop()
    assert open_files() == before  # listeners, flows and the loop's own are closed
