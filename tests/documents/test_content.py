"""Reading a document's type from its bytes and making its name safe (rule C7): pure, no I/O."""

import io
import zipfile

import pytest

from app.documents.content import (
    DOCX,
    GIF,
    JPEG,
    PDF,
    PNG,
    RTF,
    TEXT,
    TIFF,
    WEBP,
    XLSX,
    content_disposition,
    detect_type,
    safe_file_name,
)


def office(*parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in parts:
            archive.writestr(part, "<xml/>")
    return buffer.getvalue()


ALLOWED = {
    "pdf": (b"%PDF-1.7\n...", PDF),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
    "gif87": (b"GIF87a\x01\x00", GIF),
    "gif89": (b"GIF89a\x01\x00", GIF),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
    "tiff little-endian": (b"II*\x00\x08\x00\x00\x00", TIFF),
    "tiff big-endian": (b"MM\x00*\x00\x00\x00\x08", TIFF),
    "rtf": (b"{\\rtf1\\ansi Hello}", RTF),
    "text": (b"Progress note\r\n\tSleep improved.\n", TEXT),
    "text with a BOM": ("\ufeffNote with a BOM".encode(), TEXT),
    "text in other scripts": ("Заметка: 良好 ✓".encode(), TEXT),
    "docx": (office("[Content_Types].xml", "word/document.xml"), DOCX),
    "xlsx": (office("[Content_Types].xml", "xl/workbook.xml"), XLSX),
}


@pytest.mark.parametrize(("data", "kind"), ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed_types_are_recognised_from_their_bytes(data: bytes, kind: object) -> None:
    # rule C7: the allow-list, read from the content
    assert detect_type(data) is kind


REFUSED = {
    "windows executable": b"MZ\x90\x00",
    "elf": b"\x7fELF\x02\x01",
    "mach-o": b"\xcf\xfa\xed\xfe\x07\x00",
    "html": b"<html><script>alert(1)</script></html>",
    "html after a BOM and blanks": "\ufeff \r\n<script>alert(1)</script>".encode(),
    "svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "xml": b"<?xml version='1.0'?><a/>",
    "text with a NUL": b"looks like text\x00but is not",
    "text with control characters": b"ansi \x1b[31m escape",
    "latin-1 text": "café".encode("latin-1"),
    "plain zip": office("notes.txt"),
    "zip without a known main part": office("[Content_Types].xml", "ppt/presentation.xml"),
    "macro-enabled word": office("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"),
    "broken zip": b"PK\x03\x04garbage",
    "gzip": b"\x1f\x8b\x08\x00",
    "webm, a RIFF that is not WebP": b"RIFF\x24\x00\x00\x00AVI LIST",
}


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
def test_other_types_are_refused(data: bytes) -> None:
    # rule C7: executables, markup, archives and unknown binaries are not clinical attachments
    assert detect_type(data) is None


@pytest.mark.parametrize(
    ("declared", "kind", "safe"),
    [
        ("Intake.pdf", PDF, "Intake.pdf"),
        ("Intake.PDF", PDF, "Intake.PDF"),
        ("photo.jpeg", JPEG, "photo.jpeg"),
        ("photo.jpg", JPEG, "photo.jpg"),
        ("evil.exe", PDF, "evil.exe.pdf"),
        ("scan.pdf", PNG, "scan.pdf.png"),
        ("../../etc/passwd", TEXT, "passwd.txt"),
        ("C:\\Users\\me\\notes.txt", TEXT, "notes.txt"),
        ("dir/", PDF, "document.pdf"),
        (None, PDF, "document.pdf"),
        ("", PDF, "document.pdf"),
        ("...", PDF, "document.pdf"),
        (".pdf", PDF, "pdf.pdf"),
        ("  spaced \t out  .pdf", PDF, "spaced out.pdf"),
        ("line\r\nbreak\x00.pdf", PDF, "linebreak.pdf"),
        ("bell\x07.pdf", PDF, "bell.pdf"),
        ("report\u202egpj.exe", PDF, "reportgpj.exe.pdf"),
        ("zero\u200bwidth.pdf", PDF, "zerowidth.pdf"),
        ("para\u2029graph.pdf", PDF, "paragraph.pdf"),
        ("e\u0301.pdf", PDF, "\u00e9.pdf"),  # NFC: one character, as a person typed it
    ],
)
def test_file_names_are_labels_without_paths_or_invisible_characters(declared: str | None, kind: object, safe: str) -> None:
    assert safe_file_name(declared, kind) == safe  # type: ignore[arg-type]


def test_long_names_keep_their_extension_within_255_characters() -> None:
    assert safe_file_name("x" * 300 + ".pdf", PDF) == "x" * 251 + ".pdf"
    assert safe_file_name("y" * 300, PDF) == "y" * 251 + ".pdf"
    assert len(safe_file_name("é" * 300 + ".docx", DOCX)) == 255


def test_content_disposition_has_an_ascii_fallback_and_the_exact_name() -> None:
    # RFC 6266 with RFC 5987's filename*
    assert content_disposition("plain.pdf") == "attachment; filename=\"plain.pdf\"; filename*=UTF-8''plain.pdf"
    assert content_disposition('Zoë "final" \\ 100%.pdf') == (
        "attachment; filename=\"Zo_ _final_ _ 100_.pdf\"; filename*=UTF-8''Zo%C3%AB%20%22final%22%20%5C%20100%25.pdf"
    )
