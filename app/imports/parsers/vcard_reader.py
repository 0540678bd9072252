"""vCard 2.1 (Outlook), 3.0 (Google, Apple, SimplePractice) and 4.0, with our own small parser:
vobject fails on Outlook's 2.1 files.

Lines are unfolded as bytes, before any decoding, because Apple folds at 75 octets even inside a
UTF-8 character. Only the properties we use are decoded; photos are skipped untouched.
"""

import binascii
import codecs
import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits
from app.imports.parsers.model import (
    Badge,
    Container,
    ImportFormat,
    ImportRow,
    ParsedImport,
    ParseWarning,
)
from app.imports.parsers.names import name_key, split_couple, split_full_name
from app.imports.parsers.tabular import too_many_rows

_WANTED = frozenset(
    {b"BEGIN", b"END", b"N", b"FN", b"EMAIL", b"TEL", b"ORG", b"BDAY", b"UID", b"KIND",
     b"X-ABLABEL", b"X-ABSHOWAS"}
)
_ENCODINGS = frozenset({"QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"})
_MOBILE_TYPES = frozenset({"cell", "mobile", "iphone"})
_NOT_PEOPLE = frozenset({"org", "group", "location"})
_DEFAULT_PREF = 100  # vCard 4.0: PREF runs from 1 (most preferred) to 100
# Quoted-printable writes a byte as three, and UTF-8 takes up to four bytes a character.
_MAX_BYTES_PER_CHAR = 12


@dataclass(frozen=True, slots=True)
class VCard:
    number: int
    first_name: str | None
    last_name: str | None
    middle_name: str | None
    # The whole name as written, for matching SimplePractice's document folders.
    written_name: str
    email: str | None
    phone: str | None
    birthday: datetime.date | None
    uid: str | None
    badges: tuple[Badge, ...]


def read_vcard_file(data: bytes, limits: ImportLimits) -> ParsedImport:
    cards, organisations = parse_vcards(data, limits)
    rows = [card_row(card, card.uid or f"card {card.number}") for card in cards]
    warnings = ()
    if organisations:
        warnings = (
            ParseWarning(
                "organisations_skipped",
                f"{organisations} card(s) for organisations, not people, were skipped.",
            ),
        )
    return ParsedImport(ImportFormat.VCARD, Container.VCARD, rows, warnings)


def card_row(card: VCard, source_ref: str) -> ImportRow:
    return ImportRow(
        card.number,
        card.first_name,
        card.last_name,
        card.email,
        card.phone,
        source_ref,
        badges=card.badges,
        middle_name=card.middle_name,
    )


def parse_vcards(data: bytes, limits: ImportLimits) -> tuple[list[VCard], int]:
    """Return the cards for people, in file order, and how many organisation cards were skipped."""
    cards: list[VCard] = []
    organisations = 0
    card: _CardBuilder | None = None
    depth = 0
    number = 0
    max_line = limits.max_field_chars * _MAX_BYTES_PER_CHAR
    for line in _logical_lines(data.removeprefix(codecs.BOM_UTF8)):
        head = _property_head(line)
        if head is None:
            continue
        group, name, colon = head
        if name in (b"BEGIN", b"END") and line[colon + 1 :].strip().upper() == b"VCARD":
            if name == b"BEGIN":
                depth += 1
                if depth == 1:
                    number += 1
                    if number > limits.max_rows:
                        raise too_many_rows(limits.max_rows)
                    card = _CardBuilder(number, limits.max_field_chars)
                continue
            depth = max(depth - 1, 0)
            if depth == 0 and card is not None:
                organisations += _finish(card, cards)
                card = None
            continue
        # Depth above 1 is a card nested inside another (vCard 2.1 AGENT): not a client.
        if card is None or depth != 1:
            continue
        if len(line) > max_line:
            raise card.too_large(name)
        card.add(_property(line, group, name, colon))
    if card is not None:
        # A file cut short after the last card's properties still holds that card.
        organisations += _finish(card, cards)
    return cards, organisations


def _finish(card: "_CardBuilder", into: list[VCard]) -> int:
    """Append the card if it is a person; return 1 if it was skipped as an organisation."""
    built = card.build()
    if built is not None:
        into.append(built)
        return 0
    return 1 if card.is_organisation() else 0


@dataclass(slots=True)
class _Property:
    group: bytes
    name: bytes
    params: list[bytes]
    raw_value: bytes


@dataclass(slots=True)
class _Params:
    types: set[str] = field(default_factory=set)
    pref: int = _DEFAULT_PREF
    encoding: str | None = None
    charset: str | None = None


