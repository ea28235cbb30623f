"""`berth ps --filter KEY=VALUE` and `--size`, as docker's daemon reads them (moby daemon/list.go): status,
name, id, label, ancestor, exited, before and since (containers created before or after the one named),
volume (a volume's name, a bind's source or a mount's destination), network (its name), publish and expose
(PORT[-END][/PROTO], a container port the record publishes or exposes), and health (none: berth stores an
image's HEALTHCHECK but runs no checks, so every container's health is none).

Values of one key are ORed, different keys ANDed; labels are the exception, as in docker: every `label=`
filter must match. A `status=` filter lists stopped containers without -a; `exited=` does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.containers import Container

from .environment import Environment
from .errors import CliError

KEYS = ("ancestor", "before", "exited", "expose", "health", "id", "label", "name", "network", "publish", "since",
        "status", "volume")
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")


class ContainerFilter:
    def __init__(self, values: dict[str, list[str]], image_ids: dict[str, str | None],
                 created: dict[str, str]) -> None:
        self.values, self.image_ids, self.created = values, image_ids, created  # created: of before= and since=

    @property
    def all(self) -> bool:
        """A status filter shows stopped containers without -a, as docker's does."""
        return "status" in self.values

    def __call__(self, container: Container) -> bool:
        return all(self._test(key, values, container) for key, values in self.values.items())

    def _test(self, key: str, values: list[str], container: Container) -> bool:
        if key == "label":
            labels = container.config.get("Labels") or {}
            return all(_label_matches(labels, value) for value in values)
        tests: dict[str, Callable[[str], bool]] = {
            "status": lambda v: _state(container) == v,
            "name": lambda v: _search(v, "/" + container.name),
            "id": lambda v: _search(v, container.id),
            "exited": lambda v: _state(container) == "exited" and int(container.state.get("ExitCode", 0)) == int(v),
            "ancestor": lambda v: container.doc.get("Image") == self.image_ids.get(v)
            or container.config.get("Image") == v,
            "before": lambda v: container.doc["Created"] < self.created[v],
            "since": lambda v: container.doc["Created"] > self.created[v],
            "volume": lambda v: any(v in (m.get("Name") or m.get("Source"), m.get("Destination"))
                                    for m in container.doc.get("Mounts") or []),
            "network": lambda v: v in ((container.doc.get("NetworkSettings") or {}).get("Networks") or {}),
            "publish": lambda v: bool(_ports(v) & set(container.host_config.get("PortBindings") or {})),
            "expose": lambda v: bool(_ports(v) & set(container.config.get("ExposedPorts") or {})),
            "health": lambda v: v == "none",
        }
        return any(tests[key](value) for value in values)


def parse_filters(env: Environment, texts: list[str]) -> ContainerFilter:
    """The filters given; CliError in docker's words for a malformed or unknown one."""
    values: dict[str, list[str]] = {}
    for text in texts:
        key, has_value, value = text.partition("=")
        if not has_value:
            raise CliError(f'invalid argument "{text}" for "-f, --filter" flag: bad format of filter '
                           "(expected name=value)")
        key = key.strip().lower()
        if key not in KEYS:
            raise CliError(f"invalid filter '{key}'")
        if key == "status" and value not in STATES:
            raise CliError(f"invalid filter 'status={value}'")
        if key == "exited" and not value.lstrip("-").isdigit():
            raise CliError(f"invalid filter 'exited={value}'")
        if key == "health" and value not in HEALTH_STATES:
            raise CliError(f"Unrecognised filter value for health: {value}")
        if key in ("publish", "expose"):
            if ":" in value:
                raise CliError(f"filter for '{key}' should not contain ':': {value}")
            if not _ports(value):
                raise CliError(f"error while looking up for {key} {value}: invalid port or range")
        values.setdefault(key, []).append(value)
    return ContainerFilter(values, _image_ids(env, values.get("ancestor", [])),
                           _created(env, values.get("before", []) + values.get("since", [])))


def _created(env: Environment, names: list[str]) -> dict[str, str]:
    """When each container named by before= or since= was created; CliError if there is no such container."""
    from .containers import container_errors, container_store

    with container_errors():
        store = container_store(env)
        return {name: str(store.get(name).doc["Created"]) for name in names}


def _image_ids(env: Environment, names: list[str]) -> dict[str, str | None]:
    """Each ancestor named as the local store knows it (None when it does not: then it matches by name only)."""
    if not names:
        return {}
    from .local_images import load_images, lookup

    images = load_images(env.store())
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = lookup(env, images, name).image.id
        except CliError:
            found[name] = None
    return found


def _state(container: Container) -> str:
    status = container.status
    return "exited" if status == "dead" else status


def _search(pattern: str, text: str) -> bool:
    """docker matches names and ids as regular expressions found anywhere in them."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return pattern in text


def _ports(text: str) -> set[str]:
    """PORT[-END][/PROTO] (tcp when left out) as the record's keys ("80/tcp", ...); none when malformed."""
    from .network_options import port_range  # -p's and --expose's reading of a port or range

    ports, _, proto = text.partition("/")
    try:
        start, end = port_range(ports)
    except ValueError:
        return set()
    return {f"{port}/{proto.lower() or 'tcp'}" for port in range(start, end + 1)}


def _label_matches(labels: dict[str, Any], wanted: str) -> bool:
    key, has_value, value = wanted.partition("=")
    return key in labels and (not has_value or str(labels[key]) == value)


def sizes(env: Environment, containers: list[Container]) -> dict[str, str]:
    """docker ps -s per container id: what it wrote (its overlay upper directory), and that plus its image."""
    from runtime.volumes import disk_usage

    from .docker_words import human_size
    from .local_images import load_images

    image_sizes = {image.id: image.size for image in load_images(env.store())} if containers else {}
    found = {}
    for container in containers:
        written = disk_usage(Path(container.dir, "upper"))
        virtual = written + image_sizes.get(str(container.doc.get("Image")), 0)
        found[container.id] = f"{human_size(written)} (virtual {human_size(virtual)})"
    return found

