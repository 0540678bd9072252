"""Hand-made and exported CSV files: encoding, delimiter and header row are all guessed."""

import csv
import io
from collections.abc import Sequence
from itertools import islice

from app.imports.parsers.columns import (
    HEADER_SEARCH_ROWS,
    HeaderSearch,
    find_header,
    find_mapped_header,
    unrecognised,
)
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import (
    Container,
    ImportFormat,
    ParsedImport,
    ParseWarning,
)
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


def read_csv(data: bytes, limits: ImportLimits, mapping: dict[str, str] | None = None) -> ParsedImport:
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
    delimiter, search = _find_delimiter(text, body_start, (hinted,) if hinted else _DELIMITERS, mapping)
    if search.layout is None:
        head = csv.reader(io.StringIO(text[body_start : body_start + _HEAD_CHARS], newline=""), delimiter=delimiter)
        raise unrecognised(list(islice(head, HEADER_SEARCH_ROWS)), search, "file")
    stream = io.StringIO(text, newline="")
    stream.seek(body_start)
    # Not strict, and fed with newline="": the reader then accepts any text, stray quotes included.
    records = csv.reader(stream, delimiter=delimiter)
    # The preamble and header are only skipped: none of their cells is kept.
    for _ in islice(records, search.header_index + 1):
        pass
    # A `sep=` line is line 1 for a text editor, so row numbers count it.
    first_line = (2 if body_start else 1) + search.header_index + 1
    rows = build_rows(
        records,
        search.layout,
        first_line=first_line,
        to_text=str.strip,
        longest_cell=_longest,
        limits=limits,
    )
    return ParsedImport(search.layout.format, Container.CSV, rows, tuple(warnings))


def _longest(cells: Sequence[str]) -> int:
    return max(map(len, cells))


def _sep_hint(text: str) -> tuple[str | None, int]:
    """Excel in European locales may write `sep=;` as the first line: the delimiter and where
    the records start."""
    if text[:4].lower() != "sep=" or len(text) < 5:
        return None, 0
    line_break = text[5:7]
    if line_break.startswith("\r\n"):
        return text[4], 7
    if line_break[:1] in ("\r", "\n", ""):
        return text[4], 5 + len(line_break[:1])
    return None, 0


def _find_delimiter(
    text: str, start: int, candidates: tuple[str, ...], mapping: dict[str, str] | None = None
) -> tuple[str, HeaderSearch]:
    head = text[start : start + _HEAD_CHARS]
    found = []
    for delimiter in candidates:
        records = list(islice(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), HEADER_SEARCH_ROWS))
        search = (find_mapped_header(records, ImportFormat.CSV, mapping) if mapping
                  else find_header(records, ImportFormat.CSV))
        # Without a header found, the delimiter that splits the first row widest is the likeliest.
        width = search.width or max((len(r) for r in records[:1]), default=0)
        found.append((delimiter, HeaderSearch(search.layout, search.header_index, search.missing, width)))
    # A found header beats none, then the wider header; among failures, the fewest missing
    # columns. Ties keep the earlier, more common delimiter.
    return max(
        found,
        key=lambda item: (item[1].layout is not None, -len(item[1].missing), item[1].width),
    )
