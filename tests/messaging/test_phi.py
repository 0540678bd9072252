"""PHI stays out of logs, audit rows and mail (DESIGN.md 8, rule R2): message bodies are never written anywhere
but the messages table."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group, User
from tests.fixtures.factories import user_headers
from tests.messaging.conftest import conversations_url, messages_url, my_messages_url

SECRET = "I stopped taking the sertraline"
REPLY = "Thank you for telling me about the sertraline"


async def test_message_bodies_reach_no_log_audit_row_or_mail(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_person: User, client_record: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.core.logging import configure_logging

    configure_logging("DEBUG")
    capsys.readouterr()
    pro, me = await user_headers(db, provider), await user_headers(db, client_person)
    conversation_id = (await client.post(conversations_url(group), json={"client_id": str(client_record.id)}, headers=pro)).json()["id"]
    assert (await client.post(my_messages_url(conversation_id), json={"body": SECRET}, headers=me)).status_code == 201
    assert (await client.post(messages_url(group, conversation_id), json={"body": REPLY}, headers=pro)).status_code == 201
    await client.get(messages_url(group, conversation_id), headers=pro)
    await client.get(my_messages_url(conversation_id), headers=me)
    # Refusals too: a validation error, a closed door, a send nobody may make.
    await client.post(my_messages_url(conversation_id), json={"body": SECRET, "extra": SECRET}, headers=me)
    await client.post(my_messages_url(conversation_id), json={"body": SECRET + "\x00"}, headers=me)
    await client.post(messages_url(group, conversation_id), json={"body": SECRET}, headers=me)
    output = capsys.readouterr().out
    assert '"path":"/v1/me/conversations/' in output  # the access log is there...
    for phi in ("sertraline", "Casey"):
        assert phi not in output, phi  # ...without what the requests carried

    for table in ("audit_events", "mail_messages", "outbox_jobs"):
        dump = (await db.execute(text(f"SELECT coalesce(string_agg(t::text, ','), '') FROM {table} t"))).scalar_one()
        assert "sertraline" not in dump, table
    actions = (await db.execute(text("SELECT array_agg(DISTINCT action) FROM audit_events"))).scalar_one()
    assert {"conversation.opened", "conversation.message_sent", "conversation.messages_read"} <= set(actions)
