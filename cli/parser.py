"""berth's argparse parser: argparse's own, but for how it finds the terminal's width and its messages.

argparse builds a HelpFormatter for every flag it adds (to check the flag's metavar), and each one asks
`shutil.get_terminal_size`; importing shutil loads bz2 and lzma too, about 2 ms of `berth run`'s start-up.
`terminal_width` gives the same answer with os alone. Sub-commands' parsers are of the same class (argparse
makes them with the type of the parser they belong to), so every command's help is formatted alike.

argparse passes each of its messages through gettext, whose first lookup imports locale (3 ms more) only to
find that the C locale has no translations: `translated` asks gettext only when another language is set.
"""

from __future__ import annotations

import argparse
import os
import sys


def terminal_width() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the width of stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def translated(message: str) -> str:
    """gettext.gettext(message), without gettext's lookup in the C and POSIX locales (which translate
    nothing). gettext takes the first language set in these variables, as here."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        language = os.environ.get(variable)
        if language:
            break
    if not language or language.split(".")[0] in ("C", "POSIX"):
        return message
    import gettext

    return gettext.gettext(message)


class HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, terminal_width() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        argparse._ = translated  # type: ignore[attr-defined]  # argparse looks its messages up through this name
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
