"""`berth image`: docker's image group (inspect, prune, and ls, rm, tag, history, import by their group names)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
from collections.abc import Collection
from typing import Any

from runtime.image_store import ImageStore

from ..docker_words import human_size
from ..environment import Environment
from ..errors import CliError, ExitCode
from ..local_images import LocalImage, collect_garbage, load_images, lookup, same_image, store_errors
from ..templates import JSON_FORMAT, Template
from . import history, images, import_, rmi, tag

# Fields docker types as slices or maps: a template prints [] or map[] for them when they are null or absent.
TYPED_EMPTY = {**dict.fromkeys(("Cmd", "Entrypoint", "Env", "OnBuild", "Shell", "RepoTags", "RepoDigests",
                                "Layers"), "[]"),
               **dict.fromkeys(("Volumes", "Labels", "ExposedPorts"), "map[]")}
# docker's container.Config, in its order; None stays null, a missing default is left out (omitempty).
CONFIG_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False), ("AttachStdout", False),
    ("AttachStderr", False), ("ExposedPorts", ...), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False),
    ("Env", None), ("Cmd", None), ("Healthcheck", ...), ("ArgsEscaped", ...), ("Image", ""), ("Volumes", None),
    ("WorkingDir", ""), ("Entrypoint", None), ("OnBuild", None), ("Labels", None), ("StopSignal", ...),
    ("StopTimeout", ...), ("Shell", ...))
PRUNE_WARNING = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
OTHER_GROUP_COMMANDS = ("pull", "push", "save", "load")  # other modules' commands, when they exist


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("image", help="manage images", description="Manage images in the local store.")
    group = parser.add_subparsers(dest="image_command", metavar="COMMAND")
    parser.set_defaults(func=lambda env, _args: parser.print_help(env.stderr) or ExitCode.USAGE)
    inspect = group.add_parser("inspect", help="display detailed information on one or more images",
                               description="Display detailed information on one or more images, as JSON.")
    inspect.add_argument("-f", "--format", default="", metavar="FORMAT",
                         help="a Go template, e.g. '{{.Id}}', '{{json .Config}}', '{{.Os}}/{{.Architecture}}'")
    inspect.add_argument("images", nargs="+", metavar="IMAGE")
    inspect.set_defaults(func=run_inspect)
    prune = group.add_parser("prune", help="remove dangling images and unreferenced blobs",
                             description="Remove untagged (dangling) images and every blob no image needs.")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=run_prune)
    images.register(group, "ls", aliases=("list",))
    rmi.register(group, "rm", aliases=("remove",))
    tag.register(group)
    history.register(group)
    import_.register(group)
    for name in OTHER_GROUP_COMMANDS:
        if importlib.util.find_spec(f"cli.commands.{name}"):
            importlib.import_module(f"cli.commands.{name}").register(group)


def run_inspect(env: Environment, args: argparse.Namespace) -> int:
    found, missing = inspect_images(env, args.images)
    if args.format:
        template = Template(JSON_FORMAT if args.format == "json" else args.format, TYPED_EMPTY)
        for payload in found:
            env.print(template.render(payload))
    else:
        env.print(json.dumps(found, indent=4, ensure_ascii=False))
    for error in missing:
        env.stderr.write(f"Error: {error.message}\n")
    return int(missing[0].code) if missing else 0


def inspect_images(env: Environment, names: list[str]) -> tuple[list[dict[str, Any]], list[CliError]]:
    """docker's image inspect payload for each image found, and the error of each one not found."""
    found, missing = [], []
    with store_errors():
        known = load_images(env.store())
    for name in names:
        try:
            found.append(inspect_payload(known, lookup(env, known, name).image))
        except CliError as exc:
            missing.append(exc)
    return found, missing


def inspect_payload(known: list[LocalImage], image: LocalImage) -> dict[str, Any]:
    names = same_image(known, image)
    config, rootfs = image.config, image.config.get("rootfs") or {}
    history_entries = [h for h in config.get("history") or [] if isinstance(h, dict)]
    comment = config.get("comment") or (history_entries[-1].get("comment", "") if history_entries else "")
    payload: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": [n.name for n in names if not n.dangling and n.tag != "<none>"],
        "RepoDigests": list(dict.fromkeys(f"{n.repository}@{n.digest}" for n in names if not n.dangling)),
        "Parent": "", "Comment": comment, "Created": config.get("created") or "0001-01-01T00:00:00Z",
        "DockerVersion": config.get("docker_version", ""), "Author": config.get("author", ""),
        "Config": docker_config(config.get("config") or {}), "Architecture": config.get("architecture", ""),
    }
    if config.get("variant"):
        payload["Variant"] = config["variant"]
    payload["Os"] = config.get("os", "")
    if config.get("os.version"):
        payload["OsVersion"] = config["os.version"]
    payload |= {"Size": image.size,
                "RootFS": {"Type": rootfs.get("type", "layers"), "Layers": rootfs.get("diff_ids") or []},
                "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
                "Descriptor": {k: v for k, v in image.descriptor.items() if k in ("mediaType", "digest", "size")}}
    return payload


def docker_config(config: dict[str, Any]) -> dict[str, Any]:
    """The OCI config's `config` in the shape and order of docker's container.Config."""
    shaped = {name: config.get(name, default) for name, default in CONFIG_FIELDS
              if name in config or default is not ...}
    return shaped | {k: v for k, v in config.items() if k not in shaped}


def run_prune(env: Environment, args: argparse.Namespace) -> int:
    if not args.force:
        env.stdout.write(PRUNE_WARNING)
        env.stdout.flush()
        if env.stdin.readline().strip().lower() not in ("y", "yes"):
            env.print("Total reclaimed space: 0B")
            return 0
    with store_errors():
        lines, freed = prune(env.store())
    if lines:
        env.print("\n".join(["Deleted Images:", *lines, ""]))
    env.print(f"Total reclaimed space: {human_size(freed, 4)}")
    return 0


def prune(store: ImageStore, keep: Collection[str] | None = None) -> tuple[list[str], int]:
    """Remove the dangling images (untagged: named by digest only), or with `keep` every image whose id is
    not in it (`system prune -a`: the ids containers use), and every unreferenced blob; docker's lines, per
    image its names untagged then its blobs deleted."""
    doomed = [i for i in load_images(store) if (i.dangling if keep is None else i.id not in keep)]
    for image in doomed:
        store.remove_reference(image.name)
    deleted, freed = collect_garbage(store, first=[d for i in doomed for d in i.blobs()])
    lines, listed = [], set()
    for image in doomed:
        lines += [] if image.dangling else [f"untagged: {image.name}"]
        lines += [f"deleted: {d}" for d in image.blobs() if d in deleted and d not in listed]
        listed.update(image.blobs())
    return lines + [f"deleted: {d}" for d in deleted if d not in listed], freed
