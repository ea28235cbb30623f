"""pause and unpause (a frozen container, its status, and what still ends it), rename (docker's rules, links
following the new name) and diff (a container's changes to its image, in docker's words and order)."""

from __future__ import annotations

import time

from tests.cli.conftest import Berth
from tests.containers.test_lifecycle import TICKER, status, until


def ticks(berth: Berth, name: str) -> int:
    return berth.ok("logs", name).out.count("tick")


def test_pause_freezes_and_unpause_thaws(berth: Berth, busybox: str) -> None:
    box = berth.ok("run", "-d", "--name", "ticker", busybox, "sh", "-c", TICKER).out.strip()
    until(lambda: ticks(berth, "ticker") >= 2)
    assert berth.ok("pause", "ticker").out == "ticker\n"
    frozen = ticks(berth, "ticker")
    time.sleep(1)
    assert ticks(berth, "ticker") <= frozen + 1  # at most one line already on its way
    assert status(berth, "ticker") == "paused"
    assert berth.ok("inspect", "-f", "{{.State.Paused}} {{.State.Running}}", "ticker").out == "true true\n"
    assert "(Paused)" in berth.ok("ps").out and " Up " in berth.ok("ps").out
    assert berth.ok("ps", "-q", "--filter", "status=paused").out == box[:12] + "\n"
    assert berth.ok("ps", "-q", "--filter", "status=running").out == ""
    refused = berth.run("exec", "ticker", "true")
    assert (refused.code, refused.err) == (
        1, "Error response from daemon: Container ticker is paused, unpause the container before exec\n")
    again = berth.run("pause", "ticker")
    assert (again.code, again.err) == (1, f"Error response from daemon: Container {box} is already paused\n")
    removing = berth.run("rm", "ticker")
    assert removing.code == 1 and f"You cannot remove a paused container {box}. Unpause and then stop" in removing.err
    started = berth.run("start", "ticker")
    assert started.code == 1 and "cannot start a paused container, try unpause instead" in started.err
    attached = berth.run("attach", "ticker")
    assert (attached.code, attached.err) == (1, "Error: You cannot attach to a paused container, unpause it first\n")
    assert "sh -c" in berth.ok("top", "ticker").out  # a frozen container's processes are still listed
    assert berth.ok("unpause", box[:8]).out == box[:8] + "\n"
    assert berth.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "ticker").out == "running false\n"
    thawed = ticks(berth, "ticker")
    until(lambda: ticks(berth, "ticker") >= thawed + 2)
    assert "(Paused)" not in berth.ok("ps").out
    not_paused = berth.run("unpause", "ticker")
    assert (not_paused.code, not_paused.err) == (1, f"Error response from daemon: Container {box} is not paused\n")


def test_stop_and_rm_f_end_a_paused_container(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "one", busybox, "sh", "-c", f"trap 'exit 3' TERM; {TICKER}")
    berth.ok("run", "-d", "--name", "two", busybox, "sleep", "60")
    assert berth.ok("pause", "one", "two").out == "one\ntwo\n"
    began = time.monotonic()
    assert berth.ok("stop", "one").out == "one\n"  # thawed after the signal: its trap answers at once
    assert time.monotonic() - began < 8
    assert berth.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}", "one").out == \
        "exited 3 false\n"
    assert "Exited (3)" in berth.ok("ps", "-a", "--filter", "name=one").out
    assert berth.ok("rm", "-f", "two").out == "two\n"
    assert berth.ok("ps", "-aq", "--filter", "name=two").out == ""


