"""Telling text from binary, and decoding text the way spreadsheet programs write it."""

import codecs

from app.imports.parsers.errors import ImportRejected

WINDOWS_1252 = "windows-1252"

# C0 controls that never occur in a text export; tab, LF, CR and form feed are allowed.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_SAMPLE_SIZE = 64 * 1024


def transcode_utf16(data: bytes) -> bytes:
    """Excel's "Unicode text" is UTF-16 with a BOM; everything downstream wants bytes in UTF-8."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError:
        raise ImportRejected(
            "bad_encoding", "The file announces UTF-16 text but its content is not valid UTF-16."
        ) from None


def refuse_binary(data: bytes) -> None:
    sample = data[:_SAMPLE_SIZE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in data or controls > max(4, len(sample) // 100):
        raise ImportRejected(
            "unsupported_type",
            "This is not a CSV, Excel (.xlsx), vCard (.vcf) or SimplePractice export (.zip) file.",
        )


def decode_text(data: bytes) -> tuple[str, str]:
    """Return the text and the encoding it was read with.

    UTF-8 (with or without BOM) first; Excel's plain "CSV" on Windows is Windows-1252, and a file
    that is not valid UTF-8 is almost always that. MacRoman cannot be told apart from it by bytes.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            raise ImportRejected(
                "bad_encoding", "The file announces UTF-8 text but its content is not valid UTF-8."
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(WINDOWS_1252), WINDOWS_1252
    except UnicodeDecodeError:
        raise ImportRejected(
            "bad_encoding",
            "The text is neither UTF-8 nor Windows-1252. Save it again as \"CSV UTF-8\".",
        ) from None
