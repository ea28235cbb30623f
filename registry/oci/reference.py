"""Repository names and tags, with the grammar of the OCI distribution spec."""

from __future__ import annotations

import re

# distribution-spec: <name> MUST match this, and (with the registry host) stay under 256 characters.
NAME = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
NAME_MAX = 255
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME.fullmatch(name) is not None


def is_valid_tag(tag: str) -> bool:
    return TAG.fullmatch(tag) is not None
