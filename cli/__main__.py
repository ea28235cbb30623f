"""berth: the command-line client. For now it only knows its version; commands arrive with their issue."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="berth", description="A daemonless client for berth registries.")
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    parser.parse_args(argv)
    print(f"berth {__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
