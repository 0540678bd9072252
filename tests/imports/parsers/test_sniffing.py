"""The type of an upload comes from its bytes, never its name (rule I1)."""

import codecs

import pytest

from app.imports.parsers import Container, ImportFormat, read_import
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import rejected


@pytest.mark.parametrize(
    ("data", "container", "format"),
    [
        (gen.people_csv(2), Container.CSV, ImportFormat.CSV),
        (gen.people_xlsx(2), Container.XLSX, ImportFormat.XLSX),
        (gen.google_vcards(), Container.VCARD, ImportFormat.VCARD),
        (gen.vcard4(), Container.VCARD, ImportFormat.VCARD),
        (b"\r\n  \n" + gen.google_vcards(), Container.VCARD, ImportFormat.VCARD),
        (gen.simplepractice_export(), Container.ZIP, ImportFormat.SIMPLEPRACTICE_ZIP),
        (gen.theranest_xlsx(), Container.XLSX, ImportFormat.THERANEST),
        (gen.simplepractice_details_csv(), Container.CSV,
         ImportFormat.SIMPLEPRACTICE_CLIENT_DETAILS),
    ],
)
def test_type_is_read_from_content(data: bytes, container: Container, format: ImportFormat) -> None:
    # rule I1: read_import never sees a file name, so nothing but the bytes can decide
    parsed = read_import(data)
    assert parsed.container is container
    assert parsed.format is format


def test_utf16_text_with_bom_is_read() -> None:
    # rule I1: Excel's "Unicode text" is UTF-16, tab separated
    data = codecs.BOM_UTF16_LE + "First Name\tLast Name\nZoë\tMüller\n".encode("utf-16-le")
    assert read_import(data).rows[0].first_name == "Zoë"


def test_utf16_vcard_is_read() -> None:
    data = codecs.BOM_UTF16_BE + gen.google_vcards().decode().encode("utf-16-be")
    assert read_import(data).format is ImportFormat.VCARD


@pytest.mark.parametrize(
    "data",
    [b"", b"   \r\n\t", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n",
     codecs.BOM_UTF16_LE + " \r\n".encode("utf-16-le")],
)
def test_empty_file_is_refused(data: bytes) -> None:
    # rule I11
    rejected(lambda: read_import(data), "empty_file")


def test_empty_zip_is_refused() -> None:
    rejected(lambda: read_import(gen.zip_bytes([])), "empty_file")


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"First Name,Last Name\nJane,Doe\x00\n",
        b"\x01\x02\x03\x04\x05garbage\x06\x07\x08\x0e\x0f",
        b"%PDF-1.4\n% text only pdf",
        b"\x89PNG\r\n\x1a\n",
        b"\x1f\x8b\x08\x00",
        b"Rar!\x1a\x07\x00",
    ],
)
def test_binary_garbage_is_refused(data: bytes) -> None:
    # rule I11
    error = rejected(lambda: read_import(data), "unsupported_type")
    assert "CSV" in error.detail


def test_legacy_xls_is_refused_with_advice() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512 + "Workbook".encode("utf-16-le")
    error = rejected(lambda: read_import(ole), "unsupported_type")
    assert ".xlsx" in error.detail


def test_password_protected_xlsx_is_refused() -> None:
    # An encrypted .xlsx is an OLE container with an EncryptionInfo stream, not a zip.
    ole = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
           + "EncryptionInfo".encode("utf-16-le"))
    rejected(lambda: read_import(ole), "spreadsheet_encrypted")


def test_zip_of_something_else_is_refused() -> None:
    data = gen.zip_bytes([("notes/readme.txt", b"hello"), ("clients.csv", gen.people_csv(1))])
    rejected(lambda: read_import(data), "unsupported_type")


def test_text_that_is_not_a_client_list_names_the_missing_columns() -> None:
    # rule I2
    error = rejected(lambda: read_import(b"<html><body>hello</body></html>"), "missing_columns")
    assert error.extra["missing"] == ["First Name", "Last Name"]
