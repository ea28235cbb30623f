"""`berth tag`: give an image in the local store another name, as `docker tag` does."""

from __future__ import annotations

import argparse

from ..environment import Environment
from ..errors import ReferenceError_
from ..local_images import load_images, lookup, store_errors
from ..session import image_ref


def register(commands: argparse._SubParsersAction, name: str = "tag") -> None:
    parser = commands.add_parser(name, help="create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
                                 description="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]", help="a name, an image ID (or a prefix) or a digest")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    tag(env, args.source, args.target)
    return 0


def tag(env: Environment, source: str, target: str) -> str:
    """Point the name `target` at what `source` names (the whole index, for a multi-platform image)."""
    ref = image_ref(env, target)
    if ref.digest:
        raise ReferenceError_("refusing to create a tag with a digest reference")
    with store_errors():
        store = env.store()
        image = lookup(env, load_images(store), source).image
        store.set_reference(str(ref), image.descriptor)
    return str(ref)
