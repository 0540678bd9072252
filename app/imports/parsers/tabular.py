"""Turning the records of a CSV file or a worksheet into rows, once the header is known.

This is the per-row hot path (100,000-row files are common): each row's mapped cells are fetched
and converted in C (itemgetter, map) and only the few mapped fields are looked at in Python.
"""

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from app.imports.parsers.columns import Layout
from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import Badge, ImportFormat, ImportRow
from app.imports.parsers import progress
from app.imports.parsers.names import split_full_name

Cell = TypeVar("Cell")

# The order of the values a _CellPicker returns.
_FIELDS = ("first_name", "last_name", "full_name", "email", "phone", "contact_email",
           "contact_phone", "record_id", "deceased", "middle_name")


def build_rows(
    records: Iterable[Sequence[Cell]],
    layout: Layout,
    *,
    first_line: int,
    to_text: Callable[[Cell], str],
    longest_cell: Callable[[Sequence[Cell]], int],
    limits: ImportLimits,
) -> list[ImportRow]:
    """`records` start right after the header; `first_line` is the 1-based number of the first."""
    pick = _CellPicker(layout, to_text)
    make_row = _full_name_row if layout.full_name else _row
    contact_allowed = layout.format is ImportFormat.SIMPLEPRACTICE_CLIENT_DETAILS
    max_chars = limits.max_field_chars
    max_rows = limits.max_rows
    rows: list[ImportRow] = []
    for line, cells in enumerate(records, first_line):
        if not cells:
            continue
        if longest_cell(cells) > max_chars:
            raise _field_too_large(layout.headers, cells, line, longest_cell, max_chars)
        row = make_row(pick(cells), line, contact_allowed)
        if row is not None:
            rows.append(row)
            if len(rows) > max_rows:
                raise too_many_rows(max_rows)
            if not len(rows) % progress.EVERY:
                progress.rows_read(len(rows))
    progress.rows_read(len(rows))
    return rows


def too_many_rows(max_rows: int) -> ImportRejected:
    return ImportRejected(
        "too_many_rows", f"The file has more than {max_rows:,} clients.", limit=max_rows
    )


class _CellPicker:
    """Per field, the first non-empty text among its columns ("" if none): repeated headers and
    fallback columns (mobile, then home phone) give a field several."""

    def __init__(self, layout: Layout, to_text: Callable[[Any], str]) -> None:
        flat: list[int] = []
        slots: list[int] = []
        self._fallbacks: list[tuple[int, range]] = []
        for slot, name in enumerate(_FIELDS):
            indexes = getattr(layout, name)
            positions = range(len(flat), len(flat) + len(indexes))
            if len(indexes) > 1:
                self._fallbacks.append((slot, positions))
            # An absent field points past the mapped cells, at the "" appended to every row.
            slots.append(positions[0] if indexes else -1)
            flat.extend(indexes)
        # itemgetter returns a bare value, not a tuple, when given a single index.
        self._get = itemgetter(*flat) if len(flat) > 1 else lambda cells: (cells[flat[0]],)
        self._arrange = itemgetter(*slots)
        self._padding = [""] * (max(flat) + 1)
        self._to_text = to_text

    def __call__(self, cells: Sequence[Any]) -> Sequence[str]:
        try:
            raw = self._get(cells)
        except IndexError:
            # Some writers drop the empty cells at the end of a row.
            raw = self._get([*cells, *self._padding[len(cells) :]])
        texts = [*map(self._to_text, raw), ""]
        if not self._fallbacks:
            return self._arrange(texts)
        values = list(self._arrange(texts))
        for slot, positions in self._fallbacks:
            for position in positions:
                if texts[position]:
                    values[slot] = texts[position]
                    break
        return values


def _row(values: Sequence[str], line: int, contact_allowed: bool) -> ImportRow | None:
    first_name, last_name, _, email, phone, _, _, record_id, deceased, middle_name = values
    if not (first_name or last_name or email or phone):
        return None
    return ImportRow(
        line,
        first_name or None,
        last_name or None,
        email or None,
        phone or None,
        record_id or f"row {line}",
        badges=(Badge.DECEASED,) if deceased else (),
        middle_name=middle_name or None,
    )


def _full_name_row(values: Sequence[str], line: int, contact_allowed: bool) -> ImportRow | None:
    """SimplePractice reports: one `Client` column, and a minor's details in `Contact ...`."""
    _, _, full_name, email, phone, contact_email, contact_phone, _, _, _ = values
    badges: tuple[Badge, ...] = ()
    if contact_allowed and (not email and contact_email or not phone and contact_phone):
        email = email or contact_email
        phone = phone or contact_phone
        badges = (Badge.MINOR_CONTACT_USED,)
    if not (full_name or email or phone):
        return None
    first_name = last_name = middle_name = None
    if full_name:
        name = split_full_name(full_name)
        first_name, last_name, badges = name.first, name.last, (*name.badges, *badges)
        middle_name = name.middle
    return ImportRow(
        line, first_name, last_name, email or None, phone or None, f"row {line}", badges=badges,
        middle_name=middle_name,
    )


def _field_too_large(
    headers: Sequence[str],
    cells: Sequence[Any],
    line: int,
    longest_cell: Callable[[Sequence[Any]], int],
    max_chars: int,
) -> ImportRejected:
    column = next(i for i, cell in enumerate(cells) if longest_cell([cell]) > max_chars)
    return ImportRejected(
        "field_too_large",
        f"Row {line} has a cell longer than {max_chars:,} characters.",
        line=line,
        column=headers[column] if column < len(headers) else "",
        limit=max_chars,
    )
