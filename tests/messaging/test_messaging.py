"""Messaging between a provider and their client.

Capability table: messaging (provider: yes, with own clients; admin: no, messages are between a provider
and a client). Rules R1 (403 without the capability; 404 for what the caller may not see), R2 (audit).
"""

import uuid

from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.clients.service import enroll
from app.models import (
    Client,
    Conversation,
    Group,
    MailMessage,
    Message,
    RosterEntry,
    User,
)
from tests.fixtures.factories import api_key, bearer, make_user
from tests.messaging.conftest import (
    audit_events,
    conversations_url,
    messages_url,
    my_messages_url,
)


async def open_with(http, group: Group, client: Client) -> dict:
    response = await http.post(conversations_url(group), {"client_id": str(client.id)})
    assert response.status_code == 201, response.text
    return response.json()


async def unread_for_provider(http, group: Group, conversation_id: str) -> int:
    items = (await http.get(conversations_url(group))).json()["items"]
    return next(item["unread_count"] for item in items if item["id"] == conversation_id)


async def unread_for_client(http, conversation_id: str) -> int:
    items = (await http.get("/v1/me/conversations")).json()["items"]
    return next(item["unread_count"] for item in items if item["id"] == conversation_id)


async def fingerprint(db: AsyncSession) -> dict[str, str]:
    prints = {}
    for table in ("conversations", "messages", "audit_events", "mail_messages", "idempotency_records"):
        # Refused attempts are recorded (rule R3): everything else in the audit log must stay as it was.
        where = " WHERE t.action <> 'access.refused'" if table == "audit_events" else ""
        query = f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t{where}"
        prints[table] = (await db.execute(text(query))).scalar_one()
    return prints


