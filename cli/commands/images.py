"""`berth images`: the images in the local store, with docker's columns, flags and filters."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from ..docker_words import created_at, created_since, human_size
from ..environment import Environment
from ..errors import ReferenceError_
from ..local_images import BadOption, LocalImage, load_images, lookup, store_errors
from ..session import image_ref
from ..templates import render_rows

DEFAULT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
WITH_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
HEADERS = {"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
           "ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE",
           "Tag": "TAG", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE"}


def register(commands: argparse._SubParsersAction, name: str = "images", aliases: tuple[str, ...] = ()) -> None:
    parser = commands.add_parser(name, aliases=list(aliases), help="list images",
                                 description="List the images in the local store, newest first.")
    parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]",
                        help="only images of this repository (and tag); * and ? match any characters")
    parser.add_argument("-a", "--all", action="store_true",
                        help="show all images (berth keeps no intermediate images: the same list)")
    parser.add_argument("--digests", action="store_true", help="show digests")
    parser.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                        help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE")
    parser.add_argument("--format", default="", metavar="FORMAT",
                        help="'table' (default), 'table TEMPLATE', 'json', or a Go template such as "
                             "'{{.Repository}}:{{.Tag}}'")
    parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    images = select_images(env, args.repository, args.filter)
    for line in image_lines(images, args.format, quiet=args.quiet, digests=args.digests, no_trunc=args.no_trunc):
        env.print(line)
    return 0


def select_images(env: Environment, pattern: str | None, filters: list[str]) -> list[LocalImage]:
    """The store's images that match, newest first (docker's order), then by name."""
    with store_errors():
        images = load_images(env.store(), env.note)
    chosen = [i for i in images if pattern is None or _matches(env, i, pattern)]
    for text in filters:
        key, _, value = text.partition("=")
        chosen = [i for i in chosen if _filter(env, images, i, key.strip(), value)]
    chosen.sort(key=lambda i: (i.repository, i.tag))
    return sorted(chosen, key=lambda i: i.created or datetime.min.replace(tzinfo=UTC), reverse=True)


def image_lines(images: list[LocalImage], fmt: str, *, quiet: bool = False, digests: bool = False,
                no_trunc: bool = False) -> list[str]:
    if quiet:  # one line per image, not per name
        return list(dict.fromkeys(i.id if no_trunc else i.short_id for i in images))
    rows = [_row(i, no_trunc) for i in images]
    return render_rows(fmt, rows, HEADERS, WITH_DIGESTS if digests else DEFAULT)


def _row(image: LocalImage, no_trunc: bool) -> dict[str, Any]:
    return {"Containers": "N/A", "CreatedAt": created_at(image.created), "CreatedSince": created_since(image.created),
            "Digest": image.digest, "ID": image.id if no_trunc else image.short_id, "Repository": image.repository,
            "SharedSize": "N/A", "Size": human_size(image.size), "Tag": image.tag, "UniqueSize": "N/A",
            "VirtualSize": human_size(image.size)}


def _matches(env: Environment, image: LocalImage, pattern: str) -> bool:
    """docker's reference matching: a name with the default registry, or a pattern over names."""
    if not any(c in pattern for c in "*?["):
        try:
            ref = image_ref(env, pattern)
        except ReferenceError_:
            ref = None  # no default registry: match the path below, whatever the host
        if ref is not None:
            if ref.digest:
                return ref.name == image.repository and str(ref.digest) == image.digest
            return ref.name == image.repository and ref.tag in (None, image.tag)
    slash = pattern.rfind("/")
    repository, tag = (pattern.rsplit(":", 1) if ":" in pattern[slash + 1:] else (pattern, None))
    names = (image.repository, image.repository.partition("/")[2])
    return any(fnmatchcase(n, repository) for n in names) and (tag is None or fnmatchcase(image.tag, tag))


def _filter(env: Environment, images: list[LocalImage], image: LocalImage, key: str, value: str) -> bool:
    if key == "dangling" and value in ("true", "false", "1", "0"):
        return image.dangling == (value in ("true", "1"))
    if key == "reference" and value:
        return _matches(env, image, value)
    if key == "label" and value:
        label, has_value, wanted = value.partition("=")
        labels = (image.config.get("config") or {}).get("Labels") or {}
        return label in labels and (not has_value or labels[label] == wanted)
    if key in ("before", "since") and value:
        pivot = lookup(env, images, value).image.created
        if pivot is None or image.created is None:
            return False
        return image.created < pivot if key == "before" else image.created > pivot
    raise BadOption(f"invalid filter '{key}={value}'" if value else f"invalid filter '{key}'")
