"""`berth system`: docker's df (disk usage by images, containers, volumes and build cache) and prune (remove
what nothing uses), with docker/cli's tables, prompt and output (cli/command/system/df.go, prune.go)."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.build.cache import BuildCache, CacheEntry

from ..containers import container_errors, container_store, runtime_home
from ..disk_usage import (
    ContainerUsage,
    ImageUsage,
    Usage,
    VolumeUsage,
    all_usage,
    prune_cache,
)
from ..docker_words import created_since, human_duration, human_size
from ..environment import Environment
from ..errors import ExitCode
from ..local_images import store_errors
from ..templates import JSON_FORMAT, Template, render_rows
from .volume import volume_store

DF_DEFAULT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}
# The -v sections: docker's defaultDiskUsage*TableFormat and the headers of its image, container, volume and
# build cache formatters.
IMAGES = ("Images space usage:", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
          "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
          {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
           "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"})
CONTAINERS = ("Containers space usage:", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
              "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
              {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
               "Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"})
VOLUMES = ("Local Volumes space usage:", "table {{.Name}}\t{{.Links}}\t{{.Size}}",
           {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"})
CACHE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t"
         "{{.Shared}}", {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                         "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"})


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("system", help="manage berth's disk usage",
                                 description="Show and reclaim the disk space berth uses.")
    group = parser.add_subparsers(dest="system_command", metavar="COMMAND")
    parser.set_defaults(func=lambda env, _args: parser.print_help(env.stderr) or ExitCode.USAGE)
    df = group.add_parser("df", help="show disk usage", description="Show the disk space images, containers, "
                          "local volumes and the build cache take, and what removing the unused ones frees.")
    df.add_argument("-v", "--verbose", action="store_true", help="show detailed information on space usage")
    df.add_argument("--format", default="", metavar="FORMAT",
                    help="'table' (default), 'table TEMPLATE', 'json', or a Go template such as '{{.Size}}'")
    df.set_defaults(func=run_df)
    prune = group.add_parser("prune", help="remove unused data",
                             description="Remove stopped containers, dangling images (every image no container "
                                         "uses with -a), unused build cache and, with --volumes, anonymous "
                                         "volumes no container uses.")
    prune.add_argument("-a", "--all", action="store_true", help="remove all unused images not just dangling ones")
    prune.add_argument("--volumes", action="store_true", help="prune anonymous volumes")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=run_prune)


def usage(env: Environment) -> tuple[Usage, Usage, Usage, Usage]:
    with container_errors(), store_errors():
        containers = container_store(env).list()
        return all_usage(env.store(), runtime_home(env).root, volume_store(env), containers)


def run_df(env: Environment, args: argparse.Namespace) -> int:
    rows = usage(env)
    if args.verbose:
        return _verbose(env, rows, args.format)
    lines = render_rows(args.format, [_summary(row) for row in rows], DF_HEADERS, DF_DEFAULT)
    for line in lines:
        env.print(line)
    return 0


def _summary(usage: Usage) -> dict[str, str]:
    """A row of the table, keys sorted as docker's JSON prints them."""
    reclaimable = human_size(usage.reclaimable, 4)
    if usage.size > 0 and usage.kind != "Build Cache":  # docker's percentage is a whole number, rounded down
        reclaimable += f" ({usage.reclaimable * 100 // usage.size}%)"
    return {"Active": str(usage.active), "Reclaimable": reclaimable, "Size": human_size(usage.size, 4),
            "TotalCount": str(usage.total), "Type": usage.kind}


