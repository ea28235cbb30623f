"""A sha256 whose running state can be saved in the database and resumed by another process.

An upload's chunks may arrive at different replicas; the digest must cover them all without reading the
upload back at the end. hashlib cannot export its state, and `rehash` (which pokes at hashlib's memory)
refuses OpenSSL 3. OpenSSL's low-level SHA256_* functions can: their context is a plain, documented
struct (h[8], Nl, Nh, data[16], num, md_len), and they run the same SHA-NI/AVX2 code as hashlib.

The saved form is portable, not the struct's bytes: a version byte, the eight chaining words big-endian,
the message length in bytes (64-bit big-endian) and the 0-63 bytes of the unfinished block.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
from functools import cache

_CTX = struct.Struct("=8I2I64s2I")  # SHA256_CTX: h[8], Nl, Nh, data (bytes), num, md_len
_SAVED = struct.Struct(">B8IQ")
VERSION = 1


class InvalidHashState(ValueError):
    """Saved state that this module did not write (or a different version wrote)."""


@cache
def _libcrypto() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("libcrypto (OpenSSL) is required for resumable sha256")
    lib = ctypes.CDLL(name)
    lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.SHA256_Init.argtypes = [ctypes.c_void_p]
    lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    return lib


class ResumableSha256:
    """hashlib's update/hexdigest/copy, plus `save()` and `ResumableSha256.resume(saved)`."""

    def __init__(self) -> None:
        self._ctx = ctypes.create_string_buffer(_CTX.size)
        _libcrypto().SHA256_Init(self._ctx)

    def update(self, data: bytes) -> None:
        # ctypes passes bytes without a copy and releases the GIL for the call.
        _libcrypto().SHA256_Update(self._ctx, data if type(data) is bytes else bytes(data), len(data))

    def copy(self) -> ResumableSha256:
        twin = ResumableSha256.__new__(ResumableSha256)
        twin._ctx = ctypes.create_string_buffer(self._ctx.raw, _CTX.size)
        return twin

    def digest(self) -> bytes:
        out = ctypes.create_string_buffer(32)
        _libcrypto().SHA256_Final(out, self.copy()._ctx)  # Final wipes the context: finish a copy
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

    def save(self) -> bytes:
        h0, h1, h2, h3, h4, h5, h6, h7, low, high, data, num, _md_len = _CTX.unpack(self._ctx.raw)
        length = ((high << 32) | low) // 8  # OpenSSL counts bits
        return _SAVED.pack(VERSION, h0, h1, h2, h3, h4, h5, h6, h7, length) + data[:num]

    @classmethod
    def resume(cls, saved: bytes) -> ResumableSha256:
        if len(saved) < _SAVED.size or len(saved) >= _SAVED.size + 64 or saved[0] != VERSION:
            raise InvalidHashState("not a saved sha256 state")
        version, *words, length = _SAVED.unpack_from(saved)
        pending = saved[_SAVED.size:]
        if length % 64 != len(pending):
            raise InvalidHashState("saved sha256 state: length and unfinished block disagree")
        bits = length * 8
        hasher = cls.__new__(cls)
        hasher._ctx = ctypes.create_string_buffer(
            _CTX.pack(*words, bits & 0xFFFFFFFF, bits >> 32, pending.ljust(64, b"\0"), len(pending), 32), _CTX.size)
        return hasher
