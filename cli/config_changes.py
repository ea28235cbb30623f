"""docker's --change: Dockerfile instructions (CMD, ENV, EXPOSE...) applied to an image's config.

`berth import -c` uses them; a `commit` would take the same. The forms are the Dockerfile's: exec form as a
JSON array or shell form (run by /bin/sh -c), KEY=VALUE words quoted as a shell quotes them.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any

from .local_images import BadOption


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """`config` (an OCI config's `config` object) with each Dockerfile instruction of `changes` applied."""
    config = dict(config)
    for change in changes:
        instruction, _, rest = change.strip().partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        apply = _CHANGES.get(instruction)
        if apply is None:
            raise BadOption(f"{instruction or change} is not a valid change command")
        if not rest:
            raise BadOption(f"{instruction} requires an argument")
        apply(config, rest)
    return config


def _command(text: str) -> list[str]:
    """The exec form (a JSON array of strings) or the shell form, which runs in /bin/sh -c."""
    if text.startswith("["):
        try:
            found = json.loads(text)
        except json.JSONDecodeError:
            found = None
        if isinstance(found, list) and all(isinstance(word, str) for word in found):
            return found
    return ["/bin/sh", "-c", text]


def _pairs(instruction: str, text: str) -> list[tuple[str, str]]:
    """KEY=VALUE words (quotes as a shell takes them), or the old `KEY VALUE...` form."""
    words = _split(instruction, text)
    if "=" not in words[0]:
        key, _, value = text.partition(" ")
        return [(key, " ".join(_split(instruction, value)) if value.strip() else "")]
    if not all("=" in word for word in words):
        raise BadOption(f"{instruction}: every word must be KEY=VALUE in {text!r}")
    return [(key, value) for key, _, value in (word.partition("=") for word in words)]


def _split(instruction: str, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadOption(f"{instruction} {text!r}: {exc}") from None


def _env(config: dict[str, Any], text: str) -> None:
    env = list(config.get("Env") or [])
    for key, value in _pairs("ENV", text):
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _expose(config: dict[str, Any], text: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in text.split():
        found = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", word.lower())
        if not found:
            raise BadOption(f"EXPOSE: invalid port {word!r}")
        first, last = int(found.group(1)), int(found.group(2) or found.group(1))
        if not 0 < first <= last <= 65535:
            raise BadOption(f"EXPOSE: invalid port range {word!r}")
        ports |= {f"{port}/{found.group(3) or 'tcp'}": {} for port in range(first, last + 1)}
    config["ExposedPorts"] = ports


def _volume(config: dict[str, Any], text: str) -> None:
    paths = _command(text) if text.startswith("[") else text.split()
    if paths[:2] == ["/bin/sh", "-c"]:
        raise BadOption(f"VOLUME: not a JSON array of paths: {text!r}")
    config["Volumes"] = {**(config.get("Volumes") or {}), **{path: {} for path in paths}}


_CHANGES = {
    "CMD": lambda config, text: config.__setitem__("Cmd", _command(text)),
    "ENTRYPOINT": lambda config, text: config.__setitem__("Entrypoint", _command(text)),
    "ENV": _env,
    "EXPOSE": _expose,
    "LABEL": lambda config, text: config.__setitem__("Labels", {**(config.get("Labels") or {}),
                                                                **dict(_pairs("LABEL", text))}),
    "ONBUILD": lambda config, text: config.__setitem__("OnBuild", [*(config.get("OnBuild") or []), text]),
    "STOPSIGNAL": lambda config, text: config.__setitem__("StopSignal", text),
    "USER": lambda config, text: config.__setitem__("User", text),
    "VOLUME": _volume,
    "WORKDIR": lambda config, text: config.__setitem__(
        "WorkingDir", posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", text))),
}
