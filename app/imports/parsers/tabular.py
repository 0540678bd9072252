"""Turning the records of a CSV file or a worksheet into rows, once the header is known."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from app.imports.parsers.columns import Layout
from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import Badge, ImportFormat, ImportRow
from app.imports.parsers.names import PersonName, split_full_name

Cell = TypeVar("Cell")
RowBuilder = Callable[[Sequence[Any], int], ImportRow | None]


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
    build = _row_builder(layout, to_text)
    max_chars = limits.max_field_chars
    max_rows = limits.max_rows
    rows: list[ImportRow] = []
    for line, cells in enumerate(records, first_line):
        if not cells:
            continue
        if longest_cell(cells) > max_chars:
            raise field_too_large(layout.headers, cells, line, longest_cell, max_chars)
        row = build(cells, line)
        if row is not None:
            rows.append(row)
            if len(rows) > max_rows:
                raise too_many_rows(max_rows)
    return rows


def too_many_rows(max_rows: int) -> ImportRejected:
    return ImportRejected(
        "too_many_rows", f"The file has more than {max_rows:,} clients.", limit=max_rows
    )


def field_too_large(
    headers: Sequence[str],
    cells: Sequence[Any],
    line: int,
    longest_cell: Callable[[Sequence[Any]], int],
    max_chars: int,
) -> ImportRejected:
    column = next(i for i, cell in enumerate(cells) if longest_cell([cell]) > max_chars)
    header = headers[column] if column < len(headers) else ""
    return ImportRejected(
        "field_too_large",
        f"Row {line} has a cell longer than {max_chars:,} characters.",
        line=line,
        column=header,
        limit=max_chars,
    )


def _row_builder(layout: Layout, to_text: Callable[[Any], str]) -> RowBuilder:
    def pick(cells: Sequence[Any], indexes: tuple[int, ...]) -> str | None:
        count = len(cells)
        for index in indexes:
            if index < count:
                value = to_text(cells[index])
                if value:
                    return value
        return None

    if layout.full_name:
        return _full_name_builder(layout, pick)

    def build(cells: Sequence[Any], line: int) -> ImportRow | None:
        first_name = pick(cells, layout.first_name)
        last_name = pick(cells, layout.last_name)
        email = pick(cells, layout.email)
        phone = pick(cells, layout.phone)
        if first_name is None and last_name is None and email is None and phone is None:
            return None
        badges = (Badge.DECEASED,) if layout.deceased and pick(cells, layout.deceased) else ()
        return ImportRow(
            line,
            first_name,
            last_name,
            email,
            phone,
            pick(cells, layout.record_id) or f"row {line}",
            badges=badges,
        )

    return build


def _full_name_builder(
    layout: Layout, pick: Callable[[Sequence[Any], tuple[int, ...]], str | None]
) -> RowBuilder:
    """SimplePractice reports: one `Client` column, and a minor's details in `Contact ...`."""
    uses_contact = layout.format is ImportFormat.SIMPLEPRACTICE_CLIENT_DETAILS

    def build(cells: Sequence[Any], line: int) -> ImportRow | None:
        full_name = pick(cells, layout.full_name)
        email = pick(cells, layout.email)
        phone = pick(cells, layout.phone)
        contact_used = False
        if uses_contact and email is None:
            email = pick(cells, layout.contact_email)
            contact_used = email is not None
        if uses_contact and phone is None:
            phone = pick(cells, layout.contact_phone)
            contact_used = contact_used or phone is not None
        if full_name is None and email is None and phone is None:
            return None
        name = split_full_name(full_name) if full_name else PersonName(None, None)
        badges = (*name.badges, Badge.MINOR_CONTACT_USED) if contact_used else name.badges
        return ImportRow(
            line, name.first, name.last, email, phone, f"row {line}", badges=badges
        )

    return build
