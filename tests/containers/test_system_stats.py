"""`berth system df`, `berth system prune` and `berth stats` as a docker user meets them: the disk usage of what
exists, prune removing exactly what docker's would (and the prompt), and the live usage of busy containers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cli.docker_words import human_size
from tests.cli.conftest import BERTH, Berth

BUSY_LOOP = "while :; do :; done"
STATS_HEADER = "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"
PROMPT = ("WARNING! This will remove:\n  - all stopped containers\n  - all dangling images\n"
          "  - unused build cache\n\nAre you sure you want to continue? [y/N] ")


def df_rows(berth: Berth) -> dict[str, list[str]]:
    """TYPE -> [TOTAL, ACTIVE, SIZE, RECLAIMABLE] (cells split on docker's column gaps)."""
    lines = berth.ok("system", "df").out.splitlines()
    assert lines[0] == "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[1:])}


def container_id(berth: Berth, name: str) -> str:
    return berth.ok("inspect", "-f", "{{.Id}}", name).out.strip()


def anonymous_volume(berth: Berth, name: str, destination: str) -> str:
    mounts = json.loads(berth.ok("inspect", "-f", "{{json .Mounts}}", name).out)
    return next(m["Name"] for m in mounts if m["Destination"] == destination)


@pytest.fixture
def scene(berth: Berth, busybox: str) -> dict[str, str]:
    """A running container (named volume at /data with 50 kB, an anonymous one at /cache), a stopped one that
    wrote 100 kB and left 20 kB in its anonymous volume, and an unused named volume holding 10 kB."""
    berth.ok("volume", "create", "spare")
    (berth.home / "volumes/spare/_data/file").write_bytes(b"s" * 10_000)
    berth.ok("run", "-d", "--name", "busy", "-v", "named:/data", "-v", "/cache", busybox,
             "sh", "-c", f"head -c 50000 /dev/zero > /data/f; {BUSY_LOOP}")
    berth.ok("run", "--name", "done", "-v", "/anon", busybox,
             "sh", "-c", "head -c 100000 /dev/zero > /written; head -c 20000 /dev/zero > /anon/f")
    for _ in range(50):  # the busy loop's first write
        if (berth.home / "volumes/named/_data/f").is_file() and \
                (berth.home / "volumes/named/_data/f").stat().st_size == 50_000:
            break
        time.sleep(0.1)
    return {"done": container_id(berth, "done"), "done_volume": anonymous_volume(berth, "done", "/anon"),
            "busy_volume": anonymous_volume(berth, "busy", "/cache")}


def test_df_counts_what_exists(berth: Berth, busybox: str, scene: dict[str, str]) -> None:
    size = int(berth.ok("image", "inspect", "-f", "{{.Size}}", busybox).out)
    rows = df_rows(berth)
    assert rows["Images"] == ["1", "1", human_size(size, 4), "0B (0%)"]  # docker's units.HumanSize
    assert rows["Containers"] == ["2", "1", "100kB", "100kB (100%)"]
    assert rows["Local Volumes"] == ["4", "3", "80kB", "10kB (12%)"]
    assert rows["Build Cache"] == ["0", "0", "0B", "0B"]
    as_json = [json.loads(line) for line in berth.ok("system", "df", "--format", "json").out.splitlines()]
    assert as_json[2] == {"Active": "3", "Reclaimable": "10kB (12%)", "Size": "80kB", "TotalCount": "4",
                          "Type": "Local Volumes"}
    assert berth.ok("system", "df", "--format", "{{.Type}}: {{.TotalCount}}").out.splitlines() == [
        "Images: 1", "Containers: 2", "Local Volumes: 4", "Build Cache: 0"]


def test_df_verbose_lists_each_item(berth: Berth, busybox: str, scene: dict[str, str]) -> None:
    out = berth.ok("system", "df", "-v").out
    images, containers, volumes, cache = re.split(r"\n\n(?=Containers space|Local Volumes space|Build cache)",
                                                  out)
    image_lines = images.splitlines()
    assert image_lines[:2] == ["Images space usage:", ""]
    assert re.split(r"\s{3,}", image_lines[2].strip()) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
                                                          "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]
    assert image_lines[3].split()[:3] == ["127.0.0.1:5000/test/busybox", "1",
                                          berth.ok("images", "-q").out.strip()]
    assert image_lines[3].split()[-1] == "2"  # both containers were made from it
    container_lines = containers.splitlines()
    assert container_lines[2].split()[:4] == ["CONTAINER", "ID", "IMAGE", "COMMAND"]
    done = next(line for line in container_lines if line.endswith(" done"))
    cells = re.split(r"\s{3,}", done)
    assert cells[0] == scene["done"][:12] and cells[3:5] == ["1", "100kB"] and cells[6].startswith("Exited (0)")
    volume_lines = volumes.splitlines()
    assert volume_lines[2].split() == ["VOLUME", "NAME", "LINKS", "SIZE"]
    listed = {line.split()[0]: line.split()[1:] for line in volume_lines[3:]}
    assert listed == {"named": ["1", "50kB"], "spare": ["0", "10kB"], scene["done_volume"]: ["1", "20kB"],
                      scene["busy_volume"]: ["1", "0B"]}
    assert cache.splitlines()[:2] == ["Build cache usage: 0B", ""]


def test_prune_removes_what_docker_would_and_keeps_the_rest(berth: Berth, busybox: str, users: str,
                                                             scene: dict[str, str]) -> None:
    declined = berth.run("system", "prune", stdin="n\n")
    assert (declined.code, declined.out, declined.err) == (0, PROMPT, "")
    assert len(berth.ok("ps", "-aq").out.split()) == 2
    pruned = berth.ok("system", "prune", "-f").out
    assert re.fullmatch(rf"Deleted Containers:\n{scene['done']}\n\nTotal reclaimed space: 100(\.\d+)?kB\n", pruned)
    assert berth.ok("ps", "-a", "--format", "{{.Names}}").out == "busy\n"
    assert len(berth.ok("volume", "ls", "-q").out.split()) == 4  # no --volumes: they all stay
    assert len(berth.ok("images", "-q").out.split()) == 2  # none is dangling
    users_id = berth.ok("image", "inspect", "-f", "{{.Id}}", users).out.strip()
    everything = berth.ok("system", "prune", "-a", "--volumes", "-f").out
    volumes_part, images_part = everything.split("\n\n")[:2]
    assert volumes_part == f"Deleted Volumes:\n{scene['done_volume']}"  # the running one's and named ones stay
    assert images_part.splitlines()[:3] == ["Deleted Images:", f"untagged: {users}", f"deleted: {users_id}"]
    assert re.search(r"\n\nTotal reclaimed space: [\d.]+[kM]?B\n$", everything)
    assert berth.ok("images", "--format", "{{.Repository}}:{{.Tag}}").out == f"{busybox}\n"  # busy's image
    assert sorted(berth.ok("volume", "ls", "-q").out.split()) == sorted(["named", "spare", scene["busy_volume"]])
    assert berth.ok("system", "prune", "-a", "--volumes", "-f").out == "Total reclaimed space: 0B\n"


def test_prune_prompt_names_what_goes(berth: Berth) -> None:
    declined = berth.run("system", "prune", "-a", "--volumes", stdin="yes\n")  # only y or Y goes on
    assert declined.code == 0 and declined.out == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all images without at least one container associated to them\n  - all build cache\n\n"
        "Are you sure you want to continue? [y/N] ")
    assert berth.ok("system", "prune", stdin="Y\n").out == PROMPT + "Total reclaimed space: 0B\n"