@dataclass(slots=True)
class _Candidate:
    value: str
    pref: int
    mobile: bool
    fax: bool
    group: bytes


class _CardBuilder:
    def __init__(self, number: int, max_chars: int) -> None:
        self.number = number
        self.max_chars = max_chars
        self.structured_name: list[str] | None = None
        self.formatted_name: str | None = None
        self.organisation: str | None = None
        self.kind: str | None = None
        self.shown_as_company = False
        self.emails: list[_Candidate] = []
        self.phones: list[_Candidate] = []
        self.labels: dict[bytes, str] = {}
        self.birthday: datetime.date | None = None
        self.uid: str | None = None

    def too_large(self, name: bytes) -> ImportRejected:
        return ImportRejected(
            "field_too_large",
            f"Card {self.number} has a value longer than {self.max_chars:,} characters.",
            line=self.number,
            column=name.decode("ascii", "replace"),
            limit=self.max_chars,
        )

    def add(self, prop: _Property) -> None:
        params = _parse_params(prop.params)
        text = _decode_value(prop.raw_value, params)
        if len(text) > self.max_chars:
            raise self.too_large(prop.name)
        name = prop.name
        if name == b"N" and self.structured_name is None:
            self.structured_name = [_unescape(part).strip() for part in _split_unescaped(text, ";")]
        elif name == b"FN" and self.formatted_name is None:
            self.formatted_name = _unescape(text).strip()
        elif name == b"ORG" and self.organisation is None:
            self.organisation = _unescape(_split_unescaped(text, ";")[0]).strip()
        elif name == b"EMAIL":
            email = _strip_scheme(_unescape(text), "mailto:")
            self._add_candidate(self.emails, email, params, prop)
        elif name == b"TEL":
            self._add_candidate(self.phones, _phone_text(_unescape(text)), params, prop)
        elif name == b"BDAY":
            self.birthday = _parse_date(text.strip())
        elif name == b"UID":
            self.uid = _unescape(text).strip() or None
        elif name == b"KIND":
            self.kind = text.strip().lower()
        elif name == b"X-ABSHOWAS":
            self.shown_as_company = text.strip().upper() == "COMPANY"
        elif name == b"X-ABLABEL" and prop.group:
            self.labels[prop.group] = text.strip().lower()

    def _add_candidate(
        self, into: list[_Candidate], value: str, params: _Params, prop: _Property
    ) -> None:
        if value:
            into.append(
                _Candidate(
                    value,
                    params.pref,
                    bool(params.types & _MOBILE_TYPES),
                    "fax" in params.types,
                    prop.group,
                )
            )

    def is_organisation(self) -> bool:
        if self.kind in _NOT_PEOPLE or self.shown_as_company:
            return True
        if any(self.structured_name or ()) or not self.organisation:
            return False
        # Google writes `N:;;;;` for a company card and repeats the company as FN.
        return not self.formatted_name or name_key(self.formatted_name) == name_key(
            self.organisation
        )

    def build(self) -> VCard | None:
        if self.is_organisation():
            return None
        first, middle, last, badges, whole = self._names()
        email = self._best(self.emails, by_mobile=False)
        phone = self._best(self.phones, by_mobile=True)
        if first is None and last is None and email is None and phone is None:
            return None
        return VCard(
            self.number, first, last, middle, whole, email, phone, self.birthday, self.uid, badges
        )

    def _names(self) -> tuple[str | None, str | None, str | None, tuple[Badge, ...], str]:
        parts = self.structured_name or []
        last = parts[0] if parts else ""
        given = parts[1] if len(parts) > 1 else ""
        # N's third part: additional (middle) names, kept whole (rule I12).
        middle = " ".join(parts[2].replace(",", " ").split()) if len(parts) > 2 else ""
        if given or last:
            badges: tuple[Badge, ...] = ()
            couple = split_couple(given)
            first = given
            if couple is not None:
                first, badges = couple[0].strip(), (Badge.COUPLE,)
            return first or None, middle or None, last or None, badges, f"{given} {last}"
        whole = self.formatted_name or ""
        name = split_full_name(whole)
        return name.first, name.middle, name.last, name.badges, whole

    def _best(self, candidates: list[_Candidate], *, by_mobile: bool) -> str | None:
        if not candidates:
            return None

        def rank(indexed: tuple[int, _Candidate]) -> tuple[bool, int, bool, int]:
            order, candidate = indexed
            mobile = candidate.mobile or _is_mobile_label(self.labels.get(candidate.group, ""))
            return (candidate.fax, candidate.pref, by_mobile and not mobile, order)

        return min(enumerate(candidates), key=rank)[1].value


