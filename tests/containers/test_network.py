"""Container networking as a user drives it: berth's bridge (an address per container, reachable from the host
and from other containers), -p/-P through the userland proxy, `berth port`, ps's PORTS, inspect's
NetworkSettings, --link (hosts and variables), /etc/resolv.conf, and nothing left behind after rm or a crash."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from cli.network_options import publish
from runtime.network import etc, ports
from tests.cli.conftest import BERTH, Berth
from tests.containers.test_lifecycle import until

SUBNET = ipaddress.ip_network("172.31.250.0/24")
HTTPD = "mkdir -p /www && echo \"hello from $(hostname)\" > /www/index.html && exec httpd -f -p {port} -h /www"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, timeout: float = 10.0) -> str:
    return fetch_bytes(url, timeout).decode()


def fetch_bytes(url: str, timeout: float = 10.0) -> bytes:
    """GET `url`, retrying while the server in the container is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def inspect(berth: Berth, name: str, template: str) -> str:
    return berth.ok("inspect", "-f", template, name).out.strip()


def leftovers(container_id: str) -> list[str]:
    """The namespace and host veth berth makes for a container, if they are still there."""
    return [p for p in (f"/run/netns/berth-{container_id[:12]}", f"/sys/class/net/vb{container_id[:12]}")
            if os.path.exists(p)]


def test_published_ports_reach_the_container_from_the_host(berth: Berth, busybox: str) -> None:
    host_port = free_port()
    big = "busybox dd if=/dev/urandom of=/www/big bs=65536 count=64 2>/dev/null"  # 4 MiB
    web = berth.ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{host_port}:80", "--expose", "443", busybox,
                   "sh", "-c", HTTPD.format(port=80).replace("&& exec", f"&& {big} && exec")).out.strip()
    address = inspect(berth, "web", "{{.NetworkSettings.IPAddress}}")
    assert ipaddress.ip_address(address) in SUBNET
    assert inspect(berth, "web", "{{.NetworkSettings.Gateway}} {{.NetworkSettings.Networks.bridge.IPAddress}}") == \
        f"172.31.250.1 {address}"
    assert inspect(berth, "web", "{{.NetworkSettings.MacAddress}}").startswith("02:42:ac:1f:fa:")
    assert fetch(f"http://127.0.0.1:{host_port}/") == f"hello from {web[:12]}\n"
    assert fetch(f"http://{address}/") == f"hello from {web[:12]}\n"  # the bridge: the host reaches it directly
    proxied = fetch_bytes(f"http://127.0.0.1:{host_port}/big")
    assert len(proxied) == 4 << 20 and proxied == fetch_bytes(f"http://{address}/big")
    assert berth.ok("port", "web").out == f"80/tcp -> 127.0.0.1:{host_port}\n"
    assert berth.ok("port", "web", "80").out == f"127.0.0.1:{host_port}\n"
    missing = berth.run("port", "web", "443/tcp")
    assert missing.code == 1 and missing.err == "Error: No public port '443/tcp' published for web\n"
    row = berth.ok("ps", "--format", "{{.Names}}\t{{.Ports}}").out
    assert row == f"web\t443/tcp, 127.0.0.1:{host_port}->80/tcp\n"  # docker's order: one on another port last

    # -P: every exposed port on a free host port; a port taken is docker's exit 125, and nothing is left
    berth.ok("run", "-d", "--name", "all", "-P", "--expose", "8080", busybox, "sh", "-c", HTTPD.format(port=8080))
    published = berth.ok("port", "all", "8080/tcp").out.strip()
    assert published.startswith("0.0.0.0:")
    assert fetch(f"http://127.0.0.1:{published.split(':')[1]}/").startswith("hello from")
    taken = berth.run("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{host_port}:80", busybox, "true")
    assert taken.code == 125 and "address already in use" in taken.err and taken.err.count("\n") == 1
    clash = inspect(berth, "clash", "{{.Id}}")
    assert inspect(berth, "clash", "{{.State.Status}} {{.NetworkSettings.IPAddress}}") == "exited"
    assert leftovers(clash) == []

    held = socket.create_connection(("127.0.0.1", host_port), timeout=5)  # open while the container stops
    berth.ok("stop", "-t", "0", "web")
    assert held.recv(1) == b"" and held.close() is None  # closed by the proxy as it goes
    assert berth.ok("port", "web").out == "" and inspect(berth, "web", "{{.NetworkSettings.IPAddress}}") == ""
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=2)
    berth.ok("start", "web")  # the same port again, and a (possibly new) address
    assert fetch(f"http://127.0.0.1:{host_port}/") == f"hello from {web[:12]}\n"
    berth.ok("rm", "-f", "web", "all", "clash")
    assert leftovers(web) == []
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, but not past a listener
        sock.bind(("127.0.0.1", host_port))  # the proxy is gone with the container
        sock.listen()


