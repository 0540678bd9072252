"""Hand-made and exported CSV files: encoding, delimiter and header row are all guessed."""

import csv
import io
from collections.abc import Sequence
from itertools import islice

from app.imports.parsers.columns import HEADER_SEARCH_ROWS, HeaderSearch, find_header
from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import Container, ImportFormat, ParsedImport, ParseWarning
from app.imports.parsers.tabular import build_rows
from app.imports.parsers.text import WINDOWS_1252, decode_text

# The csv module refuses fields over 128 KiB by default, a guard for streamed input. The whole
# file is already in memory here and build_rows enforces ImportLimits.max_field_chars per call,
# so the process-wide guard is raised once, to the largest value every platform accepts.
_CSV_FIELD_CEILING = 2**31 - 1
csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_CEILING))

_DELIMITERS = (",", ";", "\t", "|")
# The header is searched in the first rows only, so only the start of the text is parsed per
# candidate delimiter.
_HEAD_CHARS = 1024 * 1024


def read_csv(data: bytes, limits: ImportLimits) -> ParsedImport:
    text, encoding = decode_text(data)
    warnings: list[ParseWarning] = []
    if encoding == WINDOWS_1252:
        warnings.append(
            ParseWarning(
                "encoding_guessed",
                "The file is not UTF-8; it was read as Windows-1252 (Excel's plain CSV). "
                "Check accented names, or save it again as \"CSV UTF-8\".",
            )
        )
    hinted, body_start = _sep_hint(text)
    delimiter, search = _find_delimiter(text, body_start, (hinted,) if hinted else _DELIMITERS)
    if search.layout is None:
        raise ImportRejected(
            "missing_columns",
            "The file needs the columns " + ", ".join(search.missing) + ".",
            missing=list(search.missing),
        )
    stream = io.StringIO(text, newline="")
    stream.seek(body_start)
    records = csv.reader(stream, delimiter=delimiter)
    # A `sep=` line is line 1 for a text editor, so row numbers count it.
    first_record_line = 2 if body_start else 1
    try:
        # The preamble and header are only skipped: none of their cells is kept.
        for _ in islice(records, search.header_index + 1):
            pass
        rows = build_rows(
            records,
            search.layout,
            first_line=first_record_line + search.header_index + 1,
            to_text=str.strip,
            longest_cell=_longest,
            limits=limits,
        )
    except csv.Error as exc:
        raise ImportRejected("csv_unreadable", f"The CSV file cannot be read: {exc}.") from None
    return ParsedImport(search.layout.format, Container.CSV, rows, tuple(warnings))


def _longest(cells: Sequence[str]) -> int:
    return max(map(len, cells))


def _sep_hint(text: str) -> tuple[str | None, int]:
    """Excel in European locales may write `sep=;` as the first line; return it and where data starts."""
    if text[:4].lower() != "sep=":
        return None, 0
    end = text.find("\n")
    line = text[: end if end >= 0 else len(text)].rstrip("\r")
    if len(line) != 5:
        return None, 0
    return line[4], end + 1 if end >= 0 else len(text)


def _find_delimiter(
    text: str, start: int, candidates: tuple[str, ...]
) -> tuple[str, HeaderSearch]:
    head = text[start : start + _HEAD_CHARS]
    best: tuple[str, HeaderSearch] | None = None
    for delimiter in candidates:
        try:
            rows = list(
                islice(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter),
                       HEADER_SEARCH_ROWS)
            )
        except csv.Error:
            continue
        search = find_header(rows, ImportFormat.CSV)
        if best is None or _better(search, best[1]):
            best = (delimiter, search)
    if best is None:
        raise ImportRejected("csv_unreadable", "The CSV file cannot be read.")
    return best


def _better(search: HeaderSearch, than: HeaderSearch) -> bool:
    if (search.layout is None) != (than.layout is None):
        return search.layout is not None
    if search.layout is None:
        return len(search.missing) < len(than.missing)
    return search.width > than.width
