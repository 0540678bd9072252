"""What a document is, read from its bytes, and a file name safe to store and to send back (C7).

Pure: no database, HTTP or storage here. The declared content type and file name of an upload are
the sender's claims; the type is decided from the content against an allow-list, and the name is only
ever a label (it never becomes a path: storage keys are made by the server).
"""

import io
import unicodedata
import zipfile
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class DocumentType:
    content_type: str
    extensions: tuple[str, ...]  # the first is added to a name that has none of them


PDF = DocumentType("application/pdf", (".pdf",))
PNG = DocumentType("image/png", (".png",))
JPEG = DocumentType("image/jpeg", (".jpg", ".jpeg"))
GIF = DocumentType("image/gif", (".gif",))
WEBP = DocumentType("image/webp", (".webp",))
TIFF = DocumentType("image/tiff", (".tif", ".tiff"))
RTF = DocumentType("application/rtf", (".rtf",))
TEXT = DocumentType("text/plain; charset=utf-8", (".txt", ".text", ".md", ".csv", ".log"))
DOCX = DocumentType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",))
XLSX = DocumentType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))

ALLOWED_TYPES = (PDF, PNG, JPEG, GIF, WEBP, TIFF, RTF, TEXT, DOCX, XLSX)
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, GIF, WebP, TIFF, plain text (UTF-8), DOCX, XLSX or RTF"

_MAGIC: tuple[tuple[bytes, DocumentType], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"{\\rtf", RTF),
)
_ZIP_MAGIC = b"PK\x03\x04"
# Text may hold tabs, line breaks and form feeds; any other control character means it is not text.
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}
_BOM = "\ufeff"
MAX_NAME_LENGTH = 255
DEFAULT_NAME = "document"


def detect_type(data: bytes) -> DocumentType | None:
    """The allowed type these bytes are, or None: executables, HTML, SVG, archives... are not allowed."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(_ZIP_MAGIC):
        return _office_type(data)
    return TEXT if _is_plain_text(data) else None


def _office_type(data: bytes) -> DocumentType | None:
    """DOCX or XLSX: a zip whose parts say so. Only the directory is read; nothing is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    # Macro-enabled documents (.docm, .xlsm) carry a VBA project: not a clinical attachment.
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(ord(char) in _TEXT_CONTROLS for char in text):
        return False
    # Markup (HTML, SVG, XML) is not plain text: a browser sniffing it would run its scripts.
    return not text.lstrip(_BOM + " \t\r\n\f").startswith("<")


def safe_file_name(declared: str | None, kind: DocumentType) -> str:
    """A label to store and send back: no path parts, no control or bidi-override characters, at most
    255 characters, ending in an extension of the detected type (`evil.exe` holding a PDF -> `evil.exe.pdf`)."""
    name = unicodedata.normalize("NFC", declared or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: format characters such as U+202E, which make "exe.pdf" read as "fdp.exe".
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split()).strip(" .") or DEFAULT_NAME
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and f".{suffix.lower()}" in kind.extensions:
        extension = f".{suffix}"
    else:
        stem, extension = name, kind.extensions[0]
    return (stem[: MAX_NAME_LENGTH - len(extension)].rstrip(" .") or DEFAULT_NAME) + extension


def content_disposition(file_name: str) -> str:
    """`attachment` with an ASCII fallback and the exact name in RFC 5987 form (RFC 6266)."""
    fallback = "".join(char if 0x20 <= ord(char) < 0x7F and char not in '"\\%' else "_" for char in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
