"""What a search should answer, worked out in plain Python from the rules (not from the server's code).

Rules, as registry/services/search.py states them: a repository matches when its name contains the
term, or when every word of the term is a word of its name or descriptions. Names rank exact (the name,
or an official image's short name), then prefix, then the term as a whole word of the name (between
separators), then anywhere in the name; the rest (words only) come last; ties: more stars, more pulls,
then the name. Only ASCII letters are folded; a word is a run of ASCII letters and digits and of
non-ASCII characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .conftest import Repo

_WORD = re.compile("[0-9a-z\u0080-\U0010ffff]+")
_ASCII_UPPER = re.compile("[A-Z]")


def fold(text: str) -> str:
    return _ASCII_UPPER.sub(lambda m: m.group().lower(), text)


def tier(repo: Repo, term: str) -> int | None:
    """0 exact, 1 prefix, 2 word of the name, 3 in the name, 4 words only; None: no match."""
    text, name = fold(term.strip()), repo.name
    official = "/" not in name or name.startswith("library/")
    names = {name, name.removeprefix("library/")} if official else {name}
    if text in names:
        return 0
    if any(n.startswith(text) for n in names):
        return 1
    if re.search(rf"(?<![a-z0-9]){re.escape(text)}(?![a-z0-9])", name):
        return 2
    if text in name:
        return 3
    wanted = set(_WORD.findall(text))
    if wanted and wanted <= set(_WORD.findall(fold(f"{name} {repo.short} {repo.full}"))):
        return 4
    return None


def search(repos: Iterable[Repo], term: str, readable: set[str] | None = None) -> list[str]:
    """Every match `readable` lets through (None: everything), best first."""
    ranked = [(rank, -repo.stars, -repo.pulls, repo.name) for repo in repos
              if (readable is None or repo.name in readable) and (rank := tier(repo, term)) is not None]
    return [name for *_, name in sorted(ranked)]