def test_pause_errors_and_the_others_still_go(berth: Berth, busybox: str) -> None:
    stopped = berth.ok("create", "--name", "stopped", busybox, "true").out.strip()
    berth.ok("run", "-d", "--name", "live", busybox, "sleep", "60")
    result = berth.run("pause", "stopped", "nothere", "live")
    assert result.code == 1 and result.out == "live\n"
    assert result.err == (f"Error response from daemon: Container {stopped} is not running\n"
                          "Error response from daemon: No such container: nothere\n")
    result = berth.run("unpause", "stopped", "live")
    assert result.code == 1 and result.out == "live\n"
    assert result.err == f"Error response from daemon: Container {stopped} is not paused\n"
    assert berth.run("unpause", "live").code == 1


def test_rename(berth: Berth, busybox: str) -> None:
    box = berth.ok("run", "-d", "--name", "old", busybox, "sleep", "60").out.strip()
    other = berth.ok("create", "--name", "other", busybox, "true").out.strip()
    assert berth.ok("rename", "old", "new").out == ""  # a running container may be renamed
    assert berth.ok("inspect", "-f", "{{.Name}} {{.State.Status}}", box).out == "/new running\n"
    assert berth.ok("ps", "--format", "{{.Names}}").out == "new\n"
    assert berth.run("inspect", "old").code == 1
    conflict = berth.run("rename", "new", "other")
    assert conflict.code == 1
    assert conflict.err == ('Error response from daemon: Error when allocating new name: Conflict. The container '
                            f'name "/other" is already in use by container "{other}". You have to remove (or '
                            "rename) that container to be able to reuse that name.\n"
                            "Error: failed to rename container named new\n")
    same = berth.run("rename", "new", "new")
    assert (same.code, same.err) == (1, "Error response from daemon: Renaming a container with the same name as its "
                                        "current name\nError: failed to rename container named new\n")
    invalid = berth.run("rename", "new", "no way")
    assert invalid.code == 1 and invalid.err.startswith(
        "Error response from daemon: Error when allocating new name: Invalid container name (/no way), only "
        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n")
    missing = berth.run("rename", "ghost", "spirit")
    assert missing.code == 1 and missing.err.startswith("Error response from daemon: No such container: ghost\n")
    assert berth.ok("rename", box[:6], "/slashed").out == ""
    assert berth.ok("inspect", "-f", "{{.Name}}", box).out == "/slashed\n"
    assert berth.ok("exec", "slashed", "true").code == 0


def test_diff_lists_adds_changes_and_deletions(berth: Berth, busybox: str) -> None:
    script = ("echo new > /new.txt && echo more >> /etc/passwd && rm /bin/true && mkdir -p /made/deep && "
              "touch /made/deep/f && rm -rf /tmp && mkdir /tmp && touch /tmp/y")  # /tmp: opaque, over the image's
    berth.ok("run", "--name", "changer", busybox, "sh", "-c", script)
    listed = berth.ok("diff", "changer").out.splitlines()
    assert listed == ["C /bin", "D /bin/true", "C /etc", "C /etc/passwd", "A /made", "A /made/deep",
                      "A /made/deep/f", "A /new.txt", "D /tmp", "A /tmp/y"], listed


def test_diff_of_a_running_container_and_a_modified_file(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "runner", busybox, "sh", "-c", "echo x >> /etc/group; sleep 60")
    until(lambda: "C /etc/group" in berth.ok("diff", "runner").out)
    listed = berth.ok("diff", "runner").out.splitlines()
    assert listed == ["C /etc", "C /etc/group"], listed  # not /etc/hosts, /etc/hostname, /proc, /dev...
    assert berth.ok("diff", "runner").out == berth.ok("diff", "runner").out
    missing = berth.run("diff", "ghost")
    assert (missing.code, missing.err) == (1, "Error response from daemon: No such container: ghost\n")


def test_diff_does_not_follow_a_containers_symlinks(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "linker", busybox, "sh", "-c",
             "ln -s / /escape && mkdir /d && ln -s /etc /d/etc && rm -rf /tmp && ln -s /proc/1/root /tmp")
    listed = berth.ok("diff", "linker").out.splitlines()
    assert listed == ["A /d", "A /d/etc", "A /escape", "C /tmp"], listed
