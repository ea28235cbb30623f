"""Images to root filesystems: layers unpacked once per digest, stacked per container with overlayfs."""

from .errors import LayerRefused, RootfsError
from .layers import LayerStore
from .overlay import Rootfs

__all__ = ["LayerRefused", "LayerStore", "RootfsError", "Rootfs"]