async def test_provider_and_client_exchange_messages_and_unread_counts_flip(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # capability table: messaging, provider "yes" with own clients; the client answers through /v1/me
    pro, me = await as_user(provider), await as_user(client_person)
    opened = await open_with(pro, group, client_record)
    assert opened["client"] == {"id": str(client_record.id), "first_name": "Casey", "last_name": "Client"}
    assert (opened["group_id"], opened["unread_count"], opened["open"], opened["last_message_at"]) == (str(group.id), 0, True, None)
    again = await pro.post(conversations_url(group), {"client_id": str(client_record.id)})
    assert again.status_code == 200 and again.json()["id"] == opened["id"]  # one conversation per provider and client
    conversation_id = opened["id"]

    for text_ in ("Hello Casey.", "Our session moves to 3pm."):
        sent = await pro.post(messages_url(group, conversation_id), {"body": text_})
        assert sent.status_code == 201, sent.text
        assert sent.json()["sent_by"] == "provider" and sent.json()["sender_user_id"] == str(provider.id)
    assert await unread_for_client(me, conversation_id) == 2
    assert await unread_for_provider(pro, group, conversation_id) == 0  # own messages are never unread

    mine = (await me.get("/v1/me/conversations")).json()["items"]
    assert len(mine) == 1
    assert mine[0]["group"] == {"id": str(group.id), "name": "Messaging Practice"}
    assert mine[0]["provider"] == {"user_id": str(provider.id), "name": "Pat Provider"}
    assert mine[0]["open"] is True and mine[0]["last_message_at"] is not None

    read = await me.get(my_messages_url(conversation_id))
    assert read.status_code == 200
    assert [m["body"] for m in read.json()["items"]] == ["Our session moves to 3pm.", "Hello Casey."]  # newest first
    assert await unread_for_client(me, conversation_id) == 0

    reply = await me.post(my_messages_url(conversation_id), {"body": "See you then."})
    assert reply.status_code == 201 and reply.json()["sent_by"] == "client"
    assert reply.json()["sender_user_id"] == str(client_person.id)
    assert await unread_for_provider(pro, group, conversation_id) == 1
    assert await unread_for_client(me, conversation_id) == 0

    thread = (await pro.get(messages_url(group, conversation_id))).json()["items"]
    assert [(m["sent_by"], m["body"]) for m in thread] == [
        ("client", "See you then."),
        ("provider", "Our session moves to 3pm."),
        ("provider", "Hello Casey."),
    ]
    assert await unread_for_provider(pro, group, conversation_id) == 0
    assert await unread_for_client(me, conversation_id) == 0

    stored = await db.get(Conversation, uuid.UUID(conversation_id), populate_existing=True)
    assert stored is not None and stored.provider_read_at is not None and stored.client_read_at is not None
    newest = await db.scalar(select(func.max(Message.created_at)).where(Message.conversation_id == stored.id))
    assert stored.last_message_at == newest


async def test_an_admin_who_does_not_provide_is_refused_on_every_messaging_route(
    db: AsyncSession, as_user, group: Group, provider: User, admin: User, client_record: Client
) -> None:
    # capability table: messaging, admin "no"; rule R1: a member without the capability gets 403
    conversation_id = (await open_with(await as_user(provider), group, client_record))["id"]
    ada = await as_user(admin)
    before = await fingerprint(db)
    responses = [
        await ada.get(conversations_url(group)),
        await ada.post(conversations_url(group), {"client_id": str(client_record.id)}),
        await ada.get(messages_url(group, conversation_id)),
        await ada.post(messages_url(group, conversation_id), {"body": "Checking in."}),
    ]
    for response in responses:
        assert response.status_code == 403, response.text
        assert (response.json()["code"], response.json()["capability"]) == ("forbidden", "messaging")
    assert await fingerprint(db) == before
    refused = await db.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'access.refused' AND actor_user_id = :u"), {"u": admin.id})
    assert refused == len(responses)  # rule R3: each refusal is in the group's log


async def test_the_owner_does_not_read_another_providers_conversation(
    db: AsyncSession, as_user, group: Group, owner: User, provider: User, client_record: Client
) -> None:
    # capability table: messaging, admin "no" even for the owner; they see only conversations they provide in (R1: 404)
    pro = await as_user(provider)
    conversation_id = (await open_with(pro, group, client_record))["id"]
    await pro.post(messages_url(group, conversation_id), {"body": "Private."})
    boss = await as_user(owner)
    before = await fingerprint(db)
    assert (await boss.get(conversations_url(group))).json() == {"items": [], "next_cursor": None}
    for response in (
        await boss.get(messages_url(group, conversation_id)),
        await boss.post(messages_url(group, conversation_id), {"body": "Owner here."}),
        # Not on the owner's roster: the owner cannot start their own conversation with this client either.
        await boss.post(conversations_url(group), {"client_id": str(client_record.id)}),
        await boss.get(my_messages_url(conversation_id)),  # nor read it as though they were the client
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
        assert "Private." not in response.text
    assert await fingerprint(db) == before


async def test_another_provider_of_the_group_gets_404(
    db: AsyncSession, as_user, group: Group, provider: User, other_provider: User, client_record: Client
) -> None:
    # rule R1; capability table: messaging is the provider's own work
    conversation_id = (await open_with(await as_user(provider), group, client_record))["id"]
    colleague = await as_user(other_provider)
    before = await fingerprint(db)
    assert (await colleague.get(messages_url(group, conversation_id))).status_code == 404
    assert (await colleague.post(messages_url(group, conversation_id), {"body": "Hi."})).status_code == 404
    assert (await colleague.post(conversations_url(group), {"client_id": str(client_record.id)})).status_code == 404
    assert (await colleague.get(conversations_url(group))).json()["items"] == []
    assert await fingerprint(db) == before


async def test_another_groups_member_gets_404_and_nothing_changes(
    db: AsyncSession, as_user, group: Group, provider: User, stranger: User, client_record: Client
) -> None:
    # rule R1: the API never reveals that another group's object exists (BOLA)
    conversation_id = (await open_with(await as_user(provider), group, client_record))["id"]
    outsider = await as_user(stranger)
    before = await fingerprint(db)
    for response in (
        await outsider.get(conversations_url(group)),
        await outsider.post(conversations_url(group), {"client_id": str(client_record.id)}),
        await outsider.get(messages_url(group, conversation_id)),
        await outsider.post(messages_url(group, conversation_id), {"body": "Hello?"}),
        await outsider.get(my_messages_url(conversation_id)),
        await outsider.post(my_messages_url(conversation_id), {"body": "Hello?"}),
    ):
        assert response.status_code == 404, response.text
    assert (await outsider.get("/v1/me/conversations")).json()["items"] == []
    assert await fingerprint(db) == before


async def test_api_keys_never_reach_messages(
    db: AsyncSession, client, group: Group, provider: User, as_user, client_record: Client
) -> None:
    # capability table: messaging; integrations never read messages
    conversation_id = (await open_with(await as_user(provider), group, client_record))["id"]
    key = bearer(await api_key(db, group))
    listed = await client.get(conversations_url(group), headers=key)
    assert listed.status_code == 403 and listed.json()["capability"] == "messaging"
    assert (await client.get(messages_url(group, conversation_id), headers=key)).status_code == 403
    mine = await client.get("/v1/me/conversations", headers=key)
    assert mine.status_code == 403 and mine.json()["code"] == "people_only"
    assert (await client.get(my_messages_url(conversation_id), headers=key)).json()["code"] == "people_only"


async def test_a_client_reaches_only_their_own_conversations(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # rule R1: another person's conversation is simply not found
    pro = await as_user(provider)
    mine_id = (await open_with(pro, group, client_record))["id"]
    other_person = await make_user(db, first_name="Drew", last_name="Other")
    other_client, _ = await enroll(db, group_id=group.id, user=other_person, provider_user_id=provider.id, added_by=provider.id)
    theirs_id = (await open_with(pro, group, other_client))["id"]
    await pro.post(messages_url(group, theirs_id), {"body": "For Drew only."})

    me = await as_user(client_person)
    before = await fingerprint(db)
    for response in (await me.get(my_messages_url(theirs_id)), await me.post(my_messages_url(theirs_id), {"body": "Hi"})):
        assert response.status_code == 404 and "For Drew only." not in response.text
    assert (await me.get(my_messages_url(str(uuid.uuid4())))).status_code == 404
    # A client holds no messaging capability in the group: the provider-side routes are not theirs.
    assert (await me.get(messages_url(group, mine_id))).status_code == 404
    # ...and the provider is not the client of their own conversation.
    assert (await pro.get(my_messages_url(mine_id))).status_code == 404
    assert await fingerprint(db) == before
    assert [c["id"] for c in (await me.get("/v1/me/conversations")).json()["items"]] == [mine_id]


async def test_only_clients_on_the_callers_active_roster_get_a_new_conversation(
    db: AsyncSession, as_user, group: Group, provider: User, other_provider: User, client_record: Client
) -> None:
    # capability table: messaging "with own clients"; R1: another provider's client is not found
    pro = await as_user(provider)
    someone = await make_user(db)
    colleagues_client, _ = await enroll(db, group_id=group.id, user=someone, provider_user_id=other_provider.id, added_by=other_provider.id)
    refused = await pro.post(conversations_url(group), {"client_id": str(colleagues_client.id)})
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert (await pro.post(conversations_url(group), {"client_id": str(uuid.uuid4())})).status_code == 404

    archived_person = await make_user(db)
    archived, _ = await enroll(db, group_id=group.id, user=archived_person, provider_user_id=provider.id, added_by=provider.id)
    await db.execute(update(RosterEntry).where(RosterEntry.client_id == archived.id).values(archived_at=func.now()))
    assert (await pro.post(conversations_url(group), {"client_id": str(archived.id)})).status_code == 404
    assert await db.scalar(select(func.count()).select_from(Conversation).where(Conversation.group_id == group.id)) == 0


async def test_a_conversation_closes_when_the_client_leaves_the_roster_but_stays_readable(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # G7: history stays; only a client on the provider's active roster can be messaged
    pro, me = await as_user(provider), await as_user(client_person)
    conversation_id = (await open_with(pro, group, client_record))["id"]
    await pro.post(messages_url(group, conversation_id), {"body": "Before the move."})
    # Archived as the app archives (the statement's clock): C10 keeps what was written before it readable.
    await db.execute(update(RosterEntry).where(RosterEntry.client_id == client_record.id).values(archived_at=func.clock_timestamp()))

    for response in (
        await pro.post(messages_url(group, conversation_id), {"body": "After."}),
        await me.post(my_messages_url(conversation_id), {"body": "After."}),
    ):
        assert response.status_code == 409 and response.json()["code"] == "conversation_closed"
    assert (await pro.get(conversations_url(group))).json()["items"][0]["open"] is False
    assert (await me.get("/v1/me/conversations")).json()["items"][0]["open"] is False
    assert [m["body"] for m in (await me.get(my_messages_url(conversation_id))).json()["items"]] == ["Before the move."]
    assert [m["body"] for m in (await pro.get(messages_url(group, conversation_id))).json()["items"]] == ["Before the move."]


async def test_a_provider_cannot_open_a_conversation_with_themselves(
    db: AsyncSession, as_user, group: Group, provider: User
) -> None:
    self_client, _ = await enroll(db, group_id=group.id, user=provider, provider_user_id=provider.id, added_by=provider.id)
    response = await (await as_user(provider)).post(conversations_url(group), {"client_id": str(self_client.id)})
    assert response.status_code == 409 and response.json()["code"] == "conversation_with_self"


async def test_messages_are_paged_by_cursor_newest_first(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    pro, me = await as_user(provider), await as_user(client_person)
    conversation_id = (await open_with(pro, group, client_record))["id"]
    for n in range(1, 6):
        await (pro if n % 2 else me).post(
            messages_url(group, conversation_id) if n % 2 else my_messages_url(conversation_id), {"body": f"message {n}"}
        )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await me.get(my_messages_url(conversation_id), **params)).json()
        seen += [m["body"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"message {n}" for n in range(5, 0, -1)] and pages == 3
    ids = [m["id"] for m in (await pro.get(messages_url(group, conversation_id))).json()["items"]]
    assert ids == sorted(ids, reverse=True)
    for forged in ("not-a-cursor", "WyJ4Il0", "W3RydWVd"):  # garbage, ["x"], [true]
        bad = await pro.get(messages_url(group, conversation_id), cursor=forged)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor", forged


async def test_conversations_are_paged_by_latest_activity(
    db: AsyncSession, as_user, group: Group, provider: User
) -> None:
    pro = await as_user(provider)
    ids = []
    for name in ("Ann", "Ben", "Cal", "Dee"):
        person = await make_user(db, first_name=name, last_name="Client")
        record, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, added_by=provider.id)
        ids.append((await open_with(pro, group, record))["id"])
    # Activity: Ben, then Dee, then Ann; Cal has no messages yet (sorted by when it was opened).
    for index in (1, 3, 0):
        await pro.post(messages_url(group, ids[index]), {"body": "hello"})
    first = (await pro.get(conversations_url(group), limit=3)).json()
    second = (await pro.get(conversations_url(group), limit=3, cursor=first["next_cursor"])).json()
    order = [c["client"]["first_name"] for c in first["items"] + second["items"]]
    assert order[:3] == ["Ann", "Dee", "Ben"] and order[3:] == ["Cal"] and second["next_cursor"] is None
    bad = await pro.get(conversations_url(group), cursor="WyJub3QgYSBkYXRlIiwgIngiXQ")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_unread_counts_for_a_page_take_a_fixed_number_of_statements(
    db: AsyncSession, conn: AsyncConnection, as_user, group: Group, provider: User
) -> None:
    # Set-based unread counts: listing 1 or 5 conversations costs the same number of statements.
    pro = await as_user(provider)

    async def add_conversation() -> None:
        person = await make_user(db)
        record, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, added_by=provider.id)
        conversation_id = (await open_with(pro, group, record))["id"]
        await (await as_user(person)).post(my_messages_url(conversation_id), {"body": "unread"})

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def statements_for_list() -> int:
        statements.clear()
        event.listen(conn.sync_connection, "before_cursor_execute", count)
        try:
            page = (await pro.get(conversations_url(group))).json()
        finally:
            event.remove(conn.sync_connection, "before_cursor_execute", count)
        assert all(item["unread_count"] == 1 for item in page["items"])
        return len(statements)

    await add_conversation()
    with_one = await statements_for_list()
    for _ in range(4):
        await add_conversation()
    assert await statements_for_list() == with_one


async def test_bodies_are_validated(db: AsyncSession, as_user, group: Group, provider: User, client_record: Client) -> None:
    pro = await as_user(provider)
    url = messages_url(group, (await open_with(pro, group, client_record))["id"])
    for body in ({"body": ""}, {"body": "   \n"}, {"body": "x" * 10_001}, {"body": "a\x00b"}, {}, {"body": "ok", "to": "x"}):
        response = await pro.post(url, body)
        assert response.status_code == 422 and response.json()["code"] == "validation_failed", body
    assert (await pro.post(url, {"body": "x" * 10_000})).status_code == 201
    assert (await pro.post(conversations_url(group), {"client_id": "nope"})).status_code == 422


async def test_a_retried_send_with_the_same_idempotency_key_sends_once(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # rule X2
    pro, me = await as_user(provider), await as_user(client_person)
    conversation_id = (await open_with(pro, group, client_record))["id"]
    first = await me.post(my_messages_url(conversation_id), {"body": "Once."}, **{"Idempotency-Key": "reply-1"})
    retry = await me.post(my_messages_url(conversation_id), {"body": "Once."}, **{"Idempotency-Key": "reply-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    count = await db.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == uuid.UUID(conversation_id)))
    assert count == 1


async def test_the_other_side_is_mailed_a_notice_without_the_message_at_most_hourly(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # PHI stays out of mail: the notice says a message waits, never what it says or who sent it
    pro, me = await as_user(provider), await as_user(client_person)
    conversation_id = (await open_with(pro, group, client_record))["id"]

    async def notices(user: User) -> list[MailMessage]:
        rows = await db.scalars(select(MailMessage).where(MailMessage.to_address == user.email, MailMessage.template == "new_message"))
        return list(rows)

    await pro.post(messages_url(group, conversation_id), {"body": "Your results are in."})
    await pro.post(messages_url(group, conversation_id), {"body": "Call me back."})
    [notice] = await notices(client_person)
    for secret in ("results", "Call me", "Pat", "Provider", "Messaging Practice"):
        assert secret not in notice.body_text and secret not in notice.subject
    await me.post(my_messages_url(conversation_id), {"body": "Will do."})
    assert len(await notices(provider)) == 1  # the client's first message in the hour mails the provider

    # An hour after the provider last wrote, the next message mails the client again.
    await db.execute(
        update(Message)
        .where(Message.conversation_id == uuid.UUID(conversation_id), Message.sender_user_id == provider.id)
        .values(created_at=Message.created_at - text("interval '61 minutes'"))
    )
    await pro.post(messages_url(group, conversation_id), {"body": "Following up."})
    assert len(await notices(client_person)) == 2


async def test_reads_and_openings_are_audited_with_ids_only(
    db: AsyncSession, as_user, group: Group, provider: User, client_person: User, client_record: Client
) -> None:
    # rule R2: who, what, which record, when, from where; never the message
    pro, me = await as_user(provider), await as_user(client_person)
    conversation_id = (await open_with(pro, group, client_record))["id"]
    sent = (await pro.post(messages_url(group, conversation_id), {"body": "Sensitive words."})).json()
    await me.get(my_messages_url(conversation_id))
    await pro.get(messages_url(group, conversation_id))

    [opened] = await audit_events(db, "conversation.opened")
    assert (opened.actor_user_id, opened.target_type, opened.target_id, opened.group_id) == (provider.id, "conversation", conversation_id, group.id)
    assert opened.details == {"client_id": str(client_record.id), "created": True}
    assert str(opened.actor_ip) == "203.0.113.7" and opened.request_id
    [sent_event] = await audit_events(db, "conversation.message_sent")
    assert (sent_event.target_type, sent_event.target_id) == ("message", str(sent["id"]))
    assert sent_event.details == {"conversation_id": conversation_id, "side": "provider", "notified": True}
    reads = await audit_events(db, "conversation.messages_read")
    assert [(e.actor_user_id, e.details["side"], e.details["message_ids"]) for e in reads] == [
        (client_person.id, "client", [sent["id"]]),
        (provider.id, "provider", [sent["id"]]),
    ]
    assert all(e.target_id == conversation_id and e.group_id == group.id for e in reads)
