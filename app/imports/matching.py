"""Review of an import (rule I6): normalise each row read from the file, then classify it against the
group's clients that share its email or its name. Pure: no database, HTTP or async here; the analysis
job gathers the candidates with a few set-based queries and hands them in.

Classes: `existing` (same name and email as one client: selected), `uncertain` (a badge says why, not
selected), `new` (no client shares its email or name: selected by ticking it), `invalid` (a reason).
"""

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers import PhoneNumber

from app.imports.parsers import DocumentRef, ImportRow

# Column widths of import_rows and clients: longer values are not names, emails or phones.
NAME_MAX = 100
EMAIL_MAX = 320
PHONE_MAX = 40
SOURCE_REF_MAX = 200


class Classification(StrEnum):
    NEW = "new"
    EXISTING = "existing"
    UNCERTAIN = "uncertain"
    INVALID = "invalid"


class ReviewBadge(StrEnum):
    """Why an uncertain row needs a person to decide (the parsers' own badges are kept beside these)."""

    NAME_MISMATCH = "name_mismatch"  # a client has this email under another name
    MISSING_EMAIL = "missing_email"  # a client has this name; the row has no email to confirm it
    EMAIL_DIFFERS = "email_differs"  # a client has this name, with another email
    SEVERAL_CANDIDATES = "several_candidates"
    DUPLICATE_IN_FILE = "duplicate_in_file"  # an earlier row of the file has the same email
    PHONE_UNREADABLE = "phone_unreadable"  # informative only: a phone changes nothing (I4)


class NormalisedRow(NamedTuple):
    # A NamedTuple, not a dataclass: 100,000 of them are made in the parser's process and pickled back
    # to the worker, where a tuple is several times cheaper on both counts.
    line: int
    source_ref: str
    first_name: str | None
    last_name: str | None
    email: str | None  # as written, trimmed
    phone: str | None  # as written, trimmed
    email_key: str | None  # case-folded, validated; None when missing or not an email
    phone_e164: str | None
    badges: tuple[str, ...]
    invalid_reason: str | None
    documents: tuple[DocumentRef, ...] = ()
    middle_name: str | None = None
    # What cannot be imported or is left out, per column: ((column, code, message), ...) (I12).
    problems: tuple[tuple[str, str, str], ...] = ()

    @property
    def name_key(self) -> tuple[str, str] | None:
        if self.first_name is None or self.last_name is None:
            return None
        return name_key(self.last_name), name_key(self.first_name)

    @property
    def name_keys(self) -> tuple[tuple[str, str], ...]:
        """The (last, first) keys a client of this person may have: the first name alone, and with
        the middle names ("Mary" or "Mary Ann", "Jane" or "Jane Q.")."""
        key = self.name_key
        if key is None:
            return ()
        if not self.middle_name:
            return (key,)
        return key, (key[0], name_key(f"{self.first_name} {self.middle_name}"))

    @property
    def given_names(self) -> str | None:
        """What a new client's first name is: every given name, none dropped."""
        if self.first_name is None or not self.middle_name:
            return self.first_name
        return f"{self.first_name} {self.middle_name}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A client of the group sharing a row's email or name (keys as the clients table computes them)."""

    client_id: uuid.UUID
    first_name_key: str
    last_name_key: str
    email_key: str


@dataclass(frozen=True, slots=True)
class Verdict:
    classification: Classification
    selected: bool
    badges: tuple[str, ...]
    candidate_client_ids: tuple[uuid.UUID, ...] = ()
    matched_client_id: uuid.UUID | None = None


@dataclass(slots=True)
class CandidateIndex:
    by_email: dict[str, list[Candidate]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)

    @classmethod
    def of(cls, candidates: Iterable[Candidate]) -> "CandidateIndex":
        index = cls()
        seen: set[uuid.UUID] = set()
        for c in candidates:
            if c.client_id in seen:
                continue
            seen.add(c.client_id)
            index.by_email.setdefault(c.email_key, []).append(c)
            index.by_name.setdefault((c.last_name_key, c.first_name_key), []).append(c)
        return index


# --- normalising ---------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How names compare: case-insensitive, as the clients table's `lower(...)` keys."""
    return name.lower()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if "  " in value or "\t" in value or "\n" in value or "\r" in value or "\xa0" in value:
        value = " ".join(value.split())
    return value or None


