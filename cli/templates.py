"""docker's --format: a subset of Go's text/template over JSON-like data, and tables laid out like tabwriter.

Supported: text, {{.Field.Sub}}, {{.}}, {{$}}, "strings", numbers, pipes (`{{.X | json}}`), the functions
docker adds (json, upper, lower, title, join, split, index, len, truncate, println), and
{{range}}/{{if}}/{{with}} ... {{else}} ... {{end}}, with Go's {{- -}} whitespace trimming.
Values print as Go's fmt does: lists as [a b], maps as map[k:v], a missing value as <no value>.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from .errors import CliError, ExitCode

_ACTION = re.compile(r"{{(-\s)?\s*(.*?)\s*(\s-)?}}", re.S)
JSON_FORMAT = "{{json .}}"


class TemplateError(CliError):
    code = ExitCode.USAGE


def go_value(value: Any) -> str:
    """How Go's fmt prints a value decoded from JSON (%v)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            value = value[key] if value is not None else None
        except (KeyError, IndexError, TypeError):
            return None
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": to_json,
    "upper": lambda s: go_value(s).upper(),
    "lower": lambda s: go_value(s).lower(),
    "title": lambda s: go_value(s).title(),
    "join": lambda items, sep: sep.join(go_value(i) for i in items or []),
    "split": lambda s, sep: go_value(s).split(sep),
    "index": _index,
    "len": lambda v: len(v or ()),
    "truncate": lambda s, n: go_value(s)[: int(n)],
    "println": lambda *args: " ".join(go_value(a) for a in args) + "\n",
}


