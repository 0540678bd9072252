"""Hostile and broken archives are refused with a clear reason, before or while inflating
(rule I11). Nothing is ever extracted to disk."""

import io
import stat
import zipfile

import pytest

from app.imports.parsers import ImportFormat, ImportLimits, read_import, read_zip_member
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import rejected

CARD = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101", None)
CARD_NAME = "Contacts/Jane Doe - 1001.vcf"
NOTE_NAME = "Medical Records/Jane Doe/Note.pdf"


def export_with(*entries: gen.RawEntry, **options: object) -> bytes:
    """A minimal SimplePractice export (one card) plus the given raw members."""
    return gen.raw_zip([gen.stored(CARD_NAME, CARD), *entries], **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["../evil.vcf", "Contacts/../../evil.vcf", "/etc/passwd", "C:\\evil.txt", "C:/evil.txt",
     "Contacts\\evil.vcf", "Medical Records/Jane Doe/..", "evil.txt\x00.pdf"],
)
def test_paths_escaping_the_archive_are_refused(name: str) -> None:
    # rule I11: zip slip, absolute paths, drive letters, backslashes, NUL tricks
    error = rejected(lambda: read_import(export_with(gen.stored(name, b"x"))), "zip_unsafe_path")
    assert error.extra["member"] == name


def test_harmless_dots_in_names_are_fine() -> None:
    data = export_with(gen.stored("Medical Records/Jane Doe/notes..v2.pdf", b"x"))
    assert read_import(data).rows[0].documents[0].file_name == "notes..v2.pdf"


def test_symlink_entry_is_refused() -> None:
    link = gen.stored("Medical Records/Jane Doe/link.pdf", b"/etc/passwd",
                      external_attr=(stat.S_IFLNK | 0o777) << 16)
    rejected(lambda: read_import(export_with(link)), "zip_symlink")


def test_deflate_bomb_is_refused_from_the_central_directory() -> None:
    # rule I11: 10 MB of zeros deflates about 1000:1
    bomb = gen.deflated("Medical Records/Jane Doe/zeros.pdf", bytes(10_000_000))
    error = rejected(lambda: read_import(export_with(bomb)), "zip_bomb")
    assert error.extra["member"].endswith("zeros.pdf")


def test_small_highly_compressible_members_are_fine() -> None:
    # Below ImportLimits.ratio_floor the ratio is not judged: blank forms compress that well.
    blank = gen.deflated("Medical Records/Jane Doe/blank.pdf", bytes(500_000))
    assert read_import(export_with(blank)).rows[0].documents[0].size == 500_000


def test_declared_giant_member_is_refused_without_inflating() -> None:
    giant = gen.stored("Medical Records/Jane Doe/big.pdf", b"x", file_size=3 * 2**30)
    rejected(lambda: read_import(export_with(giant)), "zip_member_too_large")


def test_declared_total_over_the_limit_is_refused() -> None:
    members = [gen.stored(f"Medical Records/Jane Doe/{i}.pdf", bytes(range(256)) * 400)
               for i in range(5)]
    limits = ImportLimits(max_uncompressed_total=400_000)
    rejected(lambda: read_import(export_with(*members), limits=limits), "zip_bomb")


def test_member_inflating_beyond_its_declared_size_is_stopped() -> None:
    # The central directory says 1,000 bytes; the data inflates to 10 MB. The declared ratio
    # looks harmless, so only counting while inflating can catch it.
    liar = gen.deflated("Medical Records/Jane Doe/liar.pdf", bytes(10_000_000), file_size=1000)
    error = rejected(lambda: read_import(export_with(liar)), "zip_bomb")
    assert "declared size" in error.detail


def test_lying_member_is_stopped_when_read_later_too() -> None:
    liar = gen.deflated(NOTE_NAME, bytes(10_000_000), file_size=1000)
    rejected(lambda: read_zip_member(export_with(liar), NOTE_NAME), "zip_bomb")


def test_member_shorter_than_declared_is_refused() -> None:
    short = gen.stored(NOTE_NAME, b"abc", file_size=10)
    rejected(lambda: read_import(export_with(short)), "zip_corrupt")


