"""Here-documents in RUN, COPY and ADD (Dockerfile syntax 1.4, BuildKit's frontend/dockerfile/parser): how a
`<<NAME` word is told from the rest of the line, how the body is read, and what RUN makes of it.

A marker is a word `[FD]<<[-]NAME` of the instruction's line (words split as BuildKit's lexer splits them,
quotes kept); its body is the lines after the instruction up to a line that is NAME (leading tabs ignored with
`<<-`, which also strips them from the body). A quoted NAME (`<<'EOF'`, `<<"EOF"`) turns off the builder's
variable expansion of a COPY body; a RUN body is never expanded by the builder, the shell does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from . import BuildError

_MARKER = re.compile(r"(\d*)<<(-?)\s*([^<]*)")  # parser.go's reHeredoc
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
KEYWORDS = frozenset({"RUN", "COPY", "ADD"})  # parser.go's heredocDirectives
PIPES = "/dev/pipes"  # where BuildKit mounts a `#!` body to run it


@dataclass(frozen=True)
class Heredoc:
    name: str
    expand: bool  # the NAME was not quoted
    chomp: bool  # `<<-`: leading tabs go, from the body and the terminator
    descriptor: int = 0  # `3<<EOF`: the shell's file descriptor (the shell deals with it)
    content: str = ""  # the body as written, every line with its newline

    @property
    def body(self) -> str:
        return _LEADING_TABS.sub("", self.content) if self.chomp else self.content


def markers(line: str) -> list[Heredoc]:
    """The here-document markers of an instruction's line, in order (bodies still empty)."""
    if "<<" not in line:
        return []
    return [found for found in map(marker, raw_words(line)) if found is not None]


def marker(word: str) -> Heredoc | None:
    """The here-document a word opens, if it is one (`<<EOF`, `<<-'EOF'`, `3<<IN`)."""
    matched = _MARKER.fullmatch(word)
    if not matched or not matched.group(3):
        return None
    rest = matched.group(3)
    names = raw_words(rest)
    if len(names) != 1:
        return None  # `<<one two` is not a here-document; `<<'one two'` is
    name = _unquoted(rest)
    if not name:
        return None
    quoted = rest.count("'") + rest.count('"') != name.count("'") + name.count('"')
    return Heredoc(name, not quoted, matched.group(2) == "-", int(matched.group(1) or 0))


def read_bodies(lines: list[str], index: int, found: list[Heredoc], line: int) -> tuple[tuple[Heredoc, ...], int]:
    """The bodies of `found`, read from lines[index:] one after the other; and the index after the last one."""
    done = []
    for heredoc in found:
        body = []
        while True:
            if index >= len(lines):
                raise BuildError(f"dockerfile parse error line {line}: unterminated heredoc")
            text, index = lines[index], index + 1
            if (text.lstrip("\t") if heredoc.chomp else text) == heredoc.name:
                break
            body.append(text + "\n")
        done.append(replace(heredoc, content="".join(body)))
    return tuple(done), index


def shell_text(text: str, heredocs: tuple[Heredoc, ...]) -> tuple[str, Heredoc | None]:
    """What a shell-form RUN gives the shell (BuildKit's dispatchRun), and the body to mount at /dev/pipes/NAME
    and run when that is how it runs: a lone `<<EOF` runs its body as the script (a `#!` body is run as a file,
    its interpreter picked by that line); anything else gets the bodies after the line, as a shell reads them."""
    if not heredocs:
        return text, None
    if marker(text.strip()) is not None:
        first = heredocs[0]
        if first.content.startswith("#!"):
            if "/" in first.name or first.name in (".", ".."):
                raise BuildError(f"RUN <<{first.name}: a here-document run as a file needs a plain name")
            return f"{PIPES}/{first.name}", first
        return first.body, None
    return text + "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in heredocs), None


def summary(heredocs: tuple[Heredoc, ...]) -> str:
    """BuildKit's one-line summary of a RUN's first body, shown after the instruction: `(apt-get update...)`."""
    lines = heredocs[0].content.strip().replace("\r\n", "\n").split("\n")
    return f"({lines[0]}{'...' if len(lines) > 1 else ''})"


def raw_words(text: str) -> list[str]:
    """`text` split at unquoted whitespace, quotes and escapes kept; `<<` swallows the blanks after it (as
    BuildKit's lexer does, so `<< EOF` is one word)."""
    found: list[str] = []
    current: list[str] = []
    quote, i = "", 0
    while i < len(text):
        char = text[i]
        if char == "\\" and quote != "'" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char.isspace():
            if current:
                found.append("".join(current))
                current = []
            i += 1
            continue
        elif text.startswith("<<", i):
            end = i + 2
            while end < len(text) and text[end] in " \t":
                end += 1
            current.append(text[i:end])
            i = end
            continue
        current.append(char)
        i += 1
    if current:
        found.append("".join(current))
    return found


def _unquoted(word: str) -> str:
    """A marker's NAME: quotes removed, escapes honoured, nothing expanded (BuildKit leaves unset variables be)."""
    out, quote, i = [], "", 0
    while i < len(word):
        char = word[i]
        if char == "\\" and quote != "'" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
            continue
        if quote and char == quote:
            quote = ""
        elif not quote and char in "'\"":
            quote = char
        else:
            out.append(char)
        i += 1
    return "".join(out)
