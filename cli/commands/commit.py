"""`berth commit`: a container's changes become a new image, as `docker commit` makes one."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.commit import ImageState, commit_container
from runtime.rootfs import RootfsError

from ..config_changes import apply_changes
from ..containers import find
from ..environment import Environment
from ..errors import CliError, NotFound, ReferenceError_
from ..local_images import load_images, store_errors
from ..session import image_ref

# What a container's Config carries into the image's config (docker's commit merges the same fields).
IMAGE_SETTINGS = ("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "Volumes", "WorkingDir", "Entrypoint",
                  "OnBuild", "Labels", "StopSignal", "Shell")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("commit", help="create a new image from a container's changes",
                                 description="Create a new image from a container's changes (its files and "
                                             "its config), and print the image's ID.")
    parser.add_argument("-a", "--author", default="", help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    parser.add_argument("-c", "--change", action="append", default=[], metavar="CHANGE",
                        help="apply a Dockerfile instruction to the image's config: CMD, ENTRYPOINT, ENV, "
                             "EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR")
    parser.add_argument("-m", "--message", default="", help="commit message")
    parser.add_argument("-p", "--pause", nargs="?", const="true", default="true", choices=("true", "false"),
                        help="accepted for docker's sake: a running container is not paused while committing")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    names = []
    if args.reference:
        ref = image_ref(env, args.reference)
        if ref.digest:
            raise ReferenceError_("refusing to create a tag with a digest reference")
        names.append(str(ref))
    container = find(env, args.container)
    with store_errors():
        store = env.store()
        image = next((i for i in load_images(store) if i.id == container.doc.get("Image")), None)
        if image is None:
            raise NotFound(f"the image of container {container.short_id} ({container.doc.get('Image')}) is no "
                           "longer in the store")
        settings = apply_changes(container_settings(image.config.get("config") or {}, container.config),
                                 args.change)
        try:
            image_id = commit_container(store, container, ImageState.of(image.manifest, image.config), settings,
                                        message=args.message, author=args.author, names=names)
        except RootfsError as exc:
            raise CliError(str(exc)) from None
    env.print(str(image_id))
    return 0


def container_settings(image_settings: dict[str, Any], container_config: dict[str, Any]) -> dict[str, Any]:
    """The image's config with the container's own (its command, -e, -w, -u...) over it."""
    merged = dict(image_settings)
    for key in IMAGE_SETTINGS:
        value = container_config.get(key)
        if value not in (None, "", [], {}):
            merged[key] = value
    return merged
