"""Client documents through the API: rules C7, R1, R2, X2, and the upload's own limits."""

import hashlib

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core.storage import Storage
from app.documents.router import _UPLOAD_BODY_LIMIT
from app.models import Client, Group, User
from tests.documents.conftest import (
    PDF,
    PNG,
    audit_events,
    documents_of,
    documents_url,
    stored_files,
    upload,
)
from tests.fixtures.factories import api_key, bearer, user_headers


async def test_upload_list_download_round_trip(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, storage: Storage
) -> None:
    # rule C7: documents belong to the client and are listed and downloaded by those who may see the client
    headers = await user_headers(db, provider)
    first = await upload(client, group, client_record, headers, PDF, "Intake notes.pdf")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["client_id"] == str(client_record.id)
    assert (body["file_name"], body["content_type"], body["size_bytes"]) == ("Intake notes.pdf", "application/pdf", len(PDF))
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (body["source"], body["uploaded_by_user_id"]) == ("upload", str(provider.id))
    assert first.headers["location"] == f"{documents_url(group, client_record)}/{body['id']}"
    second = await upload(client, group, client_record, headers, PNG, "scan.png", "image/png")
    assert second.status_code == 201, second.text

    listed = await client.get(documents_url(group, client_record), headers=headers)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()["items"]] == [second.json()["id"], body["id"]]  # newest first
    assert listed.json()["items"][1] == body

    download = await client.get(f"{documents_url(group, client_record)}/{body['id']}", headers=headers)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-length"] == str(len(PDF))
    assert download.headers["content-disposition"] == "attachment; filename=\"Intake notes.pdf\"; filename*=UTF-8''Intake%20notes.pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"
    # The bytes live in storage under a key the server made, not under the uploaded name.
    assert stored_files(storage) == sorted(
        f"groups/{group.id}/clients/{client_record.id}/{d}" for d in (body["id"], second.json()["id"])
    )


