"""Whatever the bytes, a reader either returns rows or refuses with ImportRejected (rule I11);
and what a writer puts in comes back out."""

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.imports.parsers import ImportRejected, ImportRow, ParsedImport, read_import
from tests.imports import fixtures_gen as gen

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def samples() -> tuple[bytes, ...]:
    return (
        gen.people_csv(5),
        gen.simplepractice_details_csv(),
        gen.people_xlsx(5),
        gen.theranest_xlsx(),
        gen.google_vcards(),
        gen.outlook_vcard("Jürgen", "Müller", note="Grüße " * 20),
        gen.vcard4(),
        gen.simplepractice_export(),
    )


def read_or_refuse(data: bytes) -> ParsedImport | ImportRejected:
    try:
        parsed = read_import(data)
    except ImportRejected as error:
        assert error.code and error.detail
        return error
    assert parsed.rows
    assert all(isinstance(row, ImportRow) for row in parsed.rows)
    return parsed


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    read_or_refuse(data)


@FAST
@given(st.data())
def test_damaged_real_files(data: st.DataObject) -> None:
    sample = bytearray(data.draw(st.sampled_from(samples())))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(sample) - 1))
        sample[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(sample)))
    read_or_refuse(bytes(sample[:cut]))


names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=30,
).map(str.strip).filter(bool)


@FAST
@given(st.lists(st.tuples(names, names), min_size=1, max_size=5),
       st.sampled_from([",", ";", "\t"]), st.booleans())
def test_csv_round_trip(people: list[tuple[str, str]], delimiter: str, bom: bool) -> None:
    rows = [["First Name", "Last Name"], *[[first, last] for first, last in people]]
    parsed = read_import(gen.csv_bytes(rows, delimiter=delimiter, bom=bom))
    assert [(row.first_name, row.last_name) for row in parsed.rows] == people


@FAST
@given(names.filter(lambda name: "&" not in name and " and " not in name.lower()), names)
def test_vcard_round_trip_with_apple_folding(first: str, last: str) -> None:
    # ("&" in a first name is read as a couple, which has its own test)
    row = read_import(gen.apple_vcard(first, last, note=first * 5)).rows[0]
    assert (row.first_name, row.last_name) == (first, last)
