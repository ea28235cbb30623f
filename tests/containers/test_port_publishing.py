"""-p, -P and --expose for UDP and port ranges, as docker takes them: a UDP server in a container reached from
the host through the proxy (one flow per client, answered from the address the client wrote to), a TCP range
where each port reaches its own server, a host range taking its first free port, docker's refusals, and
nothing left after rm."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Berth
from tests.containers.images import derive, oci_archive, tar_of
from tests.containers.test_network import HTTPD, fetch, free_port, inspect, leftovers
from tests.support.images import OciImage

UDP_IMAGE = "127.0.0.1:5000/test/udp-echo:1"
PYTHON = "/usr/bin/python3"
# The test image's busybox has no UDP server (its nc is the small one, without -u), so the container runs the
# host's Python from a read-only /usr: the image adds Debian's merged-/usr links (/lib, /lib64) for its loader.
UDP_ECHO = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = server.recvfrom(65535)
    server.sendto(data + b" via %s:%d" % (peer[0].encode(), peer[1]) if len(data) < 1000 else data, peer)
"""


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_tcp_ports(count: int) -> int:
    """The first of `count` consecutive TCP ports free on 127.0.0.1 now."""
    for _ in range(100):
        first = free_port()
        if first + count <= 65536 and all(_tcp_free(port) for port in range(first, first + count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def _tcp_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now (past connections in TIME_WAIT, not past a listener)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def ask(client: socket.socket, data: bytes, timeout: float = 15.0) -> bytes:
    """Send `data` until an answer comes: the server in the container may still be starting (a datagram
    before it binds is lost, as UDP loses it)."""
    deadline = time.monotonic() + timeout
    client.settimeout(0.25)
    while True:
        client.send(data)
        try:
            return client.recv(65535)
        except (TimeoutError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise


def udp_client(host: str, port: int) -> socket.socket:
    """A connected client: it takes answers only from the address it wrote to, as DNS clients do."""
    client = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    client.connect((host, port))
    return client


@pytest.fixture(scope="session")
def udp_archive(busybox_layout: OciImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("udp-image")
    image = derive(busybox_layout, work, [tar_of({"lib": "usr/lib", "lib64": "usr/lib64"})],
                   {"ExposedPorts": {"53/udp": {}}})
    return oci_archive(image, UDP_IMAGE, work / "udp.tar")


@pytest.fixture
def udp_image(berth: Berth, udp_archive: Path) -> str:
    if not (os.path.exists(PYTHON) and os.path.isdir("/usr/lib64")):
        pytest.skip(f"the UDP server runs the host's {PYTHON} with a merged /usr")
    berth.ok("load", "-q", "-i", str(udp_archive))
    return UDP_IMAGE


def test_udp_ports_reach_a_server_in_the_container(berth: Berth, udp_image: str) -> None:
    host_port = free_udp_port()
    serve = ["-v", "/usr:/usr:ro", udp_image, PYTHON, "-I", "-S", "-c", UDP_ECHO, "53"]
    dns = berth.ok("run", "-d", "--name", "dns", "-p", f"127.0.0.1:{host_port}:53/udp", "-p", "127.0.0.1::53/udp",
                   *serve).out.strip()
    first, second = udp_client("127.0.0.1", host_port), udp_client("127.0.0.1", host_port)
    answer = ask(first, b"hello").decode()
    assert answer.startswith("hello via 172.31.250.1:")  # from the proxy, on the bridge's address
    other = ask(second, b"again").decode()
    assert other.startswith("again via 172.31.250.1:") and other.split(":")[-1] != answer.split(":")[-1]
    assert ask(first, b"more").decode().split(":")[-1] == answer.split(":")[-1]  # one flow per client
    big = os.urandom(60000)
    assert ask(first, big) == big  # a large datagram whole, both ways
    published = berth.ok("port", "dns", "53/udp").out.split()
    assert published[0] == f"127.0.0.1:{host_port}" or published[1] == f"127.0.0.1:{host_port}"
    other_port = int(next(p for p in published if p != f"127.0.0.1:{host_port}").split(":")[1])
    assert ask(udp_client("127.0.0.1", other_port), b"free").startswith(b"free via")
    lines = sorted([f"53/udp -> 127.0.0.1:{host_port}", f"53/udp -> 127.0.0.1:{other_port}"],
                   key=lambda line: int(line.rsplit(":", 1)[1]))
    assert berth.ok("port", "dns").out == "\n".join(lines) + "\n"
    ports = ", ".join(f"127.0.0.1:{p}->53/udp" for p in sorted([host_port, other_port]))
    assert berth.ok("ps", "--format", "{{.Names}}\t{{.Ports}}").out == f"dns\t{ports}\n"
    assert json.loads(inspect(berth, "dns", "{{json .HostConfig.PortBindings}}")) == \
        {"53/udp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}, {"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert json.loads(inspect(berth, "dns", "{{json .Config.ExposedPorts}}")) == {"53/udp": {}}
    missing = berth.run("port", "dns", "53")
    assert missing.code == 1 and missing.err == "Error: No public port '53/tcp' published for dns\n"

    # -P: the image's EXPOSE 53/udp on a free port of every address; answered from the address written to
    berth.ok("run", "-d", "--name", "all", "-P", *serve)
    public = berth.ok("port", "all").out.strip()
    assert public.startswith("53/udp -> 0.0.0.0:")
    wildcard = int(public.rsplit(":", 1)[1])
    assert ask(udp_client("127.0.0.2", wildcard), b"other address").startswith(b"other address via")

    taken = berth.run("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{host_port}:53/udp", udp_image, "true")
    assert taken.code == 125 and taken.err.count("\n") == 1, taken
    assert f"Error starting userland proxy: listen udp4 127.0.0.1:{host_port}: bind: address already in use" \
        in taken.err
    assert leftovers(inspect(berth, "clash", "{{.Id}}")) == []

    berth.ok("rm", "-f", "dns", "all", "clash")
    assert leftovers(dns) == []
    for port in (host_port, other_port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", port))  # the proxy's sockets went with the container
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", wildcard))


def test_a_port_range_reaches_a_server_per_port(berth: Berth, busybox: str) -> None:
    base = free_tcp_ports(3)
    servers = " & ".join(HTTPD.replace("/www", f"/www{p}").replace("hello from $(hostname)", f"port {p}")
                         .replace("exec ", "").format(port=p) for p in range(base, base + 3))
    web = berth.ok("run", "-d", "--name", "range", "-p", f"127.0.0.1:{base}-{base + 2}:{base}-{base + 2}",
                   "-p", f"127.0.0.1::{base}-{base + 2}", busybox, "sh", "-c", f"{servers} & wait").out.strip()
    for port in range(base, base + 3):
        assert fetch(f"http://127.0.0.1:{port}/") == f"port {port}\n"
    free = {}
    for port in range(base, base + 3):
        public = sorted(berth.ok("port", "range", str(port)).out.split(), key=lambda a: int(a.split(":")[1]))
        free[port] = next(int(a.split(":")[1]) for a in public if a != f"127.0.0.1:{port}")
        assert fetch(f"http://127.0.0.1:{free[port]}/") == f"port {port}\n"
    elsewhere = ", ".join(f"127.0.0.1:{free[p]}->{p}/tcp" for p in range(base, base + 3))
    assert berth.ok("ps", "--format", "{{.Ports}}").out == \
        f"127.0.0.1:{base}-{base + 2}->{base}-{base + 2}/tcp, {elsewhere}\n"
    bindings = json.loads(inspect(berth, "range", "{{json .HostConfig.PortBindings}}"))
    assert bindings == {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}, {"HostIp": "127.0.0.1",
                                                                                   "HostPort": ""}]
                        for p in range(base, base + 3)}

    # a host range beside one container port: the first free port of it (the first is held here)
    first = free_tcp_ports(2)
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        berth.ok("run", "-d", "--name", "any", "-p", f"127.0.0.1:{first}-{first + 1}:80", busybox, "sh", "-c",
                 HTTPD.format(port=80))
        assert berth.ok("port", "any").out == f"80/tcp -> 127.0.0.1:{first + 1}\n"
        assert fetch(f"http://127.0.0.1:{first + 1}/").startswith("hello from")
        assert inspect(berth, "any", "{{json .HostConfig.PortBindings}}") == \
            f'{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{first}-{first + 1}"}}]}}'
        every = berth.run("run", "-d", "--name", "none-free", "-p", f"127.0.0.1:{first}-{first + 1}:80", busybox,
                          "true")
        assert every.code == 125 and "bind: address already in use" in every.err, every
    berth.ok("rm", "-f", "range", "any", "none-free")
    assert leftovers(web) == []
    assert all(_tcp_free(port) for port in [*range(base, base + 3), *free.values(), first + 1])


@pytest.mark.parametrize(("flags", "message"), [
    (["-p", "53:53/sctp"], "sctp ports cannot be published or exposed by berth, only tcp and udp: 53:53/sctp"),
    (["--expose", "53/sctp"], "sctp ports cannot be published or exposed by berth, only tcp and udp: 53/sctp"),
    (["-p", "53/xyz"], "invalid proto: xyz"),
    (["-p", "8000-8002:80-81"], "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
    (["-p", "8000-8001:80-82"], "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
    (["-p", "80-79"], "invalid containerPort: 80-79"),
    (["-p", "8000-:80"], "invalid hostPort: 8000-"),
    (["-p", "8080:"], "no port specified: 8080:<empty>"),
    (["--expose", "80-79/udp"], "invalid range format for --expose: 80-79/udp, error: invalid range specified for "
                                "port: 80-79"),
    (["--expose", "1:2"], "invalid port format for --expose: 1:2"),
])
def test_ports_docker_refuses_or_berth_cannot_carry(berth: Berth, busybox: str, flags: list[str],
                                                    message: str) -> None:
    for command in ("run", "create"):
        refused = berth.run(command, *flags, busybox, "true")
        assert (refused.code, refused.err) == (125, f"Error: {message}\n"), (command, refused)
    assert berth.ok("ps", "-aq").out == ""  # nothing made
