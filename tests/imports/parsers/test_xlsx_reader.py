"""Excel workbooks, written by the fixture generator's tiny xlsx writer (rules I2, I3, I11)."""

import datetime
import io
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from app.imports.parsers import ImportFormat, ImportLimits, read_import
from app.imports.parsers.xlsx_reader import cell_text
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import identities, rejected


def test_generated_workbook_is_what_calamine_reads() -> None:
    # Guards the fixture itself: the hand-written xlsx must be a real workbook to calamine.
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(gen.people_xlsx(2)))
    rows = workbook.get_sheet_by_index(0).to_python()
    assert rows[0] == ["First Name", "Last Name", "Email", "Mobile Phone", "Birthdate"]
    assert rows[1][3] == 5550100.0
    assert rows[1][4] == datetime.date(1970, 1, 1)


def test_plain_workbook() -> None:
    # rule I2
    parsed = read_import(gen.people_xlsx(3))
    assert parsed.format is ImportFormat.XLSX
    assert identities(parsed.rows) == [
        ("Jane", "Doe", "client0@example.com", "5550100"),
        ("Omar", "Doe", "client1@example.com", "5550101"),
        ("Zoë", "Doe", "client2@example.com", "5550102"),
    ]
    assert [row.line for row in parsed.rows] == [2, 3, 4]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5550100.0, "5550100"),
        (15555550100.0, "15555550100"),
        (0.1 + 0.2, "0.3"),
        (1.5, "1.5"),
        (42, "42"),
        (True, "TRUE"),
        (datetime.date(1980, 1, 2), "1980-01-02"),
        (datetime.datetime(1980, 1, 2), "1980-01-02"),
        (datetime.datetime(2024, 1, 5, 9, 30), "2024-01-05 09:30:00"),
        (datetime.time(9, 30), "09:30:00"),
        ("  Jane  ", "Jane"),
        ("", ""),
        (None, ""),
    ],
)
def test_cells_become_the_text_a_person_typed(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_header_below_an_empty_area_and_title_rows() -> None:
    # TheraNest's header row is not known: it is searched in the first rows (rule I3)
    rows: list[list[gen.Cell]] = [["Client export"], [], ["First Name", "Last Name", "Phone"],
                                  ["Jane", "Doe", 5550100.0], [], ["Omar", "Haddad", None]]
    parsed = read_import(gen.xlsx_bytes([("Sheet1", rows)], first_row=3, first_column=2))
    assert identities(parsed.rows) == [("Jane", "Doe", None, "5550100"),
                                       ("Omar", "Haddad", None, None)]
    # Excel's own row numbers, counting the empty rows above the data
    assert [row.line for row in parsed.rows] == [6, 8]


def test_theranest_export() -> None:
    # rule I3
    parsed = read_import(gen.theranest_xlsx())
    assert parsed.format is ImportFormat.THERANEST
    assert [(r.first_name, r.phone, r.source_ref, r.line) for r in parsed.rows] == [
        ("Jane", "5550150", "row 5", 5),
        ("Omar", "(555) 555-0151", "4711", 6),
    ]
    assert [(w.code, w.items) for w in parsed.warnings] == [("other_sheets_ignored", ("Archived",))]


def test_jane_export_as_xlsx() -> None:
    parsed = read_import(gen.xlsx_bytes([("Patients", gen.jane_rows())]))
    assert parsed.format is ImportFormat.JANE
    assert parsed.rows[0].phone == "555-0111"


def test_missing_columns_are_named() -> None:
    # rule I2
    data = gen.xlsx_bytes([("Sheet1", [["Name", "Email"], ["Jane Doe", "j@example.com"]])])
    error = rejected(lambda: read_import(data), "missing_columns")
    assert error.extra["missing"] == ["First Name", "Last Name"]


def test_header_only_is_refused_as_no_rows() -> None:
    data = gen.xlsx_bytes([("Sheet1", [["First Name", "Last Name"]])])
    rejected(lambda: read_import(data), "no_rows")


def test_huge_cell_is_refused() -> None:
    # rule I11
    rows: list[list[gen.Cell]] = [["First Name", "Last Name", "Notes"], ["Jane", "Doe", "x" * 5000]]
    data = gen.xlsx_bytes([("Sheet1", rows)])
    error = rejected(lambda: read_import(data, limits=ImportLimits(max_field_chars=1000)),
                     "field_too_large")
    assert (error.extra["line"], error.extra["column"]) == (2, "Notes")


def test_too_many_rows_is_refused() -> None:
    rejected(lambda: read_import(gen.people_xlsx(6), limits=ImportLimits(max_rows=5)),
             "too_many_rows")


def test_damaged_workbook_is_refused() -> None:
    # rule I11: a zip with xl/workbook.xml whose parts are not a workbook
    data = gen.zip_bytes([("[Content_Types].xml", b"<not xml"), ("xl/workbook.xml", b"\x00junk")])
    rejected(lambda: read_import(data), "spreadsheet_unreadable")


def test_workbook_parts_are_checked_like_any_zip() -> None:
    # rule I11: calamine would inflate a bomb; the archive is checked before it is handed over
    data = gen.zip_bytes([("xl/workbook.xml", b"<workbook/>"), ("xl/worksheets/sheet1.xml",
                                                                  b" " * (3 * 1024 * 1024))])
    rejected(lambda: read_import(data), "zip_bomb")


@pytest.mark.parametrize(
    "position",
    ['<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
     '<row r="5000"><c r="xfd5000"><v>1</v></c></row>',
     '<row r="3"><c s="0" r="A0000001048576"><v>1</v></c></row>',
     # a row's r places the cells that have none of their own
     '<row r="1048576"><c><v>1</v></c></row>'],
)
def test_sparse_cell_far_away_is_refused_before_calamine_allocates(position: str) -> None:
    # rule I11: calamine would allocate the whole grid up to that cell and abort the process
    rows: list[list[gen.Cell]] = [["First Name", "Last Name"], ["Jane", "Doe"]]
    data = gen.xlsx_bytes([("Sheet1", rows)], raw_xml=position)
    error = rejected(lambda: read_import(data), "spreadsheet_too_large")
    assert error.extra["max_cells"] == ImportLimits().max_sheet_cells


def test_wide_but_short_sheet_fits_another_box() -> None:
    rows: list[list[gen.Cell]] = [["First Name", "Last Name"], ["Jane", "Doe"]]
    far_column = '<row r="2"><c r="AMJ2"><v>1</v></c></row>'  # column 1024
    data = gen.xlsx_bytes([("Sheet1", rows)], raw_xml=far_column)
    assert read_import(data).rows[0].first_name == "Jane"
    # a tighter cell budget refuses the same sheet
    rejected(lambda: read_import(data, limits=ImportLimits(max_sheet_cells=1000)),
             "spreadsheet_too_large")


def test_shared_strings_count_beyond_the_data_is_refused() -> None:
    # rule I11: calamine pre-sizes the table from uniqueCount and aborts when that fails
    workbook = zipfile.ZipFile(io.BytesIO(gen.people_xlsx(1)))
    parts = [(info.filename, workbook.read(info)) for info in workbook.infolist()]
    sst = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
           b'2006/main" count="1" uniqueCount="4000000000"><si><t>x</t></si></sst>')
    data = gen.zip_bytes([*parts, ("xl/sharedStrings.xml", sst)])
    rejected(lambda: read_import(data), "spreadsheet_unreadable")


def test_sheet_stored_under_an_unusual_name_is_still_measured() -> None:
    # The relationships, not the part name, tell calamine where the sheet is.
    workbook = zipfile.ZipFile(io.BytesIO(gen.people_xlsx(1)))
    parts = {info.filename: workbook.read(info) for info in workbook.infolist()}
    sheet = parts.pop("xl/worksheets/sheet1.xml").replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    parts["xl/data/hidden.bin"] = sheet
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"worksheets/sheet1.xml", b"data/hidden.bin")
    rejected(lambda: read_import(gen.zip_bytes(parts.items())), "spreadsheet_too_large")
