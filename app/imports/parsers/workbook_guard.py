"""Refusing workbooks that would make calamine allocate without bound (rule I11).

calamine trusts two numbers a 2 KB file can inflate at will, and a failed allocation aborts the
whole process rather than raising:
- a sheet is held as a dense grid from its first to its last cell, so one cell written at
  XFD1048576 asks for hundreds of gigabytes;
- the shared-strings table is pre-sized from its `uniqueCount` attribute.

A cell's position is the `r="<letters><digits>"` attribute of its `<c>` element (a `<row>`'s `r`
places cells that have none), and a sheet states its used range in `<dimension ref="A1:D20">`. Only
those elements are read: other parts and elements carry attributes that merely look alike (the
theme of every Excel workbook has `dir="5400000"`, which an unanchored `r="` search read as row
5,400,000 and so refused every workbook Excel saves). A sheet passes if all its positions fit in one
of a few boxes of at most `max_cells` cells, from tall and narrow to short and wide. Each box is one
regex search for a position outside it, so there is no Python work per cell; a typical sheet fits
the first box and costs one search.
"""

import functools
import re
import string

from app.imports.parsers.errors import ImportRejected

_EXCEL_MAX_COLUMNS = 16_384
_LETTERS = string.ascii_uppercase
_UNIQUE_COUNT = re.compile(rb'uniqueCount="\s*([0-9]+)')
# `<si/>`: no shared string can be written in fewer bytes.
_SMALLEST_STRING_ITEM = 5


def check_declared_strings(part_xml: bytes) -> None:
    """A shared-strings table cannot hold more strings than its bytes can write."""
    for declared in _UNIQUE_COUNT.findall(part_xml):
        if int(declared) * _SMALLEST_STRING_ITEM > len(part_xml):
            raise ImportRejected(
                "spreadsheet_unreadable",
                "The Excel workbook declares more text than it holds. Save it again as .xlsx.",
            )


def check_sheet_extent(sheet_xml: bytes, *, max_rows: int, max_cells: int) -> None:
    for outside in _boxes(max_rows, max_cells):
        if outside.search(sheet_xml) is None:
            return
    raise ImportRejected(
        "spreadsheet_too_large",
        f"The sheet spans more than {max_cells:,} cells (rows times columns, blanks included).",
        max_cells=max_cells,
    )


def column_name(number: int) -> str:
    """1 -> "A", 27 -> "AA" (bijective base 26)."""
    name = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        name = _LETTERS[remainder] + name
    return name


@functools.cache
def _boxes(max_rows: int, max_cells: int) -> tuple[re.Pattern[bytes], ...]:
    """One pattern per box, matching any position outside it; columns double from box to box."""
    boxes = []
    columns = max(26, max_cells // max_rows)
    while True:
        columns = min(columns, _EXCEL_MAX_COLUMNS)
        boxes.append(_outside(max(1, min(max_rows, max_cells // columns)), columns))
        if columns == _EXCEL_MAX_COLUMNS:
            return tuple(boxes)
        columns *= 2


# The start of a `<c>`, `<row>` or `<dimension>` element (namespace prefix allowed, as the Open XML
# SDK writes `<x:c>`), up to the attribute that places it: `r` (cells, rows) or `ref` (the dimension,
# whose last reference is its far corner). XML allows either quote and blanks around `=`.
_PLACED = (
    r"<(?:[A-Za-z_][\w.-]*:)?(?:(?:c|row)\s[^>]*?(?<=\s)r|dimension\s[^>]*?(?<=\s)ref)"
    r"\s*=\s*[\"'](?:[A-Za-z]*[0-9]*:)?"
)


def _outside(rows: int, columns: int) -> re.Pattern[bytes]:
    # calamine reads column letters in either case and skips leading zeros in the row number.
    beyond_column = _letters_above(column_name(columns))
    beyond_row = _digits_above(str(rows))
    return re.compile(
        f"{_PLACED}(?:{beyond_column}[0-9]|[A-Za-z]*+0*+{beyond_row}[\"'])".encode()
    )


def _digits_above(limit: str) -> str:
    """A regex for the decimal numbers (no leading zero) greater than `limit`."""
    options = [f"[1-9][0-9]{{{len(limit)},}}"]
    for index, digit in enumerate(limit):
        if digit != "9":
            rest = len(limit) - index - 1
            options.append(f"{limit[:index]}[{int(digit) + 1}-9][0-9]{{{rest}}}")
    return "(?:" + "|".join(options) + ")"


def _letters_above(limit: str) -> str:
    """A regex, in either case, for the column names after `limit` ("Z" -> "AA" and beyond)."""
    options = [f"[A-Za-z]{{{len(limit) + 1},}}"]
    for index, letter in enumerate(limit):
        if letter != "Z":
            after = _LETTERS[_LETTERS.index(letter) + 1]
            same = "".join(f"[{c}{c.lower()}]" for c in limit[:index])
            rest = len(limit) - index - 1
            options.append(f"{same}[{after}-Z{after.lower()}-z][A-Za-z]{{{rest}}}")
    return "(?:" + "|".join(options) + ")"
