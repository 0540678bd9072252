"""O2: file bytes in an S3-compatible bucket, so every API and worker machine reads what any one stored.

The same interface as LocalStorage (app/core/storage.py). boto3 is synchronous: each call runs in a
thread, off the event loop, and one client (thread-safe) serves the process. Nothing is buffered whole:
uploads go in parts of `part_size` (multipart past the first part), downloads in chunks of `chunk_size`.
Every write asks for server-side encryption. No presigned URL is ever made: PHI leaves only through
our own routes, which check who may read it.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError

from app.config import Settings
from app.core.storage import ObjectNotFound, StorageKeyRefused, StorageUnavailable, check_key

CHUNK_SIZE = 256 * 1024
# S3 refuses parts under 5 MiB (but the last); 8 MiB keeps an upload's memory small and its requests few.
PART_SIZE = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


def s3_client(settings: Settings) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
        # Services other than AWS (MinIO, Ceph, moto) answer on one host: bucket in the path.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=config,
    )


class S3Storage:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        encryption: str = "AES256",
        kms_key_id: str | None = None,
        chunk_size: int = CHUNK_SIZE,
        part_size: int = PART_SIZE,
    ):
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.chunk_size = chunk_size
        self.part_size = part_size
        self._encryption: dict[str, str] = {"ServerSideEncryption": encryption}
        if kms_key_id:
            self._encryption["SSEKMSKeyId"] = kms_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Storage":
        assert settings.s3_bucket, "S3_BUCKET is checked by the settings"
        return cls(
            s3_client(settings),
            settings.s3_bucket,
            settings.s3_prefix,
            encryption=settings.s3_server_side_encryption,
            kms_key_id=settings.s3_kms_key_id,
        )

    def name(self, key: str) -> str:
        """The object's name in the bucket: the prefix, then the checked key."""
        return self.prefix + check_key(key)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, method), Bucket=self.bucket, **kwargs)
        except BotoConnectionError as exc:
            raise StorageUnavailable(f"object storage unreachable ({type(exc).__name__})") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if status >= 500 or exc.response.get("Error", {}).get("Code") in ("SlowDown", "RequestTimeout"):
                raise StorageUnavailable(f"object storage answered {status}") from exc
            raise

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        name = self.name(key)
        if isinstance(data, (bytes, bytearray, memoryview)):
            await self._call("put_object", Key=name, Body=bytes(data), ContentType=content_type, **self._encryption)
            return
        # S3 objects appear whole when the last request completes: readers never see a partial one.
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        # One part in memory at a time, handed to boto3 as it is (no joined copy); a new buffer per part.
        buffer = bytearray()
        try:
            async for chunk in data:
                buffer += chunk
                if len(buffer) >= self.part_size:
                    if upload_id is None:
                        started = await self._call(
                            "create_multipart_upload", Key=name, ContentType=content_type, **self._encryption
                        )
                        upload_id = started["UploadId"]
                    await self._upload_part(name, upload_id, parts, buffer)
                    buffer = bytearray()
            if upload_id is None:
                await self._call("put_object", Key=name, Body=buffer, ContentType=content_type, **self._encryption)
                return
            if buffer:
                await self._upload_part(name, upload_id, parts, buffer)
            await self._call("complete_multipart_upload", Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                # Unfinished parts cost storage until aborted; the original error is what matters.
                with suppress(Exception):
                    await asyncio.shield(self._call("abort_multipart_upload", Key=name, UploadId=upload_id))
            raise

    async def _upload_part(self, name: str, upload_id: str, parts: list[dict[str, Any]], body: bytearray) -> None:
        number = len(parts) + 1
        answer = await self._call("upload_part", Key=name, UploadId=upload_id, PartNumber=number, Body=body)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    async def open(self, key: str) -> AsyncIterator[bytes]:
        name = self.name(key)
        try:
            answer = await self._call("get_object", Key=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise ObjectNotFound(key) from None
            raise
        body = answer["Body"]
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(body.read, self.chunk_size)
                except (BotoCoreError, OSError) as exc:
                    raise StorageUnavailable(f"object storage read failed ({type(exc).__name__})") from exc
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        # S3 answers a delete of a missing object with success, as the interface wants.
        await self._call("delete_object", Key=self.name(key))


__all__ = ["S3Storage", "StorageKeyRefused", "s3_client"]
