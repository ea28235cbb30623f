"""`berth rmi`: untag images and delete what no other name needs, as `docker rmi` does."""

from __future__ import annotations

import argparse

from runtime.image_store import ImageStore

from ..environment import Environment
from ..errors import CliError, NotFound
from ..local_images import LocalImage, collect_garbage, load_images, lookup, same_image, store_errors
from ..session import image_ref


def register(commands: argparse._SubParsersAction, name: str = "rmi", aliases: tuple[str, ...] = ()) -> None:
    parser = commands.add_parser(name, aliases=list(aliases), help="remove one or more images",
                                 description="Remove one or more images: a name is untagged; an image ID "
                                             "untags every name of the image. Blobs nothing else needs are "
                                             "deleted.")
    parser.add_argument("-f", "--force", action="store_true",
                        help="remove an image ID even when names in several repositories refer to it")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    """Like docker: go on after an image that cannot be removed, and fail at the end."""
    failed: CliError | None = None
    with store_errors():
        store = env.store()
    for text in args.images:
        try:
            for line in remove_image(env, store, text, force=args.force):
                env.print(line)
        except CliError as exc:
            env.stderr.write(f"Error: {exc.message}\n")
            failed = failed or exc
    return int(failed.code) if failed else 0


def remove_image(env: Environment, store: ImageStore, text: str, *, force: bool = False) -> list[str]:
    """Remove the name `text`, or every name of the image `text` identifies; the lines docker prints."""
    with store_errors():
        images = load_images(store)
        try:
            image, by_name = lookup(env, images, text)
        except NotFound:
            return _remove_unreadable(env, store, text)
        names = [image] if by_name else same_image(images, image)
        repositories = {i.repository for i in names if not i.dangling}
        if len(repositories) > 1 and not force:
            raise CliError(f"conflict: unable to delete {image.short_id} (must be forced) - "
                           "image is referenced in multiple repositories")
        if not force and (not by_name or len(same_image(images, image)) == 1):
            _refuse_if_used(env, text, image, by_name)
        lines = []
        for named in names:
            store.remove_reference(named.name)
            if not named.dangling:
                lines.append(f"Untagged: {named.name}")
        deleted, _ = collect_garbage(store, first=image.blobs())
    return lines + [f"Deleted: {digest}" for digest in deleted]


def _remove_unreadable(env: Environment, store: ImageStore, text: str) -> list[str]:
    """A name whose image cannot be read (a blob is missing) can still be untagged; else: no such image."""
    name = str(image_ref(env, text))
    if store.resolve(name) is None:
        raise NotFound(f"No such image: {text}")
    store.remove_reference(name)
    deleted, _ = collect_garbage(store)
    return [f"Untagged: {name}"] + [f"Deleted: {digest}" for digest in deleted]


def _refuse_if_used(env: Environment, text: str, image: LocalImage, by_name: bool) -> None:
    """Like docker, the last name of an image a container (in any state) was made from stays, unless forced."""
    from ..containers import container_store

    users = [c for c in container_store(env).list() if c.doc.get("Image") == image.id]
    if not users:
        return
    user = users[0]
    if by_name:
        raise CliError(f'conflict: unable to remove repository reference "{text}" (must force) - container '
                       f"{user.short_id} is using its referenced image {image.short_id}")
    raise CliError(f"conflict: unable to delete {image.short_id} (must be forced) - image is being used by "
                   f"{'running' if user.running else 'stopped'} container {user.short_id}")
