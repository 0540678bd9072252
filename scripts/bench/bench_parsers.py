"""Parse time of 100,000-row client lists (CSV and xlsx, plus vCards), built in memory.

Run from the repository root: `python scripts/bench/bench_parsers.py [rows]`.
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a plain script, the repository root is not on the path; the generator lives in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.imports.parsers import ImportLimits, read_import  # noqa: E402
from tests.imports import fixtures_gen as gen  # noqa: E402

REPEATS = 3


def best_of(repeats: int, run: Callable[[], int]) -> tuple[float, int]:
    timings = []
    rows = 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = run()
        timings.append(time.perf_counter() - started)
    return min(timings), rows


def vcards(count: int) -> bytes:
    return b"".join(
        gen.simplepractice_vcard(p.first, p.last, p.email, p.phone, None) for p in gen.people(count)
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    limits = ImportLimits(max_rows=max(count, ImportLimits().max_rows))
    started = time.perf_counter()
    files = {"csv": gen.people_csv(count), "xlsx": gen.people_xlsx(count), "vcard": vcards(count)}
    print(f"generated {count:,} rows per file in {time.perf_counter() - started:.1f} s")
    for name, data in files.items():
        seconds, rows = best_of(REPEATS, lambda data=data: len(read_import(data, limits=limits).rows))
        assert rows == count, (name, rows)
        print(f"{name:6} {len(data) / 2**20:6.1f} MiB  {seconds:6.3f} s  {rows / seconds:9,.0f} rows/s")


if __name__ == "__main__":
    main()
