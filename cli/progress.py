"""Per-blob progress of a pull or push: rich bars on a terminal, docker's plain lines otherwise.

Keys are what docker shows for a layer: the first 12 hex digits of its digest. A key added with
`shown=False` (a config blob) moves bytes but prints no line, as docker shows no line for it either.
Bars go to stderr and only when it is a terminal (env.interactive), so a pipe never gets escape codes;
the final "<key>: <status>" lines go to stdout when there is no terminal, as docker prints them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .environment import Environment

if TYPE_CHECKING:
    from rich.progress import TaskID


class Progress(Protocol):
    """What a transfer reports; every method is called from the event loop's thread."""

    def add(self, key: str, total: int, status: str, shown: bool = True) -> None: ...

    def status(self, key: str, status: str) -> None:
        """A change a user may want to see while it lasts (Waiting, Retrying); not a final line."""

    def advance(self, key: str, amount: int) -> None: ...

    def restart(self, key: str) -> None:
        """The transfer of `key` starts again from its first byte."""

    def finish(self, key: str, status: str) -> None: ...

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> None: ...


def progress_for(env: Environment, quiet: bool = False) -> Progress:
    if quiet:
        return Silent()
    return Bars(env) if env.interactive else Lines(env)


class Silent:
    """-q: nothing at all."""

    def add(self, key: str, total: int, status: str, shown: bool = True) -> None:
        pass

    def status(self, key: str, status: str) -> None:
        pass

    def advance(self, key: str, amount: int) -> None:
        pass

    def restart(self, key: str) -> None:
        pass

    def finish(self, key: str, status: str) -> None:
        pass

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Lines(Silent):
    """Not a terminal: one line per blob when it is done, and retries on stderr (they explain a delay)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._hidden: set[str] = set()

    def add(self, key: str, total: int, status: str, shown: bool = True) -> None:
        if not shown:
            self._hidden.add(key)

    def status(self, key: str, status: str) -> None:
        if status.startswith("Retrying"):
            self.env.note(f"{key}: {status}")

    def finish(self, key: str, status: str) -> None:
        if key not in self._hidden:
            self.env.print(f"{key}: {status}")


class Bars:
    """A terminal: one live row per blob on stderr in docker's layout, left in place with its final status."""

    def __init__(self, env: Environment) -> None:
        # Imported here: only a terminal needs rich, and a pull into a pipe saves its 25 ms of imports.
        from rich.console import Console
        from rich.progress import Progress as RichBars
        from rich.progress import TextColumn

        console = Console(file=env.stderr, force_terminal=True, highlight=False)
        row = TextColumn("{task.fields[key]}: {task.description} {task.fields[bar]}", markup=False)
        self._bars = RichBars(row, console=console, refresh_per_second=8)
        self._width = max(10, min(50, console.width - 46))  # docker's 50, narrower on a narrow terminal
        self._tasks: dict[str, TaskID] = {}
        self._moved: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def add(self, key: str, total: int, status: str, shown: bool = True) -> None:
        self._tasks[key] = self._bars.add_task(status, total=total, key=key, bar="", visible=shown)
        self._moved[key], self._totals[key] = 0, total

    def status(self, key: str, status: str) -> None:
        self._bars.update(self._tasks[key], description=status)

    def advance(self, key: str, amount: int) -> None:
        self._moved[key] += amount
        self._bars.update(self._tasks[key], bar=docker_bar(self._moved[key], self._totals[key], self._width))

    def restart(self, key: str) -> None:
        self._moved[key] = 0
        self._bars.update(self._tasks[key], bar="")

    def finish(self, key: str, status: str) -> None:
        self._bars.update(self._tasks[key], description=status, bar="")

    def __enter__(self) -> Bars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()


def docker_bar(moved: int, total: int, width: int = 50) -> str:
    """`[=========>          ]  12.3MB/70MB`, as docker draws a transfer."""
    filled = min(width, width * moved // total) if total else 0
    arrow = ("=" * (filled - 1) + ">") if filled else ""
    return f"[{arrow:<{width}}] {human_size(moved):>8}/{human_size(total)}"


def human_size(size: float) -> str:
    """Decimal units with four significant digits, like docker's units.HumanSize."""
    units, index = ("B", "kB", "MB", "GB", "TB"), 0
    while size >= 1000 and index < len(units) - 1:
        size, index = size / 1000, index + 1
    return f"{size:.4g}{units[index]}"
