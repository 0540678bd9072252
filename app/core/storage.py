"""Where file bytes live (client documents, import uploads): a small interface, a local directory by default.

Keys are made by the server (`groups/<group_id>/clients/<client_id>/<uuid>`), never taken from a request;
the checks below refuse anything else anyway, so a bug upstream cannot write outside the root.
Nothing here is kept in process memory: any API process or worker sharing the root (or the bucket of
app/core/storage_s3.py, STORAGE_BACKEND=s3) sees the same objects.
"""

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, Protocol

from fastapi import Depends, Request

if TYPE_CHECKING:
    from app.config import Settings

CHUNK_SIZE = 64 * 1024
# Segments of letters, digits, dot, dash and underscore, never starting with a dot: no `..`, no hidden
# names (the temporary files below start with one), no empty segments, no absolute paths.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){0,15}")


class StorageKeyRefused(ValueError):
    """A key that could escape the storage root or is not one the server makes."""


class ObjectNotFound(LookupError):
    """No object under this key."""


class StorageUnavailable(Exception):
    """The storage service cannot be reached or failed for a moment: an outage (503, job retried), not a bug."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; readers never see a partial object."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; raises ObjectNotFound on first iteration when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise StorageKeyRefused("storage keys are relative paths of plain segments")
    return key


class LocalStorage:
    """Objects as files under `root`; all file I/O runs in threads, off the event loop."""

    def __init__(self, root: Path, *, chunk_size: int = CHUNK_SIZE):
        self.root = Path(root)
        self.chunk_size = chunk_size

    def _path(self, key: str) -> Path:
        path = self.root / check_key(key)
        # Belt and braces: a symlink planted under the root must not lead outside it either.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise StorageKeyRefused("storage key resolves outside the storage root")
        return path

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        # Same directory as the target, so the rename is atomic; mkstemp makes it readable by us only (PHI).
        fd, tmp_name = await asyncio.to_thread(tempfile.mkstemp, dir=path.parent, prefix=".put-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as tmp:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    await asyncio.to_thread(tmp.write, data)
                else:
                    async for chunk in data:
                        await asyncio.to_thread(tmp.write, chunk)
                await asyncio.to_thread(_sync, tmp)
            await asyncio.to_thread(os.replace, tmp_name, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, self.chunk_size):
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def storage_from_settings(settings: "Settings") -> Storage:
    """The configured backend (O2): a local directory, or an S3-compatible bucket shared by all machines."""
    if settings.storage_backend == "s3":
        from app.core.storage_s3 import S3Storage  # boto3 is loaded only where it is used

        return S3Storage.from_settings(settings)
    return LocalStorage(settings.files_path)


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


StorageDep = Annotated[Storage, Depends(get_storage)]
