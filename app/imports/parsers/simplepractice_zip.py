"""SimplePractice's "Complete" export (.zip): clients from Contacts/*.vcf, documents from the
folders named after each client's first and last name (rule I9).

Billing Documents are payment data and are never read (rule I4). Same-name clients share their
folders: a document goes to one of them only when its `DOB:` line names exactly one; otherwise
both rows are badged and the document attached to neither.
"""

import datetime
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, auto

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
from app.imports.parsers.names import name_key, split_couple, split_full_name
from app.imports.parsers.safe_zip import SafeZip
from app.imports.parsers.tabular import too_many_rows
from app.imports.parsers.vcard_reader import VCard, parse_vcards

_CONTACTS = "contacts"
_BILLING = "billing documents"
_DOCUMENT_FOLDERS = {
    "medical records": DocumentCategory.MEDICAL_RECORDS,
    "psychotherapy notes": DocumentCategory.PSYCHOTHERAPY_NOTES,
    "administrative": DocumentCategory.ADMINISTRATIVE,
    "stored documents": DocumentCategory.STORED_DOCUMENTS,
    "secure messages": DocumentCategory.SECURE_MESSAGES,
}
_JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
_DOB = re.compile(
    rb"(?:\bDOB|\bDate of birth)\s*:\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE
)
_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
# PDFs usually compress their text; inflating a bounded amount per document is enough for the
# header lines SimplePractice puts on the first page.
_PDF_INFLATE_BUDGET = 8 * 1024 * 1024


class _Kind(Enum):
    CARD = auto()
    BILLING = auto()
    JUNK = auto()
    OTHER = auto()


@dataclass(frozen=True, slots=True)
class _Document:
    category: DocumentCategory
    # The client's folder ("First Last"); for a secure message, its name "<Provider>-<Client>".
    owner: str
    file_name: str
    is_message: bool


def is_simplepractice_export(member_names: Iterable[str]) -> bool:
    return any(_locate(name) is _Kind.CARD for name in member_names)


class ExportDocuments:
    """Reads the documents named by DocumentRefs out of one uploaded export.

    The archive is checked again as a whole once (the bytes come back from storage at finalize),
    then each read is held to its member's declared size.
    """

    def __init__(
        self, data: bytes, *, limits: ImportLimits = DEFAULT_LIMITS, password: str | None = None
    ) -> None:
        self._archive = SafeZip(data, limits, password)

    def read(self, member_name: str) -> bytes:
        info = self._archive.files.get(member_name)
        if info is None or not isinstance(_locate(member_name), _Document):
            # Billing documents are refused here too: they are never imported (rule I4).
            raise ImportRejected(
                "zip_member_not_found",
                "The archive has no importable document by that name.",
                member=member_name,
            )
        return self._archive.read(info)


def read_zip_member(
    data: bytes,
    member_name: str,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    password: str | None = None,
) -> bytes:
    """One document's bytes. To read many, use one ExportDocuments: each call here re-checks
    the whole central directory."""
    return ExportDocuments(data, limits=limits, password=password).read(member_name)


def read_simplepractice_zip(archive: SafeZip, limits: ImportLimits) -> ParsedImport:
    card_members: list[zipfile.ZipInfo] = []
    documents: list[tuple[_Document, zipfile.ZipInfo]] = []
    billing = ignored = 0
    for name, info in archive.files.items():
        location = _locate(name)
        if isinstance(location, _Document):
            documents.append((location, info))
        elif location is _Kind.CARD:
            card_members.append(info)
        elif location is _Kind.BILLING:
            billing += 1
        elif location is _Kind.OTHER:
            ignored += 1

    cards, source_refs, display_names, organisations = _read_cards(archive, card_members, limits)
    matcher = _Matcher(cards, display_names)
    attached: dict[int, list[DocumentRef]] = defaultdict(list)
    couples: set[int] = set()
    ambiguous: set[int] = set()
    unmatched_folders: set[str] = set()
    unmatched = undecided = 0
    to_verify: list[zipfile.ZipInfo] = []
    for document, info in documents:
        candidates, couple = matcher.owners(document)
        if not candidates:
            unmatched += 1
            unmatched_folders.add(document.owner)
            continue
        if len(candidates) > 1:
            birth_date = _document_birth_date(archive.read(info))
            named = [i for i in candidates if birth_date and cards[i].birthday == birth_date]
            if len(named) != 1:
                undecided += 1
                ambiguous.update(candidates)
                continue
            owner = named[0]
        else:
            owner = candidates[0]
            to_verify.append(info)
        attached[owner].append(
            DocumentRef(info.orig_filename, document.file_name, info.file_size, document.category)
        )
        if couple:
            couples.add(owner)
    # Documents are read only at finalize; a damaged or lying one must refuse the file now, so
    # nothing is half-imported (rule I11). Those read above for their DOB are already checked.
    archive.verify(to_verify)

    rows = [
        ImportRow(
            line,
            card.first_name,
            card.last_name,
            card.email,
            card.phone,
            source_refs[line - 1],
            tuple(attached.get(line - 1, ())),
            _badges(card, line - 1 in couples, line - 1 in ambiguous, line - 1 in attached),
            card.middle_name,
        )
        for line, card in enumerate(cards, 1)
    ]
    warnings = _warnings(organisations, billing, ignored, unmatched, unmatched_folders, undecided)
    return ParsedImport(ImportFormat.SIMPLEPRACTICE_ZIP, Container.ZIP, rows, warnings)


