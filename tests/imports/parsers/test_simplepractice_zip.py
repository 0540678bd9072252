"""SimplePractice's "Complete" export: clients from vCards, documents by folder name (rules I3,
I4, I9)."""

import datetime

import pytest

from app.imports.parsers import (
    Badge,
    DocumentCategory,
    ExportDocuments,
    ImportFormat,
    ImportLimits,
    ImportRow,
    read_import,
    read_zip_member,
)
from tests.imports import fixtures_gen as gen
from tests.imports.parsers.helpers import rejected


def by_ref(rows: list[ImportRow]) -> dict[str, ImportRow]:
    return {row.source_ref: row for row in rows}


def documents(row: ImportRow) -> set[str]:
    return {document.member_name.rsplit("/", 2)[-2] + "/" + document.file_name
            for document in row.documents}


@pytest.mark.parametrize(
    ("root", "records"),
    [(gen.SP_ROOT, "Client records/"), ("", ""), (gen.SP_ROOT, ""), ("", "Client records/")],
)
def test_clients_come_from_the_cards_at_any_depth(root: str, records: str) -> None:
    # rule I9: optional top-level folder, optional Client records/ folder
    parsed = read_import(gen.simplepractice_export(root=root, records=records))
    assert parsed.format is ImportFormat.SIMPLEPRACTICE_ZIP
    assert [(r.line, r.first_name, r.last_name, r.email, r.phone, r.source_ref)
            for r in parsed.rows] == [
        (1, "Jane", "Doe", "jane.doe@example.com", "555-0101", "1001"),
        (2, "Alex", "Kim", "alex.kim@example.com", "555-0102", "1002"),
        (3, "Alex", "Kim", "alex.kim2@example.com", "555-0103", "1003"),
        (4, "Sam", "Rivera", "sam.rivera@example.com", "555-0104", "1004"),
        (5, "Chris", "Rivera", "chris.rivera@example.com", "555-0105", "1005"),
        # a guardian's card cannot be told from a client's: review decides
        (6, "Pat", "Guardian", "pat@example.com", "555-0106", "1006"),
        (7, "José", "Núñez", "jose@example.com", "555-0107", "1007"),
    ]


def test_documents_are_attached_by_first_and_last_name() -> None:
    rows = by_ref(read_import(gen.simplepractice_export()).rows)
    jane = rows["1001"]
    assert documents(jane) == {
        "Jane Doe/Progress Note 2024-01-05.pdf",
        "Questionnaires/PHQ-9.pdf",
        "Jane Doe/Session 1.pdf",
        "Jane Doe/Consent.pdf",
        # "<n>-<name>" in Stored documents gives back the original file name
        "Jane Doe/intake form.docx",
        "Secure messages/Dr Morgan Lee-Jane Doe.txt",
    }
    categories = {document.file_name: document.category for document in jane.documents}
    assert categories["Session 1.pdf"] is DocumentCategory.PSYCHOTHERAPY_NOTES
    assert categories["Dr Morgan Lee-Jane Doe.txt"] is DocumentCategory.SECURE_MESSAGES
    assert categories["intake form.docx"] is DocumentCategory.STORED_DOCUMENTS
    assert jane.badges == ()
    # case and accents do not matter: "Jose Nunez" is José Núñez's folder
    assert documents(rows["1007"]) == {"Jose Nunez/Note.pdf"}


def test_billing_documents_are_never_imported() -> None:
    # rule I4
    parsed = read_import(gen.simplepractice_export())
    names = [d.member_name for row in parsed.rows for d in row.documents]
    assert not any("Billing Documents" in name for name in names)
    warning = next(w for w in parsed.warnings if w.code == "billing_documents_skipped")
    assert warning.detail.startswith("3 ")


def test_billing_documents_cannot_be_read_by_name_either() -> None:
    # rule I4
    data = gen.simplepractice_export()
    name = gen.SP_ROOT + "Client records/Billing Documents/Jane Doe/Invoices/INV-0001.pdf"
    rejected(lambda: read_zip_member(data, name), "zip_member_not_found")


def test_same_name_clients_are_told_apart_by_the_dob_line() -> None:
    rows = by_ref(read_import(gen.simplepractice_export()).rows)
    older, younger = rows["1002"], rows["1003"]
    # plain-text DOB: 03/04/1975, and a deflated PDF stream with DOB: 1990-05-06
    assert documents(older) == {"Alex Kim/Note 1975.pdf"}
    assert documents(younger) == {"Alex Kim/Note 1990.pdf"}
    # the note without a DOB and the scan cannot be assigned: both rows say so
    assert older.badges == younger.badges == (Badge.DOCUMENTS_AMBIGUOUS,)


def test_same_name_clients_without_birthdays_get_nothing_guessed() -> None:
    card = gen.simplepractice_vcard("Alex", "Kim", "a@example.com", "555-0110", None)
    data = gen.zip_bytes([
        ("Contacts/Alex Kim - 1.vcf", card),
        ("Contacts/Alex Kim - 2.vcf", card),
        ("Medical Records/Alex Kim/Note.pdf", gen.pdf_bytes(["DOB: 01/02/1980"])),
    ])
    parsed = read_import(data)
    assert all(row.documents == () for row in parsed.rows)
    assert all(row.badges == (Badge.DOCUMENTS_AMBIGUOUS,) for row in parsed.rows)
    assert any(w.code == "documents_ambiguous" for w in parsed.warnings)


def test_couple_folder_goes_to_the_first_person() -> None:
    rows = by_ref(read_import(gen.simplepractice_export()).rows)
    assert documents(rows["1004"]) == {"Sam & Chris Rivera/Couples session.pdf"}
    assert rows["1004"].badges == (Badge.COUPLE,)
    assert rows["1005"].documents == ()


