"""The instructions that change only an image's config: ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, CMD,
ENTRYPOINT, STOPSIGNAL, HEALTHCHECK, SHELL, MAINTAINER, ONBUILD; the Dockerfile reference's rules for each."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from . import BuildError
from .dockerfile import Instruction
from .words import pairs, word, words

DEFAULT_SHELL = ["/bin/sh", "-c"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


def command(instruction: Instruction, settings: dict[str, Any], text: str | None = None) -> list[str]:
    """The exec form as written, or the shell form run by the image's SHELL (default /bin/sh -c), given the
    instruction's text or `text` (what a RUN with here-documents makes of it)."""
    exec_form = instruction.json_form()
    if exec_form is not None:
        return exec_form
    return list(settings.get("Shell") or DEFAULT_SHELL) + [instruction.text if text is None else text]


def apply(instruction: Instruction, config: dict[str, Any], env: dict[str, str], escape: str,
          cmd_set: bool) -> None:
    """Apply a config-only instruction to the image config `config` (the whole OCI config)."""
    settings = config.setdefault("config", {})
    keyword, text = instruction.keyword, instruction.text
    if keyword == "ENV":  # every word sees the values from before the instruction, as docker's do
        current = list(settings.get("Env") or [])
        for key, value in pairs("ENV", text, env, escape):
            current = [e for e in current if e.partition("=")[0] != key] + [f"{key}={value}"]
        settings["Env"] = current
    elif keyword == "LABEL":
        settings["Labels"] = {**(settings.get("Labels") or {}), **dict(pairs("LABEL", text, env, escape))}
    elif keyword == "EXPOSE":
        settings["ExposedPorts"] = {**(settings.get("ExposedPorts") or {}), **_ports(words(text, env, escape))}
    elif keyword == "VOLUME":
        found = instruction.json_form() or words(text, env, escape)
        if not found or not all(found):
            raise BuildError("VOLUME specified can not be an empty string")
        settings["Volumes"] = {**(settings.get("Volumes") or {}), **{path: {} for path in found}}
    elif keyword == "USER":
        settings["User"] = word(text, env, escape)
    elif keyword == "WORKDIR":
        settings["WorkingDir"] = posixpath.normpath(posixpath.join(settings.get("WorkingDir") or "/",
                                                                   word(text, env, escape)))
    elif keyword == "CMD":
        settings["Cmd"] = command(instruction, settings)
    elif keyword == "ENTRYPOINT":
        settings["Entrypoint"] = command(instruction, settings)
        if not cmd_set:
            settings["Cmd"] = None  # an ENTRYPOINT resets the base image's CMD
    elif keyword == "STOPSIGNAL":
        settings["StopSignal"] = word(text, env, escape)
    elif keyword == "HEALTHCHECK":
        settings["Healthcheck"] = _healthcheck(instruction, settings)
    elif keyword == "SHELL":
        shell = instruction.json_form()
        if not shell:
            raise BuildError("SHELL requires the arguments to be in JSON form")
        settings["Shell"] = shell
    elif keyword == "MAINTAINER":
        config["author"] = text
    elif keyword == "ONBUILD":
        trigger = text.split(None, 1)[0].upper() if text.strip() else ""
        if trigger in ("ONBUILD", "FROM", "MAINTAINER", ""):
            raise BuildError(f"{trigger or 'an empty instruction'} isn't allowed as an ONBUILD trigger")
        # A trigger's here-documents go with it, after its line, as BuildKit keeps them (OnbuildCommand)
        bodies = "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in instruction.heredocs)
        settings["OnBuild"] = [*(settings.get("OnBuild") or []), text + bodies]
    else:
        raise BuildError(f"unknown instruction: {keyword}")


def _ports(found: list[str]) -> dict[str, dict[str, Any]]:
    ports: dict[str, dict[str, Any]] = {}
    for item in found:
        matched = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", item.lower())
        if not matched:
            raise BuildError(f"Invalid containerPort: {item}")
        first, last = int(matched.group(1)), int(matched.group(2) or matched.group(1))
        ports |= {f"{port}/{matched.group(3) or 'tcp'}": {} for port in range(first, last + 1)}
    return ports


def _healthcheck(instruction: Instruction, settings: dict[str, Any]) -> dict[str, Any]:
    kind, _, rest = instruction.text.partition(" ")
    if kind.upper() == "NONE":
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD" or not rest.strip():
        raise BuildError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    rest = rest.strip()
    exec_form = Instruction("CMD", rest).json_form()
    check: dict[str, Any] = {"Test": ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]}
    names = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
             "start-interval": "StartInterval"}
    for flag, value in instruction.flags.items():
        if flag == "retries":
            if not value.isdigit():
                raise BuildError(f"invalid --retries value: {value}")
            check["Retries"] = int(value)
        else:
            check[names[flag]] = duration(flag, value)
    return check


def duration(flag: str, text: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    total, position = 0.0, 0
    for found in _DURATION.finditer(text):
        if found.start() != position:
            break
        total += float(found.group(1)) * _NANOS[found.group(2)]
        position = found.end()
    if position != len(text) or not text:
        raise BuildError(f"invalid --{flag} duration: {text}")
    return int(total)
