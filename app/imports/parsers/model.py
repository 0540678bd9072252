"""What the readers hand back: plain, immutable values with no database or HTTP types."""

from dataclasses import dataclass
from enum import StrEnum


class ImportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    VCARD = "vcard"
    SIMPLEPRACTICE_ZIP = "simplepractice_zip"
    SIMPLEPRACTICE_CLIENT_DETAILS = "simplepractice_client_details"
    SIMPLEPRACTICE_CLIENT_DEMOGRAPHICS = "simplepractice_client_demographics"
    JANE = "jane"
    THERANEST = "theranest"


class Container(StrEnum):
    """The kind of file the bytes turned out to be, whatever its name said (rule I1)."""

    CSV = "csv"
    XLSX = "xlsx"
    VCARD = "vcard"
    ZIP = "zip"


class Badge(StrEnum):
    """Why a row deserves a second look at review (rule I6)."""

    COUPLE = "couple"
    MINOR_CONTACT_USED = "minor_contact_used"
    DOCUMENTS_AMBIGUOUS = "documents_ambiguous"
    NAME_SPLIT_GUESSED = "name_split_guessed"
    DECEASED = "deceased"
    # A SimplePractice card with no records in the export: perhaps a guardian or partner, not a client.
    NO_RECORDS = "no_records"


class DocumentCategory(StrEnum):
    MEDICAL_RECORDS = "medical_records"
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes"
    ADMINISTRATIVE = "administrative"
    STORED_DOCUMENTS = "stored_documents"
    SECURE_MESSAGES = "secure_messages"


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A document inside the uploaded archive; its bytes come from `read_zip_member` later."""

    member_name: str
    file_name: str
    size: int
    category: DocumentCategory


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One person found in the file. Names, email and phone are the text as written, trimmed,
    None when absent; nothing is validated here (that is the review step's job, rule I6).

    `line` is what to show the uploader: the row number (CSV record or worksheet row, counting
    the header) or the card number. `source_ref` identifies the person in the source: the
    export's id (SimplePractice client id, Jane patient number, TheraNest client id, vCard UID)
    or else "row N" / "card N".
    """

    line: int
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    source_ref: str
    documents: tuple[DocumentRef, ...] = ()
    badges: tuple[Badge, ...] = ()
    # Given names after the first (initials included): kept, never dropped (rule I12).
    middle_name: str | None = None


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """Something the uploader should know that does not refuse the file.

    `detail` never quotes the file's content; `items` may (folder or sheet names): show, don't log.
    """

    code: str
    detail: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedImport:
    format: ImportFormat
    container: Container
    rows: list[ImportRow]
    warnings: tuple[ParseWarning, ...] = ()
