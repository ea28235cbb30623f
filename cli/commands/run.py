"""`berth run`: a container from an image (pulled first if missing), attached or detached (-d), through runc."""

from __future__ import annotations

import argparse
import io

from registry.oci.digest import Digest
from runtime.containers import Container
from runtime.lifecycle import RuntimeHome, detach
from runtime.supervisor import Attachment, Supervisor

from ..containers import container_errors, runtime_home
from ..environment import Environment
from ..errors import CliError, ContainerFailed, NotFound
from ..local_images import LocalImage, find_image, store_errors
from ..run_options import add_flags, container_doc

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="create and run a container from an image", add_help=False,
                                 description="Create a container from IMAGE and run COMMAND in it (default: the "
                                             "image's). Attached, berth exits with the container's exit code.")
    parser.add_argument("--help", action="help", help="show this help message and exit")
    add_flags(parser)
    parser.set_defaults(func=run, exit_at_once=True)  # only the container's start and exit time matter here


def run(env: Environment, args: argparse.Namespace) -> int:
    try:
        return run_container(env, args)
    except ContainerFailed:
        raise
    except CliError as exc:  # docker run exits 125 for every failure of its own (no such image, bad flag)
        raise ContainerFailed(exc.message) from None


def run_container(env: Environment, args: argparse.Namespace) -> int:
    image = find_or_pull(env, args.image)
    home = runtime_home(env)
    with container_errors():
        doc = container_doc(env, args, image)
        layers = unpack_layers(env, home, image)
        store = home.containers()
        container = store.create(doc, args.name)
        runtime = home.runtime(args.runtime)
        if args.detach:
            detach(lambda started: Supervisor(store, container, runtime, layers).run(started),
                   f"{container.dir}/supervisor.log")
            env.print(container.id)
            return 0
        return Supervisor(store, container, runtime, layers, attachment(env, args.interactive)).run()


def find_or_pull(env: Environment, text: str) -> LocalImage:
    """The local image `text` names; pulled first when the store lacks it, as docker run does."""
    try:
        with store_errors():
            return find_image(env, env.store(), text)
    except NotFound:
        pass
    env.note(f"Unable to find image '{text}' locally")
    import asyncio

    from . import pull  # only now: the registry client's imports are slow to load

    ref = pull.image_ref(env, text)
    progress = env.replace(stdout=env.stderr)  # docker run pulls on stderr: stdout is the container's
    asyncio.run(pull.pull(progress, ref, pull.this_platform(), quiet=False))
    with store_errors():
        return find_image(env, env.store(), str(ref))


def unpack_layers(env: Environment, home: RuntimeHome, image: LocalImage) -> list[str]:
    """Each layer's directory, unpacked now if this is its first use (bottom layer first)."""
    from ..run_options import layer_digests

    layers, store = home.layers(), env.store()
    return [layers.ensure(store, Digest.parse(str(blob)), Digest.parse(diff_id) if diff_id else None)
            for blob, diff_id in layer_digests(image)]


def container_layers(env: Environment, container: Container) -> list[str]:
    """The layers of an existing container's image (unpacked again if they were removed meanwhile)."""
    home, store = runtime_home(env), env.store()
    layers = home.layers()
    return [layers.ensure(store, Digest.parse(blob), Digest.parse(diff_id) if diff_id else None)
            for blob, diff_id in container.berth["Layers"]]


def attachment(env: Environment, interactive: bool) -> Attachment:
    """The container's output to this terminal (or the injected streams), and stdin when -i is given."""
    streams: dict[str, Any] = {"stdout": env.stdout, "stderr": env.stderr}

    def write(stream: str, data: bytes) -> None:
        target = streams[stream]
        if hasattr(target, "buffer"):
            target.flush()  # text written before goes first
            target.buffer.write(data)
        else:
            target.write(data.decode(errors="replace"))
        target.flush()

    stdin: int | bytes | None = None
    if interactive:
        try:
            stdin = env.stdin.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            stdin = env.stdin.read().encode()
    return Attachment(write, stdin)
