"""Files as real programs write them (rule I12): the committed corpus in tests/imports/corpus, made by
openpyxl, XlsxWriter and LibreOffice headless, and packages shaped as Excel, Numbers, Google Sheets and
the Open XML SDK write them (make_corpus.py regenerates them all)."""

import io
import zipfile
from pathlib import Path

import pytest

from app.imports.parsers import ImportFormat, read_import
from tests.imports import fixtures_gen as gen
from tests.imports.corpus.make_corpus import PEOPLE, expected_people
from tests.imports.parsers.helpers import rejected

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".csv", ".xlsx"))


def test_the_corpus_holds_every_writer() -> None:
    assert {"openpyxl.xlsx", "xlsxwriter.xlsx", "libreoffice.xlsx", "libreoffice.csv", "excel_shaped.xlsx",
            "numbers_shaped.xlsx", "google_sheets_shaped.xlsx", "excel_csv_utf8.csv"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_file_of_the_corpus_reads_every_person_whole(name: str) -> None:
    # rule I12: every person, with every word of their names (multi-word given names, particles, accents)
    parsed = read_import((CORPUS / name).read_bytes())
    got = [(r.first_name, r.last_name, r.email) for r in parsed.rows]
    expected = expected_people()
    if name == "excel_csv_windows1252.csv":
        # Excel's plain CSV cannot spell Vietnamese or Polish names: the writer leaves those people out.
        expected = [p for p in expected if p[0] in {"Jane", "José María", "Mary Ann", "Ngozi"}]
    assert got[: len(expected)] == expected
    assert parsed.format in (ImportFormat.CSV, ImportFormat.XLSX, ImportFormat.THERANEST)
    assert [r.badges for r in parsed.rows] == [()] * len(parsed.rows)


def test_every_excel_shaped_package_has_the_theme_that_used_to_refuse_it() -> None:
    # The guard once read `dir="5400000"` in the theme as row 5,400,000 (rule I12's bug, I11's guard).
    for name in ("excel_shaped.xlsx", "numbers_shaped.xlsx", "google_sheets_shaped.xlsx", "openpyxl.xlsx",
                 "xlsxwriter.xlsx"):
        parts = zipfile.ZipFile(CORPUS / name).namelist()
        assert "xl/theme/theme1.xml" in parts, name
        assert read_import((CORPUS / name).read_bytes()).rows


def test_a_phone_typed_as_a_number_reads_as_its_digits() -> None:
    rows = read_import((CORPUS / "xlsxwriter.xlsx").read_bytes()).rows
    assert (rows[-1].first_name, rows[-1].phone) == ("Omar", "2125550106")
    assert len(rows) == len(PEOPLE) + 1


def _with_sheet_data(extra: str, *, replace: tuple[bytes, bytes] | None = None) -> bytes:
    workbook = zipfile.ZipFile(CORPUS / "excel_shaped.xlsx")
    parts = {info.filename: workbook.read(info) for info in workbook.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].replace(b"</sheetData>", extra.encode() + b"</sheetData>")
    if replace:
        sheet = sheet.replace(*replace)
    parts["xl/worksheets/sheet1.xml"] = sheet
    return gen.zip_bytes(parts.items())


@pytest.mark.parametrize(
    "position",
    ["<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>",  # single quotes are XML too
     '<row r = "5000"><c r = "XFD5000"><v>1</v></c></row>',  # blanks around "="
     '<x:row r="1048576"><x:c r="A1048576"><x:v>1</x:v></x:c></x:row>'],  # a namespace prefix
)
def test_crafted_positions_in_any_xml_spelling_are_still_refused(position: str) -> None:
    # rule I11: anchoring the guard to cells and rows must not open a way around it
    rejected(lambda: read_import(_with_sheet_data(position)), "spreadsheet_too_large")


def test_a_crafted_dimension_is_refused() -> None:
    data = _with_sheet_data("", replace=(b'<dimension ref="A1:D7"/>', b'<dimension ref="A1:XFD1048576"/>'))
    rejected(lambda: read_import(data), "spreadsheet_too_large")


def test_lookalike_attributes_elsewhere_are_not_positions() -> None:
    # A drawing's anchors, a chart's or a theme's numbers: none of them places a cell.
    extra = '<extLst><ext uri="x" dir="5400000" rr="9999999" cr="XFD1048576"/></extLst>'
    data = _with_sheet_data("", replace=(b"</worksheet>", extra.encode() + b"</worksheet>"))
    assert len(read_import(data).rows) == len(PEOPLE)


def test_the_saved_workbook_bytes_are_a_real_zip() -> None:
    # Guards the corpus itself: each workbook opens as a package with a workbook part.
    for name in FILES:
        if name.endswith(".xlsx"):
            assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO((CORPUS / name).read_bytes())).namelist()
