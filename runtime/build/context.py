"""The build context: a directory, less what `.dockerignore` leaves out, and the files a COPY or ADD names.

.dockerignore follows docker's patternmatcher: one pattern a line, `#` comments, Go filepath.Match globs plus
`**` for any number of directories, `!` to take back an exclusion; the last pattern that matches wins, and
a pattern that matches a directory matches everything under it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from . import BuildError
from .filesystem import ImageRoot


@dataclass(frozen=True)
class Source:
    """One file or directory a COPY takes: where it is, and its path relative to what the pattern named."""

    path: Path  # on the host (in the context, or in another stage's mounted root)
    name: str  # as the step names it: a directory's contents are copied, not the directory itself


class Ignore:
    def __init__(self, patterns: list[str]) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for pattern in patterns:
            keep = pattern.startswith("!")
            cleaned = posixpath.normpath(pattern[1:].strip() if keep else pattern).lstrip("/")
            if cleaned and cleaned != ".":
                self.rules.append((keep, re.compile(_regex(cleaned))))

    @classmethod
    def read(cls, context: Path) -> Ignore:
        try:
            text = (context / ".dockerignore").read_text(errors="surrogateescape")  # as os.walk's names
        except FileNotFoundError:
            return cls([])
        return cls([line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")])

    def excludes(self, name: str) -> bool:
        """Whether the context path `name` (relative, '/'-separated) is left out."""
        parts = name.split("/")
        excluded = False
        for keep, rule in self.rules:
            if any(rule.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
                excluded = not keep
        return excluded


def _regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or (char if char in "[]-^" else re.escape(char)))
        i += 1
    return "".join(out)


class BuildContext:
    def __init__(self, root: Path, ignore: Ignore | None = None) -> None:
        self.root = root.resolve()
        self.ignore = ignore if ignore is not None else Ignore.read(self.root)

    def sources(self, pattern: str) -> list[Source]:
        """What a COPY source names: a path or a glob relative to the context (never outside it)."""
        cleaned = posixpath.normpath("/" + pattern).lstrip("/")
        if not any(c in cleaned for c in "*?["):
            found = [cleaned] if os.path.lexists(self.root / cleaned) else []
        else:
            wanted = re.compile(_regex(cleaned))  # Go's filepath.Match: `*` stays within one directory
            found = [name for name in self.names() if wanted.fullmatch(name)]
        found = [name for name in found if not (name and self.ignore.excludes(name))]
        if not found:
            raise BuildError(f"COPY failed: file not found in build context or excluded by .dockerignore: "
                             f"stat {pattern}: file does not exist")
        return [Source(self._in_context(name), name) for name in found]

    def _in_context(self, name: str) -> Path:
        """Where `name` leads, its symlinks followed as if the context were `/` (docker's FollowSymlinkInScope):
        a link in the context never copies a file of the host."""
        found = ImageRoot(self.root).resolve(name)
        if found is None:
            raise BuildError(f"COPY failed: {name} is a dangling symlink in the build context")
        return Path(found)

    def names(self) -> list[str]:
        """Every path in the context that .dockerignore keeps, relative, in walking order."""
        found = []
        for directory, subdirectories, files in os.walk(self.root):
            relative = os.path.relpath(directory, self.root)
            prefix = "" if relative == "." else relative + "/"
            kept = [d for d in sorted(subdirectories) if not self.ignore.excludes(prefix + d)]
            subdirectories[:] = kept
            found += [prefix + name for name in sorted(kept + files) if not self.ignore.excludes(prefix + name)]
        return found

    def excluded(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        return str(relative) != "." and self.ignore.excludes(str(relative))


def content_hash(sources: list[Source], excluded=lambda _path: False) -> str:
    """A digest of what the sources hold (names, modes, contents, link targets): COPY's cache key."""
    digest = hashlib.sha256()
    for source in sources:
        for path in _walk(source.path, excluded):
            info = path.lstat()
            relative = os.path.relpath(path, source.path)
            digest.update(f"{source.name}\0{relative}\0{stat.S_IMODE(info.st_mode)}\0{stat.S_IFMT(info.st_mode)}\0"
                          .encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
    return digest.hexdigest()


def _walk(path: Path, excluded) -> list[Path]:
    if not path.is_dir() or path.is_symlink():
        return [path]
    found = [path]
    for directory, subdirectories, files in os.walk(path):
        subdirectories[:] = sorted(d for d in subdirectories if not excluded(Path(directory, d)))
        found += [Path(directory, name) for name in sorted(subdirectories + files)
                  if not excluded(Path(directory, name))]
    return found