def test_an_attached_run_serves_its_ports_until_it_ends(berth: Berth, busybox: str) -> None:
    port = free_port()
    process = subprocess.Popen([str(BERTH), "run", "--rm", "--name", "attached", "-p", f"127.0.0.1:{port}:80",
                                busybox, "sh", "-c", "trap 'exit 3' TERM; " +
                                HTTPD.format(port=80).replace("exec httpd -f", "httpd") +
                                "; while true; do sleep 0.1; done"],
                               env=berth.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fetch(f"http://127.0.0.1:{port}/").startswith("hello from")  # the proxy in berth run's process
        container_id = inspect(berth, "attached", "{{.Id}}")
        process.send_signal(signal.SIGTERM)  # to the container, which ends, and berth run with it
        assert process.wait(20) == 3
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))  # free as soon as berth run has returned
        sock.listen()
    until(lambda: leftovers(container_id) == [], timeout=5)


def test_linked_containers_reach_each_other_by_alias(berth: Berth, busybox: str) -> None:
    db = berth.ok("run", "-d", "--name", "db", "-e", "SECRET=swordfish", "--expose", "80", "--expose", "5432",
                  busybox, "sh", "-c", HTTPD.format(port=80)).out.strip()
    address = inspect(berth, "db", "{{.NetworkSettings.IPAddress}}")
    script = ("env; echo ---; cat /etc/hosts; echo ---; busybox ip -4 -o addr show eth0; echo ---; "
              "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://database/ && break; sleep 0.2; done")
    linked = berth.ok("run", "--name", "app", "--link", "db:database", busybox, "sh", "-c", script).out
    env, hosts, interface, page = linked.split("---\n")
    variables = dict(line.split("=", 1) for line in env.splitlines())
    assert variables["DATABASE_PORT"] == f"tcp://{address}:80"
    assert variables["DATABASE_PORT_5432_TCP"] == f"tcp://{address}:5432"
    assert (variables["DATABASE_PORT_5432_TCP_ADDR"], variables["DATABASE_PORT_5432_TCP_PORT"],
            variables["DATABASE_PORT_5432_TCP_PROTO"]) == (address, "5432", "tcp")
    assert variables["DATABASE_NAME"] == "/app/database"
    assert variables["DATABASE_ENV_SECRET"] == "swordfish" and "DATABASE_ENV_PATH" not in variables
    assert f"{address}\tdatabase {db[:12]} db\n" in hosts
    own = hosts.splitlines()[-1].split("\t")
    app = inspect(berth, "app", "{{.Id}}")
    assert own[1] == app[:12] and ipaddress.ip_address(own[0]) in SUBNET and own[0] != address
    assert f"inet {own[0]}/24" in interface  # its own address, on eth0
    assert page == f"hello from {db[:12]}\n"  # container to container, over the bridge
    assert inspect(berth, "app", "{{.HostConfig.Links}}") == "[/db:/app/database]"
    until(lambda: leftovers(app) == [], timeout=5)  # exited: its clean-up removes the namespace

    berth.ok("stop", "-t", "0", "db")
    refused = berth.run("run", "--rm", "--link", "db:database", busybox, "true")
    assert refused.code == 125 and "Cannot link to a non running container: /db AS /" in refused.err
    missing = berth.run("run", "--rm", "--link", "nothere", busybox, "true")
    assert missing.code == 125 and "could not get container for nothere" in missing.err
    host = berth.run("run", "--rm", "--network", "host", "--link", "db", busybox, "true")
    assert host.code == 125 and "can't be used with links" in host.err


def test_networks_and_the_files_docker_writes(berth: Berth, busybox: str) -> None:
    script = "ls /sys/class/net; echo ---; cat /etc/resolv.conf"
    interfaces, resolv = berth.ok("run", "--rm", busybox, "sh", "-c", script).out.split("---\n")
    assert interfaces.split() == ["eth0", "lo"]  # bridge is the default, as docker's
    assert resolv == etc.resolv_conf()
    assert berth.ok("run", "--rm", "--network", "none", busybox, "ls", "/sys/class/net").out.split() == ["lo"]
    unknown = berth.run("run", "--rm", "--network", "nosuch", busybox, "true")
    assert unknown.code == 125 and unknown.err == "Error: network nosuch not found\n"
    berth.ok("run", "--name", "quiet", "--network", "none", busybox, "true")
    template = "{{.HostConfig.NetworkMode}}|{{.NetworkSettings.IPAddress}}|{{.NetworkSettings.Ports}}"
    assert inspect(berth, "quiet", template) == "none||map[]"


