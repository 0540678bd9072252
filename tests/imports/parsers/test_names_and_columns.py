"""Header normalisation, export recognition and full-name splitting (rules I2, I3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imports.parsers import Badge, ImportFormat
from app.imports.parsers.columns import find_header, normalise_header
from app.imports.parsers.names import name_key, split_full_name


@pytest.mark.parametrize(
    ("header", "key"),
    [("first name", "firstname"), (" LAST NAME ", "lastname"), ("E-mail", "email"),
     ("mobile_phone", "mobilephone"), ("FirstName", "firstname"), ("Active/Inactive",
                                                                     "activeinactive")],
)
def test_normalise_header(header: str, key: str) -> None:
    # rule I2: case, spacing and punctuation are ignored
    assert normalise_header(header) == key


def test_recognition_needs_several_markers() -> None:
    # rule I3: one export-looking header is not enough to call a hand-made file an export
    one_marker = [["First Name", "Last Name", "Province"]]
    two_markers = [["First Name", "Last Name", "Province", "Patient Number"]]
    assert find_header(one_marker, ImportFormat.CSV).layout.format is ImportFormat.CSV
    assert find_header(two_markers, ImportFormat.CSV).layout.format is ImportFormat.JANE


def test_theranest_and_jane_are_told_apart() -> None:
    theranest = [["First Name", "Last Name", "Client ID Number", "Legal Gender", "Birthdate"]]
    assert find_header(theranest, ImportFormat.XLSX).layout.format is ImportFormat.THERANEST


def test_insurance_columns_are_never_mapped() -> None:
    # rule I4: only name, email and phone columns are ever read
    header = ["Client", "Client type", "Primary clinician", "Primary insurance", "Insurance ID",
              "Email", "Phone number"]
    layout = find_header([header], ImportFormat.CSV).layout
    insurance = {header.index("Primary insurance"), header.index("Insurance ID")}
    used = {i for name in ("first_name", "last_name", "full_name", "email", "phone",
                           "contact_email", "contact_phone", "record_id", "deceased")
            for i in getattr(layout, name)}
    assert not used & insurance


@pytest.mark.parametrize(
    ("full", "first", "last", "badges"),
    [
        ("Jane Doe", "Jane", "Doe", ()),
        ("Jane Q. Doe", "Jane", "Doe", ()),
        ("Jane Q Doe", "Jane", "Doe", ()),
        ("J.R. Ewing", "J.R.", "Ewing", ()),
        ("Mary J. R. Smith", "Mary", "Smith", ()),
        ("Zoë Núñez-García", "Zoë", "Núñez-García", ()),
        ("John Smith Jr.", "John", "Smith", ()),
        ("John Smith, Jr.", "John", "Smith", ()),
        ("Dr. Ada Lovelace PhD", "Ada", "Lovelace", ()),
        ("Ana de la Cruz", "Ana", "de la Cruz", ()),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven", ()),
        ("Doe, Jane Q.", "Jane", "Doe", ()),
        ("de la Cruz, Ana", "Ana", "de la Cruz", ()),
        ('Robert "Bob" Smith', "Robert", "Smith", ()),
        ("Robert (Bob) Smith", "Robert", "Smith", ()),
        ("Cher", "Cher", None, ()),
        ("", None, None, ()),
        ("Mary Ann Smith", "Mary", "Smith", (Badge.NAME_SPLIT_GUESSED,)),
        ("Alex & Sam Rivera", "Alex", "Rivera", (Badge.COUPLE,)),
        ("Alex Rivera & Sam Chen", "Alex", "Rivera", (Badge.COUPLE,)),
        ("Alex and Sam Rivera", "Alex", "Rivera", (Badge.COUPLE,)),
        ("  Jane   Doe  ", "Jane", "Doe", ()),
    ],
)
def test_split_full_name(full: str, first: str | None, last: str | None, badges: tuple) -> None:
    name = split_full_name(full)
    assert (name.first, name.last, name.badges) == (first, last, badges)


@pytest.mark.parametrize(
    ("full", "first", "middle", "last"),
    [
        # rule I12: every word of a name is kept: first, middle (given names after the first), last
        ("Nguyễn Thị Minh Khai", "Nguyễn", "Thị Minh", "Khai"),  # Vietnamese, written given-last by the export
        ("Thị Minh Nguyễn", "Thị", "Minh", "Nguyễn"),
        ("José María García López", "José", "María García", "López"),
        ("Mary Ann Smith", "Mary", "Ann", "Smith"),
        ("Jane Q. Doe", "Jane", "Q.", "Doe"),
        ("Mary J. R. Smith", "Mary", "J. R.", "Smith"),
        ("Ana Lucía de la Cruz", "Ana", "Lucía", "de la Cruz"),
        ("Ludwig van Beethoven", "Ludwig", None, "van Beethoven"),
        ("Hans Peter von der Heide", "Hans", "Peter", "von der Heide"),
        ("Muhammad bin Salman Al Saud", "Muhammad", "bin Salman", "Al Saud"),
        ("Oluwaseun Adebayo Okafor", "Oluwaseun", "Adebayo", "Okafor"),
        ("Siobhán Máire Ní Bhriain", "Siobhán", "Máire", "Ní Bhriain"),
        ("Doe, Jane Quinn", "Jane", "Quinn", "Doe"),
        ("García López, José María", "José", "María", "García López"),
        ("Alex Jordan & Sam Rivera", "Alex", None, "Jordan"),
        ("Jane Doe", "Jane", None, "Doe"),
    ],
)
def test_no_word_of_a_name_is_dropped(full: str, first: str, middle: str | None, last: str) -> None:
    name = split_full_name(full)
    assert (name.first, name.middle, name.last) == (first, middle, last)


def test_name_key_ignores_case_accents_and_punctuation() -> None:
    assert name_key("José  NÚÑEZ") == name_key("jose nunez") == "jose nunez"
    assert name_key("O’Brien") == name_key("O'Brien") == "o brien"
    assert name_key("Alex & Sam Rivera") == "alex sam rivera"


@given(st.text(max_size=60))
def test_split_full_name_only_returns_words_it_was_given(full: str) -> None:
    name = split_full_name(full)
    for part in (name.first, name.middle, name.last):
        assert part is None or (part and part == part.strip() and part in " ".join(full.split()))
