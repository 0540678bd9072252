"""Names kept whole, problems per row and column, and corrections at review (rule I12)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, Client, Group, User
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer, existing_client

DETAILS = ["Client", "Client type", "Date added", "Primary clinician", "Phone number", "Email"]


def details_csv(*people: tuple[str, str, str]) -> bytes:
    return gen.csv_bytes([DETAILS, *[[name, "Adult", "2024-01-01", "Dr Lee", phone, email] for name, phone, email in people]],
                         bom=True)


async def test_a_three_word_name_keeps_every_word_up_to_the_new_client(
    importer: Importer, db: AsyncSession, group: Group
) -> None:
    # rule I12: SimplePractice's one-column Client: the middle word is kept, and the new client has it
    imp = await importer.analysed(details_csv(("Trần Thị Lan", "212-555-0101", "lan@example.com")))
    [row] = await importer.rows(imp["id"])
    assert (row["first_name"], row["middle_name"], row["last_name"]) == ("Trần", "Thị", "Lan")
    assert "name_split_guessed" in row["badges"]
    await importer.select(imp["id"], "new")
    assert (await importer.finalize(imp["id"])).status_code == 200
    client = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "lan@example.com"))
    assert (client.first_name, client.last_name) == ("Trần Thị", "Lan")
    user = await db.get(User, client.user_id)
    assert (user.first_name, user.last_name) == ("Trần Thị", "Lan")


async def test_review_corrects_a_split_and_the_row_is_classified_again(
    importer: Importer, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule I12: the person fixes the split; the row is analysed again against the group's clients (I6)
    await existing_client(db, group, owner, "Mary Ann", "Smith", "maryann@example.com")
    imp = await importer.analysed(details_csv(("Mary Ann Smith", "", "maryann@example.com")))
    [row] = await importer.rows(imp["id"])
    # the middle name counts for matching: "Mary" + "Ann" is the client "Mary Ann Smith"
    assert row["classification"] == "existing" and row["middle_name"] == "Ann"
    fixed = await importer.patch(imp["id"], row["id"], {"first_name": "Mary Ann", "middle_name": ""})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert (body["first_name"], body["middle_name"], body["classification"]) == ("Mary Ann", None, "existing")
    assert "edited" in body["badges"] and "name_split_guessed" not in body["badges"]
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "import.row_edited"))
    assert event.details["fields"] == ["first_name", "middle_name"]
    assert "Mary" not in str(event.details)  # which fields, never the values


async def test_fixing_an_invalid_email_makes_the_row_importable(importer: Importer) -> None:
    # rule I12: an email typo no longer means uploading the file again
    imp = await importer.analysed(gen.csv_bytes([["First Name", "Last Name", "Email"], ["Ana", "Diaz", "ana@@example"]]))
    [row] = await importer.rows(imp["id"])
    assert row["classification"] == "invalid"
    assert {"row": 2, "column": "email", "code": "invalid", "message": "The email is not a valid address."} in row["problems"]
    refused = await importer.patch(imp["id"], row["id"], {"email": "still not an email"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.email"
    refused = await importer.patch(imp["id"], row["id"], {"last_name": None})
    assert refused.status_code == 422
    fixed = await importer.patch(imp["id"], row["id"], {"email": "ana@example.com", "selected": True})
    assert fixed.status_code == 200
    assert (fixed.json()["classification"], fixed.json()["selected"], fixed.json()["problems"]) == ("new", True, [])
    done = await importer.finalize(imp["id"])
    assert done.json()["result"]["clients_imported"] == 1
    # once finalized, nothing is edited any more
    late = await importer.patch(imp["id"], row["id"], {"first_name": "Anna"})
    assert late.status_code == 409 and late.json()["code"] == "import_finalized"


async def test_edits_refuse_control_characters_and_unknown_fields(importer: Importer) -> None:
    imp = await importer.analysed(gen.people_csv(1))
    [row] = await importer.rows(imp["id"])
    for body in ({"first_name": "A\x00b"}, {"first_name": "   "}, {"nickname": "x"}, {"first_name": "x" * 101}):
        assert (await importer.patch(imp["id"], row["id"], body)).status_code == 422, body


async def test_what_is_left_out_is_reported_per_row_and_column(importer: Importer) -> None:
    # rule I12: the second person of a couple row and a phone extension are not dropped silently
    imp = await importer.analysed(details_csv(("Alex & Sam Rivera", "(212) 555-0142 ext. 12", "alex@example.com"),
                                              ("Jo Park", "212-555-0143", "")))
    rows = {r["line"]: r for r in await importer.rows(imp["id"])}
    couple = {(p["column"], p["code"]) for p in rows[2]["problems"]}
    assert couple == {("name", "second_person_not_imported"), ("phone", "extension_dropped")}
    assert rows[2]["phone_e164"] == "+12125550142"
    assert {(p["row"], p["column"], p["code"]) for p in rows[3]["problems"]} == {(3, "email", "required")}


async def test_a_report_without_emails_is_diagnosed_for_the_whole_file(importer: Importer) -> None:
    # rule I12: SimplePractice's Client Demographics report has no emails: say what to upload instead
    demographics = gen.csv_bytes([["Client", "Contact", "Age", "Date of birth", "Sex"],
                                  ["Jane Doe", "", "40", "1984-01-01", "F"], ["Omar Haddad", "", "33", "1991-02-02", "M"]])
    imp = await importer.analysed(demographics)
    assert imp["status"] == "ready" and imp["counts"]["invalid"] == 2
    diagnosis = imp["warnings"][0]
    assert diagnosis["code"] == "nothing_importable" and "Client Details" in diagnosis["detail"]
    names_and_phones = await importer.analysed(gen.csv_bytes([["First Name", "Last Name", "Phone"], ["Jane", "Doe", "212-555-0101"]]))
    diagnosis = names_and_phones["warnings"][0]
    assert diagnosis["code"] == "nothing_importable" and "Add an Email column" in diagnosis["detail"]
    # a file with one importable row is not diagnosed as a whole
    fine = await importer.analysed(gen.csv_bytes([["First Name", "Last Name", "Email"], ["Jane", "Doe", "jane@example.com"],
                                                  ["Omar", "Haddad", ""]]))
    assert not any(w["code"] == "nothing_importable" for w in fine["warnings"])
