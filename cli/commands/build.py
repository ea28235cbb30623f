"""`berth build`: an image from a Dockerfile and a context directory, as docker's classic builder makes one;
the context or the Dockerfile may come on stdin (`-`), as docker build takes them."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO

from runtime.build import BuildError
from runtime.build.cache import BuildCache
from runtime.build.context import BuildContext
from runtime.build.dockerfile import parse
from runtime.build.executor import Builder, BuildOptions
from runtime.build.stdin_context import dockerfile_in, is_archive, read_head, unpack_context
from runtime.build.steps import StepRunner
from runtime.commit import ImageState, store_image
from runtime.containers import ContainerError
from runtime.image_store import StoreError
from runtime.oci_runtime import RuntimeFailed
from runtime.rootfs import RootfsError

from ..containers import runtime_home
from ..environment import Environment
from ..errors import CliError, ReferenceError_
from ..local_images import BadOption
from ..session import image_ref


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("build", help="build an image from a Dockerfile",
                                 description="Build an image from a Dockerfile and a context (a directory, or "
                                             "a tar on stdin), step by step (each step cached), and name it "
                                             "with -t.")
    add = parser.add_argument
    add("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]", help="name the image (more than once: "
                                                                               "several names)")
    add("-f", "--file", metavar="PATH", help="the Dockerfile (default: PATH/Dockerfile; '-' reads stdin; with a "
                                                  "context tar on stdin, a path inside it)")
    add("--build-arg", action="append", default=[], metavar="KEY[=VALUE]", help="set a build-time variable")
    add("--target", metavar="STAGE", help="build the stages up to STAGE and stop")
    add("--no-cache", action="store_true", help="do not use the cache when building the image")
    add("--label", action="append", default=[], metavar="KEY=VALUE", help="set metadata for the image")
    add("-q", "--quiet", action="store_true", help="print only the image ID")
    add("--network", default="none", choices=("none", "host"),
        help="the network of RUN steps: none (only loopback, the default) or host")
    add("context", metavar="PATH | -", help="the build context: a directory; '-' reads a tar (plain or "
                                             "compressed) from stdin, or a Dockerfile with an empty context")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    names = [_name(env, text) for text in args.tag]
    if args.context == "-" and args.file == "-":
        raise CliError("invalid argument: can't use stdin for both build context and dockerfile")
    if args.context != "-" and not Path(args.context).is_dir():
        raise CliError(f'unable to prepare context: path "{args.context}" not found')
    options = BuildOptions(_key_values(args.build_arg, env.environ, "--build-arg"), args.target, args.no_cache,
                           _key_values(args.label, {}, "--label"))
    say = (lambda _text: None) if args.quiet else env.print
    with _build_errors():
        store, home = env.store(), runtime_home(env)
        with _context(env, args, Path(home.root, "build")) as (context_dir, text):
            dockerfile = parse(text)
            runner = StepRunner(home, store, (lambda _data: None) if args.quiet else _writer(env), args.network)
            cache = BuildCache.beside(home.root, store)
            builder = Builder(runner, cache, lambda name: _base_image(env, name), say, options)
            with store.writing():  # the new layers are referenced by no image until the end
                state = builder.build(dockerfile, BuildContext(context_dir))
                image_id, _ = store_image(store, state, names)
    if args.quiet:
        env.print(str(image_id))
        return 0
    env.print(f"Successfully built {image_id.encoded[:12]}")
    for name in names:
        env.print(f"Successfully tagged {name}")
    return 0


@contextlib.contextmanager
def _context(env: Environment, args: argparse.Namespace, scratch: Path) -> Iterator[tuple[Path, str]]:
    """The context directory and the Dockerfile's text: a directory and its Dockerfile (or -f's, which may be
    `-`: stdin); or, for `-`, what stdin holds (docker/cli's GetContextFromReader), in a scratch directory
    removed afterwards."""
    if args.context != "-":
        context_dir = Path(args.context)
        yield context_dir, _dockerfile_text(env, context_dir, args.file)
        return
    stdin = _binary_stdin(env)
    head = read_head(stdin)
    directory = scratch / f"context-{os.urandom(8).hex()}"
    directory.mkdir(parents=True, mode=0o700)
    try:
        if is_archive(head):
            unpack_context(head, stdin, directory)
            data = dockerfile_in(directory, args.file)
        elif args.file is not None:
            raise CliError("unable to prepare context: ambiguous Dockerfile source: both stdin and flag correspond "
                           "to Dockerfiles")
        else:
            data = head + stdin.read()  # a Dockerfile alone: the context is empty
        yield directory, _decoded(data)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _name(env: Environment, text: str) -> str:
    ref = image_ref(env, text)
    if ref.digest:
        raise ReferenceError_(f"invalid tag {text!r}: a digest is not a tag")
    return str(ref)


def _key_values(items: list[str], environ: Mapping[str, str], flag: str) -> dict[str, str]:
    """KEY=VALUE flags; a bare KEY takes its value from the environment (as docker's --build-arg does)."""
    found = {}
    for item in items:
        key, has_value, value = item.partition("=")
        if not key:
            raise BadOption(f"invalid {flag} {item!r}: expected KEY=VALUE")
        if has_value:
            found[key] = value
        elif key in environ:
            found[key] = environ[key]
    return found


def _dockerfile_text(env: Environment, context_dir: Path, file: str | None) -> str:
    if file == "-":
        return _decoded(_binary_stdin(env).read())
    path = Path(file) if file else context_dir / "Dockerfile"
    if not file and not path.exists() and (context_dir / "dockerfile").exists():
        path = context_dir / "dockerfile"  # docker/cli's getDockerfileRelPath: "just to be nice"
    try:
        return _decoded(path.read_bytes())
    except OSError as exc:
        raise CliError(f"unable to prepare context: unable to read Dockerfile {path}: "
                       f"{(exc.strerror or str(exc)).lower()}") from None


def _decoded(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:  # a binary file given as the Dockerfile: one line, not a traceback
        raise CliError(f"failed to parse Dockerfile: not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                       f"at offset {exc.start})") from None


def _binary_stdin(env: Environment) -> IO[bytes]:
    """stdin as bytes (a context tar is binary); a text-only stream (a test's) is taken as UTF-8."""
    stream = getattr(env.stdin, "buffer", None)
    return stream if stream is not None else io.BytesIO(env.stdin.read().encode())


def _base_image(env: Environment, name: str) -> ImageState:
    """A FROM image: from the local store, pulled first if it is not there (as docker build does)."""
    from .run import find_or_pull

    image = find_or_pull(env, name)
    return ImageState.of(image.manifest, image.config)


def _writer(env: Environment) -> Callable[[bytes], None]:
    """RUN steps' output, as it comes, to berth's stdout."""

    def write(data: bytes) -> None:
        target = env.stdout
        if hasattr(target, "buffer"):
            target.flush()
            target.buffer.write(data)
        else:
            target.write(data.decode(errors="replace"))
        target.flush()

    return write


@contextlib.contextmanager
def _build_errors() -> Iterator[None]:
    """Every failure of a build is one line and exit 1, as docker build's; nothing is tagged."""
    try:
        yield
    except (BuildError, ContainerError, RootfsError, StoreError) as exc:
        raise CliError(str(exc)) from None
    except RuntimeFailed as exc:
        raise CliError(exc.message) from None
    except CliError as exc:
        raise CliError(exc.message) from None
    except OSError as exc:
        raise CliError(f"{exc.filename or 'build'}: {exc.strerror or exc}") from None


