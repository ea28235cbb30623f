"""Hostile input, as an attacker or a careless user gives it: tars that aim outside the container (`berth cp -`),
build contexts and Dockerfiles that reach for the host, volume names that are paths, a published port taken
twice. Each gets a clear error (docker's exit code) or a contained result, and leaves nothing half-made."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

from tests.cli.conftest import BERTH, Berth
from tests.containers.conftest import mounts_under, runc_states
from tests.containers.test_lifecycle import until
from tests.containers.test_network import free_port, leftovers


def hostile_tar(entries: list[tuple[str, str, str | bytes]]) -> bytes:
    """A tar of (kind, name, content or link target) entries; kind is file, dir, symlink or hardlink."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for kind, name, content in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = content if isinstance(content, bytes) else content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = str(content)
            tar.addfile(info)
    return out.getvalue()


def cp_from_stdin(berth: Berth, data: bytes, dest: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BERTH), "cp", "-", dest], input=data, capture_output=True, env=berth.environ,
                          timeout=60)


def test_cp_of_a_hostile_tar_lands_nothing_outside_the_container(berth: Berth, busybox: str,
                                                                 tmp_path: Path) -> None:
    """`..` and links that lead out are refused whole (exit 1, docker cp's for a refused copy); an absolute
    name lands under the destination, as docker's; a tar file replaces a container's symlink, not its target."""
    outside = tmp_path / "outside"
    outside.mkdir()
    berth.ok("run", "-d", "--name", "target", busybox, "sleep", "60")
    attempts = {
        "dotdot": [("file", "../../../../../../" + str(outside / "dotdot").lstrip("/"), "x")],
        "absolute": [("file", str(outside / "absolute"), "x")],
        "symlink": [("symlink", "link", str(outside)), ("file", "link/through-link", "x")],
        "relative-symlink": [("symlink", "up", "../../../../../../../../" + str(outside).lstrip("/")),
                             ("file", "up/through-up", "x")],
        "hardlink": [("hardlink", "shadow", "/etc/shadow")],
        "hardlink-up": [("hardlink", "shadow2", "../../../../../../../etc/shadow")],
        "hardlink-via-link": [("symlink", "etc", "/etc"), ("hardlink", "shadow3", "etc/shadow")],
        "hardlink-via-dir-link": [("symlink", "hostdir", str(outside)), ("hardlink", "h4", "hostdir/x")],
        "existing-link": [("file", "x", "x")],
    }
    berth.ok("exec", "target", "busybox", "ln", "-s", str(outside), "/tmp/x")
    results = {}
    for name, entries in attempts.items():
        done = cp_from_stdin(berth, hostile_tar(entries), "target:/tmp")
        results[name] = (done.returncode, done.stderr.decode())
    assert {name for name, (code, _) in results.items() if code == 0} == {"absolute", "existing-link"}
    assert all(code == 1 and err.count("\n") == 1 for code, err in results.values() if code), results
    assert "outside its root" in results["dotdot"][1] and "through a symlink" in results["symlink"][1]
    assert list(outside.iterdir()) == [] and os.stat("/etc/shadow").st_nlink == 1
    assert berth.ok("exec", "target", "cat", f"/tmp{outside}/absolute", "/tmp/x").out == "xx"


