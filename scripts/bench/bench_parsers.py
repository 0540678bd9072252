"""Parse time of 100,000-row client lists (CSV, xlsx, and vCards for comparison), built in memory.

Run from the repository root: `python scripts/bench/bench_parsers.py [rows]`. Each figure is the
best of three runs; CPU time is printed beside wall time because a shared machine skews the latter.
The baseline is the bare library (csv.reader / calamine) iterating the same file.
"""

import csv
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a plain script, the repository root is not on the path; the generator lives in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from python_calamine import CalamineWorkbook  # noqa: E402

from app.imports.parsers import ImportLimits, read_import  # noqa: E402
from tests.imports import fixtures_gen as gen  # noqa: E402

REPEATS = 3


def best_of(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(REPEATS):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu)


def vcards(count: int) -> bytes:
    return b"".join(
        gen.simplepractice_vcard(p.first, p.last, p.email, p.phone, None) for p in gen.people(count)
    )


def bare_csv(data: bytes) -> None:
    for _ in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
        pass


def bare_calamine(data: bytes) -> None:
    for _ in CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).iter_rows():
        pass


def report(label: str, count: int, size: int, run: Callable[[], object]) -> None:
    wall, cpu = best_of(run)
    print(f"{label:14} {size / 2**20:5.1f} MiB  wall {wall:6.3f} s {count / wall:9,.0f} rows/s"
          f"   cpu {cpu:6.3f} s {count / cpu:9,.0f} rows/s")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    limits = ImportLimits(max_rows=max(count, ImportLimits().max_rows))
    started = time.perf_counter()
    files = {"csv": gen.people_csv(count), "xlsx": gen.people_xlsx(count), "vcard": vcards(count)}
    print(f"generated {count:,} rows per file in {time.perf_counter() - started:.1f} s")
    baselines = {"csv": bare_csv, "xlsx": bare_calamine}
    for name, data in files.items():
        parsed = read_import(data, limits=limits)
        assert len(parsed.rows) == count, (name, len(parsed.rows))
        report(name, count, len(data), lambda data=data: read_import(data, limits=limits))
        if name in baselines:
            report(f"  bare {name}", count, len(data), lambda data=data: baselines[name](data))


if __name__ == "__main__":
    main()