# The common shape of an address, checked without the validator's cost (about 90 us a call, so 9 s
# for 100,000 rows). Anything else (quoted local parts, international domains, odd lengths) goes to
# email-validator, which stays the authority: tests compare both on generated addresses.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPECIAL_ARE_TLDS = all("." not in d for d in SPECIAL_USE_DOMAIN_NAMES)
_SIMPLE_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")


def email_key(raw: str) -> str | None:
    """The address as compared and stored (lower case), or None when it is not a valid address."""
    match = _SIMPLE_EMAIL.fullmatch(raw)
    if match is not None and len(match.group(1)) <= 64 and len(raw) <= 254:
        domain = match.group(2).lower()
        if _SPECIAL_ARE_TLDS:
            special = domain.rpartition(".")[2] in SPECIAL_USE_DOMAIN_NAMES
        else:
            special = any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
        if not special:
            return raw.lower()
    try:
        normalized = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None
    return normalized if len(normalized) <= EMAIL_MAX else None


_NON_DIGITS = re.compile(r"\D")
_NANP_SHAPE = re.compile(r"\+?1?[\s().-]*\d(?:[\s().-]*\d){9}")


@lru_cache(maxsize=65_536)
def _us_prefix_valid(prefix: str) -> bool:
    # The US numbering patterns (phonenumbers metadata) decide on at most the first 7 of the 10 digits,
    # the rest being free: a prefix stands for every number starting with it.
    return phonenumbers.is_valid_number_for_region(PhoneNumber(country_code=1, national_number=int(prefix + "000")), "US")


