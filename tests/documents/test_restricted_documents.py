"""Restricted documents: psychotherapy notes and secure messages are for the treating providers only (rule C9)."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group, User
from tests.documents.conftest import PDF, documents_url
from tests.fixtures.factories import add_member, api_key, bearer, make_user, user_headers


async def file(http: httpx.AsyncClient, group: Group, client: Client, headers: dict[str, str], name: str,
               category: str | None = None) -> httpx.Response:
    data = {"category": category} if category else None
    return await http.post(documents_url(group, client), files={"file": (name, PDF, "application/pdf")}, data=data,
                           headers=headers)


async def test_notes_and_messages_are_invisible_to_admins_keys_and_other_providers(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User, provider: User, colleague: User,
    client_record: Client,
) -> None:
    # rule C9: only the client's treating providers read or list psychotherapy notes and messages
    treating = await user_headers(db, provider)
    note = await file(client, group, client_record, treating, "Session 4 process note.pdf", "psychotherapy_note")
    assert note.status_code == 201, note.text
    assert note.json()["category"] == "psychotherapy_note"
    message = await file(client, group, client_record, treating, "Secure message.pdf", "message")
    chart = await file(client, group, client_record, treating, "Treatment plan.pdf")  # the default category
    assert (message.json()["category"], chart.json()["category"]) == ("message", "clinical")

    listed = await client.get(documents_url(group, client_record), headers=treating)
    assert {d["file_name"] for d in listed.json()["items"]} == {
        "Session 4 process note.pdf", "Secure message.pdf", "Treatment plan.pdf"}
    assert (await client.get(f"{documents_url(group, client_record)}/{note.json()['id']}", headers=treating)).content == PDF

    admin = await make_user(db, first_name="Ada", last_name="Admin")
    await add_member(db, group, admin, admin=True)
    key = bearer(await api_key(db, group))
    # The owner is an admin and a provider of the group, but not this client's provider.
    for headers in (await user_headers(db, admin), await user_headers(db, owner), key):
        listed = await client.get(documents_url(group, client_record), headers=headers)
        assert listed.status_code == 200
        assert [d["file_name"] for d in listed.json()["items"]] == ["Treatment plan.pdf"]  # not even the names
        assert "process note" not in listed.text and "Secure message" not in listed.text
        for restricted in (note, message):
            download = await client.get(f"{documents_url(group, client_record)}/{restricted.json()['id']}", headers=headers)
            assert download.status_code == 404 and download.json()["code"] == "not_found"
        asked = await client.get(documents_url(group, client_record), params={"category": "psychotherapy_note"}, headers=headers)
        assert asked.json()["items"] == []
    # Another provider of the group does not reach the client at all.
    other = await client.get(f"{documents_url(group, client_record)}/{note.json()['id']}", headers=await user_headers(db, colleague))
    assert other.status_code == 404


async def test_the_category_filters_the_list(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User,
                                             client_record: Client) -> None:
    # rule C9: the category is shown and filterable
    headers = await user_headers(db, provider)
    for name, category in (("a.pdf", "billing"), ("b.pdf", "administrative"), ("c.pdf", "psychotherapy_note"), ("d.pdf", None)):
        assert (await file(client, group, client_record, headers, name, category)).status_code == 201
    by = {}
    for category in ("clinical", "administrative", "billing", "psychotherapy_note", "message"):
        listed = await client.get(documents_url(group, client_record), params={"category": category}, headers=headers)
        by[category] = [d["file_name"] for d in listed.json()["items"]]
    assert by == {"clinical": ["d.pdf"], "administrative": ["b.pdf"], "billing": ["a.pdf"],
                  "psychotherapy_note": ["c.pdf"], "message": []}
    refused = await client.get(documents_url(group, client_record), params={"category": "secret"}, headers=headers)
    assert refused.status_code == 422
    bad = await file(client, group, client_record, headers, "e.pdf", "diary")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.category"


async def test_only_a_treating_provider_files_a_note(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User,
                                                     client_record: Client) -> None:
    # rule C9: an admin or a key cannot file what they could never read back
    key = bearer(await api_key(db, group))
    for headers in (await user_headers(db, owner), key):
        refused = await file(client, group, client_record, headers, "note.pdf", "psychotherapy_note")
        assert refused.status_code == 403 and refused.json()["code"] == "restricted_document_category"
        assert (await file(client, group, client_record, headers, "intake.pdf", "administrative")).status_code == 201