def _read_cards(
    archive: SafeZip, members: list[zipfile.ZipInfo], limits: ImportLimits
) -> tuple[list[VCard], list[str], list[str], int]:
    """The cards, each one's source id, and the display name its file is named by (which may carry
    a middle initial the card's N and FN leave out)."""
    cards: list[VCard] = []
    source_refs: list[str] = []
    display_names: list[str] = []
    organisations = 0
    for info in members:
        found, skipped = parse_vcards(archive.read(info), limits)
        organisations += skipped
        client_id = _client_id(info.orig_filename)
        for position, card in enumerate(found):
            cards.append(card)
            source_refs.append(client_id if position == 0 else f"{client_id}#{position + 1}")
            display_names.append(_display_name(info.orig_filename) if position == 0 else "")
        if len(cards) > limits.max_rows:
            raise too_many_rows(limits.max_rows)
    return cards, source_refs, display_names, organisations


class _Matcher:
    """Finds the cards a folder belongs to, by first and last name only."""

    def __init__(self, cards: list[VCard], display_names: list[str]) -> None:
        self._by_name: dict[str, list[int]] = defaultdict(list)
        # Secure messages are named by the client's display name, middle initial included
        # ("Therapist-Jane Q. Doe.txt"), unlike the record folders: those names are matched too.
        self._by_display: dict[str, list[int]] = defaultdict(list)
        for index, card in enumerate(cards):
            key = name_key(card.written_name)
            if key:
                self._by_name[key].append(index)
            for other in {name_key(display_names[index]), name_key(_with_middle(card))} - {key, ""}:
                self._by_display[other].append(index)

    def owners(self, document: _Document) -> tuple[list[int], bool]:
        """The candidate card indexes, and whether the folder names a couple."""
        if document.is_message:
            return self._message_owners(document.owner), False
        return self._folder_owners(document.owner)

    def _folder_owners(self, folder: str) -> tuple[list[int], bool]:
        exact = self._by_name.get(name_key(folder))
        if exact:
            return exact, False
        if split_couple(folder) is None:
            return [], False
        # A couple's folder ("Alex & Sam Rivera") goes to the first person's card.
        first_person = split_full_name(folder)
        key = name_key(f"{first_person.first or ''} {first_person.last or ''}")
        return self._by_name.get(key, []), True

    def _message_owners(self, stem: str) -> list[int]:
        # "<Provider>-<Client>": either name may hold hyphens, so every split is tried and the
        # message is attached only if exactly one client name fits.
        owners = {
            tuple(found)
            for index, char in enumerate(stem)
            if char == "-"
            and (found := self._by_name.get(key := name_key(stem[index + 1 :])) or self._by_display.get(key))
        }
        if len(owners) != 1:
            return []
        return list(owners.pop())


