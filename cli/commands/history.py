"""`berth history`: the history of an image, newest first, as `docker history` shows it."""

from __future__ import annotations

import argparse
from typing import Any

from ..docker_words import created_since, human_size, parse_time, rfc3339
from ..environment import Environment
from ..local_images import LocalImage, load_images, lookup, store_errors
from ..templates import render_rows

DEFAULT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
           "Size": "SIZE", "Comment": "COMMENT"}
CREATED_BY_WIDTH = 45  # docker truncates the command at 45 characters without --no-trunc


def register(commands: argparse._SubParsersAction, name: str = "history") -> None:
    parser = commands.add_parser(name, help="show the history of an image",
                                 description="Show the history of an image: one line per step, newest first.")
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--format", default="", metavar="FORMAT",
                        help="'table' (default), 'table TEMPLATE', 'json', or a Go template")
    parser.add_argument("-H", "--human", type=_boolean, nargs="?", const=True, default=True, metavar="BOOL",
                        help="print sizes and dates in human readable format (default true)")
    parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    with store_errors():
        image = lookup(env, load_images(env.store()), args.image).image
    rows = history_rows(image, human=args.human, no_trunc=args.no_trunc)
    fmt = "{{.ID}}" if args.quiet else args.format
    for line in render_rows(fmt, rows, HEADERS, DEFAULT):
        env.print(line)
    return 0


def history_rows(image: LocalImage, *, human: bool = True, no_trunc: bool = False) -> list[dict[str, Any]]:
    """One row per history entry, newest first; each non-empty entry gets the size of its layer.

    Only the newest row names an image (its id): the steps below it were built elsewhere, so docker
    shows <missing> for them.
    """
    sizes = [int(layer.get("size", 0)) for layer in image.layers]
    entries = [e for e in image.config.get("history") or [] if isinstance(e, dict)]
    if not entries:  # no history recorded: one anonymous step per layer
        entries = [{"created": image.config.get("created")} for _ in sizes] or [{}]
    rows = []
    for entry in entries:
        size = 0 if entry.get("empty_layer") or not sizes else sizes.pop(0)
        created = parse_time(entry.get("created"))
        created_by = str(entry.get("created_by", "")).replace("\t", " ")
        if not no_trunc and len(created_by) > CREATED_BY_WIDTH:
            created_by = created_by[:CREATED_BY_WIDTH - 1] + "…"
        rows.append({"ID": "<missing>", "CreatedAt": rfc3339(created),
                     "CreatedSince": created_since(created) if human else rfc3339(created),
                     "CreatedBy": created_by, "Size": human_size(size) if human else str(size),
                     "Comment": str(entry.get("comment", ""))})
    rows.reverse()
    rows[0]["ID"] = image.id if no_trunc else image.short_id
    return rows


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "t"):
        return True
    if text.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")
