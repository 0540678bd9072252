"""Documents shared with the client: rule C11 (and C9: psychotherapy notes never)."""

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.documents.service import attach_document
from app.memberships.service import make_provider
from app.models import Client, ClientDocument, Group, User
from tests.documents.conftest import PDF, documents_url, upload
from tests.fixtures.factories import make_group, make_user, user_headers


async def test_the_client_lists_and_downloads_only_what_was_shared(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule C11
    headers = await user_headers(db, provider)
    kept = (await upload(client, group, client_record, headers, data=PDF + b"%kept\n", name="kept.pdf")).json()
    shared = (await upload(client, group, client_record, headers, name="plan.pdf")).json()
    note = await attach_document(db, app.state.storage, group_id=group.id, client_id=client_record.id, file_name="note.pdf",
                                 content_type="application/pdf", data=PDF + b"%note\n", category="psychotherapy_note",
                                 source="upload", uploaded_by=provider.id)
    url = documents_url(group, client_record)
    ok = await client.patch(f"{url}/{shared['id']}", json={"shared_with_client": True}, headers=headers)
    assert ok.status_code == 200 and ok.json()["shared_with_client"] is True
    # rule C9: a psychotherapy note is never shared
    refused = await client.patch(f"{url}/{note.id}", json={"shared_with_client": True}, headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "document_never_shared"
    person = await db.get(User, client_record.user_id)
    mine = await user_headers(db, person)
    listed = await client.get("/v1/me/documents", headers=mine)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == [shared["id"]]
    download = await client.get(f"/v1/me/documents/{shared['id']}", headers=mine)
    assert download.status_code == 200 and download.content == PDF
    for hidden in (kept["id"], str(note.id)):
        assert (await client.get(f"/v1/me/documents/{hidden}", headers=mine)).status_code == 404
    # someone else sees nothing of it
    stranger = await make_user(db, first_name="Stranger", last_name="Person")
    assert (await client.get(f"/v1/me/documents/{shared['id']}", headers=await user_headers(db, stranger))).status_code == 404
    # unsharing takes it away
    await client.patch(f"{url}/{shared['id']}", json={"shared_with_client": False}, headers=headers)
    assert (await client.get("/v1/me/documents", headers=mine)).json()["items"] == []


async def test_shared_documents_come_from_every_practice_of_the_person(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule C11: across practices
    person = await db.get(User, client_record.user_id)
    elsewhere = await make_group(db, name="Elsewhere")
    other = await make_user(db, first_name="Other", last_name="Provider")
    await make_provider(db, elsewhere, other, "LPC")
    there: Client
    there, _ = await enroll(db, group_id=elsewhere.id, user=person, provider_user_id=other.id, added_by=other.id)
    for g, record, who in ((group, client_record, provider), (elsewhere, there, other)):
        headers = await user_headers(db, who)
        doc = (await upload(client, g, record, headers)).json()
        await client.patch(f"{documents_url(g, record)}/{doc['id']}", json={"shared_with_client": True}, headers=headers)
    listed = (await client.get("/v1/me/documents", headers=await user_headers(db, person))).json()["items"]
    assert {d["group_id"] for d in listed} == {str(group.id), str(elsewhere.id)}


async def test_nothing_is_shared_with_a_person_before_they_accept_the_practice(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client
) -> None:
    # rule C8, C11: a pending record points to an account the person has not accepted this practice for
    person = await db.get(User, client_record.user_id)
    elsewhere = await make_group(db, name="Elsewhere")
    other = await make_user(db, first_name="Other", last_name="Provider")
    await make_provider(db, elsewhere, other, "LPC")
    pending, _ = await enroll(db, group_id=elsewhere.id, user=person, provider_user_id=other.id, added_by=other.id,
                              consented=False)
    headers = await user_headers(db, other)
    doc = (await upload(client, elsewhere, pending, headers)).json()
    refused = await client.patch(f"{documents_url(elsewhere, pending)}/{doc['id']}", json={"shared_with_client": True},
                                 headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "client_not_consented"
    assert "accepted" in refused.json()["detail"]
    # even a flag set by other means shows nothing to the person
    await db.execute(update(ClientDocument).where(ClientDocument.id == doc["id"]).values(shared_with_client=True))
    assert (await client.get("/v1/me/documents", headers=await user_headers(db, person))).json()["items"] == []
