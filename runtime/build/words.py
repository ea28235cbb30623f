"""Words of a Dockerfile instruction, as docker's shell lexer makes them: quotes removed, the escape character
honoured, and $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative} replaced by build args and ENV values
(not inside single quotes). RUN, CMD and ENTRYPOINT are left to the shell, as docker leaves them. A COPY
here-document's body is expanded the raw way (`expand_raw`).
"""

from __future__ import annotations

import re

from . import BuildError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    """`text` split into words at unquoted whitespace, each with its variables expanded."""
    found: list[str] = []
    current: list[str] = []
    in_word, quote, i = False, "", 0
    while i < len(text):
        char = text[i]
        if char == escape and i + 1 < len(text) and quote != "'":
            if quote == '"' and text[i + 1] not in ('"', escape, "$"):
                current.append(char)  # inside double quotes only these are escaped
            current.append(text[i + 1])
            in_word, i = True, i + 2
            continue
        if quote:
            if char == quote:
                quote = ""
            elif char == "$" and quote == '"':
                value, i = _variable(text, i, env)
                current.append(value)
                continue
            else:
                current.append(char)
        elif char in "'\"":
            quote, in_word = char, True
        elif char.isspace():
            if in_word:
                found.append("".join(current))
                current, in_word = [], False
        elif char == "$":
            value, i = _variable(text, i, env)
            current.append(value)
            in_word = True
            continue
        else:
            current.append(char)
            in_word = True
        i += 1
    if quote:
        raise BuildError(f"unexpected end of statement while looking for matching {quote}")
    if in_word:
        found.append("".join(current))
    return found


def word(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """The whole text as one word (WORKDIR, USER, STOPSIGNAL): words joined by single spaces."""
    return " ".join(words(text, env, escape))


def pairs(keyword: str, text: str, env: dict[str, str], escape: str = "\\") -> list[tuple[str, str]]:
    """KEY=VALUE words (ENV, LABEL, ARG), or the old `KEY VALUE...` form of ENV and LABEL."""
    found = words(text, env, escape)
    if not found:
        raise BuildError(f"{keyword} requires at least one argument")
    first = text.split(None, 1)
    if "=" not in first[0]:
        if keyword == "ARG":
            return [(found[0], "")] if len(found) == 1 else _all_pairs(keyword, found)
        if len(first) < 2:
            raise BuildError(f"{keyword} names can not be blank" if not first[0] else
                             f"{keyword} must have two arguments")
        return [(found[0], " ".join(words(first[1], env, escape)))]
    return _all_pairs(keyword, found)


def _all_pairs(keyword: str, found: list[str]) -> list[tuple[str, str]]:
    result = []
    for item in found:
        key, has_value, value = item.partition("=")
        if not key or (not has_value and keyword != "ARG"):
            raise BuildError(f"{keyword}: syntax error - can't find = in \"{item}\". Must be of the form: name=value")
        result.append((key, value))
    return result


def expand_raw(text: str, env: dict[str, str]) -> str:
    """A here-document's body with its variables replaced, as BuildKit's ExpandRaw does it: quotes are text like
    any other, `\\` escapes the character after it, and a variable that is not set stays as written (the
    body is often a script, whose own variables are not the build's)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            out.append(text[i + 1:i + 2])
            i += 2
        elif char == "$":
            value, i = _variable(text, i, env, keep_unset=True)
            out.append(value)
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _variable(text: str, start: int, env: dict[str, str], keep_unset: bool = False) -> tuple[str, int]:
    """The value of the variable at text[start] ('$'), and the index after it; with `keep_unset`, one that is
    not set is left as written."""
    if start + 1 < len(text) and text[start + 1] == "{":
        end = text.find("}", start)
        if end < 0:
            raise BuildError(f"missing '}}' in {text!r}")
        inner = text[start + 2:end]
        name = _NAME.match(inner)
        if keep_unset and (not name or name.group(0) not in env):
            return text[start:end + 1], end + 1  # a script's own ${#list[@]} is the script's business
        if not name:
            raise BuildError(f"bad substitution: ${{{inner}}}")
        key, rest = name.group(0), inner[name.end():]
        value = env.get(key)
        if rest.startswith(":-"):
            value = value if value else rest[2:]
        elif rest.startswith(":+"):
            value = rest[2:] if value else ""
        elif rest:
            raise BuildError(f"unsupported modifier ({rest[:2]}) in substitution: ${{{inner}}}")
        return value or "", end + 1
    name = _NAME.match(text, start + 1)
    if not name:
        return "$", start + 1
    if keep_unset and name.group(0) not in env:
        return text[start:name.end()], name.end()
    return env.get(name.group(0), ""), name.end()