def _verbose(env: Environment, rows: tuple[Usage, Usage, Usage, Usage], fmt: str) -> int:
    images, containers, volumes, cache = rows
    trunc = not fmt or fmt.startswith("table")
    payload = {"Images": [_image(r, trunc) for r in images.items],
               "Containers": [_container(r, trunc) for r in containers.items],
               "Volumes": [_volume(r) for r in volumes.items],
               "BuildCache": [_cache_entry(r, trunc) for r in cache.items]}
    if fmt and fmt != "table":  # a template over the whole listing, as docker's (json: one object)
        env.print(Template(JSON_FORMAT if fmt == "json" else fmt.replace("\\n", "\n")).render(payload))
        return 0
    sections = [(IMAGES, payload["Images"]), (CONTAINERS, payload["Containers"]), (VOLUMES, payload["Volumes"])]
    for index, ((title, default, headers), items) in enumerate(sections):
        env.print(("\n" if index else "") + title + "\n")
        for line in render_rows("table", items, headers, default):
            env.print(line)
    env.print(f"\nBuild cache usage: {human_size(cache.size, 4)}\n")
    for line in render_rows("table", payload["BuildCache"], CACHE[1], CACHE[0]):
        env.print(line)
    return 0


def _image(row: ImageUsage, trunc: bool) -> dict[str, Any]:
    image = row.image
    return {"Repository": image.repository, "Tag": image.tag, "ID": image.short_id if trunc else image.id,
            "CreatedSince": created_since(image.created), "Size": human_size(row.size),
            "SharedSize": human_size(row.shared, 4), "UniqueSize": human_size(row.size - row.shared, 4),
            "Containers": str(row.containers)}


def _container(row: ContainerUsage, trunc: bool) -> dict[str, Any]:
    from .ps import row as ps_row

    shown = ps_row(row.container, not trunc)
    return {key: shown[key] for key in ("ID", "Image", "Command", "RunningFor", "Status", "Names")} | {
        "LocalVolumes": str(row.volumes), "Size": human_size(row.size)}


def _volume(row: VolumeUsage) -> dict[str, Any]:
    return {"Name": row.volume.name, "Links": str(row.links), "Size": human_size(row.size, 4)}


def _cache_entry(entry: CacheEntry, trunc: bool) -> dict[str, Any]:
    import time

    age = time.time() - entry.path.stat().st_mtime if entry.path.exists() else 0
    return {"ID": entry.key[:12] if trunc else entry.key, "CacheType": "regular",
            "Size": human_size(entry.size), "CreatedSince": human_duration(age) + " ago", "LastUsedSince": "",
            "UsageCount": "0", "Shared": "false"}


def prompt(all_images: bool, volumes: bool) -> str:
    """docker/cli's confirmationTemplate, without its networks line: berth keeps no networks to prune."""
    warnings = ["all stopped containers"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them" if all_images
                    else "all dangling images")
    warnings.append("all build cache" if all_images else "unused build cache")
    return ("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in warnings) +
            "\nAre you sure you want to continue? [y/N] ")


def run_prune(env: Environment, args: argparse.Namespace) -> int:
    if not args.force:
        env.stdout.write(prompt(args.all, args.volumes))
        env.stdout.flush()
        if env.stdin.readline().strip().lower() != "y":  # docker's prompt.Confirm: only y or Y goes on
            return 0
    freed = 0
    for title, (lines, size) in prune_all(env, args.all, args.volumes):
        freed += size
        if lines:  # docker's pruners print their section, then an empty line
            env.print("\n".join([title, *lines, ""]))
    env.print(f"Total reclaimed space: {human_size(freed, 4)}")
    return 0


def prune_all(env: Environment, all_images: bool, volumes: bool) -> list[tuple[str, tuple[list[str], int]]]:
    """docker's pruners in its order: containers, volumes, images, build cache. Each reused from its own
    command, so that `system prune` removes exactly what they do."""
    from . import container, image  # here: df needs neither

    done = [("Deleted Containers:", container.prune(env))]
    if volumes:
        with container_errors():
            done.append(("Deleted Volumes:", volume_store(env).prune(everything=False)))
    with store_errors():
        store = env.store()
        keep = {str(c.doc.get("Image")) for c in container_store(env).list()} if all_images else None
        done.append(("Deleted Images:", image.prune(store, keep)))
        cache = BuildCache.beside(runtime_home(env).root, store)
        done.append(("Deleted build cache objects:", prune_cache(cache, everything=all_images)))
    return done
