"""Excel workbooks (.xlsx): the first sheet, with its header somewhere in the first rows."""

import datetime
import io
from collections.abc import Sequence
from itertools import chain, islice
from typing import Any

from python_calamine import CalamineWorkbook

from app.imports.parsers.columns import HEADER_SEARCH_ROWS, find_header, find_mapped_header, unrecognised
from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import (
    Container,
    ImportFormat,
    ParsedImport,
    ParseWarning,
)
from app.imports.parsers.safe_zip import SafeZip
from app.imports.parsers.tabular import build_rows
from app.imports.parsers.workbook_guard import (
    check_declared_strings,
    check_sheet_extent,
)

_MIDNIGHT = datetime.time()
# Room above the data for titles, notes and blank rows.
_PREAMBLE_ROWS = 1_000
# Excel keeps 15 significant digits; whole numbers up to this are written out digit by digit.
_EXACT_INTEGER_LIMIT = 1e15


def read_xlsx(
    data: bytes, archive: SafeZip, limits: ImportLimits, mapping: dict[str, str] | None = None
) -> ParsedImport:
    _check_parts(archive, limits)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet_names = workbook.sheet_names
        # Rows come from the top of the sheet, empty ones included, so index + 1 is Excel's number.
        records = workbook.get_sheet_by_index(0).iter_rows()
    except Exception:
        raise ImportRejected(
            "spreadsheet_unreadable", "The Excel workbook cannot be read. Save it again as .xlsx."
        ) from None
    head = [[cell_text(cell) for cell in row] for row in islice(records, HEADER_SEARCH_ROWS)]
    search = find_mapped_header(head, ImportFormat.XLSX, mapping) if mapping else find_header(head, ImportFormat.XLSX)
    if search.layout is None:
        raise unrecognised(head, search, "first sheet")
    rows = build_rows(
        chain(head[search.header_index + 1 :], records),
        search.layout,
        first_line=search.header_index + 2,
        to_text=cell_text,
        longest_cell=_longest_text,
        limits=limits,
    )
    warnings = ()
    if len(sheet_names) > 1:
        warnings = (
            ParseWarning(
                "other_sheets_ignored",
                f"Only the first sheet was read; {len(sheet_names) - 1} other sheet(s) were not.",
                tuple(sheet_names[1:]),
            ),
        )
    return ParsedImport(search.layout.format, Container.XLSX, rows, warnings)


def _check_parts(archive: SafeZip, limits: ImportLimits) -> None:
    # calamine inflates the parts itself and trusts their sizes, so each is inflated here first,
    # under the limits, and searched for the numbers calamine allocates by (workbook_guard). Every
    # part is searched: the workbook's relationships, not the names, say which part is a sheet.
    for info in archive.files.values():
        part = archive.read(info)
        check_sheet_extent(
            part, max_rows=limits.max_rows + _PREAMBLE_ROWS, max_cells=limits.max_sheet_cells
        )
        check_declared_strings(part)


def cell_text(value: Any) -> str:
    """A cell as the text a person would type: a phone number stored as 5550100.0 is "5550100"."""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is float:
        if value.is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
            return str(int(value))
        return format(value, ".15g")
    if kind is int:
        return str(value)
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is datetime.datetime:
        if value.time() == _MIDNIGHT:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if kind is datetime.date or kind is datetime.time:
        return value.isoformat()
    if kind is datetime.timedelta:
        return str(value)
    return "" if value is None else str(value).strip()


def _longest_text(cells: Sequence[Any]) -> int:
    longest = 0
    for cell in cells:
        if type(cell) is str and len(cell) > longest:
            longest = len(cell)
    return longest
