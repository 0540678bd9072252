"""Pure readers for client imports: bytes in, rows out (rules I1-I4, I9, I11).

No database, HTTP or async here. The type of a file is read from its bytes, never from its name
(rule I1); a file that cannot be read safely and completely is refused as a whole with an
ImportRejected whose `code` is stable.
"""

import codecs

from app.imports.parsers.csv_reader import read_csv
from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import DEFAULT_LIMITS, ImportLimits
from app.imports.parsers.model import (
    Badge,
    Container,
    DocumentCategory,
    DocumentRef,
    ImportFormat,
    ImportRow,
    ParsedImport,
    ParseWarning,
)
from app.imports.parsers.safe_zip import SafeZip
from app.imports.parsers.simplepractice_zip import (
    ExportDocuments,
    is_simplepractice_export,
    read_simplepractice_zip,
    read_zip_member,
)
from app.imports.parsers.text import refuse_binary, transcode_utf16
from app.imports.parsers.vcard_reader import read_vcard_file
from app.imports.parsers.xlsx_reader import read_xlsx

__all__ = [
    "PRECHECK_BYTES",
    "DEFAULT_LIMITS",
    "Badge",
    "Container",
    "DocumentCategory",
    "DocumentRef",
    "ExportDocuments",
    "ImportFormat",
    "ImportLimits",
    "ImportRejected",
    "ImportRow",
    "ParseWarning",
    "ParsedImport",
    "precheck_upload",
    "read_import",
    "read_zip_member",
]

# Enough of a file to tell its type.
PRECHECK_BYTES = 64 * 1024


def precheck_upload(head: bytes) -> None:
    """What can be refused from the start of an upload, before it is stored (the analysis reads all of it): a
    type we do not read. Headers that are not recognised are not refused: the person maps them (I13)."""
    if not head.startswith(_ZIP_MAGIC):
        _refuse_known_binary(head)


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An encrypted .xlsx is an OLE container holding this stream (its name is stored in UTF-16).
_OLE_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
_OTHER_TYPES = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}
_VCARD_START = b"BEGIN:VCARD"
_LEADING_BLANKS = b" \t\r\n" + codecs.BOM_UTF8


def read_import(
    data: bytes,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    password: str | None = None,
    mapping: dict[str, str] | None = None,
) -> ParsedImport:
    """Read an uploaded client list.

    `password` opens a ZipCrypto-protected SimplePractice export; other files ignore it. `mapping`
    ({field: header}) says which columns of a CSV or workbook hold what, when its headers are not
    recognised (I13).
    """
    if data.startswith(_ZIP_MAGIC):
        return _read_zip(data, limits, password, mapping)
    _refuse_known_binary(data)
    data = transcode_utf16(data)
    # Only a blank start needs the whole file stripped to know it is all blank.
    if not data[:4096].lstrip(_LEADING_BLANKS) and not data.lstrip(_LEADING_BLANKS):
        raise ImportRejected("empty_file", "The file is empty.")
    refuse_binary(data)
    if data[:64].lstrip(_LEADING_BLANKS)[: len(_VCARD_START)].upper() == _VCARD_START:
        return _require_rows(read_vcard_file(data, limits))
    return _require_rows(read_csv(data, limits, mapping))


def _require_rows(parsed: ParsedImport) -> ParsedImport:
    # A readable file with nothing in it to import (a header line alone, only company cards) is
    # refused too, so the uploader is told why instead of facing an empty review.
    if not parsed.rows:
        raise ImportRejected(
            "no_rows", "The file was read but holds no clients to import.", format=parsed.format
        )
    return parsed


def _read_zip(
    data: bytes, limits: ImportLimits, password: str | None, mapping: dict[str, str] | None
) -> ParsedImport:
    archive = SafeZip(data, limits, password)
    if not archive.files:
        raise ImportRejected("empty_file", "The zip archive is empty.")
    if "xl/workbook.xml" in archive.files:
        return _require_rows(read_xlsx(data, archive, limits, mapping))
    if is_simplepractice_export(archive.files):
        return _require_rows(read_simplepractice_zip(archive, limits))
    raise ImportRejected(
        "unsupported_type",
        "This zip archive is neither an Excel workbook nor a SimplePractice export "
        "(no Contacts folder with .vcf cards).",
    )


def _refuse_known_binary(data: bytes) -> None:
    if data.startswith(_OLE_MAGIC):
        if _OLE_ENCRYPTION_STREAM in data:
            raise ImportRejected(
                "spreadsheet_encrypted",
                "The Excel workbook is password protected. "
                "Remove the password and upload it again.",
            )
        raise ImportRejected(
            "unsupported_type",
            "Old Excel workbooks (.xls) cannot be read. Save the sheet as .xlsx or CSV UTF-8.",
        )
    for magic, description in _OTHER_TYPES.items():
        if data.startswith(magic):
            raise ImportRejected(
                "unsupported_type",
                f"This is {description}, not a CSV, Excel (.xlsx), vCard (.vcf) or "
                "SimplePractice export (.zip) file.",
            )
