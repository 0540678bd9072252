"""Storage throughput and memory (rule O2): a 50 MB file uploaded (streamed in 64 KiB chunks, as the
upload routes do) and downloaded (streamed, hashed) through LocalStorage and through S3Storage against a
moto server on loopback, each backend in a fresh child process.

    python scripts/bench/bench_storage.py [--mb 50] [--repeats 3]

Throughput is the best of `repeats` runs (MB/s, wall clock; the machine may be shared: check `uptime`).
Memory shows streaming: the Python heap's peak during each direction (tracemalloc, a separate pass) and
the process's peak RSS growth over its start, both next to the file's size. moto keeps the objects in
its own process: its memory is not ours and not counted.
"""

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MB = 1_000_000
CHUNK = 64 * 1024
KEY = "groups/bench/clients/bench/file"


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def source(size: int) -> AsyncIterator[bytes]:
    block = hashlib.sha256(b"bench").digest() * (CHUNK // 32)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


async def one_backend(backend: str, size: int, repeats: int) -> dict[str, object]:
    from app.core.storage import LocalStorage, Storage

    moto = None
    storage: Storage
    if backend == "s3":
        from app.core.storage_s3 import S3Storage
        from tests.fixtures.s3 import MotoServer

        moto = MotoServer().start()
        moto.create_bucket("bench")
        storage = S3Storage(moto.client(), "bench", "bench")
    else:
        storage = LocalStorage(Path(tempfile.mkdtemp(prefix="caseload-bench-storage-")))
    try:
        await storage.put("groups/bench/warm", b"x", "text/plain")  # connections, imports
        baseline = rss_kb("VmRSS")
        ups, downs = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            await storage.put(KEY, source(size), "application/octet-stream")
            ups.append(time.perf_counter() - started)
            started = time.perf_counter()
            digest, got = hashlib.sha256(), 0
            async for chunk in storage.open(KEY):
                digest.update(chunk)
                got += len(chunk)
            downs.append(time.perf_counter() - started)
            assert got == size
        peak_rss_growth = rss_kb("VmHWM") - baseline
        tracemalloc.start()
        await storage.put(KEY, source(size), "application/octet-stream")
        upload_heap = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        async for _chunk in storage.open(KEY):
            pass
        download_heap = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        await storage.delete(KEY)
    finally:
        if moto is not None:
            moto.stop()
    return {
        "backend": backend,
        "upload_mb_s": round(size / MB / min(ups), 1),
        "download_mb_s": round(size / MB / min(downs), 1),
        "upload_heap_peak_mb": round(upload_heap / MB, 1),
        "download_heap_peak_mb": round(download_heap / MB, 1),
        "peak_rss_growth_mb": round(peak_rss_growth * 1024 / MB, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["local", "s3"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.mb * MB
    if args.child:
        print(json.dumps(asyncio.run(one_backend(args.child, size, args.repeats))))
        return
    print(f"file {args.mb} MB, streamed in {CHUNK // 1024} KiB chunks; best of {args.repeats}; "
          f"S3 parts 8 MiB; load average {Path('/proc/loadavg').read_text().split()[0]}")
    header = ("backend", "upload MB/s", "download MB/s", "upload heap peak MB", "download heap peak MB", "peak RSS growth MB")
    print(" | ".join(header))
    for backend in ("local", "s3"):
        done = subprocess.run([sys.executable, __file__, "--child", backend, "--mb", str(args.mb), "--repeats", str(args.repeats)],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(" | ".join(str(row[k]) for k in ("backend", "upload_mb_s", "download_mb_s", "upload_heap_peak_mb",
                                               "download_heap_peak_mb", "peak_rss_growth_mb")))


if __name__ == "__main__":
    main()