async def test_every_upload_list_and_download_is_audited_with_ids_only(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule R2: every read or change of client data, who and which record, never its content
    headers = await user_headers(db, provider)
    document_id = (await upload(client, group, client_record, headers, name="Jordan Blake diagnosis.pdf")).json()["id"]
    await client.get(documents_url(group, client_record), headers=headers)
    await client.get(f"{documents_url(group, client_record)}/{document_id}", headers=headers)
    events = await audit_events(db, group)
    assert [(e.action, e.target_type, e.target_id) for e in events] == [
        ("document.uploaded", "client_document", document_id),
        ("document.listed", "client", str(client_record.id)),
        ("document.downloaded", "client_document", document_id),
    ]
    assert all(e.actor_user_id == provider.id and str(e.actor_ip) == "203.0.113.7" and e.request_id for e in events)
    assert events[0].details == {"client_id": str(client_record.id), "source": "upload", "category": "clinical"}
    assert "diagnosis" not in str([e.details for e in events])


async def test_the_type_comes_from_the_content_not_the_name(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule C7: a PDF named evil.exe and declared as an executable is stored as the PDF it is
    response = await upload(client, group, client_record, await user_headers(db, provider), PDF, "evil.exe", "application/x-msdownload")
    assert response.status_code == 201, response.text
    assert (response.json()["content_type"], response.json()["file_name"]) == ("application/pdf", "evil.exe.pdf")


REFUSED = {
    "windows executable": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    "linux executable": b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
    "html": b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
    "html after blank lines": b"\n\n   <script>fetch('/v1/me')</script>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "zip": b"PK\x03\x04" + b"\x00" * 60,
    "binary": bytes(range(255, -1, -1)),
}


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
async def test_disallowed_content_named_as_a_pdf_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, storage: Storage, data: bytes
) -> None:
    # rule C7: only the allow-listed types, whatever the name and declared type say
    response = await upload(client, group, client_record, await user_headers(db, provider), data, "report.pdf", "application/pdf")
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "document_type_refused"
    assert "application/pdf" in response.json()["allowed_types"]
    assert await documents_of(db, client_record) == [] and stored_files(storage) == []


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        ("../../../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\System32\\report.pdf", "report.pdf"),
        ("/var/lib/caseload/files/x.pdf", "x.pdf"),
        ("..", "document.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe.pdf"),  # the right-to-left override would show "exe.pdf"
        ("esc\x1b[31mred.pdf", "esc[31mred.pdf"),
        ("a" * 400 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
async def test_path_traversal_and_control_characters_in_the_name_are_neutralised(
    client: httpx.AsyncClient,
    db: AsyncSession,
    group: Group,
    provider: User,
    client_record: Client,
    storage: Storage,
    declared: str,
    stored: str,
) -> None:
    # rule C7: the name is a label, never a path
    response = await upload(client, group, client_record, await user_headers(db, provider), PDF, declared)
    assert response.status_code == 201, response.text
    assert response.json()["file_name"] == stored
    (key,) = stored_files(storage)
    assert key == f"groups/{group.id}/clients/{client_record.id}/{response.json()['id']}"


async def test_a_unicode_name_is_sent_back_in_rfc_5987_form(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    headers = await user_headers(db, provider)
    document = (await upload(client, group, client_record, headers, PDF, "Zoë résumé; 100%.pdf")).json()
    download = await client.get(f"{documents_url(group, client_record)}/{document['id']}", headers=headers)
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Zo_ r_sum_; 100_.pdf\"; filename*=UTF-8''Zo%C3%AB%20r%C3%A9sum%C3%A9%3B%20100%25.pdf"
    )


async def test_plain_text_is_stored_as_utf8_text(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    headers = await user_headers(db, provider)
    text = "Session note: client reports better sleep. Ünïcödé ok.\n".encode()
    document = (await upload(client, group, client_record, headers, text, "note", "application/octet-stream")).json()
    assert (document["content_type"], document["file_name"]) == ("text/plain; charset=utf-8", "note.txt")
    download = await client.get(f"{documents_url(group, client_record)}/{document['id']}", headers=headers)
    assert download.headers["content-type"] == "text/plain; charset=utf-8" and download.content == text


async def test_a_document_over_the_size_limit_is_refused(
    client: httpx.AsyncClient,
    db: AsyncSession,
    group: Group,
    provider: User,
    client_record: Client,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MAX_DOCUMENT_BYTES: one document's limit (25 MB by default)
    monkeypatch.setattr(get_settings(), "max_document_bytes", len(PDF) + 10)
    headers = await user_headers(db, provider)
    response = await upload(client, group, client_record, headers, PDF + b"%" * 11)
    assert response.status_code == 413, response.text
    assert (response.json()["code"], response.json()["max_bytes"]) == ("document_too_large", len(PDF) + 10)
    assert (await upload(client, group, client_record, headers, PDF + b"%" * 10)).status_code == 201
    assert len(stored_files(storage)) == 1


async def test_a_body_over_the_routes_limit_is_cut_off_with_a_problem(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, storage: Storage
) -> None:
    # The route's body limit (the document limit plus the multipart envelope) stops a huge body early.
    response = await upload(client, group, client_record, await user_headers(db, provider), PDF + b"0" * _UPLOAD_BODY_LIMIT)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert stored_files(storage) == []


async def test_an_empty_file_or_no_file_is_a_validation_error(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    headers = await user_headers(db, provider)
    empty = await upload(client, group, client_record, headers, b"")
    assert (empty.status_code, empty.json()["code"]) == (422, "document_empty")
    missing = await client.post(documents_url(group, client_record), data={"note": "no file"}, headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (422, "validation_failed")
    assert missing.json()["errors"][0]["field"] == "body.file"
    two = await client.post(
        documents_url(group, client_record), files=[("file", ("a.pdf", PDF)), ("file", ("b.pdf", PDF))], headers=headers
    )
    assert two.status_code == 400 and two.json()["code"] == "bad_request"


async def test_another_groups_member_finds_nothing_and_stores_nothing(
    client: httpx.AsyncClient,
    db: AsyncSession,
    group: Group,
    provider: User,
    stranger: User,
    other_group: Group,
    client_record: Client,
    storage: Storage,
) -> None:
    # rule R1: another group's client does not exist for this caller (404), and nothing is written
    document_id = (await upload(client, group, client_record, await user_headers(db, provider))).json()["id"]
    for headers in (await user_headers(db, stranger), bearer(await api_key(db, other_group))):
        refused = await upload(client, group, client_record, headers, PNG, "x.png", "image/png")
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
        # Not even a malformed upload tells them more than "not found".
        assert (await client.post(documents_url(group, client_record), json={}, headers=headers)).status_code == 404
        assert (await client.get(documents_url(group, client_record), headers=headers)).status_code == 404
        assert (await client.get(f"{documents_url(group, client_record)}/{document_id}", headers=headers)).status_code == 404
    assert len(await documents_of(db, client_record)) == 1 and len(stored_files(storage)) == 1


async def test_a_provider_does_not_see_a_colleagues_clients_documents(
    client: httpx.AsyncClient,
    db: AsyncSession,
    group: Group,
    provider: User,
    colleague: User,
    colleagues_client: Client,
    storage: Storage,
) -> None:
    # rule R1 and the capability table: a provider's client list is their own roster
    document_id = (await upload(client, group, colleagues_client, await user_headers(db, colleague))).json()["id"]
    headers = await user_headers(db, provider)
    assert (await client.get(documents_url(group, colleagues_client), headers=headers)).status_code == 404
    assert (await client.get(f"{documents_url(group, colleagues_client)}/{document_id}", headers=headers)).status_code == 404
    assert (await upload(client, group, colleagues_client, headers)).status_code == 404
    assert len(stored_files(storage)) == 1


async def test_a_document_is_reached_only_through_its_own_client(
    client: httpx.AsyncClient,
    db: AsyncSession,
    group: Group,
    admin: User,
    client_record: Client,
    colleagues_client: Client,
) -> None:
    # rule R1: a document id under another client's path is not found
    headers = await user_headers(db, admin)
    document_id = (await upload(client, group, client_record, headers)).json()["id"]
    assert (await client.get(f"{documents_url(group, colleagues_client)}/{document_id}", headers=headers)).status_code == 404
    unknown = await client.get(f"{documents_url(group, client_record)}/00000000-0000-4000-8000-000000000000", headers=headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


async def test_admins_and_the_groups_api_key_reach_every_roster(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, admin: User, client_record: Client
) -> None:
    # capability table: client list, admin column (whole group); API keys act for the group
    uploaded = (await upload(client, group, client_record, await user_headers(db, provider))).json()
    admin_headers = await user_headers(db, admin)
    download = await client.get(f"{documents_url(group, client_record)}/{uploaded['id']}", headers=admin_headers)
    assert download.status_code == 200 and download.content == PDF
    by_admin = await upload(client, group, client_record, admin_headers, PNG, "scan.png")
    assert by_admin.status_code == 201 and by_admin.json()["uploaded_by_user_id"] == str(admin.id)
    key_headers = bearer(await api_key(db, group))
    by_key = await upload(client, group, client_record, key_headers, PDF, "from-ehr.pdf")
    assert by_key.status_code == 201 and by_key.json()["uploaded_by_user_id"] is None
    listed = await client.get(documents_url(group, client_record), headers=key_headers)
    assert len(listed.json()["items"]) == 3
    (keyed,) = [e for e in await audit_events(db, group) if e.target_id == by_key.json()["id"]]
    assert keyed.actor_api_key_id is not None and keyed.actor_user_id is None


async def test_the_list_is_paginated_by_cursor(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    headers = await user_headers(db, provider)
    ids = [(await upload(client, group, client_record, headers, name=f"{n}.pdf")).json()["id"] for n in range(3)]
    first = (await client.get(documents_url(group, client_record), params={"limit": 2}, headers=headers)).json()
    assert [d["id"] for d in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    rest = (await client.get(documents_url(group, client_record), params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)).json()
    assert [d["id"] for d in rest["items"]] == [ids[0]] and rest["next_cursor"] is None


async def test_a_retried_upload_with_the_same_idempotency_key_is_stored_once(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, storage: Storage
) -> None:
    # rule X2: the retry (byte for byte the same request, multipart boundary included) gets the first response
    headers = {
        **await user_headers(db, provider),
        "Idempotency-Key": "upload-1",
        "Content-Type": "multipart/form-data; boundary=caseload-test-boundary",
    }
    first = await upload(client, group, client_record, headers)
    again = await upload(client, group, client_record, headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert len(await documents_of(db, client_record)) == 1 and len(stored_files(storage)) == 1
    other = await upload(client, group, client_record, headers, PNG, "other.png")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_a_document_whose_bytes_are_gone_is_a_clear_server_error(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, storage: Storage
) -> None:
    headers = await user_headers(db, provider)
    document_id = (await upload(client, group, client_record, headers)).json()["id"]
    for key in stored_files(storage):
        await storage.delete(key)
    response = await client.get(f"{documents_url(group, client_record)}/{document_id}", headers=headers)
    assert (response.status_code, response.json()["code"]) == (500, "document_unavailable")
    assert response.headers["content-type"] == "application/problem+json"
