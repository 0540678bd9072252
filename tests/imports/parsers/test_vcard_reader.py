"""vCard files from Google, Apple, Outlook and vCard 4.0 writers (rules I1, I3)."""

import pytest

from app.imports.parsers import Badge, ImportFormat, ImportLimits, read_import
from app.imports.parsers.vcard_reader import parse_vcards
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import identities, rejected


def test_google_contacts() -> None:
    parsed = read_import(gen.google_vcards())
    assert parsed.format is ImportFormat.VCARD
    assert identities(parsed.rows) == [
        # the grouped item2.TEL labelled Mobile wins over the home number
        ("Jane", "Doe", "jane.home@example.com", "555-0161"),
        # escaped \, and \; are unescaped inside N's components
        ("Liam, Jr", "O;Brien", "liam@example.com", None),
    ]
    # the organisation-only card (N:;;;; with ORG) is skipped, and said so
    assert [row.line for row in parsed.rows] == [1, 3]
    assert [w.code for w in parsed.warnings] == ["organisations_skipped"]


@pytest.mark.parametrize(
    ("first", "last"),
    [("Zoë", "Müller-Lüdenscheidt"), ("Дмитрий", "Иванов"), ("美咲", "山田"), ("Ana", "de la Cruz")],
)
def test_apple_folding_inside_utf8_characters(first: str, last: str) -> None:
    # Apple folds at 75 octets, cutting multibyte characters; unfolding happens on bytes.
    note = "é" * 100 + "😀" * 30
    data = gen.apple_vcard(first, last, note=note)
    assert any(len(line) == 75 for line in data.split(b"\r\n"))
    row = read_import(data).rows[0]
    assert (row.first_name, row.last_name) == (first, last)
    # type=pref beats a mobile number for both email and phone
    assert (row.email, row.phone) == ("home@example.com", "555-0170")


def test_outlook_21_quoted_printable_windows_1252() -> None:
    data = gen.outlook_vcard("Jürgen", "Müller", note="Grüße aus Köln. " * 20)
    assert b"=\r\n" in data  # soft line breaks are really there
    row = read_import(data).rows[0]
    assert identities([row]) == [("Jürgen", "Müller", "outlook@example.com", "555-0181")]


def test_outlook_21_raw_8bit_windows_1252_without_charset() -> None:
    data = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Müller;Jürgen\r\nTEL;HOME:555-0182\r\nEND:VCARD\r\n"
    row = read_import(data.encode("windows-1252")).rows[0]
    assert (row.first_name, row.last_name, row.phone) == ("Jürgen", "Müller", "555-0182")


def test_quoted_printable_utf8_charset() -> None:
    data = (b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
            b"N;CHARSET=utf-8;ENCODING=QUOTED-PRINTABLE:N=C3=BA=C3=B1ez;Jos=\r\n=C3=A9;;;\r\n"
            b"END:VCARD\r\n")
    row = read_import(data).rows[0]
    assert (row.first_name, row.last_name) == ("José", "Núñez")


def test_vcard_4() -> None:
    parsed = read_import(gen.vcard4())
    # FN without N is split; PREF=1 wins for email; the tel: URI and its extension are kept
    assert identities(parsed.rows) == [
        ("Kenji", "Tanaka", "kenji@example.com", "+1-555-555-0191 ext. 7")
    ]
    # KIND:org is not a person
    assert len(parsed.rows) == 1


def test_lf_line_endings_and_tab_folding() -> None:
    data = b"BEGIN:VCARD\nVERSION:3.0\nN:Do\n\te;Ja\n ne;;;\nEMAIL:jane@exa\n mple.com\nEND:VCARD\n"
    assert identities(read_import(data).rows) == [("Jane", "Doe", "jane@example.com", None)]


def test_fax_is_never_chosen_over_another_number() -> None:
    data = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\nTEL;TYPE=fax;TYPE=pref:555-0198\r\n"
            b"TEL;TYPE=home:555-0199\r\nEND:VCARD\r\n")
    assert read_import(data).rows[0].phone == "555-0199"


def test_couple_in_one_card_is_badged() -> None:
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Rivera;Alex & Sam;;;\r\nEND:VCARD\r\n"
    row = read_import(data).rows[0]
    assert (row.first_name, row.last_name, row.badges) == ("Alex", "Rivera", (Badge.COUPLE,))


def test_uid_is_the_source_reference_when_present() -> None:
    data = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:urn:uuid:1234\r\nN:Doe;Jane;;;\r\nEND:VCARD\r\n"
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Haddad;Omar;;;\r\nEND:VCARD\r\n")
    assert [row.source_ref for row in read_import(data).rows] == ["urn:uuid:1234", "card 2"]


def test_nested_agent_card_is_not_a_client() -> None:
    data = (b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\n"
            b"N:Agent;Secret\r\nEND:VCARD\r\nEMAIL:jane@example.com\r\nEND:VCARD\r\n")
    assert identities(read_import(data).rows) == [("Jane", "Doe", "jane@example.com", None)]


def test_last_card_without_end_is_kept() -> None:
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\n"
    assert read_import(data).rows[0].first_name == "Jane"


def test_birthday_is_parsed_for_document_matching() -> None:
    cards, _ = parse_vcards(
        b"BEGIN:VCARD\r\nN:Doe;Jane\r\nBDAY:1980-01-02\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nN:Doe;John\r\nBDAY:--0102\r\nEND:VCARD\r\n",
        ImportLimits(),
    )
    assert [str(card.birthday) for card in cards] == ["1980-01-02", "None"]


def test_only_organisations_is_refused_as_no_rows() -> None:
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Acme\r\nORG:Acme\r\nEND:VCARD\r\n"
    rejected(lambda: read_import(data), "no_rows")


def test_too_many_cards_is_refused() -> None:
    card = b"BEGIN:VCARD\r\nN:Doe;Jane\r\nEND:VCARD\r\n"
    rejected(lambda: read_import(card * 4, limits=ImportLimits(max_rows=3)), "too_many_rows")


def test_huge_value_is_refused_but_huge_photo_is_ignored() -> None:
    limits = ImportLimits(max_field_chars=1000)
    photo = b"PHOTO;ENCODING=b:" + b"QUJD" * 1000 + b"\r\n"
    ok = b"BEGIN:VCARD\r\nN:Doe;Jane\r\n" + photo + b"END:VCARD\r\n"
    assert read_import(ok, limits=limits).rows[0].first_name == "Jane"
    huge = b"BEGIN:VCARD\r\nN:Doe;Jane\r\nFN:" + b"x" * 2000 + b"\r\nEND:VCARD\r\n"
    error = rejected(lambda: read_import(huge, limits=limits), "field_too_large")
    assert error.extra["column"] == "FN"


def test_quoted_parameters_may_hold_colons_and_semicolons() -> None:
    data = (b'BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;Jane;;;\r\n'
            b'TEL;TYPE="home";LABEL="Front desk: ext; 2";PREF=1:tel:555-0197\r\n'
            b'TEL;TYPE="cell,voice":555-0196\r\nEND:VCARD\r\n')
    assert read_import(data).rows[0].phone == "555-0197"


def test_oversized_property_line_is_refused_before_it_is_parsed() -> None:
    limits = ImportLimits(max_field_chars=100)
    data = b'BEGIN:VCARD\r\nN:Doe;Jane\r\nTEL;X="' + b'";"' * 1000 + b'":555\r\nEND:VCARD\r\n'
    error = rejected(lambda: read_import(data, limits=limits), "field_too_large")
    assert (error.extra["line"], error.extra["column"]) == (1, "TEL")
