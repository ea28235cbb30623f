"""The S3 store's upload state (what the database records) and the writer that turns chunks into parts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

from .base import UploadMissing, UploadProgress

MIN_PART = 5 << 20  # S3's smallest part but the last
PART_SIZE = 8 << 20
MAX_PARTS = 10_000
IN_FLIGHT = 3


def part_size(number: int, base: int = PART_SIZE) -> int:
    """Parts grow every 1,000 so that 10,000 of them hold about 500 GB, while memory stays bounded."""
    return base << min((number - 1) // 1000, 3)


@dataclass(frozen=True, slots=True)
class UploadParts:
    """An upload as S3 holds it: whole parts of a multipart upload, then a tail object."""
    size: int = 0
    upload_id: str = ""  # the multipart upload's id; "" until the first whole part
    parts: tuple[tuple[int, str], ...] = ()  # (size, ETag) of parts 1, 2, ...
    tail: str = ""  # the tail object's name under the upload's prefix; "" when empty
    tail_size: int = 0
    # The multipart upload's object key, under the store's prefix, where the blob stays once committed
    # (objects/<upload id>); "" in states recorded before that, whose object is uploads/<id>/data.
    key: str = ""

    @classmethod
    def parse(cls, progress: UploadProgress) -> UploadParts:
        if not progress.state:
            if progress.size:
                raise UploadMissing(f"an upload of {progress.size} bytes without S3 state")
            return cls()
        try:
            data = json.loads(progress.state)
            parts = cls(progress.size, str(data["upload_id"]), tuple((int(s), str(e)) for s, e in data["parts"]),
                        str(data["tail"]), int(data["tail_size"]), str(data.get("key", "")))
        except (ValueError, KeyError, TypeError):
            raise UploadMissing("the recorded S3 state is not ours") from None
        if sum(size for size, _ in parts.parts) + parts.tail_size != progress.size or "/" in parts.tail:
            raise UploadMissing("the recorded S3 state does not add up to the recorded size")
        return parts

    def progress(self) -> UploadProgress:
        state = {"upload_id": self.upload_id, "parts": [list(p) for p in self.parts], "tail": self.tail,
                 "tail_size": self.tail_size, "key": self.key}
        return UploadProgress(self.size, json.dumps(state, separators=(",", ":")))

    def with_tail(self, name: str, size: int) -> UploadParts:
        return replace(self, tail=name, tail_size=size)


class PartWriter:
    """Buffers an append into whole parts and sends up to IN_FLIGHT of them at once while the next one
    arrives (S3 servers take parallel parts faster than one stream; memory stays bounded at IN_FLIGHT + 1
    parts). What is left when the chunks end is `tail`, for the caller to store."""

    def __init__(self, s3: Any, bucket: str, key: str, parts: UploadParts, tail: bytes,
                 base_part_size: int = PART_SIZE) -> None:
        if len(tail) != parts.tail_size:
            raise UploadMissing(f"the tail of {key} has {len(tail)} bytes, not the {parts.tail_size} recorded")
        self.s3, self.bucket, self.key, self.base_part_size = s3, bucket, key, base_part_size
        self.recorded = parts
        self.upload_id = parts.upload_id
        self.parts = list(parts.parts)
        self.size = parts.size
        self.tail = bytearray(tail)
        self.tail_changed = False
        self._sending: list[asyncio.Task[tuple[int, str]]] = []  # in part order

    async def add(self, chunk: bytes) -> None:
        self.tail += chunk
        self.size += len(chunk)
        self.tail_changed = self.tail_changed or bool(chunk)
        number = len(self.parts) + len(self._sending) + 1
        if len(self.tail) >= part_size(number, self.base_part_size):
            if number > MAX_PARTS:
                raise ValueError(f"an upload takes at most {MAX_PARTS} parts")
            if len(self._sending) >= IN_FLIGHT:
                await self._sent_oldest()
            if not self.upload_id:
                created = await self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)
                self.upload_id = created["UploadId"]
            body, self.tail = bytes(self.tail), bytearray()
            self._sending.append(asyncio.create_task(self._send(number, body)))

    async def finish(self) -> UploadParts:
        """The state once every whole part is stored (the tail not included yet)."""
        while self._sending:
            await self._sent_oldest()
        return replace(self.recorded, size=self.size, upload_id=self.upload_id, parts=tuple(self.parts),
                       tail="", tail_size=0)

    async def abandon(self) -> None:
        """Stop parts still being sent (after a failure); their bytes were never recorded."""
        sending, self._sending = self._sending, []
        for task in sending:
            task.cancel()
        if sending:
            await asyncio.wait(sending)
        for task in sending:
            if not task.cancelled():
                task.exception()  # retrieved: the failure that matters is already propagating

    async def _sent_oldest(self) -> None:
        oldest = self._sending[0]
        result = await oldest  # on failure it stays listed, for abandon to collect
        self._sending.pop(0)
        self.parts.append(result)

    async def _send(self, number: int, body: bytes) -> tuple[int, str]:
        sent = await self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         PartNumber=number, Body=body)
        return len(body), str(sent["ETag"])
