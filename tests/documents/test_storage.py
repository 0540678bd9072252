"""LocalStorage: the default home of document bytes. Keys are the server's, writes are atomic, reads stream."""

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.storage import LocalStorage, ObjectNotFound, StorageKeyRefused

KEY = "groups/1f0c/clients/2e1d/3a2b"


async def read_all(storage: LocalStorage, key: str) -> list[bytes]:
    return [chunk async for chunk in storage.open(key)]


async def test_put_open_delete_round_trip_in_chunks(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, chunk_size=4)
    await storage.put(KEY, b"0123456789", "application/pdf")
    assert await read_all(storage, KEY) == [b"0123", b"4567", b"89"]
    await storage.delete(KEY)
    with pytest.raises(ObjectNotFound):
        await read_all(storage, KEY)
    await storage.delete(KEY)  # deleting what is gone is fine


async def test_put_takes_a_stream_and_replaces_atomically(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put(KEY, b"first version", "text/plain")

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"second ", b"version"):
            yield part

    await storage.put(KEY, chunks(), "text/plain")
    assert b"".join(await read_all(storage, KEY)) == b"second version"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / KEY]  # no temporary file left behind
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600  # PHI: readable by the service only


async def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await storage.put(KEY, broken(), "application/pdf")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../b", "/etc/passwd", "a//b", "a/./b", ".hidden", "a/.hidden", "", "a/", "a\\..\\b", "a b", "a/\x00"],
)
async def test_keys_that_could_escape_the_root_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(StorageKeyRefused):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(StorageKeyRefused):
        await read_all(storage, key)
    with pytest.raises(StorageKeyRefused):
        await storage.delete(key)
    assert not (tmp_path / "root").exists()


async def test_a_symlink_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "groups").symlink_to(outside)
    with pytest.raises(StorageKeyRefused):
        await LocalStorage(root).put(KEY, b"x", "text/plain")
    assert list(outside.iterdir()) == []