def _logical_lines(data: bytes) -> Iterator[bytes]:
    """Undo RFC folding (newline + space or tab) and quoted-printable soft breaks (final `=`)."""
    pending: list[bytes] = []
    soft_break = False
    for raw in data.splitlines():
        if pending and soft_break:
            pending[-1] = pending[-1][:-1]
            pending.append(raw)
        elif pending and raw[:1] in (b" ", b"\t"):
            pending.append(raw[1:])
        else:
            if pending:
                yield b"".join(pending)
            pending = [raw]
        soft_break = raw.endswith(b"=") and _is_quoted_printable(pending[0])
    if pending:
        yield b"".join(pending)


def _is_quoted_printable(first_line: bytes) -> bool:
    head, _, _ = first_line.partition(b":")
    return b"QUOTED-PRINTABLE" in head.upper()


def _property_head(line: bytes) -> tuple[bytes, bytes, int] | None:
    """Group, upper-case name and the colon's index, for the properties we read; else None."""
    colon = line.find(b":")
    if colon < 0:
        return None
    semicolon = line.find(b";", 0, colon)
    group, _, name = line[: semicolon if semicolon >= 0 else colon].rpartition(b".")
    name = name.strip().upper()
    # Most lines (VERSION, ADR, PHOTO, NOTE, ...) are dropped here, before any other work.
    if name not in _WANTED:
        return None
    return group.upper(), name, colon


def _property(line: bytes, group: bytes, name: bytes, colon: int) -> _Property:
    semicolon = line.find(b";", 0, colon)
    if semicolon < 0:
        return _Property(group, name, [], line[colon + 1 :])
    if b'"' not in line[:colon]:
        return _Property(group, name, line[semicolon + 1 : colon].split(b";"), line[colon + 1 :])
    # A quoted parameter value may hold ":" and ";" (RFC 6350): split outside the quotes only.
    params: list[bytes] = [b""]
    pieces = line[semicolon + 1 :].split(b'"')
    for index, piece in enumerate(pieces):
        if index % 2:
            params[-1] += b'"' + piece + b'"'
            continue
        end = piece.find(b":")
        outside = piece if end < 0 else piece[:end]
        first, *rest = outside.split(b";")
        params[-1] += first
        params.extend(rest)
        if end >= 0:
            value = b'"'.join([piece[end + 1 :], *pieces[index + 1 :]])
            return _Property(group, name, params, value)
    return _Property(group, name, params, b"")


def _parse_params(raw_params: list[bytes]) -> _Params:
    params = _Params()
    for raw in raw_params:
        key, equals, value = raw.decode("ascii", "replace").partition("=")
        key = key.strip().upper()
        if not equals:
            # vCard 2.1 writes bare values: `TEL;CELL;VOICE`, `EMAIL;PREF;INTERNET`.
            key, value = ("ENCODING", key) if key in _ENCODINGS else ("TYPE", key)
        values = [v.strip().strip('"').strip() for v in value.split(",")]
        if key == "TYPE":
            for item in values:
                item = item.lower()
                if item == "pref":
                    params.pref = min(params.pref, 1)
                elif item:
                    params.types.add(item)
        elif key == "PREF":
            if values[0].isdigit():
                params.pref = min(params.pref, int(values[0]))
        elif key == "ENCODING":
            params.encoding = values[0].upper()
        elif key == "CHARSET":
            params.charset = values[0]
    return params


def _decode_value(raw: bytes, params: _Params) -> str:
    if params.encoding == "QUOTED-PRINTABLE":
        raw = binascii.a2b_qp(raw)
    if params.charset:
        try:
            return raw.decode(params.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("windows-1252", "replace")


def _split_unescaped(text: str, separator: str) -> list[str]:
    if "\\" not in text:
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append("\n" if char in "nN" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _strip_scheme(text: str, scheme: str) -> str:
    text = text.strip()
    if text[: len(scheme)].lower() == scheme:
        return text[len(scheme) :].strip()
    return text


def _phone_text(text: str) -> str:
    """`tel:+1-555-0100;ext=12` (vCard 4.0 URI) becomes "+1-555-0100 ext. 12"."""
    text = _strip_scheme(text, "tel:")
    number, _, parameters = text.partition(";")
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "ext" and value.strip():
            return f"{number.strip()} ext. {value.strip()}"
    return number.strip()


def _is_mobile_label(label: str) -> bool:
    return "mobile" in label or "cell" in label


def _parse_date(text: str) -> datetime.date | None:
    """BDAY as 19800102, 1980-01-02 or 1980-01-02T00:00:00Z; a date without a year is no use."""
    digits = text[:10].replace("-", "")
    if len(digits) < 8 or not digits[:8].isdigit():
        return None
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