def test_a_port_taken_twice_fails_the_second_run_whole(berth: Berth, busybox: str) -> None:
    port = free_port()
    first = berth.ok("run", "-d", "--name", "first", "-p", f"127.0.0.1:{port}:80", busybox, "sleep", "60").out.strip()
    leases = Path("/run/berth/network/leases.json")
    before = json.loads(leases.read_text())
    second = berth.run("run", "-d", "--name", "second", "-p", f"127.0.0.1:{port}:80", busybox, "sleep", "60")
    assert second.code == 125 and "address already in use" in second.err
    # As docker, the container stays (not running) for the user to inspect or start later; what it held for
    # its network is gone: its address lease, namespace and veth.
    second_id = berth.ok("inspect", "-f", "{{.Id}}", "second").out.strip()
    assert berth.ok("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "second").out == "false 125\n"
    assert json.loads(leases.read_text()) == before and leftovers(second_id) == []
    until(lambda: mounts_under(berth.home / "containers" / second_id) == [])  # unmounted after berth ends
    assert berth.run("start", "second").code != 0 and leftovers(second_id) == []
    berth.ok("rm", "-f", "first")
    assert leftovers(first) == []
    berth.ok("start", "second")  # the port is free again
    assert berth.ok("port", "second").out == f"80/tcp -> 127.0.0.1:{port}\n"
    berth.ok("rm", "-f", "second")
    assert leftovers(second_id) == [] and json.loads(leases.read_text()).keys() <= before.keys()


def test_volume_names_that_are_paths(berth: Berth, busybox: str, tmp_path: Path) -> None:
    for name in ("a/b", "..", "../escape", ".hidden", "a"):
        refused = berth.run("volume", "create", name)
        assert refused.code == 1 and f'"{name}" includes invalid characters' in refused.err
    too_long = berth.run("volume", "create", "x" * 300)
    assert too_long.code == 1 and "volume name is too long (300 characters" in too_long.err
    assert berth.run("volume", "rm", "x" * 300).err.endswith(": no such volume\n")
    for flag in ("../rel:/data", "rel/dir:/data", "./rel:/data"):
        refused = berth.run("run", "--rm", "-v", flag, busybox, "true")
        assert refused.code == 125 and "If you intended to pass a host directory, use absolute path" in refused.err
    assert berth.run("run", "--rm", "-v", f"{'y' * 300}:/data", busybox, "true").code == 125
    for flag in ("vol:/", "vol:/data/../..", "/tmp:/"):  # over the root filesystem: runc's obscure failure
        refused = berth.run("run", "--rm", "-v", flag, busybox, "true")
        assert refused.code == 125 and refused.err.endswith("destination can't be '/'\n"), refused
    relative_target = berth.run("run", "--rm", "-v", "vol:relative", busybox, "true")
    assert relative_target.code == 125 and "mount path must be absolute" in relative_target.err
    assert berth.ok("volume", "ls", "-q").out == "" and berth.ok("ps", "-aq").out == ""
    assert [p.name for p in (berth.home / "volumes").iterdir()] == []  # no half-made volume either
    berth.ok("run", "-d", "--name", "user", "-v", "used:/data", busybox, "sh", "-c", "echo kept > /data/f; sleep 60")
    busy = berth.run("volume", "rm", "used")
    assert busy.code == 1 and "volume is in use" in busy.err
    berth.ok("rm", "-f", "user")
    assert berth.ok("run", "--rm", "-v", "used:/data", busybox, "cat", "/data/f").out == "kept\n"
    berth.ok("volume", "rm", "used")


def test_builds_that_reach_for_the_host(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """Symlinks in the context lead within it (docker's FollowSymlinkInScope), `..` stays in it, ADD unpacks
    a tar as a layer (nothing outside the image), and a Dockerfile that is not text fails in one line."""
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "root").symlink_to("/")
    (context / "passwd").symlink_to("/etc/passwd")
    (context / "a.txt").write_text("a\n")
    (context / "evil.tar").write_bytes(hostile_tar([("file", "../../../../../../.." + str(tmp_path / "up"), "x")]))
    (context / "abs.tar").write_bytes(hostile_tar([("file", str(tmp_path / "abs"), "x")]))
    (context / "link.tar").write_bytes(hostile_tar([("symlink", "l", str(tmp_path)), ("file", "l/link", "x")]))
    (context / "hard.tar").write_bytes(hostile_tar([("hardlink", "s", "/etc/shadow")]))
    refused = {
        "COPY root/etc/shadow /x": "root/etc/shadow is a dangling symlink in the build context",
        "COPY passwd /x": "passwd is a dangling symlink in the build context",
        "COPY ../../../../etc/shadow /x": "file not found in build context",
        "ADD evil.tar /x/": "ADD evil.tar: the layer has an entry outside its root",
        "ADD link.tar /x/": "ADD link.tar: the layer writes under 'l' through a symlink",
        "ADD hard.tar /x/": "hard link 's' points at '/etc/shadow', which the layer does not hold",
    }
    for line, error in refused.items():
        (context / "Dockerfile").write_text(f"FROM {busybox}\n{line}\n")
        failed = berth.run("build", "-q", "-t", "127.0.0.1:5000/h7/refused:1", str(context))
        assert failed.code == 1 and error in failed.err and failed.err.count("\n") == 1, (line, failed)
    (context / "Dockerfile").write_bytes(b"\xff\xfe\x00garbage\n")
    binary = berth.run("build", "-t", "127.0.0.1:5000/h7/refused:1", str(context))
    assert binary.code == 1
    assert binary.err == "Error: failed to parse Dockerfile: not UTF-8 text (byte 0xff at offset 0)\n"
    (context / "Dockerfile").write_text(f"FROM {busybox}\0\n")
    assert berth.run("build", "-t", "127.0.0.1:5000/h7/refused:1", str(context)).code == 1
    (context / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo " + "a" * 300_000 + "\n")  # > MAX_ARG_STRLEN
    assert berth.run("build", "-t", "127.0.0.1:5000/h7/refused:1", str(context)).code == 1
    assert "h7/refused" not in berth.ok("images").out  # nothing tagged on failure
    (context / "Dockerfile").write_text(f"FROM {busybox}\nCOPY root /ctx\nADD abs.tar /x/\n")
    berth.ok("build", "-q", "-t", "127.0.0.1:5000/h7/contained:1", str(context))
    inside = berth.ok("run", "--rm", "127.0.0.1:5000/h7/contained:1", "sh", "-c",
                      f"cat /ctx/a.txt /x{tmp_path}/abs; ls /ctx | wc -l").out
    assert inside == "a\nx8\n"  # `root` -> `/` is the context itself; an absolute name lands under /x
    assert sorted(p.name for p in tmp_path.iterdir()) == ["berth-home", "ctx"]
    assert berth.ok("ps", "-aq").out == ""
    until(lambda: mounts_under(berth.home) == [] and runc_states(berth.home / "runc") == [])  # --rm's, after it


def test_flags_that_would_forge_lines_or_crash(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """A host name or link alias becomes a line of /etc/hosts: a newline in one would add lines of the
    caller's choosing; an env file that is not UTF-8 was a traceback. Each is refused (125), nothing made."""
    berth.ok("run", "-d", "--name", "target", busybox, "sleep", "60")
    env_file = tmp_path / "env"
    env_file.write_bytes(b"GOOD=1\nBAD=\xff\n")
    refused = {
        ("-h", "x\n6.6.6.6 evil"): "invalid hostname format for --hostname: 'x\\n6.6.6.6 evil'",
        ("-h", "a b"): "invalid hostname format for --hostname: 'a b'",
        ("--link", "target:a\n6.6.6.6 evil"): "invalid alias for --link target: 'a\\n6.6.6.6 evil'",
        ("--env-file", str(env_file)): f"env file {env_file} contains invalid utf8 bytes at line 2",
        ("-p", "99999:80"): "invalid hostPort: 99999",
    }
    for flags, error in refused.items():
        for command in ("run", "create"):
            failed = berth.run(command, *flags, busybox, "true")
            assert failed.code == 125 and failed.err.startswith(f"Error: {error}"), (command, flags, failed)
    assert berth.ok("ps", "-a", "--format", "{{.Names}}").out == "target\n"
    out = berth.ok("run", "--rm", "-h", "fine.example", "--link", "target:db", busybox, "cat", "/etc/hosts").out
    assert "fine.example" in out and "\tdb " in out


def layers_of(berth: Berth, image: str, tmp_path: Path) -> bytes:
    """Every layer of `image` (as `berth save` writes them), uncompressed, one after another."""
    archive = tmp_path / "saved.tar"
    berth.ok("save", "-o", str(archive), image)
    found = b""
    with tarfile.open(archive) as saved:
        for member in saved.getmembers():
            if member.isfile() and member.name.startswith("blobs/"):
                data = saved.extractfile(member).read()  # type: ignore[union-attr]
                found += gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return found


def test_commit_of_a_container_swapping_dirs_for_host_symlinks(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """commit does not pause a running container (berth's -p is docker's flag only): while it reads the
    changes, the container renames directories away and puts symlinks to a host directory in their place.
    The commit neither fails on what vanished nor reads the host's files into the image."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "marker").write_text("HOST-SECRET-h7\n")
    swapper = ("for i in 1 2 3 4 5 6 7 8; do mkdir -p /d$i/sub; echo kept > /d$i/sub/f; done; touch /ready; "
               f"while :; do for i in 1 2 3 4 5 6 7 8; do mv /d$i /t$i; ln -s {host} /d$i; rm /d$i; mv /t$i /d$i; "
               "done; done")
    berth.ok("run", "-d", "--name", "swapper", busybox, "sh", "-c", swapper)
    until(lambda: berth.run("exec", "swapper", "cat", "/ready").code == 0)
    for n in range(3):
        berth.ok("commit", "swapper", f"127.0.0.1:5000/h7/swapped:{n}")
        assert b"HOST-SECRET-h7" not in layers_of(berth, f"127.0.0.1:5000/h7/swapped:{n}", tmp_path)
    out = berth.ok("run", "--rm", "127.0.0.1:5000/h7/swapped:2", "sh", "-c", "cat /ready /d*/sub/f | wc -l").out
    assert 1 <= int(out) <= 9
