"""A Dockerfile as a list of instructions, read as docker's parser reads it (moby/buildkit frontend/dockerfile
parser): parser directives at the top (`# escape=`, `# syntax=`), comments, line continuations with the
escape character, `--flag=value` options, the exec (JSON array) or shell form of the arguments, and the
here-documents of RUN, COPY and ADD, whose bodies become part of their instruction (so the line numbers of
what follows stay right).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from . import BuildError
from .heredoc import KEYWORDS as HEREDOC_KEYWORDS
from .heredoc import Heredoc, markers, read_bodies, summary

INSTRUCTIONS = frozenset({"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
                          "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
                          "HEALTHCHECK", "SHELL"})
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?")
_VALUED_FLAGS = {"COPY": ("from", "chown", "chmod"), "ADD": ("chown", "chmod")}  # BuildKit's string flags
_OCTAL = re.compile(r"[0-7]+")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY...
    text: str  # the arguments, continuations joined, flags removed
    flags: dict[str, str] = field(default_factory=dict)
    line: int = 0
    original: str = ""  # as docker prints it in "Step 2/5 : ..."
    heredocs: tuple[Heredoc, ...] = ()  # the here-documents its line opens, with their bodies

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
    lines = [line.removesuffix("\r") for line in text.split("\n")]  # as Go's bufio.ScanLines splits them
    escape, index = _directives(lines)
    instructions: list[Instruction] = []
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        first = index + 1
        logical, index = _logical_line(lines, index, escape)
        if not logical.strip():
            continue  # a lone escape character at the end
        instruction = _instruction(logical, first)
        found = markers(logical) if _may_hold_heredocs(instruction) else []
        if found:
            heredocs, index = read_bodies(lines, index, found, first)
            shown = f"{instruction.original} {summary(heredocs)}" if instruction.keyword == "RUN" else \
                instruction.original
            instruction = replace(instruction, heredocs=heredocs, original=shown)
        instructions.append(instruction)
    if not instructions:
        raise BuildError("the Dockerfile cannot be empty")
    return Dockerfile(instructions, escape)


def chmod_mode(value: str, line: int) -> int | None:
    """The mode `--chmod=VALUE` gives (None for an empty value, as BuildKit reads it): octal, 0 to 07777."""
    if not value:
        return None
    if not _OCTAL.fullmatch(value) or int(value, 8) > 0o7777:
        raise BuildError(f"dockerfile parse error line {line}: invalid chmod parameter: '{value}'. it should be "
                         "octal string and between 0 and 07777")
    return int(value, 8)


def _logical_line(lines: list[str], index: int, escape: str) -> tuple[str, int]:
    """The instruction starting at lines[index], its continuation lines joined; and the index after it."""
    pending = ""
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continued instruction: docker drops them there too
        if not raw.rstrip().endswith(escape):
            return pending + raw, index
        pending += raw.rstrip()[:-1]
    return pending, index


def _may_hold_heredocs(instruction: Instruction) -> bool:
    """RUN, COPY and ADD in shell form, also as an ONBUILD trigger (parser.go's canContainHeredoc)."""
    if instruction.keyword == "ONBUILD":
        keyword, _, rest = instruction.text.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip())
    return instruction.keyword in HEREDOC_KEYWORDS and instruction.json_form() is None


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
        shown = upper if len(upper) <= 80 else f"{upper[:80]}..."  # binary junk stays one readable line
        raise BuildError(f"dockerfile parse error line {line}: unknown instruction: {shown}")
    rest = rest.strip()
    flags = {}
    if upper in ("FROM", "RUN", "ADD", "COPY", "HEALTHCHECK"):
        while found := _FLAG.match(rest):
            if upper == "HEALTHCHECK" and found.group(1) not in ("interval", "timeout", "start-period",
                                                                 "start-interval", "retries"):
                break
            if found.group(2) is None and found.group(1) in _VALUED_FLAGS.get(upper, ()):
                raise BuildError(f"dockerfile parse error line {line}: missing a value on flag: {found.group(1)}")
            flags[found.group(1)] = found.group(2) if found.group(2) is not None else "true"
            rest = rest[found.end():].lstrip()
    if "chmod" in flags and "$" not in flags["chmod"]:
        chmod_mode(flags["chmod"], line)  # refused before any step runs, as BuildKit's conversion does
    return Instruction(upper, rest, flags, line, f"{upper} {text.strip()[len(keyword):].strip()}".strip())