def test_build_cache_is_counted_and_pruned_with_its_dangling_image(berth: Berth, busybox: str,
                                                                      tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nRUN head -c 30000 /dev/zero > /made\n")
    built = berth.ok("build", "-q", str(tmp_path)).out.strip()  # untagged: a dangling image
    rows = df_rows(berth)
    assert rows["Images"][:2] == ["2", "0"] and rows["Images"][3].endswith("(100%)")
    total, active, size, reclaimable = rows["Build Cache"]
    assert int(total) >= 1 and active == "0" and size == reclaimable and size != "0B"
    out = berth.ok("system", "prune", "-f").out
    assert f"Deleted Images:\ndeleted: {built}\n" in out
    assert re.search(r"\n\nDeleted build cache objects:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: ", out)
    assert df_rows(berth)["Build Cache"] == ["0", "0", "0B", "0B"]
    assert berth.ok("images", "-q").out.strip() != ""  # busybox stays: it is tagged


def stats_cells(line: str) -> list[str]:
    return re.split(r"\s{3,}", line.strip())


def test_stats_of_a_busy_container(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "busy", "-m", "64m", busybox, "sh", "-c", f"sleep 1000 & {BUSY_LOOP}")
    berth.ok("run", "-d", "--name", "quiet", "--network", "none", busybox, "sleep", "1000")
    busy_id = container_id(berth, "busy")
    time.sleep(0.3)
    out = berth.ok("stats", "--no-stream", "busy").out.splitlines()
    assert stats_cells(out[0]) == stats_cells(STATS_HEADER)  # widths follow the cells, as tabwriter's
    short, name, cpu, memory, memory_percent, net, block, pids = stats_cells(out[1])
    assert (short, name, pids) == (busy_id[:12], "busy", "2")  # sh (the loop) and sleep
    assert float(cpu.rstrip("%")) > 20 and memory.endswith(" / 64MiB") and memory_percent.endswith("%")
    assert re.fullmatch(r"\d+(\.\d+)?[kMG]?B / \d+(\.\d+)?[kMG]?B", net) and re.fullmatch(r".+B / .+B", block)
    listed = berth.ok("stats", "--no-stream").out.splitlines()
    assert [stats_cells(line)[1] for line in listed[1:]] == ["quiet", "busy"]  # newest first
    quiet = stats_cells(listed[1])
    assert quiet[5] == "0B / 0B" and quiet[7] == "1"  # --network none: no interface but loopback
    assert berth.ok("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Container}} {{.Name}}",
                    "busy").out == f"{busy_id} busy busy\n"
    [as_json] = [json.loads(line) for line in berth.ok("stats", "--no-stream", "--format", "json",
                                                      busy_id[:8]).out.splitlines()]
    assert sorted(as_json) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO",
                               "PIDs"] and as_json["Container"] == busy_id[:8]
    table = berth.ok("stats", "--no-stream", "--format", "table {{.Name}}\t{{.MemUsage}}", "busy").out
    assert table.splitlines()[0] == "NAME      MEM USAGE / LIMIT"


def test_stats_of_stopped_and_missing_containers(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "done", busybox, "true")
    assert berth.ok("stats", "--no-stream").out == STATS_HEADER + "\n"  # only running ones without -a
    [row] = berth.ok("stats", "--no-stream", "-a").out.splitlines()[1:]
    assert stats_cells(row)[1:] == ["done", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]
    missing = berth.run("stats", "--no-stream", "done", "nosuch")
    assert (missing.code, missing.out, missing.err) == (1, "", "Error: No such container: nosuch\n")


def test_stats_streams_until_interrupted(berth: Berth, busybox: str) -> None:
    berth.ok("run", "-d", "--name", "busy", busybox, "sleep", "1000")
    # Ctrl-C as a terminal sends it: the suite's PostgreSQL pass runs as a background job of make's shell,
    # which ignores SIGINT, and a child started so keeps ignoring it (Python installs no handler then).
    process = subprocess.Popen([str(BERTH), "stats", "busy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=berth.environ,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 130
    frames = out.split("\033[2J\033[H")[1:]
    assert len(frames) >= 2
    for frame in frames:  # each redraw: the header and the container's row
        header, line = frame.splitlines()
        assert stats_cells(header) == stats_cells(STATS_HEADER) and stats_cells(line)[1] == "busy"
