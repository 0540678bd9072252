"""Which column holds what: header normalisation, hand-made files (rule I2) and known exports (I3).

Only the columns named here are ever read, so insurance and payment columns (Primary insurance,
Insurance ID, ...) cannot reach an ImportRow (rule I4).
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.model import ImportFormat

HEADER_SEARCH_ROWS = 10
REQUIRED_COLUMNS = ("First Name", "Last Name")

_FIRST_NAME = ("firstname", "first", "givenname", "forename", "fname")
_LAST_NAME = ("lastname", "last", "surname", "familyname", "lname")
_EMAIL = ("email", "emailaddress", "mail")
_MIDDLE_NAME = ("middlename", "middle", "middlenames", "middleinitial")
# A mobile number is the one a client answers; other numbers only fill the gap.
_PHONE = (
    "mobilephone", "mobile", "mobilenumber", "mobilephonenumber", "cellphone", "cell",
    "cellnumber", "cellphonenumber", "phone", "phonenumber", "telephone", "tel",
    "homephone", "workphone",
)

# Recognition markers: headers an export has and a hand-made list is unlikely to.
_SIMPLEPRACTICE_DETAILS = frozenset(
    {"clienttype", "dateadded", "primaryclinician", "lastappointment", "nextappointment",
     "contactname", "contactphone", "contactemail", "primaryinsurance", "insuranceid"}
)
_SIMPLEPRACTICE_DEMOGRAPHICS = frozenset(
    {"contact", "age", "dateofbirth", "sex", "genderidentity", "race", "relationshipstatus",
     "employmentstatus", "preferredlanguage"}
)
_JANE = frozenset(
    {"patientnumber", "personalhealthnumber", "guardianname", "medicalalert", "activeinactive",
     "deceasedat", "dischargedat", "province", "postal"}
)
_THERANEST = frozenset({"clientidnumber", "legalgender", "intakedate", "defaultservicetype"})
_MIN_MARKERS = 2


def normalise_header(text: str) -> str:
    """" LAST NAME ", "E-mail", "mobile_phone" and "FirstName" all reduce to letters and digits."""
    return "".join(c for c in text.casefold() if c.isalnum())


@dataclass(frozen=True, slots=True)
class Layout:
    """Column indexes per field, in order of preference; repeated headers give several indexes."""

    format: ImportFormat
    headers: tuple[str, ...]
    first_name: tuple[int, ...] = ()
    last_name: tuple[int, ...] = ()
    full_name: tuple[int, ...] = ()
    email: tuple[int, ...] = ()
    phone: tuple[int, ...] = ()
    contact_email: tuple[int, ...] = ()
    contact_phone: tuple[int, ...] = ()
    record_id: tuple[int, ...] = ()
    deceased: tuple[int, ...] = ()
    middle_name: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HeaderSearch:
    """The header row found in the first rows, or the columns a hand-made file lacks (rule I2)."""

    layout: Layout | None
    header_index: int
    missing: tuple[str, ...]
    width: int


# The fields a person can map a column to (I13), and what a mapping must include.
MAPPABLE_FIELDS = ("first_name", "middle_name", "last_name", "email", "phone")
REQUIRED_FIELDS = ("first_name", "last_name")
_SAMPLE_ROWS = 3
_SAMPLE_CHARS = 100
_MAX_COLUMNS_SHOWN = 100


def header_key(headers: Sequence[str]) -> str:
    """The same set of columns, in any order, spelt with any case or spacing, gives the same key."""
    keys = sorted({normalise_header(h) for h in headers} - {""})
    return hashlib.sha256("\x1f".join(keys).encode()).hexdigest()


def unrecognised(rows: Sequence[Sequence[str]], search: HeaderSearch, container: str) -> ImportRejected:
    """Missing columns, with what a person needs to map them (I13): the file's header cells (the first row
    that has any) and a few rows below it."""
    filled = [i for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]) if any(cell.strip() for cell in row)]
    headers: list[str] = []
    samples: list[list[str]] = []
    if filled:
        at = filled[0]
        headers = [cell.strip()[:_SAMPLE_CHARS] for cell in rows[at][:_MAX_COLUMNS_SHOWN]]
        samples = [[cell.strip()[:_SAMPLE_CHARS] for cell in rows[i][: len(headers)]] for i in filled[1 : 1 + _SAMPLE_ROWS]]
    return ImportRejected(
        "missing_columns",
        f"The {container} needs the columns " + ", ".join(search.missing) + ".",
        missing=list(search.missing),
        headers=headers,
        samples=samples,
    )


def find_mapped_header(
    rows: Sequence[Sequence[str]], plain_format: ImportFormat, mapping: dict[str, str]
) -> HeaderSearch:
    """The header row holding every column of a person's mapping {field: header} (I13)."""
    wanted = {field: normalise_header(header) for field, header in mapping.items() if field in MAPPABLE_FIELDS}
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = [normalise_header(cell) for cell in row]
        if all(key in keys for key in wanted.values()):
            found = {field: (keys.index(key),) for field, key in wanted.items()}
            layout = Layout(plain_format, tuple(cell.strip() for cell in row), **found)
            return HeaderSearch(layout, index, (), sum(1 for k in keys if k))
    missing = tuple(header for header in mapping.values())
    return HeaderSearch(None, 0, missing, 0)


