"""One S3 bucket through aiobotocore: the client (made on first use, inside the running loop: each worker has
its own) and the object operations S3BlobStore is built of. Nothing here knows of blobs or uploads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

READ_CHUNK = 1 << 20
MISSING = ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


@dataclass(frozen=True, slots=True)
class S3Config:
    """Where and how to reach S3. Empty fields fall back to botocore's own lookup (AWS_* variables,
    ~/.aws, instance roles)."""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    redirect: bool = True  # blob GETs answer 307 to a presigned URL
    presign_seconds: int = 1200


class S3Bucket:
    # CopyObject copies at most 5 GiB; bigger blobs are copied part by part (UploadPartCopy).
    copy_limit = 5 << 30
    copy_part = 1 << 30

    def __init__(self, bucket: str, config: S3Config | None = None) -> None:
        self.bucket = bucket
        self.config = config or S3Config()
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._opening = asyncio.Lock()

    async def client(self) -> Any:
        """The S3 client, made on first use inside the running loop (each worker has its own)."""
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    c = self.config
                    options: dict[str, Any] = {"region_name": c.region or None, "endpoint_url": c.endpoint_url or None}
                    if c.access_key_id:
                        options.update(aws_access_key_id=c.access_key_id, aws_secret_access_key=c.secret_access_key)
                    # Path-style for custom endpoints (SeaweedFS, MinIO); checksums only where S3 requires
                    # them (we verify every blob's digest ourselves).
                    config = AioConfig(s3={"addressing_style": "path" if c.endpoint_url else "auto"},
                                       request_checksum_calculation="when_required",
                                       response_checksum_validation="when_required",
                                       retries={"max_attempts": 5, "mode": "standard"},
                                       max_pool_connections=64)
                    self._client = await self._stack.enter_async_context(
                        get_session().create_client("s3", config=config, **options))
        return self._client

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def copy(self, source: str, target: str, size: int) -> None:
        s3 = await self.client()
        if size <= self.copy_limit:
            await s3.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
            return
        created = await s3.create_multipart_upload(Bucket=self.bucket, Key=target)
        upload_id, etags = created["UploadId"], []
        try:
            for number, start in enumerate(range(0, size, self.copy_part), 1):
                end = min(start + self.copy_part, size) - 1
                copied = await s3.upload_part_copy(
                    Bucket=self.bucket, Key=target, UploadId=upload_id, PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source}, CopySourceRange=f"bytes={start}-{end}")
                etags.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            await s3.complete_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload_id,
                                               MultipartUpload={"Parts": etags})
        except BaseException:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload_id)
            raise

    async def exists(self, key: str) -> bool:
        try:
            await (await self.client()).head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if missing(exc):
                return False
            raise
        return True

    async def read(self, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        # No Range for a whole object: S3 answers 416 to "bytes=0-" of an empty one.
        ranged = {"Range": f"bytes={start}-{'' if end is None else end - 1}"} if start or end is not None else {}
        response = await (await self.client()).get_object(Bucket=self.bucket, Key=key, **ranged)
        async with response["Body"] as body:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk

    async def get_all(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.read(key, 0, None)])

    async def delete_under(self, prefix: str) -> None:
        s3 = await self.client()
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                await s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def missing(exc: ClientError) -> bool:
    """Whether S3 answered that the object, or the multipart upload, is not there."""
    return error_code(exc) in MISSING
