"""`berth commit`: a container's changes become an image that runs, keeps what it should, and goes where
images go (images, history, save)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.cli.conftest import Berth

IMAGE, LAYERED = "127.0.0.1:5000/committed/image:1", "127.0.0.1:5000/committed/layered:1"


def _layer_names(berth: Berth, reference: str, tmp_path: Path) -> list[str]:
    """The names in the image's top layer, read from a `berth save` archive."""
    archive = tmp_path / "saved.tar"
    berth.ok("save", "-o", str(archive), reference)
    with tarfile.open(archive) as outer:
        index = json.loads(_member(outer, "index.json"))
        digest = index["manifests"][0]["digest"]
        doc = json.loads(_member(outer, "blobs/" + digest.replace(":", "/")))
        if "manifests" in doc:
            doc = json.loads(_member(outer, "blobs/" + doc["manifests"][0]["digest"].replace(":", "/")))
        top = doc["layers"][-1]["digest"].replace(":", "/")
        with tarfile.open(fileobj=io.BytesIO(_member(outer, "blobs/" + top))) as layer:
            return layer.getnames()


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    found = archive.extractfile(name)
    assert found is not None, name
    return found.read()


def test_commit_then_run_the_new_image(berth: Berth, busybox: str, tmp_path: Path) -> None:
    script = ("echo kept > /new-file; mkdir -p /srv/data; echo x > /srv/data/a; ln /new-file /hard; "
              "ln -s /new-file /soft; rm /bin/hostname; mkdir /opaque; echo 1 >/opaque/one; "
              "chown 1000:2000 /srv/data/a; chmod 4755 /srv/data/a")
    berth.ok("run", "--name", "changed", "-e", "FROM_RUN=1", busybox, "sh", "-c", script)
    result = berth.ok("commit", "-m", "a message", "-a", "Someone <s@example.com>", "-c", 'CMD ["cat", "/new-file"]',
                      "-c", "ENV CHANGED=yes", "-c", "WORKDIR /srv", "-c", "LABEL stage=committed", "changed",
                      IMAGE)
    image_id = result.out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert "127.0.0.1:5000/committed/image" in berth.ok("images").out
    assert berth.ok("run", "--rm", IMAGE).out == "kept\n"  # the -c CMD
    out = berth.ok("run", "--rm", IMAGE, "sh", "-c",
                   "ls /bin/hostname 2>&1; stat -c '%u:%g %a' /srv/data/a; readlink /soft; "
                   "stat -c %h /new-file; pwd; echo $CHANGED $FROM_RUN").out.splitlines()
    assert "No such file" in out[0]  # the deleted file is absent (a whiteout)
    assert out[1:] == ["1000:2000 4755", "/new-file", "2", "/srv", "yes 1"]
    names = _layer_names(berth, IMAGE, tmp_path)
    assert {"new-file", "hard", "soft", "bin/.wh.hostname", "srv/data/a", "opaque/one"} <= set(names)
    assert not {"proc", "sys", "dev", "etc/hostname"} & set(names)  # the runtime's mount points stay out
    inspect = json.loads(berth.ok("image", "inspect", IMAGE).out)[0]
    assert inspect["Config"]["Labels"] == {"stage": "committed"}
    assert inspect["Author"] == "Someone <s@example.com>"
    history = berth.ok("history", "--no-trunc", IMAGE).out
    assert "a message" in history


def test_opaque_directory_and_untagged_commit(berth: Berth, busybox: str) -> None:
    berth.ok("run", "--name", "first", busybox, "sh", "-c", "mkdir /d; echo 1 > /d/one; echo 2 > /d/two")
    berth.ok("commit", "first", LAYERED)
    # Replacing a directory from a lower layer makes it opaque in overlayfs: its old files must stay hidden.
    berth.ok("run", "--name", "second", LAYERED, "sh", "-c", "rm -r /d; mkdir /d; echo 3 > /d/three")
    image_id = berth.ok("commit", "second").out.strip()
    assert berth.ok("run", "--rm", image_id[7:19], "ls", "/d").out == "three\n"
    assert "<none>" in berth.ok("images").out
    missing = berth.run("commit", "no-such-container")
    assert missing.code == 1 and "No such container: no-such-container" in missing.err
