"""S3Storage against a real S3-protocol server (moto's server mode in a child process), not a mock of the
client: what the server stored, how it was encrypted, and what a second reader sees (rule O2)."""

import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from botocore.config import Config

from app.config import Settings
from app.core.outages import STORAGE_UNAVAILABLE, outage_code
from app.core.storage import ObjectNotFound, StorageKeyRefused, StorageUnavailable, storage_from_settings
from app.core.storage_s3 import S3Storage
from tests.fixtures.s3 import CREDENTIALS, REGION, MotoServer, free_port, object_names

KEY = "groups/g1/clients/c1/doc1"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    server.create_bucket("o2-bucket")
    yield server
    server.stop()


@pytest.fixture
def s3(moto: MotoServer, request: pytest.FixtureRequest) -> S3Storage:
    settings = Settings(**{k.lower(): v for k, v in moto.settings_env("o2-bucket", prefix=request.node.name[:60]).items()})
    storage = storage_from_settings(settings)
    assert isinstance(storage, S3Storage)
    return storage


async def stream(size: int, chunk: int = MIB) -> AsyncIterator[bytes]:
    for start in range(0, size, chunk):
        yield pattern(start, min(chunk, size - start))


def pattern(start: int, length: int) -> bytes:
    # Position-dependent bytes, so a part stored twice or out of order shows in the hash.
    return bytes((start + i) * 7 % 251 for i in range(length)) if length < 4096 else (
        hashlib.sha256(str(start).encode()).digest() * (length // 32 + 1)
    )[:length]


async def read_all(storage: S3Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.open(key)])


async def test_round_trip_asks_the_server_for_encryption(s3: S3Storage, moto: MotoServer) -> None:
    # rule O2: a document stored in the bucket reads back as written, encrypted at rest by the server
    await s3.put(KEY, b"%PDF-1.4 notes", "application/pdf")
    assert await read_all(s3, KEY) == b"%PDF-1.4 notes"
    head = moto.client().head_object(Bucket="o2-bucket", Key=s3.prefix + KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/pdf"
    await s3.put(KEY, b"replaced", "application/pdf")
    assert await read_all(s3, KEY) == b"replaced"
    await s3.delete(KEY)
    with pytest.raises(ObjectNotFound):
        await read_all(s3, KEY)


async def test_a_large_stream_goes_up_in_parts_and_comes_down_in_chunks(s3: S3Storage, moto: MotoServer) -> None:
    # rule O2: neither direction holds the whole file: multipart upload in parts, download in chunks
    s3.part_size, s3.chunk_size = 5 * MIB, 256 * 1024
    size = 23 * MIB + 123
    expected = hashlib.sha256()
    async for chunk in stream(size):
        expected.update(chunk)

    tracemalloc.start()
    try:
        await s3.put(KEY, stream(size), "text/csv")
        upload_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        got, chunks = hashlib.sha256(), 0
        async for chunk in s3.open(KEY):
            assert len(chunk) <= s3.chunk_size
            got.update(chunk)
            chunks += 1
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.hexdigest() == expected.hexdigest()
    assert chunks >= size // s3.chunk_size
    head = moto.client().head_object(Bucket="o2-bucket", Key=s3.prefix + KEY)
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-5")  # five parts: 4 x 5 MiB and the rest
    assert head["ServerSideEncryption"] == "AES256"  # asked for when the upload started
    # A part (and its copy on the way out) at a time, far below the 23 MiB of the file.
    assert upload_peak < 3 * s3.part_size, upload_peak
    assert download_peak < 4 * MIB, download_peak


async def test_a_small_stream_is_one_put(s3: S3Storage, moto: MotoServer) -> None:
    # rule O2
    await s3.put(KEY, stream(100_000, 30_000), "text/csv")
    head = moto.client().head_object(Bucket="o2-bucket", Key=s3.prefix + KEY)
    assert head["ContentLength"] == 100_000 and "-" not in head["ETag"]
    assert head["ServerSideEncryption"] == "AES256"


async def test_a_stream_that_fails_leaves_no_object_and_no_unfinished_upload(s3: S3Storage, moto: MotoServer) -> None:
    # rule O2: readers never see a partial object; parts already sent are aborted, not left to cost money
    async def broken() -> AsyncIterator[bytes]:
        async for chunk in stream(12 * MIB):
            yield chunk
        raise OSError("client went away")

    s3.part_size = 5 * MIB
    with pytest.raises(OSError, match="client went away"):
        await s3.put(KEY, broken(), "text/csv")
    client = moto.client()
    assert object_names(client, "o2-bucket", s3.prefix) == []
    assert client.list_multipart_uploads(Bucket="o2-bucket", Prefix=s3.prefix).get("Uploads", []) == []
    with pytest.raises(ObjectNotFound):
        await read_all(s3, KEY)


async def test_a_missing_object_is_not_found_and_deleting_it_is_fine(s3: S3Storage) -> None:
    # rule O2
    with pytest.raises(ObjectNotFound):
        await read_all(s3, "groups/g1/clients/c1/never")
    await s3.delete("groups/g1/clients/c1/never")


async def test_prefixes_keep_two_deployments_apart_in_one_bucket(moto: MotoServer) -> None:
    # rule O2: S3_PREFIX isolates what each deployment stores
    client = moto.client()
    first = S3Storage(client, "o2-bucket", "clinic-a/files")
    second = S3Storage(client, "o2-bucket", "clinic-b")
    await first.put(KEY, b"a", "text/plain")
    await second.put(KEY, b"b", "text/plain")
    assert (await read_all(first, KEY), await read_all(second, KEY)) == (b"a", b"b")
    await first.delete(KEY)
    with pytest.raises(ObjectNotFound):
        await read_all(first, KEY)
    assert await read_all(second, KEY) == b"b"
    assert object_names(client, "o2-bucket", "clinic-") == [f"clinic-b/{KEY}"]


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a//b", ".hidden", "a/../../b"])
async def test_keys_the_server_does_not_make_are_refused_before_any_request(s3: S3Storage, key: str) -> None:
    # rule O2: the same key rules as the local directory
    with pytest.raises(StorageKeyRefused):
        await s3.put(key, b"x", "text/plain")
    with pytest.raises(StorageKeyRefused):
        await read_all(s3, key)


async def test_an_unreachable_service_is_an_outage_not_a_bug() -> None:
    # rule O2: no S3 service answering is a 503 to clients and a retry for jobs (same as PostgreSQL or Redis)
    import boto3

    client = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name=REGION,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, s3={"addressing_style": "path"}), **CREDENTIALS,
    )
    storage = S3Storage(client, "o2-bucket")
    with pytest.raises(StorageUnavailable) as raised:
        await storage.put(KEY, b"x", "text/plain")
    assert outage_code(raised.value) == STORAGE_UNAVAILABLE


def test_s3_without_a_bucket_is_refused_at_start() -> None:
    # rule O2
    with pytest.raises(ValueError, match="S3_BUCKET"):
        Settings(storage_backend="s3", s3_bucket=None)
