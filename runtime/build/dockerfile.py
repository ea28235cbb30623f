"""A Dockerfile as a list of instructions, read as docker's parser reads it (moby/buildkit frontend/dockerfile
parser): parser directives at the top (`# escape=`, `# syntax=`), comments, line continuations with the
escape character, `--flag=value` options, and the exec (JSON array) or shell form of the arguments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import BuildError

INSTRUCTIONS = frozenset({"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
                          "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
                          "HEALTHCHECK", "SHELL"})
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY...
    text: str  # the arguments, continuations joined, flags removed
    flags: dict[str, str] = field(default_factory=dict)
    line: int = 0
    original: str = ""  # as docker prints it in "Step 2/5 : ..."

    def json_form(self) -> list[str] | None:
        """The exec form's words, when the arguments are a JSON array of strings."""
        if not self.text.startswith("["):
            return None
        try:
            found = json.loads(self.text)
        except json.JSONDecodeError:
            return None
        return found if isinstance(found, list) and all(isinstance(w, str) for w in found) else None


@dataclass(frozen=True)
class Dockerfile:
    instructions: list[Instruction]
    escape: str = "\\"


def parse(text: str) -> Dockerfile:
    lines = text.splitlines()
    escape, start = _directives(lines)
    instructions: list[Instruction] = []
    pending, first = "", 0
    for number, raw in enumerate(lines[start:], start + 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continued instruction: docker drops them there too
        if not pending:
            first = number
        if raw.rstrip().endswith(escape):
            pending += raw.rstrip()[:-1]
            continue
        instructions.append(_instruction(pending + raw, first))
        pending = ""
    if pending.strip():
        instructions.append(_instruction(pending, first))
    if not instructions:
        raise BuildError("the Dockerfile cannot be empty")
    return Dockerfile(instructions, escape)


def _directives(lines: list[str]) -> tuple[str, int]:
    """The escape character and the index of the first line after the parser directives."""
    escape, seen = "\\", set()
    for index, line in enumerate(lines):
        found = _DIRECTIVE.match(line.strip())
        if not found or found.group(1).lower() in seen:
            return escape, index
        name, value = found.group(1).lower(), found.group(2)
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise BuildError(f"invalid escape token '{value}' does not match ` or \\")
            escape = value
        # `syntax` names a BuildKit frontend: the classic builder ignores it, and so does berth
    return escape, len(lines)


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.strip().partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = f"{more} {rest}"
    upper = keyword.upper()
    if upper not in INSTRUCTIONS:
        raise BuildError(f"dockerfile parse error line {line}: unknown instruction: {upper}")
    rest = rest.strip()
    flags = {}
    if upper in ("FROM", "RUN", "ADD", "COPY", "HEALTHCHECK"):
        while found := _FLAG.match(rest):
            if upper == "HEALTHCHECK" and found.group(1) not in ("interval", "timeout", "start-period",
                                                                 "start-interval", "retries"):
                break
            flags[found.group(1)] = found.group(2) if found.group(2) is not None else "true"
            rest = rest[found.end():].lstrip()
    return Instruction(upper, rest, flags, line, f"{upper} {text.strip()[len(keyword):].strip()}".strip())