def find_header(rows: Sequence[Sequence[str]], plain_format: ImportFormat) -> HeaderSearch:
    best = HeaderSearch(None, 0, REQUIRED_COLUMNS, 0)
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = [normalise_header(cell) for cell in row]
        layout = _recognise(keys, tuple(cell.strip() for cell in row), plain_format)
        if layout is not None:
            return HeaderSearch(layout, index, (), sum(1 for k in keys if k))
        missing = tuple(
            label
            for label, aliases in zip(REQUIRED_COLUMNS, (_FIRST_NAME, _LAST_NAME))
            if not _columns(keys, aliases)
        )
        if len(missing) < len(best.missing):
            best = HeaderSearch(None, index, missing, 0)
    return best


def _recognise(
    keys: list[str], headers: tuple[str, ...], plain_format: ImportFormat
) -> Layout | None:
    present = frozenset(keys)
    if "client" in present and len(present & _SIMPLEPRACTICE_DETAILS) >= _MIN_MARKERS:
        return Layout(
            ImportFormat.SIMPLEPRACTICE_CLIENT_DETAILS,
            headers,
            full_name=_columns(keys, ("client",)),
            email=_columns(keys, ("email",)),
            phone=_columns(keys, ("phonenumber", "phone")),
            contact_email=_columns(keys, ("contactemail",)),
            contact_phone=_columns(keys, ("contactphone",)),
        )
    if "client" in present and len(present & _SIMPLEPRACTICE_DEMOGRAPHICS) >= _MIN_MARKERS:
        return Layout(
            ImportFormat.SIMPLEPRACTICE_CLIENT_DEMOGRAPHICS,
            headers,
            full_name=_columns(keys, ("client",)),
        )
    first_name = _columns(keys, _FIRST_NAME)
    last_name = _columns(keys, _LAST_NAME)
    if not first_name or not last_name:
        return None
    email = _columns(keys, _EMAIL)
    if len(present & _JANE) >= _MIN_MARKERS:
        return Layout(
            ImportFormat.JANE,
            headers,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=_columns(keys, ("mobilephone", "homephone", "workphone")),
            record_id=_columns(keys, ("patientnumber",)),
            deceased=_columns(keys, ("deceasedat",)),
            middle_name=_columns(keys, _MIDDLE_NAME),
        )
    if len(present & _THERANEST) >= _MIN_MARKERS:
        return Layout(
            ImportFormat.THERANEST,
            headers,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=_columns(keys, ("phone", "mobilephone", "cellphone", "homephone")),
            record_id=_columns(keys, ("clientidnumber",)),
        )
    return Layout(
        plain_format,
        headers,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=_columns(keys, _PHONE),
        middle_name=_columns(keys, _MIDDLE_NAME),
    )


def _columns(keys: list[str], aliases: Sequence[str]) -> tuple[int, ...]:
    return tuple(index for alias in aliases for index, key in enumerate(keys) if key == alias)