def test_unmatched_folders_are_reported_not_guessed() -> None:
    parsed = read_import(gen.simplepractice_export())
    warning = next(w for w in parsed.warnings if w.code == "documents_unmatched")
    assert warning.items == ("Nobody Known",)
    assert "Nobody Known" not in warning.detail  # details are safe to log


def test_mac_junk_is_ignored() -> None:
    with_junk = read_import(gen.simplepractice_export(mac_junk=True))
    without = read_import(gen.simplepractice_export(mac_junk=False))
    assert with_junk.rows == without.rows
    assert not any(w.code == "files_ignored" for w in with_junk.warnings)


def test_secure_message_with_hyphenated_names() -> None:
    card = gen.simplepractice_vcard("Mary-Jane", "Smith-Jones", "mj@example.com", "555-0120", None)
    data = gen.zip_bytes([
        ("Contacts/Mary-Jane Smith-Jones - 9.vcf", card),
        ("Secure messages/Dr Lee-Park-Mary-Jane Smith-Jones.txt", b"hi"),
        ("Secure messages/Dr Lee-Someone Else.txt", b"hi"),
    ])
    parsed = read_import(data)
    assert [d.file_name for d in parsed.rows[0].documents] == [
        "Dr Lee-Park-Mary-Jane Smith-Jones.txt"
    ]
    assert any(w.code == "documents_unmatched" for w in parsed.warnings)


def test_card_file_without_an_id_uses_its_name() -> None:
    card = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101",
                                    datetime.date(1980, 1, 2))
    data = gen.zip_bytes([("Contacts/Jane Doe.vcf", card + card)])
    assert [row.source_ref for row in read_import(data).rows] == ["Jane Doe", "Jane Doe#2"]


def test_files_outside_known_folders_are_counted() -> None:
    card = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101", None)
    data = gen.zip_bytes([("Contacts/Jane Doe - 1.vcf", card), ("README.txt", b"x"),
                          ("Medical Records/loose.pdf", b"x")])
    warning = next(w for w in read_import(data).warnings if w.code == "files_ignored")
    assert warning.detail.startswith("2 ")


def test_read_zip_member_returns_a_documents_bytes() -> None:
    # rule I9: documents are read at finalize, by name, under the same checks
    data = gen.simplepractice_export()
    jane = read_import(data).rows[0]
    message = next(d for d in jane.documents if d.category is DocumentCategory.SECURE_MESSAGES)
    assert read_zip_member(data, message.member_name) == b"Hello from the portal"
    assert len(read_zip_member(data, jane.documents[0].member_name)) == jane.documents[0].size


def test_export_documents_reads_every_attached_document() -> None:
    data = gen.simplepractice_export()
    export = ExportDocuments(data)
    for row in read_import(data).rows:
        for document in row.documents:
            assert len(export.read(document.member_name)) == document.size


def test_read_zip_member_refuses_cards_junk_and_unknown_names() -> None:
    data = gen.simplepractice_export()
    for name in (gen.SP_ROOT + "Contacts/Jane Q Doe - 1001.vcf", gen.SP_ROOT + ".DS_Store",
                 "no/such/file.pdf"):
        rejected(lambda: read_zip_member(data, name), "zip_member_not_found")


def test_too_many_cards_is_refused() -> None:
    rejected(lambda: read_import(gen.simplepractice_export(), limits=ImportLimits(max_rows=6)),
             "too_many_rows")


def test_export_with_only_organisation_cards_is_refused_as_no_rows() -> None:
    org = b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Acme\r\nORG:Acme\r\nEND:VCARD\r\n"
    rejected(lambda: read_import(gen.zip_bytes([("Contacts/Acme - 1.vcf", org)])), "no_rows")


@pytest.mark.parametrize("file_name", ["Dr Lee-Jane Q Doe.txt", "Dr Lee-Jane Q. Doe.txt", "Dr Lee-Jane Quinn Doe.txt"])
def test_secure_message_named_with_the_display_names_middle_initial_is_attached(file_name: str) -> None:
    # rules I15, I9: messages are named by the display name, middle initial included; the folders are not
    card = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101", None)
    display = "Jane Quinn Doe" if "Quinn" in file_name else "Jane Q. Doe" if "Q." in file_name else "Jane Q Doe"
    data = gen.zip_bytes([
        (f"Contacts/{display} - 1001.vcf", card),
        ("Medical Records/Jane Doe/Note.pdf", gen.pdf_bytes(["Client: Jane Doe"])),
        (f"Secure messages/{file_name}", b"hello"),
    ])
    parsed = read_import(data)
    assert sorted(d.file_name for d in parsed.rows[0].documents) == sorted(["Note.pdf", file_name])
    assert not any(w.code == "documents_unmatched" for w in parsed.warnings)


def test_the_cards_middle_name_is_kept() -> None:
    # rule I12: vCard N's additional names are part of the person's name
    card = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Nguy\xe1\xbb\x85n;Th\xe1\xbb\x8b;Minh;;\r\nFN:Th\xe1\xbb\x8b Minh Nguy\xe1\xbb\x85n\r\n"
            b"EMAIL;TYPE=home:minh@example.com\r\nEND:VCARD\r\n")
    row = read_import(card).rows[0]
    assert (row.first_name, row.middle_name, row.last_name) == ("Thị", "Minh", "Nguyễn")


def test_a_card_with_no_records_is_flagged_as_maybe_not_a_client() -> None:
    # rule I12: a guardian's or partner's card is not offered as a client without a flag
    rows = {row.first_name + " " + row.last_name: row for row in read_import(gen.simplepractice_export()).rows}
    assert Badge.NO_RECORDS in rows["Pat Guardian"].badges
    assert Badge.NO_RECORDS not in rows["Jane Doe"].badges
