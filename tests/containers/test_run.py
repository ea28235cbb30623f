"""`berth run` attached, as a user types it: output, exit codes, the flags that shape the process (-e, -w, -u,
-h, --entrypoint, -i), mounts (-v, :ro, --read-only), networks, and images that are not what they seem."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import BERTH, Berth
from tests.containers.images import derive, oci_archive, tar_of
from tests.containers.terminal import converse
from tests.support.commands import run
from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess


def test_echo_prints_and_exits_zero(berth: Berth, busybox: str) -> None:
    result = berth.run("run", "--rm", busybox, "echo", "hello", "world")
    assert (result.code, result.out) == (0, "hello world\n")
    assert berth.run("ps", "-aq").out == ""  # --rm


def test_a_run_of_a_local_image_loads_no_process_or_hash_machinery(berth: Berth, busybox: str) -> None:
    """What a whole attached `berth run --rm` loads, beyond tests/cli/test_run_startup.py's start-up: runc is
    started by fork and exec (not subprocess with threading), the image's documents are hashed with the
    interpreter's SHA-2 (not hashlib's OpenSSL), argparse's messages need no locale, no terminal no termios,
    paths are strings (pathlib loads urllib.parse and ipaddress). The first run unpacks the layer (that hashes
    it): the second is the one checked."""
    berth.ok("run", "--rm", "--network", "none", busybox, "true")
    script = ("import sys; from cli.__main__ import main; code = main(sys.argv[1:]); "
              "print(' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, "run", "--rm", "--network", "none", busybox, "echo", "hi"],
                          env=berth.environ, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr
    loaded = set(done.stderr.split())
    assert "runtime.supervisor" in loaded
    assert sorted(loaded & {"subprocess", "threading", "hashlib", "_hashlib", "locale", "termios", "tty",
                            "runtime.attach", "aiohttp", "asyncio", "pathlib", "urllib.parse", "ipaddress"}) == []


def test_exit_codes_are_dockers(berth: Berth, busybox: str) -> None:
    result = berth.run("run", "--name", "three", busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (result.code, result.out, result.err) == (3, "out\n", "err\n")
    missing = berth.run("run", "--name", "missing", busybox, "no-such-command")
    assert missing.code == 127 and 'exec: "no-such-command": executable file not found' in missing.err
    assert missing.err.count("\n") == 1  # one line
    assert berth.run("run", "--rm", busybox, "/etc").code == 126  # a directory cannot be executed
    assert berth.run("run", "127.0.0.1:1/nothing/here:1", "true").code == 125  # berth's own failure
    assert berth.run("run", "--memory", "1k", busybox, "true").code == 125
    statuses = berth.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").out.splitlines()
    assert [" ".join(s.split()[:3]) for s in statuses] == ["missing Exited (127)", "three Exited (3)"]


def test_environment_workdir_and_hostname(berth: Berth, users: str, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\nFROM_FILE=1\nFROM_IMAGE=overridden-by-file\n\n")
    berth.environ["PASSED_THROUGH"] = "from berth's environment"
    out = berth.ok("run", "--rm", "--env-file", str(env_file), "-e", "FLAG=x y", "-e", "PASSED_THROUGH",
                   "-e", "UNSET_HERE", "-w", "/srv/app", "-h", "box", users,
                   "sh", "-c", "env; pwd; hostname").out.splitlines()
    assert {"FLAG=x y", "FROM_FILE=1", "FROM_IMAGE=overridden-by-file", "PATH=/bin", "HOSTNAME=box", "HOME=/root",
            "PASSED_THROUGH=from berth's environment"} <= set(out)
    assert not any(line.startswith("UNSET_HERE") for line in out)
    assert out[-2:] == ["/srv/app", "box"]  # the workdir is created when missing
    assert berth.ok("run", "--rm", users, "sh", "-c", "pwd").out == "/home\n"  # the image's WorkingDir


def test_users_resolved_in_the_image(berth: Berth, users: str) -> None:
    def id_of(*user: str) -> str:
        return berth.ok("run", "--rm", *user, users, "id").out.strip()

    assert id_of() == "uid=0(root) gid=0(root)"
    assert id_of("-u", "app") == "uid=1000(app) gid=1000(app) groups=2000(extra)"  # its groups in /etc/group
    assert id_of("-u", "app:extra") == "uid=1000(app) gid=2000(extra)"
    assert id_of("-u", "4321:99") == "uid=4321 gid=99"
    assert berth.ok("run", "--rm", "-u", "app", users, "sh", "-c", "echo $HOME").out == "/home/app\n"
    unknown = berth.run("run", "--rm", "-u", "nobody-here", users, "id")
    assert unknown.code == 125 and "unable to find user nobody-here" in unknown.err


def test_entrypoint_and_command(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    image = derive(busybox_layout, tmp_path, [], {"Entrypoint": ["echo", "entry"], "Cmd": ["default"]})
    berth.ok("load", "-q", "-i", str(oci_archive(image, "127.0.0.1:5000/test/entry:1", tmp_path / "e.tar")))
    name = "127.0.0.1:5000/test/entry:1"
    assert berth.ok("run", "--rm", name).out == "entry default\n"
    assert berth.ok("run", "--rm", name, "given").out == "entry given\n"
    assert berth.ok("run", "--rm", "--entrypoint", "hostname", "-h", "h1", name).out == "h1\n"
    assert berth.ok("run", "--rm", "--entrypoint", "", name, "echo", "plain").out == "plain\n"
    # docker clears the image's Cmd too when --entrypoint is given: nothing is left to run
    nothing = berth.run("run", "--rm", "--entrypoint", "", name)
    assert nothing.code == 125 and "No command specified" in nothing.err


def test_stdin_is_forwarded_with_i(berth: Berth, busybox: str) -> None:
    assert berth.ok("run", "--rm", "-i", busybox, "cat", stdin="line one\nline two\n").out == "line one\nline two\n"
    assert berth.ok("run", "--rm", busybox, "cat", stdin="not forwarded").out == ""


def test_bind_mounts_read_write_and_read_only(berth: Berth, busybox: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("host data\n")
    out = berth.ok("run", "--rm", "-v", f"{shared}:/data", busybox,
                   "sh", "-c", "cat /data/from-host; echo container data > /data/from-container").out
    assert out == "host data\n" and (shared / "from-container").read_text() == "container data\n"
    denied = berth.run("run", "--rm", "-v", f"{shared}:/data:ro", busybox, "sh", "-c", "echo x > /data/nope")
    assert denied.code != 0 and "Read-only file system" in denied.err and not (shared / "nope").exists()
    created = tmp_path / "created-by-berth"
    berth.ok("run", "--rm", "-v", f"{created}:/new", busybox, "true")
    assert created.is_dir()


def test_read_only_root_with_a_writable_volume(berth: Berth, busybox: str, tmp_path: Path) -> None:
    result = berth.run("run", "--rm", "--read-only", "-v", f"{tmp_path}:/scratch", busybox,
                       "sh", "-c", "echo ok > /scratch/f && echo bad > /tmp/f")
    assert result.code == 1 and "Read-only file system" in result.err
    assert (tmp_path / "f").read_text() == "ok\n"


def test_changes_stay_in_the_container_not_the_image(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "writer", busybox, "sh", "-c", "echo changed > /etc/motd; rm /bin/true")
    assert berth.ok("run", "--rm", busybox, "sh", "-c", "ls /etc; ls /bin/true").out.count("motd") == 0
    again = berth.run("start", "-a", "writer")  # the same container again: its upper directory is kept
    assert again.code == 1 and "can't remove '/bin/true'" in again.err
    assert berth.run("run", "--rm", busybox, "cat", "/etc/motd").code == 1


def test_networks_none_and_host(berth: Berth, busybox: str) -> None:
    none = berth.ok("run", "--rm", "--network", "none", busybox, "ls", "/sys/class/net").out.split()
    assert none == ["lo"]  # bridge, the default, is tests/containers/test_network.py's
    host = berth.ok("run", "--rm", "--network", "host", busybox, "ls", "/sys/class/net").out.split()
    steady = {n for n in os.listdir("/sys/class/net") if not n.startswith("vb")}  # bridged containers' veths go
    assert {n for n in host if not n.startswith("vb")} == steady  # (in the background, after their containers)
    assert berth.ok("run", "--rm", "--network", "host", busybox, "hostname").out.strip() == os.uname().nodename
    refused = berth.run("run", "--rm", "--network", "nosuch", busybox, "true")
    assert refused.code == 125 and "network nosuch not found" in refused.err


def test_ctrl_c_goes_to_the_container(berth: Berth, busybox: str) -> None:
    process = subprocess.Popen([str(BERTH), "run", "--rm", busybox, "sh", "-c",
                                "trap 'echo got INT; exit 3' INT; echo ready; while true; do sleep 0.1; done"],
                               env=berth.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 3
        assert process.stdout.read() == "got INT\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_hostile_layers_make_no_container(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    evil = tar_of({"ok": b"1", "../../../../../../" + str(victim / "pwned"): b"x"})
    image = derive(busybox_layout, tmp_path / "image", [evil])
    berth.ok("load", "-q", "-i", str(oci_archive(image, "127.0.0.1:5000/test/evil:1", tmp_path / "evil.tar")))
    result = berth.run("run", "--rm", "127.0.0.1:5000/test/evil:1", "true")
    assert result.code == 125 and "outside its root" in result.err
    assert list(victim.iterdir()) == [] and berth.run("ps", "-aq").out == ""


def test_a_hundred_layers_with_whiteouts(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    layers = [tar_of({f"layers/{n:03d}": str(n).encode()}) for n in range(100)]
    layers.append(tar_of({"layers/.wh.000": b"", "etc/.wh..wh..opq": b"", "etc/passwd": PASSWD_ONLY_ROOT}))
    image = derive(busybox_layout, tmp_path / "image", layers, compress=False)
    berth.ok("load", "-q", "-i", str(oci_archive(image, "127.0.0.1:5000/test/deep:1", tmp_path / "deep.tar")))
    started = time.monotonic()
    out = berth.ok("run", "--rm", "127.0.0.1:5000/test/deep:1", "sh", "-c", "ls /layers; ls /etc").out.split()
    assert out[:99] == [f"{n:03d}" for n in range(1, 100)]
    assert "passwd" in out[99:] and "group" not in out[99:]  # /etc made opaque by the top layer
    assert time.monotonic() - started < 60


PASSWD_ONLY_ROOT = b"root:x:0:0:root:/root:/bin/sh\n"


def test_an_image_holding_one_layer_twice(berth: Berth, busybox_layout: OciImage, tmp_path: Path) -> None:
    """Two steps that changed nothing alike give one layer twice (overlayfs refuses a lower directory given
    twice): it runs, and what the layer between its copies changed stays under the upper copy."""
    same, between = tar_of({"twice": b"same\n"}), tar_of({"twice": b"between\n", "between": b"b\n"})
    image = derive(busybox_layout, tmp_path / "image", [same, between, same])
    berth.ok("load", "-q", "-i", str(oci_archive(image, "127.0.0.1:5000/test/twice:1", tmp_path / "twice.tar")))
    assert berth.ok("run", "--rm", "127.0.0.1:5000/test/twice:1", "cat", "/twice", "/between").out == "same\nb\n"


@pytest.mark.parametrize("flag", ["--help"])
def test_every_container_command_has_help(berth: Berth, flag: str) -> None:
    for command in (["run"], ["ps"], ["start"], ["stop"], ["kill"], ["wait"], ["restart"], ["rm"], ["logs"],
                    ["inspect"], ["container"], ["container", "prune"], ["pause"], ["unpause"], ["rename"],
                    ["diff"]):
        result = berth.run_process(*command, flag)
        assert result.code == 0 and "usage: berth" in result.out, command


def test_a_terminal_with_t_and_keys_forwarded_with_it(berth: Berth, busybox: str) -> None:
    assert berth.ok("run", "--rm", "-t", busybox, "sh", "-c", "tty; echo $TERM").out == "/dev/pts/0\r\nxterm\r\n"
    assert converse(berth, "run", "--rm", "-it", busybox) == 4  # berth's own terminal: keys go through


def test_run_pulls_a_missing_image_first(berth: Berth, busybox_layout: OciImage,
                                         open_registry: RegistryProcess) -> None:
    name = f"{open_registry.host}/test/pulled:1"
    run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", busybox_layout.ref, f"docker://{name}"])
    result = berth.run("run", "--rm", name, "echo", "pulled and ran")
    assert (result.code, result.out) == (0, "pulled and ran\n")
    assert f"Unable to find image '{name}' locally" in result.err
    assert berth.ok("images", "-q").out.strip()
