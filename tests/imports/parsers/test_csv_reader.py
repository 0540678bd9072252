"""Hand-made and exported CSV files (rules I2, I3, I4, I11)."""

import pytest

from app.imports.parsers import Badge, ImportFormat, ImportLimits, read_import
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import identities, rejected

ROWS = [["First Name", "Last Name", "Email", "Mobile Phone"],
        ["Zoë", "Müller", "zoe@example.com", "555-0101"],
        ["Chloé", "de la Cruz", "chloe@example.com", ""]]
EXPECTED = [("Zoë", "Müller", "zoe@example.com", "555-0101"),
            ("Chloé", "de la Cruz", "chloe@example.com", None)]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bom": True},
        {"encoding": "windows-1252"},
        {"delimiter": ";"},
        {"delimiter": ";", "sep_hint": True},
        {"delimiter": ";", "sep_hint": True, "bom": True},
        {"delimiter": ";", "sep_hint": True, "line_ending": "\r"},
        {"delimiter": "\t", "sep_hint": True, "line_ending": "\n"},
        {"delimiter": "\t"},
        {"delimiter": "|"},
        {"line_ending": "\n"},
        {"line_ending": "\r"},
    ],
    ids=lambda options: ",".join(f"{k}={v!r}" for k, v in options.items()) or "plain",
)
def test_encodings_and_delimiters(options: dict) -> None:
    # rule I2: what Excel and other tools write in different locales
    parsed = read_import(gen.csv_bytes(ROWS, **options))
    assert parsed.format is ImportFormat.CSV
    assert identities(parsed.rows) == EXPECTED


def test_windows_1252_is_a_warning_not_an_error() -> None:
    parsed = read_import(gen.csv_bytes(ROWS, encoding="windows-1252"))
    assert [w.code for w in parsed.warnings] == ["encoding_guessed"]
    assert read_import(gen.csv_bytes(ROWS)).warnings == ()


def test_bytes_neither_utf8_nor_windows_1252_are_refused() -> None:
    # rule I11: 0x81 and 0x8D are undefined in Windows-1252
    data = b"First Name,Last Name\nJ\x81ne,D\x8De\n"
    rejected(lambda: read_import(data), "bad_encoding")


def test_bom_that_lies_is_refused() -> None:
    data = b"\xef\xbb\xbfFirst Name,Last Name\nJ\xe9r\xf4me,Doe\n"
    rejected(lambda: read_import(data), "bad_encoding")


@pytest.mark.parametrize(
    "header",
    [
        ["first name", " LAST NAME ", "E-mail", "mobile_phone"],
        ["FirstName", "LastName", "EMAIL", "Mobile"],
        ["First_Name", "Last-Name", "Email Address", "Cell Phone"],
        ["Given name", "Surname", "e.mail", "Phone Number"],
    ],
)
def test_header_matching_ignores_case_spacing_and_punctuation(header: list[str]) -> None:
    # rule I2
    parsed = read_import(gen.csv_bytes([header, ROWS[1]]))
    assert identities(parsed.rows) == EXPECTED[:1]


def test_mobile_is_preferred_over_other_phone_columns() -> None:
    rows = [["Phone", "First Name", "Last Name", "Mobile Phone"],
            ["555-0190", "Jane", "Doe", "555-0191"],
            ["555-0192", "Omar", "Haddad", ""]]
    assert [row.phone for row in read_import(gen.csv_bytes(rows)).rows] == ["555-0191", "555-0192"]


def test_header_found_below_title_rows_and_line_numbers_count_them() -> None:
    rows = [["Client list"], ["Exported 2024-05-01", ""], [], *ROWS]
    parsed = read_import(gen.csv_bytes(rows))
    assert identities(parsed.rows) == EXPECTED
    assert [row.line for row in parsed.rows] == [5, 6]
    assert [row.source_ref for row in parsed.rows] == ["row 5", "row 6"]


def test_sep_hint_line_counts_in_line_numbers() -> None:
    parsed = read_import(gen.csv_bytes(ROWS, delimiter=";", sep_hint=True))
    assert [row.line for row in parsed.rows] == [3, 4]


def test_header_beyond_the_first_rows_is_not_searched() -> None:
    rows = [[f"note {i}"] for i in range(12)] + ROWS
    rejected(lambda: read_import(gen.csv_bytes(rows)), "missing_columns")


def test_empty_trailing_columns_and_rows_are_skipped() -> None:
    data = (b"First Name,Last Name,Email,,,\r\nJane,Doe,jane@example.com,,,\r\n,,,,,\r\n"
            b"\r\n,,\r\n   ,  ,\r\n")
    parsed = read_import(data)
    assert identities(parsed.rows) == [("Jane", "Doe", "jane@example.com", None)]


def test_cells_are_trimmed_and_blank_cells_are_none() -> None:
    data = b"First Name,Last Name,Email,Phone\n  Jane ,\tDoe , ,\n"
    assert identities(read_import(data).rows) == [("Jane", "Doe", None, None)]


