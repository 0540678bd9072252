"""Access ends with the roster entry (rule C10): a provider whose entry is archived (transfer, archive) keeps
reading what existed while the client was theirs, and nothing created afterwards: documents, sessions, messages.

Committed transactions (live fixtures): each request is its own transaction with its own clock, as in production.
"""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import Message
from tests.documents.conftest import PDF
from tests.fixtures.factories import add_member, api_key, bearer, make_group, make_user, session_token
from tests.payouts.factories import make_session


async def file(http: httpx.AsyncClient, url: str, headers: dict[str, str], name: str, category: str = "clinical") -> str:
    response = await http.post(url, files={"file": (name, PDF, "application/pdf")}, data={"category": category}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def names(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> set[str]:
    response = await http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return {d["file_name"] for d in response.json()["items"]}


async def test_transfer_then_archive_the_former_provider_reads_only_what_existed(
    live_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    # rule C10 (and C9: the treating provider of the time keeps their own notes, not the next provider's)
    async with AsyncSession(engine, expire_on_commit=False) as db:
        owner = await make_user(db, first_name="Olive", last_name="Owner")
        group = await make_group(db, owner=owner, name="Transfer Practice")
        former, successor = await make_user(db, first_name="Fay"), await make_user(db, first_name="Sol")
        for provider in (former, successor):
            await make_provider(db, group, provider, "LPC")
        admin = await make_user(db, first_name="Ada")
        await add_member(db, group, admin, admin=True)
        person = await make_user(db, first_name="Casey", last_name="Client")
        record, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=former.id, added_by=owner.id)
        old_session = await make_session(db, group_id=group.id, provider_id=former.id, client_id=record.id,
                                          starts_at=datetime.now(UTC) + timedelta(days=2))
        heads = {name: bearer(await session_token(db, user)) for name, user in
                 (("former", former), ("successor", successor), ("owner", owner), ("admin", admin))}
        heads["key"] = bearer(await api_key(db, group))
        await db.commit()
    base = f"/v1/groups/{group.id}"
    docs = f"{base}/clients/{record.id}/documents"
    http = live_client

    await file(http, docs, heads["former"], "old chart.pdf")
    await file(http, docs, heads["former"], "old note.pdf", "psychotherapy_note")
    conversation = (await http.post(f"{base}/conversations", json={"client_id": str(record.id)}, headers=heads["former"])).json()
    sent = await http.post(f"{base}/conversations/{conversation['id']}/messages", json={"body": "See you Tuesday"},
                           headers=heads["former"])
    assert sent.status_code == 201, sent.text

    moved = await http.post(f"{base}/clients/{record.id}/transfer",
                            json={"from_provider_id": str(former.id), "to_provider_id": str(successor.id)}, headers=heads["owner"])
    assert moved.status_code == 200, moved.text

    new_chart = await file(http, docs, heads["successor"], "new chart.pdf")
    new_note = await file(http, docs, heads["successor"], "new note.pdf", "psychotherapy_note")
    admin_doc = await file(http, docs, heads["admin"], "new insurance card.pdf", "administrative")
    async with AsyncSession(engine, expire_on_commit=False) as db:
        # What no route lets happen after the transfer, written straight to the tables: a session put on the
        # former provider's calendar and a message in their conversation. The rule still hides them.
        late_session = await make_session(db, group_id=group.id, provider_id=former.id, client_id=record.id,
                                           starts_at=datetime.now(UTC) + timedelta(days=3))
        db.add(Message(conversation_id=uuid.UUID(conversation["id"]), sender_user_id=person.id, body="A late reply"))
        await db.commit()

    # The former provider: what existed, nothing after.
    assert await names(http, docs, heads["former"]) == {"old chart.pdf", "old note.pdf"}
    for document_id in (new_chart, new_note, admin_doc):
        assert (await http.get(f"{docs}/{document_id}", headers=heads["former"])).status_code == 404
    assert (await http.get(f"{base}/sessions/{old_session.id}", headers=heads["former"])).status_code == 200
    assert (await http.get(f"{base}/sessions/{late_session.id}", headers=heads["former"])).status_code == 404
    messages = (await http.get(f"{base}/conversations/{conversation['id']}/messages", headers=heads["former"])).json()["items"]
    assert [m["body"] for m in messages] == ["See you Tuesday"]
    refused = await http.post(docs, files={"file": ("x.pdf", PDF, "application/pdf")}, headers=heads["former"])
    assert refused.status_code == 409 and refused.json()["code"] == "client_not_on_your_roster"

    # The new provider treats the client now: the whole record, notes included; admins and keys: no notes.
    assert await names(http, docs, heads["successor"]) == {
        "old chart.pdf", "old note.pdf", "new chart.pdf", "new note.pdf", "new insurance card.pdf"}
    for who in ("admin", "key"):
        assert await names(http, docs, heads[who]) == {"old chart.pdf", "new chart.pdf", "new insurance card.pdf"}

    # Archive: the successor's entry ends too; what the admin adds afterwards is not theirs to read.
    archived = await http.post(f"{base}/clients/{record.id}/archive", json={}, headers=heads["successor"])
    assert archived.status_code == 200, archived.text
    await file(http, docs, heads["admin"], "after archive.pdf")
    seen = await names(http, docs, heads["successor"])
    assert "new note.pdf" in seen and "after archive.pdf" not in seen
    assert "after archive.pdf" in await names(http, docs, heads["admin"])
    async with engine.connect() as conn:  # the rule compares each object's creation with the entry's archiving
        entries = (await conn.execute(text("SELECT count(*) FROM roster_entries WHERE client_id = :c AND archived_at IS NOT NULL"),
                                      {"c": record.id})).scalar()
    assert entries == 2
