"""BlobStore on S3 (aiobotocore): blobs/<alg>/<hex> under a prefix; uploads as multipart uploads.

An upload's bytes are whole parts of a multipart upload at uploads/<id>/data, then a tail shorter than
a part in an object of its own (S3 wants at least 5 MiB in every part but the last, and clients send
chunks of any size). Each append reads the tail back (less than a part: bounded memory), adds the new
bytes, sends whole parts and writes the rest as a new tail under a fresh name, so nothing the database
records is ever overwritten. The recorded state keeps each part's ETag: completing the multipart upload
with them fails if a stray writer (one whose lease lapsed) replaced a part since.

Committing completes the multipart upload (the tail copied in server-side as the last part). S3 fixes
an object's key when its multipart upload starts, before the digest is known, and copying it to the
digest's key costs about as much as the upload did: so the object stays at objects/<upload id>, which
commit_upload returns as the blob's location for the database to keep. An upload that never filled a
part (configs, small layers) is copied to blobs/<alg>/<hex> instead: one small copy, and pushes of the
same small blob share one object.

The bucket's client and plain object operations (copy, read, delete under a prefix) are S3Bucket's
(s3bucket.py); this module is what makes blobs and uploads of them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from botocore.exceptions import ClientError

from ..oci.digest import Digest
from .base import UploadConflict, UploadMissing, UploadProgress
from .s3bucket import S3Bucket, S3Config, error_code, missing
from .s3parts import PartWriter, UploadParts

_LOCATION = re.compile(r"objects/[A-Za-z0-9_.-]+")


class S3BlobStore(S3Bucket):
    def __init__(self, bucket: str, prefix: str = "", config: S3Config | None = None) -> None:
        super().__init__(bucket, config)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix}, endpoint={self.config.endpoint_url or 'default'})"

    def blob_key(self, digest: Digest) -> str:
        return f"{self.prefix}blobs/{digest.algorithm}/{digest.encoded}"

    def _object_key(self, digest: Digest, location: str) -> str:
        """The key of a blob at `location` ("": under its digest)."""
        if not location:
            return self.blob_key(digest)
        if not _LOCATION.fullmatch(location):
            raise ValueError(f"{location!r} is not a location of this store")
        return self.prefix + location

    def _multipart_key(self, upload_id: str, parts: UploadParts) -> str:
        if parts.key:
            if parts.key != f"objects/{upload_id}":
                raise UploadMissing(f"the recorded S3 state of {upload_id} names another upload's object")
            return self.prefix + parts.key
        return self._upload_prefix(upload_id) + "data"  # recorded before objects/ existed

    def _upload_prefix(self, upload_id: str) -> str:
        if not upload_id or "/" in upload_id or "\0" in upload_id or upload_id in (".", ".."):
            raise UploadMissing(upload_id)  # callers validate ids; this keeps the store safe regardless
        return f"{self.prefix}uploads/{upload_id}/"

    async def start_upload(self, upload_id: str) -> None:
        # A marker, so that appending to a cancelled or purged upload fails like it does on a filesystem.
        await (await self.client()).put_object(Bucket=self.bucket, Key=self._upload_prefix(upload_id) + "started",
                                               Body=b"")

    async def append_upload(self, upload_id: str, progress: UploadProgress, chunks: AsyncIterable[bytes],
                            on_chunk: Callable[[bytes], None]) -> UploadProgress:
        base = self._upload_prefix(upload_id)
        parts = UploadParts.parse(progress)
        if not parts.upload_id and not parts.key:
            parts = replace(parts, key=f"objects/{upload_id}")
        s3 = await self.client()
        tail = b""
        try:
            if parts.tail:
                tail = await self.get_all(base + parts.tail)
            else:  # the upload may have been cancelled or committed meanwhile
                await s3.head_object(Bucket=self.bucket, Key=base + "started")
        except ClientError as exc:
            raise _translated(exc, upload_id) from None
        await self._drop_stray_tails(base, parts.tail)
        writer = PartWriter(s3, self.bucket, self._multipart_key(upload_id, parts), parts, tail)
        try:
            async for chunk in chunks:
                on_chunk(chunk)
                await writer.add(chunk)
            parts = await writer.finish()
        except ClientError as exc:
            raise _translated(exc, upload_id) from None
        finally:
            await writer.abandon()
        if not writer.tail_changed:
            return progress  # an empty body: nothing changed
        name = f"tail-{secrets.token_hex(8)}" if writer.tail else ""
        if name:  # a fresh name: the recorded tail stays readable until the new state is recorded
            await s3.put_object(Bucket=self.bucket, Key=base + name, Body=bytes(writer.tail))
        return parts.with_tail(name, len(writer.tail)).progress()

    async def read_upload(self, upload_id: str, progress: UploadProgress) -> AsyncIterator[bytes]:
        base, parts = self._upload_prefix(upload_id), UploadParts.parse(progress)
        try:
            key = (await self._seal(upload_id, parts) if parts.upload_id else
                   base + parts.tail if parts.tail else None)
        except ClientError as exc:
            raise _translated(exc, upload_id) from None
        if key is not None:
            async for chunk in self.read(key, 0, progress.size):
                yield chunk

    async def commit_upload(self, upload_id: str, progress: UploadProgress, digest: Digest) -> str:
        base, parts, target = self._upload_prefix(upload_id), UploadParts.parse(progress), self.blob_key(digest)
        s3, location = await self.client(), ""
        try:
            if parts.upload_id and parts.key:
                await self._seal(upload_id, parts)
                location = parts.key
            elif not await self.exists(target):
                if parts.upload_id:
                    await self.copy(await self._seal(upload_id, parts), target, progress.size)
                elif parts.tail:
                    await self.copy(base + parts.tail, target, progress.size)
                else:
                    await s3.put_object(Bucket=self.bucket, Key=target, Body=b"")
        except ClientError as exc:
            raise _translated(exc, upload_id) from None
        await self._drop_scratch(upload_id)
        return location

    async def cancel_upload(self, upload_id: str) -> None:
        await self._drop_scratch(upload_id)
        await (await self.client()).delete_object(Bucket=self.bucket, Key=f"{self.prefix}objects/{upload_id}")

    def blob_path(self, digest: Digest) -> Path | None:
        return None

    async def blob_url(self, digest: Digest, *, location: str = "") -> str | None:
        if not self.config.redirect:
            return None
        s3 = await self.client()
        url: str = await s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object_key(digest, location)},
            ExpiresIn=self.config.presign_seconds)
        return url

    async def read_blob(self, digest: Digest, start: int = 0, end: int | None = None, *,
                        location: str = "") -> AsyncGenerator[bytes, None]:
        if end is not None and end <= start:
            return
        try:
            async for chunk in self.read(self._object_key(digest, location), start, end):
                yield chunk
        except ClientError as exc:
            if missing(exc):
                raise FileNotFoundError(str(digest)) from None
            raise

    async def delete_blob(self, digest: Digest, *, location: str = "") -> None:
        await (await self.client()).delete_object(Bucket=self.bucket, Key=self._object_key(digest, location))

    async def check(self) -> None:
        await (await self.client()).head_bucket(Bucket=self.bucket)

    # -- internals -------------------------------------------------------------------------------

    async def _drop_stray_tails(self, base: str, keep: str) -> None:
        """Tails no recorded state names: superseded ones, and those of writers that died."""
        listing = await (await self.client()).list_objects_v2(Bucket=self.bucket, Prefix=base + "tail-")
        stray = [{"Key": o["Key"]} for o in listing.get("Contents", []) if o["Key"] != base + keep]
        if stray:
            await (await self.client()).delete_objects(Bucket=self.bucket, Delete={"Objects": stray, "Quiet": True})

    async def _drop_scratch(self, upload_id: str) -> None:
        """Everything of the upload but a completed object at objects/<id>: the tails, the marker, and every
        multipart upload still open at its keys (a writer that died before recording its multipart upload
        left one the database knows nothing of; aborting those leaves a completed object alone)."""
        base, s3 = self._upload_prefix(upload_id), await self.client()
        for prefix in (base, f"{self.prefix}objects/{upload_id}"):
            listing = await s3.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
            for upload in listing.get("Uploads", []):
                if prefix == base or upload["Key"] == prefix:
                    try:
                        await s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                        UploadId=upload["UploadId"])
                    except ClientError as exc:
                        if not missing(exc):
                            raise
        await self.delete_under(base)

    async def _seal(self, upload_id: str, parts: UploadParts) -> str:
        """Complete the multipart upload (the tail as its last part) and return the object's key.

        Idempotent: read_upload seals before commit_upload does."""
        base, key = self._upload_prefix(upload_id), self._multipart_key(upload_id, parts)
        s3 = await self.client()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=key)
            if head["ContentLength"] == parts.size:
                return key
        except ClientError as exc:
            if not missing(exc):
                raise
        await self._verify_parts(key, parts)
        listed = list(parts.parts)
        if parts.tail:
            copied = await s3.upload_part_copy(
                Bucket=self.bucket, Key=key, UploadId=parts.upload_id, PartNumber=len(listed) + 1,
                CopySource={"Bucket": self.bucket, "Key": base + parts.tail})
            listed.append((parts.tail_size, copied["CopyPartResult"]["ETag"]))
        await s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=parts.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, (_, etag) in enumerate(listed, 1)]})
        return key

    async def _verify_parts(self, key: str, parts: UploadParts) -> None:
        """The recorded parts are stored, before S3 assembles them. AWS replaces a part sent twice and fails
        CompleteMultipartUpload when an ETag given is not the part's; SeaweedFS 4.48 keeps both and lists
        both (and picks the one whose ETag is given). A stray writer may have sent a part again."""
        s3, stored = await self.client(), set[tuple[int, int, str]]()
        paginator = s3.get_paginator("list_parts")
        async for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=parts.upload_id):
            stored.update((p["PartNumber"], p["Size"], p["ETag"]) for p in page.get("Parts", []))
        for number, (size, etag) in enumerate(parts.parts, 1):
            if (number, size, etag) not in stored:
                raise UploadConflict(f"{key}: part {number} is not the one recorded")


def _translated(exc: ClientError, upload_id: str) -> Exception:
    """S3's answer about an upload's scratch data, in the protocol's words."""
    code = error_code(exc)
    if missing(exc):
        return UploadMissing(upload_id)
    if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
        return UploadConflict(f"{upload_id}: the stored parts are not the recorded ones ({code})")
    return exc


