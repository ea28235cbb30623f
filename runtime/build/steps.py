"""The two kinds of build step that change files, each ending as one layer: RUN, in a container started by
the same supervisor as `berth run`; COPY and ADD, written into the image's root filesystem mounted the same
way (an overlay of its layers under a fresh upper directory). Either way the upper directory becomes the layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from registry.oci.digest import Digest

from ..commit import ImageState, image_id, store_layer
from ..containers import ZERO_TIME, ContainerError
from ..image_store import ImageStore
from ..lifecycle import RuntimeHome, remove, wait_stopped
from ..oci_runtime import RuntimeFailed
from ..rootfs import Rootfs, RootfsError
from ..rootfs.diff import write_diff
from ..supervisor import Attachment, Supervisor
from . import BuildError
from .heredoc import PIPES

Layer = tuple[dict[str, Any], Digest]  # (descriptor, diff_id), as store_layer returns them


class StepRunner:
    def __init__(self, home: RuntimeHome, store: ImageStore, output: Callable[[bytes], None],
                 network: str = "none") -> None:
        self.home, self.store, self.output, self.network = home, store, output, network

    def layer_dirs(self, state: ImageState) -> list[str]:
        layers = self.home.layers()
        try:
            return [layers.ensure(self.store, blob, diff_id) for blob, diff_id in state.layer_digests()]
        except RootfsError as exc:
            raise BuildError(str(exc)) from None

    def run(self, state: ImageState, argv: list[str], env: list[str], announce: Callable[[str], None],
            pipes: dict[str, bytes] | None = None) -> Layer:
        """Run `argv` in a container of `state` (its user and workdir); its changes as a layer. `pipes` are
        files (a RUN here-document's `#!` script) shown read-only in /dev/pipes, where BuildKit mounts them:
        /dev is the container's own tmpfs, so they never end up in the layer."""
        with contextlib.ExitStack() as stack:
            binds = [f"{stack.enter_context(self._pipes(pipes))}:{PIPES}:ro"] if pipes else []
            return self._run(state, argv, env, announce, binds)

    def _run(self, state: ImageState, argv: list[str], env: list[str], announce: Callable[[str], None],
             binds: list[str]) -> Layer:
        containers = self.home.containers()
        container = containers.create(_container_doc(state, argv, env, self.network, binds), None)
        announce(container.short_id)
        try:
            supervisor = Supervisor(containers, container, self.home.runtime(None), self.layer_dirs(state),
                                    Attachment(lambda _stream, data: self.output(data)))
            try:
                code = supervisor.run()
            except RuntimeFailed as exc:
                raise BuildError(exc.message) from None
            wait_stopped(containers, container, 30)  # its supervisor has unmounted and let go
            if code != 0:
                raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}")
            with self.store.writing():
                return store_layer(self.store, lambda out: write_diff(Rootfs(container.dir).upper, out))
        finally:
            with contextlib.suppress(ContainerError, RuntimeFailed, RootfsError, OSError):
                remove(self.home, containers.reload(container), force=True)

    def change_files(self, state: ImageState, change: Callable[[Path], None]) -> Layer:
        """`change(root)` applied to `state`'s mounted root filesystem; what it changed as a layer."""
        with self._scratch() as directory:
            rootfs = Rootfs(directory)
            try:
                rootfs.mount(self.layer_dirs(state))
            except RootfsError as exc:
                raise BuildError(str(exc)) from None
            try:
                change(Path(rootfs.path))
            finally:
                rootfs.unmount()
            with self.store.writing():
                return store_layer(self.store, lambda out: write_diff(rootfs.upper, out))

    @contextlib.contextmanager
    def mounted(self, state: ImageState) -> Iterator[Path]:
        """`state`'s root filesystem, mounted for reading (COPY --from)."""
        with self._scratch() as directory:
            rootfs = Rootfs(directory)
            try:
                rootfs.mount(self.layer_dirs(state))
            except RootfsError as exc:
                raise BuildError(str(exc)) from None
            try:
                yield Path(rootfs.path)
            finally:
                rootfs.unmount()

    @contextlib.contextmanager
    def _pipes(self, files: dict[str, bytes]) -> Iterator[Path]:
        with self._scratch() as directory:
            os.chmod(directory, 0o755)  # a RUN as another USER reads and runs them too
            for name, data in files.items():
                made = directory / name
                made.write_bytes(data)
                os.chmod(made, 0o755)  # as BuildKit's llb.Mkfile(name, 0755)
            yield directory

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        directory = Path(self.home.root, "build", os.urandom(8).hex())
        directory.mkdir(parents=True)
        try:
            yield directory
        finally:
            with contextlib.suppress(OSError, RootfsError):
                Rootfs(directory).unmount(lazy=True)
            shutil.rmtree(directory, ignore_errors=True)


def _container_doc(state: ImageState, argv: list[str], env: list[str], network: str,
                   binds: list[str]) -> dict[str, Any]:
    """A RUN step's container record, in `berth run`'s shape (cli.run_options.container_doc)."""
    settings, image = state.settings, str(image_id(state))
    config = {"Hostname": "", "Domainname": "", "User": settings.get("User", ""), "AttachStdin": False,
              "AttachStdout": True, "AttachStderr": True, "Tty": False, "OpenStdin": False, "StdinOnce": False,
              "Env": env, "Cmd": argv, "Image": image, "Volumes": None, "WorkingDir": settings.get("WorkingDir", ""),
              "Entrypoint": None, "Labels": {}}
    host = {"Binds": binds or None, "NetworkMode": network, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
            "AutoRemove": False, "ReadonlyRootfs": False, "Memory": 0, "NanoCpus": 0, "PidsLimit": None,
            "Runtime": "runc"}
    status = {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
              "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}
    layers = [[str(blob), str(diff_id) if diff_id else None] for blob, diff_id in state.layer_digests()]
    return {"Path": argv[0], "Args": argv[1:], "State": status, "Image": image, "RestartCount": 0,
            "Driver": "overlay", "Platform": "linux", "HostConfig": host, "Config": config,
            "Berth": {"Layers": layers, "SupervisorPid": 0, "ManuallyStopped": False}}