def test_concurrent_runs_get_addresses_of_their_own(berth: Berth, busybox: str) -> None:
    starting = [subprocess.Popen([str(BERTH), "run", "-d", "--name", f"c{n}", busybox, "sleep", "60"],
                                 env=berth.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(4)]
    ids = [process.communicate(timeout=60)[0].strip() for process in starting]
    assert all(len(container_id) == 64 for container_id in ids)
    addresses = {inspect(berth, f"c{n}", "{{.NetworkSettings.IPAddress}}") for n in range(4)}
    assert len(addresses) == 4 and all(ipaddress.ip_address(a) in SUBNET for a in addresses)
    berth.ok("rm", "-f", "c0", "c1", "c2", "c3")
    assert [path for container_id in ids for path in leftovers(container_id)] == []


def test_a_crashed_supervisor_leaves_nothing_that_breaks_the_next_run(berth: Berth, busybox: str) -> None:
    port = free_port()
    crashed = berth.ok("run", "-d", "--name", "crashed", "-p", f"127.0.0.1:{port}:80", busybox,
                       "sh", "-c", HTTPD.format(port=80)).out.strip()
    record = json.loads((berth.home / "containers" / crashed / "container.json").read_text())
    os.kill(record["Berth"]["SupervisorPid"], signal.SIGKILL)
    os.kill(record["State"]["Pid"], signal.SIGKILL)
    until(lambda: inspect(berth, "crashed", "{{.State.Dead}}") == "true")
    assert leftovers(crashed)  # the namespace outlives its supervisor ...
    berth.ok("start", "crashed")  # ... and is made again, with the port, at the next start
    assert fetch(f"http://127.0.0.1:{port}/") == f"hello from {crashed[:12]}\n"
    assert ipaddress.ip_address(inspect(berth, "crashed", "{{.NetworkSettings.IPAddress}}")) in SUBNET
    os.kill(json.loads((berth.home / "containers" / crashed / "container.json").read_text())["Berth"]
            ["SupervisorPid"], signal.SIGKILL)
    until(lambda: inspect(berth, "crashed", "{{.State.Dead}}") == "true")
    berth.ok("rm", "-f", "crashed")  # rm takes what the crash left
    assert leftovers(crashed) == []


def test_publish_flags_and_port_text() -> None:
    assert publish("80") == [("80/tcp", {"HostIp": "", "HostPort": ""})]
    assert publish("8080:80/tcp") == [("80/tcp", {"HostIp": "", "HostPort": "8080"})]
    assert publish("127.0.0.1::80") == [("80/tcp", {"HostIp": "127.0.0.1", "HostPort": ""})]
    assert publish("[::1]:8080:80") == [("80/tcp", {"HostIp": "::1", "HostPort": "8080"})]
    assert publish("5353:53/udp") == [("53/udp", {"HostIp": "", "HostPort": "5353"})]
    assert publish("127.0.0.1::53/UDP") == [("53/udp", {"HostIp": "127.0.0.1", "HostPort": ""})]
    assert publish("8000-8001:9000-9001") == [("9000/tcp", {"HostIp": "", "HostPort": "8000"}),
                                              ("9001/tcp", {"HostIp": "", "HostPort": "8001"})]
    assert publish("8000-8002:80") == [("80/tcp", {"HostIp": "", "HostPort": "8000-8002"})]  # the first free
    assert publish("8000-8001") == [("8000/tcp", {"HostIp": "", "HostPort": ""}),
                                    ("8001/tcp", {"HostIp": "", "HostPort": ""})]
    settings = {"443/tcp": None, "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert ports.ps_text(settings) == "443/tcp, 0.0.0.0:8080->80/tcp"
    settings = {"53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}], "53/tcp": None,
                **{f"{p}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}] for p in (8000, 8001, 8002)}}
    assert ports.ps_text(settings) == "53/tcp, 0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:5353->53/udp"
    assert [line for line in ports.mappings(settings) if line[1]][:2] == [("53/udp", "0.0.0.0:5353"),
                                                                         ("8000/tcp", "0.0.0.0:8000")]
    assert etc.resolv_conf("nameserver 127.0.0.53\nsearch lan\n") == \
        "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert etc.resolv_conf("nameserver 10.0.0.2\nnameserver 127.0.0.1\n") == "nameserver 10.0.0.2\n"


def test_add_host_and_dns_flags_write_the_files_as_docker_does(berth: Berth, busybox: str) -> None:
    flags = ["--add-host", "db.example:10.1.2.3", "--add-host", "gw:host-gateway", "--add-host", "v6=::1",
             "--dns", "10.0.0.53", "--dns", "10.0.0.54", "--dns-search", "corp.example", "--dns-option", "ndots:2"]
    for network in ("bridge", "none", "host"):
        hosts, resolv = berth.ok("run", "--rm", "--network", network, *flags, busybox, "sh", "-c",
                                 "cat /etc/hosts; echo ---; cat /etc/resolv.conf").out.split("---\n")
        assert "10.1.2.3\tdb.example\n" in hosts and "172.31.250.1\tgw\n" in hosts and "::1\tv6\n" in hosts, hosts
        lines = resolv.splitlines()
        assert lines[:4] == ["nameserver 10.0.0.53", "nameserver 10.0.0.54", "search corp.example",
                             "options ndots:2"], resolv
        assert not any(line.startswith(("nameserver", "search", "options")) for line in lines[4:]), resolv
    berth.ok("create", "--name", "flagged", *flags, busybox, "true")
    template = "{{json .HostConfig.ExtraHosts}}|{{json .HostConfig.Dns}}|{{json .HostConfig.DnsSearch}}|" \
               "{{json .HostConfig.DnsOptions}}"
    assert inspect(berth, "flagged", template) == \
        '["db.example:10.1.2.3","gw:172.31.250.1","v6:::1"]|["10.0.0.53","10.0.0.54"]|["corp.example"]|["ndots:2"]'
    for flag, value, message in [("--add-host", "nohost", 'bad format for add-host: "nohost"'),
                                 ("--add-host", "x:999.1.1.1", 'invalid IP address in add-host: "999.1.1.1"'),
                                 ("--add-host", "bank 6.6.6.6 evil:1.1.1.1", "bad format for add-host"),
                                 ("--dns", "not-an-ip", "not-an-ip is not an ip address"),
                                 ("--dns-search", "a\nnameserver 6.6.6.6", "is not a valid value")]:
        refused = berth.run("run", "--rm", flag, value, busybox, "true")
        assert refused.code == 125 and message in refused.err, refused
    assert etc.with_dns("nameserver 1.1.1.1\n# kept\nsearch lan\n", {"DnsSearch": ["corp"]}) == \
        "search corp\nnameserver 1.1.1.1\n# kept\n"
    assert etc.with_dns("nameserver 1.1.1.1\n", {}) == "nameserver 1.1.1.1\n"


def test_a_container_joins_another_ones_network(berth: Berth, busybox: str) -> None:
    """--network container:NAME: the other container's namespace (its loopback and interfaces), hostname, hosts
    and resolv.conf, as docker shares them; the record keeps its id; docker's refusals beside it."""
    web = berth.ok("run", "-d", "--name", "web", busybox, "sh", "-c", HTTPD.format(port=8080)).out.strip()
    script = ("for i in $(seq 100); do wget -qO- http://127.0.0.1:8080/ 2>/dev/null && break; sleep 0.1; done; "
              "echo ---; hostname; echo ---; cat /etc/hosts; echo ---; ls /sys/class/net")
    page, hostname, hosts, interfaces = berth.ok("run", "--rm", "--network", "container:web", busybox, "sh", "-c",
                                                 script).out.split("---\n")
    assert page == f"hello from {web[:12]}\n" and hostname == f"{web[:12]}\n"
    assert hosts == berth.ok("exec", "web", "cat", "/etc/hosts").out and interfaces.split() == ["eth0", "lo"]
    berth.ok("create", "--name", "side", "--net", "container:web", busybox, "true")
    template = "{{.HostConfig.NetworkMode}}|{{.Config.Hostname}}|{{json .NetworkSettings.Networks}}"
    assert inspect(berth, "side", template) == f"container:{web}|{web[:12]}|{{}}"
    for flags, message in [(["-p", "80"], "port publishing and the container type network mode"),
                           (["-P"], "port publishing and the container type network mode"),
                           (["--expose", "80"], "port exposing and the container type network mode"),
                           (["-h", "other"], "hostname and the network mode"),
                           (["--dns", "10.0.0.53"], "dns and the network mode"),
                           (["--add-host", "db:10.1.2.3"], "custom host-to-IP mapping and the network mode"),
                           (["--link", "web"], "container type network can't be used with links")]:
        refused = berth.run("run", "--rm", "--network", "container:web", *flags, busybox, "true")
        assert refused.code == 125 and f"Error: conflicting options: {message}" in refused.err, (flags, refused)
    stopped = berth.ok("create", "--name", "stopped", busybox, "true").out.strip()
    for mode, message in [("container:nosuch", "No such container: nosuch"),
                          ("container:", "Invalid network mode: invalid container format container:<name|id>"),
                          ("container:stopped", f"cannot join network of a non running container: {stopped}")]:
        refused = berth.run("run", "--rm", "--network", mode, busybox, "true")
        assert (refused.code, refused.err) == (125, f"Error: {message}\n"), (mode, refused)
    berth.ok("rm", "-f", "web")
    gone = berth.run("start", "side")
    assert gone.code != 0 and f"No such container: {web}" in gone.err, gone
    assert leftovers(web) == []
