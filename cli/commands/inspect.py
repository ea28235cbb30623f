"""`berth inspect`: containers and images as docker inspect shows them, or through a Go template (-f)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..containers import container_errors, container_store, inspect_payload
from ..environment import Environment
from ..errors import CliError, NotFound
from ..templates import JSON_FORMAT, Template

# Fields docker types as slices or maps print [] or map[] when null (the image ones, and the container's).
CONTAINER_EMPTY = {**dict.fromkeys(("Args", "Binds", "Cmd", "Entrypoint", "Env", "Mounts"), "[]"),
                   **dict.fromkeys(("Labels", "Volumes", "ExposedPorts"), "map[]")}


def register(commands: argparse._SubParsersAction, name: str = "inspect", kinds: tuple[str, ...] = ("container",
                                                                                                     "image")) -> None:
    parser = commands.add_parser(name, help="display detailed information on containers or images",
                                 description="Display detailed information on containers or images, as JSON.")
    parser.add_argument("-f", "--format", default="", metavar="FORMAT",
                        help="a Go template, e.g. '{{.State.Status}}', '{{json .Config}}'")
    if len(kinds) > 1:
        parser.add_argument("--type", choices=kinds, help="only look for this kind of object")
    parser.add_argument("names", nargs="+", metavar="NAME")
    parser.set_defaults(func=run, kinds=kinds)


def run(env: Environment, args: argparse.Namespace) -> int:
    kinds = (args.type,) if getattr(args, "type", None) else args.kinds
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    for name in args.names:
        payload = _find(env, name, kinds)
        if payload is None:
            missing.append(name)
        else:
            found.append(payload)
    if args.format:
        from .image import TYPED_EMPTY

        template = Template(JSON_FORMAT if args.format == "json" else args.format, {**TYPED_EMPTY, **CONTAINER_EMPTY})
        for payload in found:
            env.print(template.render(payload))
    else:
        env.print(json.dumps(found, indent=4, ensure_ascii=False))
    for name in missing:
        env.stderr.write(f"Error: No such object: {name}\n")
    return 1 if missing else 0


def _find(env: Environment, name: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    if "container" in kinds:
        try:
            with container_errors():
                return inspect_payload(container_store(env).get(name))
        except CliError as exc:
            if not exc.message.startswith("No such container"):
                raise
    if "image" in kinds:
        from .image import inspect_images

        try:
            images, _ = inspect_images(env, [name])
        except NotFound:
            return None
        return images[0] if images else None
    return None
