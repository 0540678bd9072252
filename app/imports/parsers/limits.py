"""Bounds on what a single upload may cost to read (rule I11)."""

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_rows: int = 200_000
    max_field_chars: int = 100_000
    max_zip_entries: int = 20_000
    max_uncompressed_total: int = 2 * GiB
    max_ratio: int = 200
    max_member_size: int = 200 * MiB
    # Small members of repetitive bytes legitimately compress far beyond max_ratio (an empty
    # worksheet, a blank form); they cost nothing to inflate, so the ratio is only judged for
    # members (and archives) that inflate beyond this.
    ratio_floor: int = 1 * MiB
    # calamine holds a worksheet as a dense grid of some 32 bytes a cell, blanks included.
    max_sheet_cells: int = 20_000_000


DEFAULT_LIMITS = ImportLimits()


def describe_size(size: int) -> str:
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:,.4g} {unit}"
    return f"{size} bytes"