def _locate(member_name: str) -> _Kind | _Document:
    """What a member is, from the first known folder name on its path (at any depth)."""
    parts = member_name.split("/")
    file_name = parts[-1]
    if (
        any(part.startswith("__MACOSX") for part in parts)
        or file_name.startswith("._")
        or file_name.lower() in _JUNK_FILES
    ):
        return _Kind.JUNK
    for index, part in enumerate(parts[:-1]):
        folder = part.strip().casefold()
        if folder == _CONTACTS:
            return _Kind.CARD if file_name.lower().endswith(".vcf") else _Kind.OTHER
        if folder == _BILLING:
            return _Kind.BILLING
        category = _DOCUMENT_FOLDERS.get(folder)
        if category is None:
            continue
        inside = parts[index + 1 :]
        if category is DocumentCategory.SECURE_MESSAGES and len(inside) == 1:
            stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
            return _Document(category, stem, file_name, is_message=True)
        if len(inside) < 2:
            return _Kind.OTHER
        return _Document(
            category, inside[0], _original_name(category, file_name), is_message=False
        )
    return _Kind.OTHER


def _original_name(category: DocumentCategory, file_name: str) -> str:
    """Stored documents are saved as `<n>-<original name>`."""
    number, dash, rest = file_name.partition("-")
    if category is DocumentCategory.STORED_DOCUMENTS and dash and number.isdigit() and rest:
        return rest
    return file_name


def _display_name(member_name: str) -> str:
    """`Contacts/<Display Name> - <id>.vcf` -> the display name."""
    stem = member_name.rsplit("/", 1)[-1][: -len(".vcf")]
    name, separator, _ = stem.rpartition(" - ")
    return name if separator else stem


def _with_middle(card: VCard) -> str:
    if not card.middle_name:
        return ""
    return f"{card.first_name or ''} {card.middle_name} {card.last_name or ''}"


def _client_id(member_name: str) -> str:
    """`Contacts/<Display Name> - <id>.vcf` -> the id; the whole stem if the name has no id."""
    stem = member_name.rsplit("/", 1)[-1][: -len(".vcf")]
    _, separator, client_id = stem.rpartition(" - ")
    return client_id.strip() if separator and client_id.strip() else stem


def _document_birth_date(data: bytes) -> datetime.date | None:
    """The one date of birth a document states in a `DOB:` line, if it states exactly one."""
    found: set[datetime.date] = set()
    for text in _searchable_texts(data):
        for match in _DOB.finditer(text):
            parsed = _parse_dob(match.group(1).decode("ascii"))
            if parsed is not None:
                found.add(parsed)
    return found.pop() if len(found) == 1 else None


def _searchable_texts(data: bytes) -> Iterator[bytes]:
    yield data
    if not data.startswith(b"%PDF"):
        return
    budget = _PDF_INFLATE_BUDGET
    for match in _PDF_STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        if end < 0:
            return
        try:
            inflated = zlib.decompressobj().decompress(data[match.end() : end], budget)
        except zlib.error:
            continue
        yield inflated
        budget -= len(inflated)
        if budget <= 0:
            return


def _parse_dob(text: str) -> datetime.date | None:
    try:
        if "-" in text:
            year, month, day = text.split("-")
        else:
            month, day, year = text.split("/")
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _badges(card: VCard, couple: bool, ambiguous: bool, has_records: bool) -> tuple[Badge, ...]:
    badges = list(card.badges)
    if not has_records and not ambiguous:
        badges.append(Badge.NO_RECORDS)
    if couple and Badge.COUPLE not in badges:
        badges.append(Badge.COUPLE)
    if ambiguous:
        badges.append(Badge.DOCUMENTS_AMBIGUOUS)
    return tuple(badges)


def _warnings(
    organisations: int,
    billing: int,
    ignored: int,
    unmatched: int,
    unmatched_folders: set[str],
    undecided: int,
) -> tuple[ParseWarning, ...]:
    warnings: list[ParseWarning] = []
    if billing:
        warnings.append(ParseWarning(
            "billing_documents_skipped",
            f"{billing} billing document(s) were left out: payment data is never imported.",
        ))
    if unmatched:
        warnings.append(ParseWarning(
            "documents_unmatched",
            f"{unmatched} document(s) in {len(unmatched_folders)} folder(s) match no client card "
            "and will not be imported.",
            tuple(sorted(unmatched_folders)),
        ))
    if undecided:
        warnings.append(ParseWarning(
            "documents_ambiguous",
            f"{undecided} document(s) belong to one of several clients with the same name and "
            "were attached to none of them.",
        ))
    if organisations:
        warnings.append(ParseWarning(
            "organisations_skipped",
            f"{organisations} card(s) for organisations, not people, were skipped.",
        ))
    if ignored:
        warnings.append(ParseWarning(
            "files_ignored", f"{ignored} file(s) outside the export's known folders were ignored."
        ))
    return tuple(warnings)
