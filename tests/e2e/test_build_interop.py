"""Images built by berth run under the Docker engine and podman, and an image built by docker runs under berth;
they travel through a real berth-registry."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Berth
from tests.containers.conftest import BUSYBOX, clean_up
from tests.containers.images import oci_archive
from tests.support.docker_engine import DOCKERD, DockerEngine, load_image
from tests.support.images import OciImage
from tests.support.podman import Podman
from tests.support.registry_process import RegistryProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runc") is None,
                                reason="berth build runs containers: it needs root and runc")

DOCKERFILE = f"""\
FROM {BUSYBOX} AS build
RUN echo "built by $BUILDER" > /made
FROM {BUSYBOX}
ARG BUILDER=nobody
ENV BUILDER=$BUILDER
COPY --from=build /made /made
COPY note.txt /srv/
RUN rm /bin/hostname && echo ran > /srv/ran
CMD ["sh", "-c", "cat /made /srv/note.txt /srv/ran; ls /bin/hostname 2>/dev/null || echo gone"]
"""
EXPECTED = "built by \nnote\nran\ngone\n"  # the first stage has no BUILDER: ARG comes later, in the second


@pytest.fixture
def berth(tmp_path: Path, busybox_layout: OciImage) -> Iterator[Berth]:
    """A berth holding the busybox test image; every container it leaves is removed afterwards."""
    found = Berth(tmp_path / "berth-home")
    found.ok("load", "-q", "-i", str(oci_archive(busybox_layout, BUSYBOX, tmp_path / "busybox.tar")))
    try:
        yield found
    finally:
        clean_up(found)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, registry: RegistryProcess, busybox_layout: OciImage) -> str:
    """An image berth built and pushed to the registry."""
    root = tmp_path_factory.mktemp("berth-build")
    context = root / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "note.txt").write_text("note\n")
    name = f"{registry.host}/interop/berth-built:1"
    builder = Berth(root / "berth-home")
    builder.ok("load", "-q", "-i", str(oci_archive(busybox_layout, BUSYBOX, root / "busybox.tar")))
    try:
        builder.ok("build", "-t", name, "--build-arg", "BUILDER=berth", str(context))
        builder.ok("push", name)
    finally:
        clean_up(builder)
    return name


def test_berth_built_image_runs_under_docker(built: str, request: pytest.FixtureRequest) -> None:
    if shutil.which(DOCKERD) is None:
        pytest.skip("the Docker engine is not installed (apt-get install docker.io)")
    engine: DockerEngine = request.getfixturevalue("docker_engine")
    engine.docker("pull", built)
    try:
        assert engine.docker("run", "--rm", "--network", "none", built).stdout == EXPECTED
        assert engine.docker("run", "--rm", "--network", "none", built, "sh", "-c", "echo $BUILDER").stdout \
            == "berth\n"
    finally:
        engine.docker("rmi", "--force", built, check=False)


def test_berth_built_image_runs_under_podman(built: str, request: pytest.FixtureRequest) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (apt-get install podman)")
    podman: Podman = request.getfixturevalue("podman")
    podman("pull", "--quiet", "--tls-verify=false", built)
    try:
        assert podman("run", "--rm", built).stdout == EXPECTED
    finally:
        podman("rmi", "--force", built, check=False)


def test_docker_built_image_runs_under_berth(berth: Berth, registry: RegistryProcess, busybox_layout: OciImage,
                                             tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if shutil.which(DOCKERD) is None:
        pytest.skip("the Docker engine is not installed (apt-get install docker.io)")
    engine: DockerEngine = request.getfixturevalue("docker_engine")
    before = _image_ids(engine)
    load_image(engine, busybox_layout.ref, BUSYBOX)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "note.txt").write_text("note\n")
    name = f"{registry.host}/interop/docker-built:1"
    try:
        engine.docker("build", "--network", "none", "--build-arg", "BUILDER=docker", "-t", name, str(context))
        engine.docker("push", name)
    finally:
        # The engine is shared by the session: leave it as found. A multi-stage build leaves the other
        # stages' images, children of busybox, which would keep other tests from removing busybox.
        engine.docker("rmi", "--force", name, BUSYBOX, check=False)
        made = [image for image in _image_ids(engine) if image not in before]  # newest (children) first
        if made:
            engine.docker("rmi", "--force", *made, check=False)
    assert [image for image in _image_ids(engine) if image not in before] == []
    berth.ok("pull", name)
    assert berth.ok("run", "--rm", name).out == EXPECTED
    assert berth.ok("run", "--rm", name, "sh", "-c", "echo $BUILDER").out == "docker\n"


def _image_ids(engine: DockerEngine) -> list[str]:
    """Every image in the engine, intermediate ones too, newest first."""
    return engine.docker("images", "--all", "--quiet", "--no-trunc").stdout.split()
