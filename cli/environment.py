"""Where berth keeps its state and how it talks to the terminal: injected, never read from globals.

`BERTH_HOME` holds everything (config.json, images/); without it the XDG locations are used: config in
~/.config/berth, data in ~/.local/share/berth. Tests build an Environment with their own streams and
variables instead of patching sys or os. Paths are strings (see runtime/image_store.py: `berth run` loads
this module).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

from runtime.image_store import ImageStore, StoreError

from .errors import CliError, LocalStoreError

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any, TextIO


class Environment:
    """The streams and variables a command uses (a plain class: dataclasses loads inspect, the largest import
    of `berth run`'s start-up)."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.stdin = sys.stdin if stdin is None else stdin
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.environ = os.environ if environ is None else environ

    def replace(self, **changes: Any) -> Environment:
        """A copy with some of its streams or variables changed."""
        return Environment(**{**vars(self), **changes})

    @property
    def interactive(self) -> bool:
        """Whether progress bars may be drawn (stderr is a terminal)."""
        return bool(getattr(self.stderr, "isatty", lambda: False)())

    @property
    def home(self) -> str | None:
        value = self.environ.get("BERTH_HOME")
        return os.path.expanduser(value) if value else None

    @property
    def config_path(self) -> str:
        if self.home:
            return os.path.join(self.home, "config.json")
        return os.path.join(self._base("XDG_CONFIG_HOME", ".config"), "berth", "config.json")

    @property
    def images_path(self) -> str:
        if self.home:
            return os.path.join(self.home, "images")
        return os.path.join(self._base("XDG_DATA_HOME", ".local/share"), "berth", "images")

    @property
    def docker_config_path(self) -> str:
        return os.path.join(self._base("DOCKER_CONFIG", ".docker"), "config.json")

    def _base(self, variable: str, under_home: str) -> str:
        """The directory `variable` names, or `under_home` in $HOME (~ expanded in either)."""
        return os.path.expanduser(self.environ.get(variable) or os.path.join(self.environ.get("HOME", "~"), under_home))

    def store(self) -> ImageStore:
        try:
            return ImageStore(self.images_path)
        except (OSError, StoreError) as exc:
            raise LocalStoreError(f"cannot open the image store at {self.images_path}: {exc}") from None

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        """Progress and notices: on stderr, so that stdout stays what scripts read."""
        self.stderr.write(text + "\n")
        self.stderr.flush()


def read_config(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise CliError(f"{path} is not a JSON object")
    return config


def write_config(path: str, config: dict[str, Any]) -> None:
    """Atomically and readable only by the user: it holds credentials (mode 0600, like docker's)."""
    directory, name = os.path.split(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent="\t")
        f.write("\n")
    os.replace(temporary, path)