def test_bad_crc_is_refused() -> None:
    rejected(lambda: read_import(export_with(gen.stored(NOTE_NAME, b"abc", crc=1))), "zip_corrupt")


def test_lying_workbook_part_is_refused_before_calamine_reads_it() -> None:
    workbook = zipfile.ZipFile(io.BytesIO(gen.people_xlsx(2)))
    entries = [gen.deflated(info.filename, workbook.read(info)) for info in workbook.infolist()]
    entries.append(gen.deflated("xl/media/zeros.bin", bytes(5_000_000), file_size=100))
    rejected(lambda: read_import(gen.raw_zip(entries)), "zip_bomb")


def test_too_many_entries_is_refused() -> None:
    members = [gen.stored(f"Medical Records/Jane Doe/{i}.pdf", b"x") for i in range(5)]
    limits = ImportLimits(max_zip_entries=5)
    error = rejected(lambda: read_import(export_with(*members), limits=limits),
                     "zip_too_many_entries")
    assert error.extra["limit"] == 5


@pytest.mark.parametrize(("count", "zip64"), [(60_000, False), (70_000_000, True)])
def test_entry_count_is_checked_before_the_central_directory_is_parsed(
    count: int, zip64: bool
) -> None:
    # The end record claims more entries than allowed; zipfile is never asked to build them.
    data = export_with(declared_count=count, zip64=zip64)
    rejected(lambda: read_import(data), "zip_too_many_entries")


def test_zip64_end_record_with_an_honest_count_is_read() -> None:
    assert read_import(export_with(zip64=True)).rows[0].first_name == "Jane"


def test_overlapping_entries_are_refused() -> None:
    # Two central-directory records pointing at the same local data: the kernel of a
    # "better zip bomb" (Python 3.11.7's zipfile does not look for this).
    data = bytearray(export_with(gen.stored(NOTE_NAME, b"abc")))
    central = data.rfind(b"PK\x01\x02")
    first = data.find(b"PK\x01\x02")
    data[central + 42 : central + 46] = data[first + 42 : first + 46]
    rejected(lambda: read_import(bytes(data)), "zip_bomb")


def test_same_name_twice_is_refused() -> None:
    data = export_with(gen.stored(NOTE_NAME, b"a"), gen.stored(NOTE_NAME, b"b"))
    rejected(lambda: read_import(data), "zip_corrupt")


def test_unsupported_compression_is_refused() -> None:
    data = gen.zip_bytes([(CARD_NAME, CARD)], method=zipfile.ZIP_BZIP2)
    rejected(lambda: read_import(data), "zip_unsupported_method")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_archive_is_refused(cut: float) -> None:
    data = gen.simplepractice_export()
    rejected(lambda: read_import(data[: int(len(data) * cut)]), "zip_corrupt")


def test_zip_header_followed_by_garbage_is_refused() -> None:
    rejected(lambda: read_import(b"PK\x03\x04" + bytes(range(256)) * 10), "zip_corrupt")


def test_password_protected_export_without_password_is_refused() -> None:
    data = gen.encrypt_zip(gen.simplepractice_export(), "s3cret")
    error = rejected(lambda: read_import(data), "zip_encrypted")
    assert "password" in error.detail


def test_password_protected_export_with_wrong_password_is_refused() -> None:
    data = gen.encrypt_zip(gen.simplepractice_export(), "s3cret")
    rejected(lambda: read_import(data, password="guess"), "zip_password_wrong")


def test_password_protected_export_with_its_password_is_read() -> None:
    data = gen.encrypt_zip(gen.simplepractice_export(), "s3cret")
    parsed = read_import(data, password="s3cret")
    assert parsed.format is ImportFormat.SIMPLEPRACTICE_ZIP
    assert parsed.rows == read_import(gen.simplepractice_export()).rows
    member = parsed.rows[0].documents[0].member_name
    assert read_zip_member(data, member, password="s3cret").startswith(b"%PDF")


def test_aes_encrypted_export_is_refused_with_advice() -> None:
    aes = gen.RawEntry(NOTE_NAME, b"\x00" * 40, method=99, file_size=10, flags=0x1)
    error = rejected(lambda: read_import(export_with(aes), password="any"), "zip_encrypted")
    assert error.extra["method"] == "aes"
    assert "without a password" in error.detail