def phone_e164(raw: str, *, region: str = "US") -> str | None:
    """E.164, or None when it is not a valid number (a phone is optional: nothing else depends on it)."""
    if region == "US" and _NANP_SHAPE.fullmatch(raw):
        digits = _NON_DIGITS.sub("", raw)
        national = digits[-10:]
        if (len(digits) == 10 or digits[0] == "1") and _us_prefix_valid(national[:7]):
            return "+1" + national
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EXTENSION_MARKS = frozenset(",;#xX")
_EXTENSION = re.compile(r"\s*(?:,|;|#|x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)
# The parsers' badges that mean something in the file was not imported.
_DROPPED = {
    "couple": ("name", "second_person_not_imported",
               "This row names two people; only the first is imported. Add the second person as a client of their own."),
    "no_records": ("name", "maybe_not_a_client",
                   "This card has no records in the export: it may be a guardian, partner or other contact "
                   "rather than a client. Tick it only if it is a client."),
}


def normalise(row: ImportRow) -> NormalisedRow:
    """Trimmed text, a validated case-folded email, an E.164 phone; why the row is invalid, if it is (I4),
    and each problem by column (I12)."""
    first, last = _clean(row.first_name), _clean(row.last_name)
    middle = _clean(row.middle_name)
    email, phone = _clean(row.email), _clean(row.phone)
    badges = [str(b) for b in row.badges]
    reasons = []
    problems: list[tuple[str, str, str]] = []
    if first is None:
        reasons.append("first name missing")
        problems.append(("first_name", "required", "The first name is missing."))
    elif len(first) > NAME_MAX:
        reasons.append(f"first name longer than {NAME_MAX} characters")
        problems.append(("first_name", "too_long", f"The first name is longer than {NAME_MAX} characters."))
        first = first[:NAME_MAX]
    if middle is not None and len(middle) + len(first or "") >= NAME_MAX:
        reasons.append(f"given names longer than {NAME_MAX} characters")
        problems.append(("middle_name", "too_long", f"First and middle names together are longer than {NAME_MAX} characters."))
        middle = middle[: max(0, NAME_MAX - 1 - len(first or ""))] or None
    if last is None:
        reasons.append("last name missing")
        problems.append(("last_name", "required", "The last name is missing."))
    elif len(last) > NAME_MAX:
        reasons.append(f"last name longer than {NAME_MAX} characters")
        problems.append(("last_name", "too_long", f"The last name is longer than {NAME_MAX} characters."))
        last = last[:NAME_MAX]
    key = None
    if email is not None:
        key = email_key(email) if len(email) <= EMAIL_MAX else None
        if key is None:
            reasons.append("email is not a valid address")
            problems.append(("email", "invalid", "The email is not a valid address."))
            email = email[:EMAIL_MAX]
    e164 = None
    if phone is not None:
        phone = phone[:PHONE_MAX]
        # Most phones have none of an extension's marks: a set test in C spares them the regex.
        extension = None if _EXTENSION_MARKS.isdisjoint(phone) else _EXTENSION.search(phone)
        e164 = phone_e164(phone if extension is None else phone[: extension.start()])
        if extension is not None and e164 is not None:
            problems.append(("phone", "extension_dropped",
                             "The phone's extension is not imported: a client's phone has none."))
        if e164 is None:
            badges.append(ReviewBadge.PHONE_UNREADABLE)
            problems.append(("phone", "unreadable", "The phone is not a number we can read; it is kept as written."))
    if email is None:
        # Decided at classification: a row without email is uncertain when a client has its name
        # (it can be matched by hand), invalid otherwise.
        reasons.append("email missing")
        problems.append(("email", "required", "The email is missing: a new client needs one."))
    for badge in row.badges:
        # In an export's rows, "couple" is about shared documents: each person has their own card.
        if badge == "couple" and row.documents:
            continue
        if (dropped := _DROPPED.get(str(badge))) is not None:
            problems.append(dropped)
    return NormalisedRow(
        line=row.line,
        source_ref=row.source_ref[:SOURCE_REF_MAX],
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        email_key=key,
        phone_e164=e164,
        badges=tuple(badges),
        invalid_reason="; ".join(reasons) or None,
        documents=row.documents,
        middle_name=middle,
        problems=tuple(problems),
    )


# --- classifying ---------------------------------------------------------------------------------


def _unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    seen: dict[uuid.UUID, Candidate] = {}
    for c in candidates:
        seen.setdefault(c.client_id, c)
    return list(seen.values())


def classify(row: NormalisedRow, index: CandidateIndex, *, duplicate_in_file: bool = False) -> Verdict:
    """Rule I6 for one row, given the group's clients sharing its email or name."""
    keys = row.name_keys
    by_name = [c for key in keys for c in index.by_name.get(key, ())]
    by_email = index.by_email.get(row.email_key, []) if row.email_key is not None else []
    if not by_name and not by_email and not duplicate_in_file:
        # Most rows of a large file: nobody shares their email or name.
        return Verdict(Classification.NEW if row.invalid_reason is None else Classification.INVALID, False, row.badges)
    badges = list(row.badges)
    only_missing_email = row.invalid_reason == "email missing"
    if row.invalid_reason is not None and not (only_missing_email and by_name):
        return Verdict(Classification.INVALID, False, tuple(badges))
    same_person = [c for c in by_email if (c.last_name_key, c.first_name_key) in keys]
    candidates = _unique([*by_email, *by_name])
    if duplicate_in_file:
        badges.append(ReviewBadge.DUPLICATE_IN_FILE)
    if len(same_person) == 1 and len(by_email) == 1 and not duplicate_in_file:
        return Verdict(Classification.EXISTING, True, tuple(badges), (same_person[0].client_id,), same_person[0].client_id)
    if by_email and not same_person:
        badges.append(ReviewBadge.NAME_MISMATCH)
    if row.email_key is None and by_name:
        badges.append(ReviewBadge.MISSING_EMAIL)
    elif by_name and not by_email:
        badges.append(ReviewBadge.EMAIL_DIFFERS)
    if len(candidates) > 1:
        badges.append(ReviewBadge.SEVERAL_CANDIDATES)
    return Verdict(Classification.UNCERTAIN, False, tuple(dict.fromkeys(badges)), tuple(c.client_id for c in candidates))


def classify_all(rows: Sequence[NormalisedRow], index: CandidateIndex) -> list[Verdict]:
    """Every row of a file, in order: a later row repeating an earlier row's email is a duplicate."""
    seen: set[str] = set()
    verdicts = []
    for row in rows:
        duplicate = row.email_key is not None and row.email_key in seen
        if row.email_key is not None and row.invalid_reason is None:
            seen.add(row.email_key)
        verdicts.append(classify(row, index, duplicate_in_file=duplicate))
    return verdicts


def counts(verdicts: Iterable[Verdict]) -> Mapping[str, int]:
    result = {c.value: 0 for c in Classification}
    for v in verdicts:
        result[v.classification.value] += 1
    return result