class Template:
    """A parsed template; `render(data)` runs it with `data` as dot (and $)."""

    def __init__(self, text: str, nil_as: Mapping[str, str] | None = None) -> None:
        self.text = text
        # Fields that are typed slices or maps in docker print [] or map[] when null, not <no value>.
        self.nil_as = nil_as or {}
        self._at = 0
        self.tree, _ = self._parse(self._tokens(text), ())

    # -- parsing ---------------------------------------------------------------------------------

    @staticmethod
    def _tokens(text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        for found in _ACTION.finditer(text):
            before = text[position:found.start()]
            tokens.append(("text", before.rstrip() if found.group(1) else before))
            tokens.append(("action", found.group(2)))
            position = found.end()
            if found.group(3):
                position += len(text[position:]) - len(text[position:].lstrip())
        tokens.append(("text", text[position:]))
        if "{{" in "".join(t for kind, t in tokens if kind == "text"):
            raise TemplateError(f"template: unclosed action in {text!r}")
        return tokens

    def _parse(self, tokens: list[tuple[str, str]], ends: tuple[str, ...]) -> tuple[list[Any], str | None]:
        """Nodes from token self._at up to one of `ends` ("end", "else"): (nodes, the end met)."""
        nodes: list[Any] = []
        while self._at < len(tokens):
            kind, text = tokens[self._at]
            self._at += 1
            if kind == "text":
                if text:
                    nodes.append(text)
                continue
            word = text.split(None, 1)[0] if text else ""
            if word in ("end", "else"):
                if word not in ends:
                    raise TemplateError(f"template: unexpected {{{{{word}}}}} in {self.text!r}")
                return nodes, word
            if word in ("range", "if", "with"):
                nodes.append(self._block(tokens, word, text[len(word):].strip()))
            elif text.startswith("/*"):
                continue  # a comment
            else:
                nodes.append(("pipe", text))
        if ends:
            raise TemplateError(f"template: unexpected EOF in {self.text!r}: missing {{{{end}}}}")
        return nodes, None

    def _block(self, tokens: list[tuple[str, str]], word: str, pipe: str) -> tuple[str, str, list[Any], list[Any]]:
        body, met = self._parse(tokens, ("end", "else"))
        otherwise: list[Any] = []
        if met == "else":
            otherwise, _ = self._parse(tokens, ("end",))
        return (word, pipe, body, otherwise)

    # -- running ---------------------------------------------------------------------------------

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._run(self.tree, data, data, out)
        return "".join(out)

    def _run(self, nodes: list[Any], dot: Any, root: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif node[0] == "pipe":
                value, field = self._pipe(node[1], dot, root)
                out.append(self.nil_as.get(field, "<no value>") if value is None and field else go_value(value))
            else:
                word, pipe, body, otherwise = node
                value, _ = self._pipe(pipe, dot, root)
                if word == "range" and value:
                    items = [value[k] for k in sorted(value)] if isinstance(value, dict) else list(value)
                    for item in items:
                        self._run(body, item, root, out)
                elif word != "range" and _truthy(value):
                    self._run(body, value if word == "with" else dot, root, out)
                else:
                    self._run(otherwise, dot, root, out)

    def _pipe(self, text: str, dot: Any, root: Any) -> tuple[Any, str]:
        """Run a pipeline; returns its value and, for a bare field, the field's name."""
        value: Any = None
        field = ""
        for number, command in enumerate(part.strip() for part in _split_pipes(text)):
            try:
                words = shlex.split(command, posix=True)
            except ValueError as exc:
                raise TemplateError(f"template: {command!r}: {exc}") from None
            if not words:
                raise TemplateError(f"template: empty command in {text!r}")
            name = words[0]
            if name not in FUNCTIONS and (number or len(words) > 1):
                raise TemplateError(f'template: function "{name}" not defined')
            args = [self._arg(w, dot, root) for w in words[1:]]
            if command.startswith('"') and number == 0 and not args:
                value, field = name, ""
            elif name in FUNCTIONS:
                if number:
                    args.append(value)
                try:
                    value, field = FUNCTIONS[name](*args), ""
                except TypeError:
                    raise TemplateError(f"template: wrong arguments for {name} in {text!r}") from None
            else:
                value, field = self._arg(name, dot, root), name.rsplit(".", 1)[-1]
        return value, field

    def _arg(self, word: str, dot: Any, root: Any) -> Any:
        if word in (".", "$"):
            return dot if word == "." else root
        if word.startswith(("$.", ".")):
            value = root if word.startswith("$") else dot
            for key in word.lstrip("$").strip(".").split("."):
                value = self._field(value, key, word)
            return value
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word in ("true", "false"):
            return word == "true"
        return word  # a string: shlex has taken its quotes off

    def _field(self, value: Any, key: str, word: str) -> Any:
        if value is None or (isinstance(value, dict) and key not in value and key in self.nil_as):
            return None
        if not isinstance(value, dict):
            raise TemplateError(f'template: executing "" at <{word}>: can\'t evaluate field {key} '
                                f'in {go_value(value)!r}')
        if key not in value:
            raise TemplateError(f'template: executing "" at <{word}>: map has no entry for key "{key}"')
        return value[key]


def _split_pipes(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"' and not current.endswith("\\"):
            quoted = not quoted
        if char == "|" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, list | dict) and not value)


# -- tables ----------------------------------------------------------------------------------------

def tabulate(lines: list[list[str]]) -> list[str]:
    """Columns as docker's tabwriter sets them (min width 10, padding 3); the last one is not padded."""
    widths: dict[int, int] = {}
    for cells in lines:
        for column, cell in enumerate(cells[:-1]):
            widths[column] = max(widths.get(column, 10), len(cell) + 3)
    return ["".join(c.ljust(widths[i]) for i, c in enumerate(cells[:-1])) + (cells[-1] if cells else "")
            for cells in lines]


def render_rows(fmt: str, rows: list[dict[str, Any]], headers: Mapping[str, str], default: str) -> list[str]:
    """Lines for `--format fmt` over `rows`: 'table' (the default), 'json', 'table TEMPLATE' or a TEMPLATE."""
    fmt = fmt or "table"
    if fmt == "table":
        fmt = default
    elif fmt == "json":
        fmt = JSON_FORMAT
    table = fmt.startswith("table")
    text = fmt[len("table"):].strip() if table else fmt
    text = text.replace("\\t", "\t").replace("\\n", "\n")
    template = Template(text)
    rendered = [template.render(row) for row in rows]
    if not table:
        return rendered
    header = template.render(dict(headers))
    return tabulate([line.split("\t") for line in [header, *rendered]])
