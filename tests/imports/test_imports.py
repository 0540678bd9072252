"""Client imports through the API (rules I1-I11), with the analysis job run in the test's transaction."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, ClientDocument, Group, OutboxJob, RosterEntry, User
from tests.imports import fixtures_gen as gen
from tests.imports.conftest import Importer, existing_client


async def test_upload_queues_the_analysis_and_it_makes_a_ready_import(importer: Importer, db: AsyncSession) -> None:
    # rules I1, I5
    response = await importer.upload(gen.people_csv(3))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["progress"]["rows_done"] == body["progress"]["rows_total"] == 0
    job = await db.scalar(select(OutboxJob).where(OutboxJob.function == "analyze_import"))
    assert job is not None and job.args == [body["id"]]
    from app.imports.analysis import analyze_import

    assert await analyze_import(importer.ctx, body["id"]) == "ready"
    imp = await importer.get(body["id"])
    assert imp["status"] == "ready" and imp["format"] == "csv" and imp["container"] == "csv"
    assert {k: imp["progress"][k] for k in ("rows_done", "rows_total", "rows_read")} == {"rows_done": 3, "rows_total": 3, "rows_read": 3}
    assert imp["counts"] == {"new": 3, "existing": 0, "uncertain": 0, "invalid": 0, "selected": 0}


def _jane_doe_csv(email: str = "jane@example.com", *extra: list[str]) -> bytes:
    return gen.csv_bytes([["First Name", "Last Name", "Email", "Mobile Phone"], ["Jane", "Doe", email, "212-555-0123"], *extra])


@pytest.mark.parametrize(
    ("data", "name", "format"),
    [
        (gen.people_csv(3), "clients.csv", "csv"),
        (gen.people_xlsx(3), "clients.xlsx", "xlsx"),
        (gen.google_vcards(), "contacts.vcf", "vcard"),
        (gen.simplepractice_export(), "export.zip", "simplepractice_zip"),
        (gen.simplepractice_details_csv(), "details.csv", "simplepractice_client_details"),
        (gen.csv_bytes(gen.jane_rows()), "jane.csv", "jane"),
        (gen.theranest_xlsx(), "theranest.xlsx", "theranest"),
        (gen.people_csv(2), "clients.xlsx", "csv"),  # the name lies: the content decides (I1)
    ],
)
async def test_every_format_makes_a_ready_import(importer: Importer, data: bytes, name: str, format: str) -> None:
    # rules I1, I3
    imp = await importer.analysed(data, name)
    assert imp["status"] == "ready", imp
    assert imp["format"] == format
    assert imp["progress"]["rows_done"] == imp["progress"]["rows_total"] > 0


def _bomb() -> bytes:
    card = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101", None)
    return gen.raw_zip([gen.stored("Contacts/Jane Doe - 1001.vcf", card),
                        gen.deflated("Medical Records/Jane Doe/zeros.pdf", bytes(10_000_000))])


def _with_member(entry: gen.RawEntry) -> bytes:
    card = gen.simplepractice_vcard("Jane", "Doe", "jane@example.com", "555-0101", None)
    return gen.raw_zip([gen.stored("Contacts/Jane Doe - 1001.vcf", card), entry])


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_bomb(), "zip_bomb"),
        (_with_member(gen.stored("../evil.vcf", b"x")), "zip_unsafe_path"),
        (_with_member(gen.stored("Medical Records/Jane Doe/link.pdf", b"/etc/passwd", external_attr=(0o120777) << 16)),
         "zip_symlink"),
        (gen.encrypt_zip(gen.simplepractice_export(), "s3cret"), "zip_encrypted"),
        (b"", "empty_file"),
        (b"   \r\n", "empty_file"),
        (bytes(range(256)) * 40, "unsupported_type"),
        (b"First Name,Last Name,Notes\nJane,Doe,ok\nOmar,Haddad," + b"x" * 5_000_000 + b"\n", "field_too_large"),
        (b"First Name,Last Name,Email\r\n", "no_rows"),
    ],
    ids=["zip_bomb", "zip_slip", "symlink", "encrypted_no_password", "empty", "blank", "garbage",
         "5mb_field", "header_only"],
)
async def test_hostile_and_broken_files_fail_with_their_code(
    importer: Importer, db: AsyncSession, group: Group, data: bytes, code: str
) -> None:
    # rule I11: refused as a whole with a clear reason; nothing imported
    before = await db.scalar(select(func.count()).select_from(Client))
    imp = await importer.analysed(data, "clients.csv")
    assert imp["status"] == "failed", imp
    assert imp["failure"]["code"] == code
    assert imp["failure"]["detail"]
    assert imp["counts"] is None and imp["progress"]["rows_done"] == 0
    assert await importer.rows(imp["id"]) == []
    assert (await importer.finalize(imp["id"])).status_code == 409
    assert await db.scalar(select(func.count()).select_from(Client)) == before


async def test_garbage_is_refused(importer: Importer) -> None:
    # rule I11
    imp = await importer.analysed(b"\x00\x01\x02\xff\xfe" * 1000 + b"\x00" * 100)
    assert imp["status"] == "failed" and imp["failure"]["code"] in ("unsupported_type", "bad_encoding")


async def test_encrypted_export_with_its_password_is_read_and_the_password_is_kept_only_encrypted(
    importer: Importer,
) -> None:
    data = gen.encrypt_zip(gen.simplepractice_export(), "s3cret")
    wrong = await importer.analysed(data, "export.zip", password="guess")
    assert wrong["failure"]["code"] == "zip_password_wrong"
    assert (await importer.stored(wrong["id"])).password_encrypted is None  # erased after analysis
    imp = await importer.analysed(data, "export.zip", password="s3cret")
    assert imp["status"] == "ready" and imp["format"] == "simplepractice_zip"
    stored = await importer.stored(imp["id"])
    assert stored.password_encrypted is not None and b"s3cret" not in stored.password_encrypted


async def test_missing_required_columns_are_named_and_the_import_waits_for_a_mapping(importer: Importer) -> None:
    # rules I2, I13: the missing columns are named; the person maps them instead of uploading again
    imp = await importer.analysed(gen.csv_bytes([["Name", "Email"], ["Jane Doe", "jane@example.com"]]))
    assert imp["status"] == "needs_mapping" and imp["failure"] is None
    assert imp["columns"]["missing"] == ["First Name", "Last Name"]
    assert imp["columns"]["headers"] == ["Name", "Email"]


@pytest.mark.parametrize(("data", "named"), [(gen.pdf_bytes(["not a list"]), "clients.csv"),
                                             (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "clients.xlsx"),
                                             (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.xls")])
async def test_a_file_of_another_type_is_refused_by_the_upload_itself(importer: Importer, data: bytes, named: str) -> None:
    # rules I1, I12: the type is read from the content and refused at once
    response = await importer.upload(data, named)
    assert response.status_code == 415 and response.json()["code"] == "unsupported_type"
    assert response.json()["detail"]


async def test_a_header_found_only_after_the_first_chunk_is_left_to_the_analysis(importer: Importer) -> None:
    # A header the precheck cannot see (past its window) is not refused early: the analysis decides.
    data = gen.csv_bytes([["Title " + "x" * 300_000], ["First Name", "Last Name", "Email"], ["Jane", "Doe", "j@example.com"]])
    imp = await importer.analysed(data)
    assert imp["status"] == "ready" and imp["counts"]["new"] == 1


async def test_rows_are_classified_new_existing_uncertain_invalid(
    importer: Importer, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule I6
    jane = await existing_client(db, group, owner, "Jane", "Doe", "jane@example.com")
    omar = await existing_client(db, group, owner, "Omar", "Haddad", "omar@example.com")
    data = gen.csv_bytes([
        ["First Name", "Last Name", "Email", "Mobile Phone"],
        ["Jane", "Doe", "JANE@example.com", "212-555-0123"],  # existing
        ["Omar", "Haddad", "omar.h@example.com", ""],  # uncertain: email differs
        ["Omar", "Haddad", "", ""],  # uncertain: missing email
        ["Zoe", "Smith", "omar@example.com", ""],  # uncertain: name mismatch
        ["Liam", "New", "liam@example.com", ""],  # new
        ["", "Nofirst", "nf@example.com", ""],  # invalid
        ["Ana", "Bad", "not-an-email", ""],  # invalid
    ])
    imp = await importer.analysed(data)
    assert imp["counts"] == {"new": 1, "existing": 1, "uncertain": 3, "invalid": 2, "selected": 1}
    rows = await importer.rows(imp["id"])
    by_line = {r["line"]: r for r in rows}
    assert by_line[2]["classification"] == "existing" and by_line[2]["selected"] and by_line[2]["matched_client_id"] == str(jane.id)
    assert by_line[2]["phone_e164"] == "+12125550123" and by_line[2]["email"] == "JANE@example.com"
    assert by_line[3]["badges"] == ["email_differs"] and not by_line[3]["selected"]
    assert by_line[3]["candidates"] == [{"client_id": str(omar.id), "first_name": "Omar", "last_name": "Haddad",
                                         "email": "omar@example.com"}]
    assert by_line[4]["badges"] == ["missing_email"]
    assert by_line[5]["badges"] == ["name_mismatch"] and by_line[5]["candidates"][0]["client_id"] == str(omar.id)
    assert by_line[6]["classification"] == "new" and not by_line[6]["selected"]
    assert by_line[7]["invalid_reason"] == "first name missing"
    assert by_line[8]["invalid_reason"] == "email is not a valid address"
    uncertain = await importer.rows(imp["id"], classification="uncertain")
    assert [r["line"] for r in uncertain] == [3, 4, 5]


async def test_rows_are_paginated(importer: Importer) -> None:
    imp = await importer.analysed(gen.people_csv(5))
    url = f"{importer.url}/{imp['id']}/rows"
    first = (await importer.http.get(url, params={"limit": 2}, headers=importer.headers)).json()
    second = (await importer.http.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=importer.headers)).json()
    assert [r["line"] for r in first["items"]] == [2, 3] and [r["line"] for r in second["items"]] == [4, 5]


async def test_a_duplicate_email_in_the_file_is_uncertain(importer: Importer) -> None:
    imp = await importer.analysed(_jane_doe_csv("jane@example.com", ["Janet", "Doe", "Jane@Example.com", ""]))
    rows = await importer.rows(imp["id"])
    assert rows[0]["classification"] == "new"
    assert rows[1]["classification"] == "uncertain" and "duplicate_in_file" in rows[1]["badges"]


async def test_reupload_after_fixing_an_email_turns_uncertain_into_existing(
    importer: Importer, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule I6
    jane = await existing_client(db, group, owner, "Jane", "Doe", "jane@example.com")
    typo = await importer.analysed(_jane_doe_csv("jane@exmaple.com"))
    [row] = await importer.rows(typo["id"])
    assert row["classification"] == "uncertain" and row["badges"] == ["email_differs"]
    fixed = await importer.analysed(_jane_doe_csv("jane@example.com"))
    [row] = await importer.rows(fixed["id"])
    assert row["classification"] == "existing" and row["matched_client_id"] == str(jane.id)


async def test_match_by_hand_only_to_an_offered_candidate(
    importer: Importer, db: AsyncSession, group: Group, owner: User
) -> None:
    # rule I7
    omar = await existing_client(db, group, owner, "Omar", "Haddad", "omar@example.com")
    other = await existing_client(db, group, owner, "Liam", "Other", "liam@example.com")
    imp = await importer.analysed(gen.csv_bytes([["First Name", "Last Name", "Email"], ["Omar", "Haddad", ""],
                                                 ["Ana", "Bad", "nope"]]))
    missing_email, invalid = await importer.rows(imp["id"])
    refused = await importer.patch(imp["id"], missing_email["id"], {"matched_client_id": str(other.id)})
    assert refused.status_code == 409 and refused.json()["code"] == "not_a_candidate"
    needs_match = await importer.patch(imp["id"], missing_email["id"], {"selected": True})
    assert needs_match.status_code == 409 and needs_match.json()["code"] == "match_required"
    matched = await importer.patch(imp["id"], missing_email["id"], {"matched_client_id": str(omar.id)})
    assert matched.status_code == 200, matched.text
    assert matched.json()["matched_client_id"] == str(omar.id) and matched.json()["selected"] is True
    invalid_select = await importer.patch(imp["id"], invalid["id"], {"selected": True})
    assert invalid_select.status_code == 409 and invalid_select.json()["code"] == "row_invalid"
    missing = await importer.patch(imp["id"], 999_999_999, {"selected": True})
    assert missing.status_code == 404
    finalized = await importer.finalize(imp["id"])
    assert finalized.json()["result"]["clients_linked"] == 1
    entries = await db.scalars(select(RosterEntry).where(RosterEntry.client_id == omar.id))
    assert len(list(entries)) == 1  # already on the roster: not added twice


async def test_bulk_selection_of_a_class(importer: Importer) -> None:
    imp = await importer.analysed(gen.people_csv(4))
    response = await importer.select(imp["id"], "new")
    assert response.status_code == 200 and response.json()["updated"] == 4
    assert response.json()["counts"]["selected"] == 4
    assert (await importer.select(imp["id"], "invalid")).status_code == 409
    assert (await importer.select(imp["id"], "new", False)).json()["counts"]["selected"] == 0


async def test_finalize_imports_links_and_is_idempotent(
    importer: Importer, db: AsyncSession, group: Group, owner: User, other_group: Group
) -> None:
    # rules I8, C2: one person, one record; a second finalize imports nothing twice
    jane = await existing_client(db, group, owner, "Jane", "Doe", "jane@example.com")
    elsewhere = await existing_client(db, other_group, owner, "Kenji", "Tanaka", "kenji@example.com")  # an account, no record here
    data = gen.csv_bytes([
        ["First Name", "Last Name", "Email", "Mobile Phone"],
        ["Jane", "Doe", "jane@example.com", ""],
        ["Kenji", "Tanaka", "KENJI@example.com", ""],
        ["Liam", "New", "liam@example.com", "(212) 555-0199"],
        ["Noah", "Unticked", "noah@example.com", ""],
        ["Ana", "Bad", "nope", ""],
    ])
    imp = await importer.analysed(data)
    rows = {r["line"]: r for r in await importer.rows(imp["id"])}
    for line in (3, 4):
        assert (await importer.patch(imp["id"], rows[line]["id"], {"selected": True})).status_code == 200
    users_before = await db.scalar(select(func.count()).select_from(User))
    first = await importer.finalize(imp["id"], send_welcome_email=True)
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert first.json()["status"] == "finalized"
    assert result == {"clients_imported": 2, "clients_linked": 1, "documents_attached": 0, "documents_skipped": 0, "documents_already_attached": 0,
                      "skipped": 2, "welcome_emails": 2}
    assert await db.scalar(select(func.count()).select_from(User)) == users_before + 1  # only Liam is new to Caseload
    kenji = await db.scalar(select(Client).where(Client.group_id == group.id, Client.user_id == elsewhere.user_id))
    assert kenji is not None
    liam = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "liam@example.com"))
    assert liam is not None and liam.phone == "+12125550199" and liam.billing_type == "private_pay"
    on_roster = set(await db.scalars(select(RosterEntry.client_id).where(RosterEntry.provider_user_id == owner.id,
                                                                         RosterEntry.archived_at.is_(None))))
    assert {jane.id, kenji.id, liam.id} <= on_roster
    outcomes = {r["line"]: (r["outcome"], r["client_id"]) for r in await importer.rows(imp["id"])}
    assert outcomes[2] == ("linked", str(jane.id)) and outcomes[3] == ("imported", str(kenji.id))
    assert outcomes[5][0] == outcomes[6][0] == "skipped"
    clients_before = await db.scalar(select(func.count()).select_from(Client))
    second = await importer.finalize(imp["id"], send_welcome_email=True)
    assert second.status_code == 200 and second.json()["result"] == result
    assert await db.scalar(select(func.count()).select_from(Client)) == clients_before
    assert (await importer.patch(imp["id"], rows[5]["id"], {"selected": True})).status_code == 409


async def test_large_finalize_runs_as_a_job(importer: Importer, db: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "import_finalize_inline_rows", 2)
    imp = await importer.analysed(gen.people_csv(3))
    await importer.select(imp["id"], "new")
    queued = await importer.finalize(imp["id"])
    assert queued.status_code == 202 and queued.json()["status"] == "finalizing"
    again = await importer.finalize(imp["id"])
    assert again.status_code == 202 and again.json()["status"] == "finalizing"
    assert await db.scalar(select(OutboxJob.args).where(OutboxJob.function == "finalize_import")) == [imp["id"]]
    assert await importer.run_finalize_job(imp["id"]) == "finalized"
    assert await importer.run_finalize_job(imp["id"]) == "finalized"  # a redelivery does nothing
    done = await importer.get(imp["id"])
    assert done["status"] == "finalized" and done["result"]["clients_imported"] == 3


async def test_simplepractice_documents_are_attached(
    importer: Importer, db: AsyncSession, group: Group, storage
) -> None:
    # rule I9: documents land on the client's attachments, source "import"
    data = gen.encrypt_zip(gen.simplepractice_export(), "s3cret")
    imp = await importer.analysed(data, "export.zip", password="s3cret")
    rows = await importer.rows(imp["id"])
    jane = next(r for r in rows if r["first_name"] == "Jane")
    assert jane["documents"] and all("member_name" not in d for d in jane["documents"])
    await importer.select(imp["id"], "new")
    done = (await importer.finalize(imp["id"])).json()
    assert done["result"]["documents_attached"] >= len(jane["documents"]) - 1
    client = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "jane.doe@example.com"))
    documents = list(await db.scalars(select(ClientDocument).where(ClientDocument.client_id == client.id)))
    assert documents and {d.source for d in documents} == {"import"}
    assert (await importer.stored(imp["id"])).password_encrypted is None  # erased once used


async def test_simplepractice_zip_is_for_solo_practices(importer: Importer, colleague: User) -> None:
    # rule I9
    imp = await importer.analysed(gen.simplepractice_export(), "export.zip")
    assert imp["status"] == "failed" and imp["failure"]["code"] == "simplepractice_zip_solo_only"
    assert "single provider" in imp["failure"]["detail"]


async def test_another_groups_import_is_not_found(
    importer: Importer, db: AsyncSession, other_group: Group
) -> None:
    # rule R1
    imp = await importer.analysed(gen.people_csv(1))
    outsider = await importer.http.get(f"/v1/groups/{other_group.id}/imports/{imp['id']}", headers=importer.headers)
    assert outsider.status_code == 404


async def test_a_provider_cannot_see_another_providers_import(
    importer: Importer, db: AsyncSession, group: Group, colleague: User, admin: User
) -> None:
    # rule R1: own work only, another provider's import is not there (404)
    from tests.fixtures.factories import user_headers

    imp = await importer.analysed(gen.people_csv(1))
    theirs = await user_headers(db, colleague)
    for path in ("", "/rows"):
        assert (await importer.http.get(f"{importer.url}/{imp['id']}{path}", headers=theirs)).status_code == 404
    assert (await importer.finalize_as(imp["id"], theirs)).status_code == 404
    listed = (await importer.http.get(importer.url, headers=theirs)).json()["items"]
    assert listed == []
    forbidden = await importer.http.post(importer.url, files={"file": ("a.csv", gen.people_csv(1))},
                                         data={"provider_id": str(importer.group.id)}, headers=theirs)
    assert forbidden.status_code in (403, 422)
    admins = await user_headers(db, admin)
    assert (await importer.http.get(f"{importer.url}/{imp['id']}", headers=admins)).status_code == 200
    assert [i["id"] for i in (await importer.http.get(importer.url, headers=admins)).json()["items"]] == [imp["id"]]


async def test_upload_limits_and_provider_checks(
    importer: Importer, db: AsyncSession, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings
    from tests.fixtures.factories import user_headers

    monkeypatch.setattr(get_settings(), "max_import_bytes", 1000)
    too_big = await importer.upload(gen.people_csv(100))
    assert too_big.status_code == 413 and too_big.json()["code"] == "import_too_large"
    admins = await user_headers(db, admin)
    no_provider = await importer.http.post(importer.url, files={"file": ("a.csv", gen.people_csv(1))}, headers=admins)
    assert no_provider.status_code == 422 and no_provider.json()["code"] == "not_a_provider"
    no_file = await importer.http.post(importer.url, data={"provider_id": "x"}, headers=importer.headers)
    assert no_file.status_code == 422


async def test_phi_stays_out_of_logs(importer: Importer, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    # DESIGN 8: ids in logs, never names or emails
    imp = await importer.analysed(_jane_doe_csv("jane.secret@example.com"))
    await importer.select(imp["id"], "new")
    await importer.finalize(imp["id"])
    unmapped = await importer.analysed(gen.csv_bytes([["Name", "Email"], ["Zelda Secret", "zelda@example.com"]]))
    assert unmapped["status"] == "needs_mapping"
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    for secret in ("jane.secret", "Zelda", "zelda@"):
        assert secret not in logged


async def test_a_parser_out_of_memory_refuses_the_file_not_the_worker(tmp_path) -> None:
    # rule I11: the parser runs in a child with a capped address space; the worker lives on
    from app.imports.analysis import parse_in_child

    path = tmp_path / "big.csv"
    path.write_bytes(gen.people_csv(50_000))
    outcome = await parse_in_child(str(path), None, 64 * 1024 * 1024)
    assert outcome[:2] == ("rejected", "file_unreadable")
    assert (await parse_in_child(str(path), None, 2 * 1024**3))[0] == "parsed"


class _BrokenStorage:
    def open(self, key: str):
        raise OSError("disk gone")


async def test_our_own_failure_is_retried_then_reported(importer: Importer) -> None:
    # I5: an import never stays `analyzing` for good
    from arq import Retry

    from app.imports.analysis import analyze_import

    response = await importer.upload(gen.people_csv(2))
    import_id = response.json()["id"]
    broken = {**importer.ctx, "storage": _BrokenStorage()}
    with pytest.raises(Retry):
        await analyze_import({**broken, "job_try": 1}, import_id)
    assert await analyze_import({**broken, "job_try": 3}, import_id) == "failed"
    imp = await importer.get(import_id)
    assert imp["status"] == "failed" and imp["failure"]["code"] == "analysis_error"


async def test_a_vanished_upload_fails_the_import(importer: Importer, storage) -> None:
    from app.imports.analysis import analyze_import
    from app.imports.service import storage_key

    response = await importer.upload(gen.people_csv(2))
    await storage.delete(storage_key(importer.group.id, response.json()["id"]))
    assert await analyze_import(importer.ctx, response.json()["id"]) == "failed"
    assert (await importer.get(response.json()["id"]))["failure"]["code"] == "upload_missing"


async def test_a_provider_is_not_shown_clients_of_another_roster_as_candidates(
    importer: Importer, db: AsyncSession, group: Group, owner: User, colleague: User
) -> None:
    # rules C7, R1 (a provider's client list is their own roster) and C2 (one record per person in the group):
    # the colleague imports a row whose email belongs to the owner's client; the row still links to that
    # record, but the colleague is not shown the owner's client's name and email, and cannot match by hand to it.
    from tests.fixtures.factories import user_headers

    omar = await existing_client(db, group, owner, "Omar", "Haddad", "omar@example.com")
    theirs = Importer(importer.http, db, group, await user_headers(db, colleague), importer.ctx)
    imp = await theirs.analysed(gen.csv_bytes([["First Name", "Last Name", "Email"], ["Omer", "Haddad", "omar@example.com"],
                                               ["Omar", "Haddad", ""]]), provider_id=str(colleague.id))
    mismatch, missing_email = await theirs.rows(imp["id"])
    assert mismatch["classification"] == missing_email["classification"] == "uncertain"
    assert mismatch["candidates"] == [] and missing_email["candidates"] == []
    refused = await theirs.patch(imp["id"], missing_email["id"], {"matched_client_id": str(omar.id)})
    assert refused.status_code == 409 and refused.json()["code"] == "not_a_candidate"
    assert str(omar.id) not in refused.text
    # the owner (an admin: every roster) sees the candidate
    owners_view = await importer.rows(imp["id"])
    assert owners_view[0]["candidates"][0]["client_id"] == str(omar.id)


async def test_imported_clients_still_need_billing_and_can_be_welcomed(importer: Importer, db: AsyncSession) -> None:
    # rule I10 (and C4): an imported client is not ready (no billing, no verified account, no forms); the
    # welcome email goes to new clients only when asked
    from tests.fixtures.mail import mails_to

    data = gen.csv_bytes([["First Name", "Last Name", "Email"], ["Maya", "Welcomed", "maya@example.com"],
                          ["Omar", "Quiet", "omar.quiet@example.com"]])
    imp = await importer.analysed(data)
    assert (await importer.select(imp["id"], "new")).status_code == 200
    first = await importer.finalize(imp["id"], send_welcome_email=True)
    assert first.status_code == 200 and first.json()["result"]["welcome_emails"] == 2
    assert len(await mails_to(db, "maya@example.com")) == 1 and len(await mails_to(db, "omar.quiet@example.com")) == 1
    maya = await db.scalar(select(Client).where(Client.group_id == importer.group.id, Client.email == "maya@example.com"))
    response = await importer.http.get(f"/v1/groups/{importer.group.id}/clients/{maya.id}", headers=importer.headers)
    readiness = response.json()["readiness"]
    assert readiness["ready"] is False
    assert {"account_verified", "billing_method_on_file", "billing_policy_acknowledged"} <= set(readiness["missing"])
    # without the flag, nobody is mailed
    quiet = await importer.analysed(gen.csv_bytes([["First Name", "Last Name", "Email"], ["Ivy", "Unmailed", "ivy@example.com"]]))
    await importer.select(quiet["id"], "new")
    assert (await importer.finalize(quiet["id"])).json()["result"]["welcome_emails"] == 0
    assert await mails_to(db, "ivy@example.com") == []


async def test_finalize_puts_new_and_linked_clients_on_the_importing_providers_roster_once(
    importer: Importer, db: AsyncSession, group: Group, owner: User, colleague: User
) -> None:
    # rules I8, C2, G7: a new record goes on the roster; a linked record of another provider's roster joins this
    # one too (one record, two rosters); one already on it is not added twice
    theirs = await existing_client(db, group, colleague, "Omar", "Haddad", "omar@example.com")
    mine = await existing_client(db, group, owner, "Jane", "Doe", "jane@example.com")
    data = gen.csv_bytes([["First Name", "Last Name", "Email"], ["Omar", "Haddad", "omar@example.com"],
                          ["Jane", "Doe", "jane@example.com"], ["Liam", "New", "liam@example.com"]])
    imp = await importer.analysed(data)
    assert imp["counts"]["existing"] == 2
    await importer.select(imp["id"], "new")
    done = (await importer.finalize(imp["id"])).json()
    assert done["result"]["clients_imported"] == 1 and done["result"]["clients_linked"] == 2
    liam = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "liam@example.com"))
    entries = list(await db.execute(select(RosterEntry.client_id, RosterEntry.provider_user_id)
                                    .where(RosterEntry.archived_at.is_(None))))
    assert sorted(p == owner.id for c, p in entries if c == theirs.id) == [False, True]
    assert [p for c, p in entries if c == mine.id] == [owner.id]
    assert [p for c, p in entries if c == liam.id] == [owner.id]
    # what finalize creates has time-ordered ids (UUIDv7): 100,000 of them append to their indexes
    assert liam.id.version == liam.user_id.version == 7


async def test_simplepractice_notes_and_messages_are_filed_restricted(
    importer: Importer, db: AsyncSession, group: Group, admin: User
) -> None:
    # rule C9: the export's Psychotherapy Notes and Secure messages come in restricted; admins never see them
    from tests.fixtures.factories import user_headers

    imp = await importer.analysed(gen.simplepractice_export(), "export.zip")
    admin_headers = await user_headers(db, admin)
    admin_rows = (await importer.http.get(f"{importer.url}/{imp['id']}/rows", params={"limit": "200"}, headers=admin_headers)).json()["items"]
    admin_jane = next(r for r in admin_rows if r["first_name"] == "Jane")
    assert {d["category"] for d in admin_jane["documents"]}.isdisjoint({"psychotherapy_notes", "secure_messages"})
    await importer.select(imp["id"], "new")
    assert (await importer.finalize(imp["id"])).status_code == 200
    client = await db.scalar(select(Client).where(Client.group_id == group.id, Client.email == "jane.doe@example.com"))
    filed = {d.file_name: d.category for d in await db.scalars(select(ClientDocument).where(ClientDocument.client_id == client.id))}
    assert filed["Session 1.pdf"] == "psychotherapy_note"
    assert filed["Dr Morgan Lee-Jane Doe.txt"] == "message"
    assert filed["Consent.pdf"] == "administrative"
    assert filed["Progress Note 2024-01-05.pdf"] == "clinical"
    url = f"/v1/groups/{group.id}/clients/{client.id}/documents"
    mine = {d["file_name"] for d in (await importer.http.get(url, headers=importer.headers)).json()["items"]}
    assert {"Session 1.pdf", "Dr Morgan Lee-Jane Doe.txt"} <= mine  # the solo provider who treats the client
    theirs = {d["file_name"] for d in (await importer.http.get(url, headers=admin_headers)).json()["items"]}
    assert "Consent.pdf" in theirs and not theirs & {"Session 1.pdf", "Dr Morgan Lee-Jane Doe.txt"}