def test_short_rows_and_quoted_multiline_cells() -> None:
    data = (b'First Name,Last Name,Notes,Email\n'
            b'Jane,Doe,"line 1\nline 2, still notes",j@example.com\nOmar\n')
    parsed = read_import(data)
    assert identities(parsed.rows) == [("Jane", "Doe", "j@example.com", None),
                                       ("Omar", None, None, None)]
    # the second record starts on the fourth physical line but is the third record
    assert [row.line for row in parsed.rows] == [2, 3]


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["Email", "Phone"], ["First Name", "Last Name"]),
        (["First Name", "Email"], ["Last Name"]),
        (["Surname", "Email"], ["First Name"]),
        (["Name", "Email"], ["First Name", "Last Name"]),
    ],
)
def test_missing_required_columns_are_named(header: list[str], missing: list[str]) -> None:
    # rule I2: refused as a whole, naming the missing columns
    error = rejected(lambda: read_import(gen.csv_bytes([header, ["x", "y"]])), "missing_columns")
    assert error.extra["missing"] == missing
    assert all(name in error.detail for name in missing)


def test_header_only_is_refused_as_no_rows() -> None:
    # Chosen behaviour: a readable file with no client in it is refused, not returned empty.
    error = rejected(lambda: read_import(b"First Name,Last Name,Email\r\n\r\n"), "no_rows")
    assert error.extra["format"] == ImportFormat.CSV


def test_five_megabyte_field_is_refused() -> None:
    # rule I11
    data = b"First Name,Last Name,Notes\nJane,Doe,ok\nOmar,Haddad," + b"x" * 5_000_000 + b"\n"
    error = rejected(lambda: read_import(data), "field_too_large")
    assert error.extra["line"] == 3
    assert error.extra["column"] == "Notes"


def test_field_over_the_csv_module_default_limit_is_read_when_allowed() -> None:
    # The csv module's own 128 KiB guard is raised; ImportLimits decides.
    data = b"First Name,Last Name,Notes\nJane,Doe," + b"x" * 200_000 + b"\n"
    limits = ImportLimits(max_field_chars=300_000)
    assert read_import(data, limits=limits).rows[0].first_name == "Jane"


def test_too_many_rows_is_refused() -> None:
    # rule I11
    limits = ImportLimits(max_rows=10)
    assert len(read_import(gen.people_csv(10), limits=limits).rows) == 10
    error = rejected(lambda: read_import(gen.people_csv(11), limits=limits), "too_many_rows")
    assert error.extra["limit"] == 10


def test_simplepractice_client_details_report() -> None:
    # rule I3: the Client column is split; couples and minors are badged
    parsed = read_import(gen.simplepractice_details_csv())
    assert parsed.format is ImportFormat.SIMPLEPRACTICE_CLIENT_DETAILS
    assert [(r.first_name, r.last_name, r.email, r.phone, r.badges) for r in parsed.rows] == [
        ("Jane", "Doe", "jane.doe@example.com", "555-0101", ()),
        ("Alex", "Rivera", "rivera@example.com", "555-0102", (Badge.COUPLE,)),
        ("Timmy", "Tester", "pat.tester@example.com", "555-0103", (Badge.MINOR_CONTACT_USED,)),
        # the repeated "Phone number" header fills the gap left by the first
        ("Zoë", "Núñez-García", "zoe@example.com", "555-0104", ()),
        ("John", "Smith", "john.smith@example.com", "555-0105", ()),
        ("Ana", "de la Cruz", "ana@example.com", "555-0106", ()),
    ]


def test_insurance_and_payment_data_never_reach_rows() -> None:
    # rule I4
    parsed = read_import(gen.simplepractice_details_csv())
    values = {value for row in parsed.rows for value in _all_text(row)}
    assert not any(marker in value for marker in gen.INSURANCE_MARKERS for value in values)


def test_simplepractice_demographics_report_is_recognised_with_a_warning() -> None:
    rows = [["Client", "Contact", "Age", "Date of birth", "Sex", "Gender identity", "City"],
            ["Jane Q. Doe", "", "44", "01/02/1980", "F", "Woman", "Springfield"]]
    parsed = read_import(gen.csv_bytes(rows, bom=True))
    assert parsed.format is ImportFormat.SIMPLEPRACTICE_CLIENT_DEMOGRAPHICS
    assert identities(parsed.rows) == [("Jane", "Doe", None, None)]


def test_jane_export() -> None:
    # rule I3: phone is Mobile, then Home, then Work; the patient number is the reference
    parsed = read_import(gen.csv_bytes(gen.jane_rows()))
    assert parsed.format is ImportFormat.JANE
    assert [(r.phone, r.source_ref, r.badges) for r in parsed.rows] == [
        ("555-0111", "17", ()),
        ("555-0120", "18", ()),
        ("555-0132", "19", ()),
        ("555-0141", "20", (Badge.DECEASED,)),
    ]


def test_jane_is_recognised_whatever_the_column_order() -> None:
    header, *rows = gen.jane_rows()
    order = list(reversed(range(len(header))))
    shuffled = [[row[i] for i in order] for row in [header, *rows]]
    assert read_import(gen.csv_bytes(shuffled)).format is ImportFormat.JANE


def test_formula_like_cells_are_kept_raw() -> None:
    # Neutralising `=`, `+`, `-`, `@` belongs to whatever exports the data again, not to reading.
    data = b"First Name,Last Name,Phone\n=HYPERLINK(1),Doe,+1 555 0100\n"
    row = read_import(data).rows[0]
    assert (row.first_name, row.phone) == ("=HYPERLINK(1)", "+1 555 0100")


def _all_text(row: object) -> list[str]:
    return [str(getattr(row, name)) for name in row.__slots__]  # type: ignore[attr-defined]
