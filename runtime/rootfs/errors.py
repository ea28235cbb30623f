"""What can go wrong turning an image into a root filesystem."""

from __future__ import annotations


class RootfsError(Exception):
    """A layer cannot be unpacked or a root filesystem cannot be mounted; the message says why, in one line."""


class LayerRefused(RootfsError):
    """A layer tries to write outside its directory, or is otherwise hostile: nothing of it is kept."""
