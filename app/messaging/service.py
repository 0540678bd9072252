"""Messaging between a provider and one of their clients (capability table: messaging; R1, R2).

A conversation is seen by exactly two people: its provider (through the group's routes, with
`Capability.MESSAGING`, which admins and API keys never hold) and its client (through /v1/me).
Anyone else, the group's owner included, finds nothing (404).

Message bodies are PHI: they never reach logs, audit details or mail. Audit records carry ids only.

Read markers and unread counts: a side's unread count is the other side's messages created after
that side's marker. Reading moves the marker to the newest message of the other side that the read
can see, not to `now()`: a message written just before the read but committed just after it is older
than `now()` and would be marked read unseen. When in doubt a message stays unread, never the reverse.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.access import on_roster_of, provider_reads
from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, conflict, not_found
from app.core.mail import send_mail
from app.core.pagination import PageParams, decode_cursor, encode_cursor, paginate
from app.models import (
    Client,
    Conversation,
    Group,
    Membership,
    Message,
    ProviderProfile,
    RosterEntry,
    User,
)

Side = Literal["provider", "client"]

# At most one "new message" mail per conversation and recipient in this window (see _notify).
NOTIFY_QUIET_PERIOD = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    conversation: Conversation
    unread_count: int
    open: bool
    client_first_name: str | None = None
    client_last_name: str | None = None
    group_name: str | None = None
    provider_name: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    message: Message
    sent_by: Side


# --- who may see which conversation -------------------------------------------------------------


def _provider_sees(actor: Actor, group_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """R1 in SQL: the group's conversations whose provider is the caller; `require` decided the 403."""
    require(actor, Capability.MESSAGING, group_id)
    return [Conversation.group_id == group_id, Conversation.provider_user_id == actor.user_id]


def _client_sees(actor: Actor) -> list[ColumnElement[bool]]:
    """The conversations whose client record belongs to the calling person, in any group."""
    mine = select(Client.id).where(Client.id == Conversation.client_id, Client.user_id == actor.id)
    return [exists(mine)]


def _open() -> ColumnElement[bool]:
    """New messages need the client on the provider's active roster and the provider still practising."""
    on_roster = exists(
        select(RosterEntry.id).where(
            RosterEntry.client_id == Conversation.client_id,
            RosterEntry.provider_user_id == Conversation.provider_user_id,
            RosterEntry.archived_at.is_(None),
        )
    )
    practising = exists(
        select(Membership.id).where(
            Membership.group_id == Conversation.group_id,
            Membership.user_id == Conversation.provider_user_id,
            Membership.ended_at.is_(None),
            Membership.is_provider,
        )
    )
    return and_(on_roster, practising)


def _sent_by(side: Side) -> ColumnElement[bool]:
    # The provider is named on the conversation; every other sender is its client.
    if side == "provider":
        return Message.sender_user_id == Conversation.provider_user_id
    return Message.sender_user_id != Conversation.provider_user_id


def _other(side: Side) -> Side:
    return "client" if side == "provider" else "provider"


def _read_marker(side: Side) -> Any:
    return Conversation.provider_read_at if side == "provider" else Conversation.client_read_at


# --- conversations ------------------------------------------------------------------------------


async def open_conversation(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, client_id: uuid.UUID
) -> tuple[ConversationRow, bool]:
    """Open (or return the existing) conversation with a client on the caller's active roster.

    Returns the conversation and whether it was created now.
    """
    require(actor, Capability.MESSAGING, group_id)
    client = await db.scalar(
        select(Client).where(
            Client.id == client_id, Client.group_id == group_id, on_roster_of(actor.user_id, active_only=True)
        )
    )
    if client is None:
        raise not_found("client")
    if client.user_id == actor.user_id:
        raise conflict("conversation_with_self", "A provider cannot message themselves as their own client.")
    created_id = await db.scalar(
        pg_insert(Conversation)
        .values(id=uuid.uuid4(), group_id=group_id, provider_user_id=actor.user_id, client_id=client.id)
        .on_conflict_do_nothing(index_elements=["group_id", "provider_user_id", "client_id"])
        .returning(Conversation.id)
    )
    conversation = await db.scalar(
        select(Conversation).where(
            Conversation.group_id == group_id,
            Conversation.provider_user_id == actor.user_id,
            Conversation.client_id == client.id,
        )
    )
    assert conversation is not None
    created = created_id is not None
    await audit.record(
        db,
        actor,
        "conversation.opened",
        target_type="conversation",
        target_id=conversation.id,
        group_id=group_id,
        client_id=str(client.id),
        created=created,
    )
    [unread] = await _unread_counts(db, [conversation.id], "provider")
    row = ConversationRow(
        conversation, unread_count=unread, open=True, client_first_name=client.first_name, client_last_name=client.last_name
    )
    return row, created


async def list_conversations(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams
) -> tuple[list[ConversationRow], str | None]:
    """The caller's own conversations in the group, most recent activity first."""
    stmt = (
        select(Conversation, Client.first_name, Client.last_name, _open())
        .join(Client, Client.id == Conversation.client_id)
        .where(*_provider_sees(actor, group_id))
    )
    rows, next_cursor = await _page_by_activity(db, stmt, page)
    counts = await _unread_counts(db, [row[0].id for row in rows], "provider")
    items = [
        ConversationRow(conversation, unread, is_open, client_first_name=first, client_last_name=last)
        for (conversation, first, last, is_open), unread in zip(rows, counts)
    ]
    await _audit_listed(db, actor, items, group_id=group_id)
    return items, next_cursor


async def list_my_conversations(
    db: AsyncSession, actor: Actor, page: PageParams
) -> tuple[list[ConversationRow], str | None]:
    """Every conversation in which the calling person is the client, across their groups."""
    provider = User.__table__.alias("provider")
    provider_name = func.coalesce(
        ProviderProfile.display_name, func.concat_ws(" ", provider.c.first_name, provider.c.last_name)
    )
    stmt = (
        select(Conversation, Group.name, provider_name, _open())
        .join(Group, Group.id == Conversation.group_id)
        .join(provider, provider.c.id == Conversation.provider_user_id)
        .outerjoin(
            ProviderProfile,
            and_(
                ProviderProfile.group_id == Conversation.group_id,
                ProviderProfile.user_id == Conversation.provider_user_id,
            ),
        )
        .where(*_client_sees(actor))
    )
    rows, next_cursor = await _page_by_activity(db, stmt, page)
    counts = await _unread_counts(db, [row[0].id for row in rows], "client")
    items = [
        ConversationRow(conversation, unread, is_open, group_name=group_name, provider_name=name)
        for (conversation, group_name, name, is_open), unread in zip(rows, counts)
    ]
    await _audit_listed(db, actor, items, group_id=None)
    return items, next_cursor


async def _audit_listed(
    db: AsyncSession, actor: Actor, items: Sequence[ConversationRow], *, group_id: uuid.UUID | None
) -> None:
    # R2: a list names clients; record which conversations it showed (ids only).
    if items:
        await audit.record(
            db,
            actor,
            "conversations.listed",
            target_type="conversation",
            group_id=group_id,
            conversation_ids=[str(row.conversation.id) for row in items],
        )


def _activity() -> ColumnElement[datetime]:
    # A conversation without messages yet sorts by when it was opened.
    return func.coalesce(Conversation.last_message_at, Conversation.created_at)


async def _page_by_activity(db: AsyncSession, stmt: Select[Any], page: PageParams) -> tuple[list[Any], str | None]:
    """Keyset pages by (last activity desc, id desc); core `paginate` takes plain columns only."""
    activity = _activity()
    if page.cursor:
        raw_at, raw_id = decode_cursor(page.cursor, 2)
        try:
            after_at, after_id = datetime.fromisoformat(raw_at), uuid.UUID(raw_id)
        except (TypeError, ValueError):
            raise _invalid_cursor() from None
        bound = tuple_(literal(after_at, Conversation.created_at.type), literal(after_id, Conversation.id.type))
        stmt = stmt.where(tuple_(activity, Conversation.id) < bound)
    stmt = stmt.order_by(activity.desc(), Conversation.id.desc()).limit(page.limit + 1)
    rows = list((await db.execute(stmt)).all())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last: Conversation = rows[-1][0]
    return rows, encode_cursor([last.last_message_at or last.created_at, last.id])


def _invalid_cursor() -> Problem:
    return Problem(
        422,
        "invalid_cursor",
        "The cursor is not one this endpoint issued. Start again without a cursor.",
        errors=[{"field": "query.cursor", "message": "unknown cursor"}],
    )


async def _unread_counts(db: AsyncSession, conversation_ids: list[uuid.UUID], side: Side) -> list[int]:
    """Unread counts for a page of conversations in one statement, in the order of `conversation_ids`."""
    if not conversation_ids:
        return []
    marker = _read_marker(side)
    stmt = (
        select(Message.conversation_id, func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.id.in_(conversation_ids),
            # Nothing new since the marker: skip the conversation's messages altogether.
            or_(marker.is_(None), Conversation.last_message_at > marker),
            _sent_by(_other(side)),
            or_(marker.is_(None), Message.created_at > marker),
        )
        .group_by(Message.conversation_id)
    )
    counts = {conversation_id: count for conversation_id, count in (await db.execute(stmt)).all()}
    return [counts.get(conversation_id, 0) for conversation_id in conversation_ids]


# --- messages -----------------------------------------------------------------------------------


async def list_messages(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, conversation_id: uuid.UUID, page: PageParams
) -> tuple[list[SentMessage], str | None]:
    """The provider reads a page of their conversation, newest first, and it is marked read for them."""
    conversation = await _conversation(db, conversation_id, _provider_sees(actor, group_id))
    return await _read(db, actor, conversation, page, "provider")


async def list_my_messages(
    db: AsyncSession, actor: Actor, conversation_id: uuid.UUID, page: PageParams
) -> tuple[list[SentMessage], str | None]:
    """The client reads a page of their conversation, newest first, and it is marked read for them."""
    conversation = await _conversation(db, conversation_id, _client_sees(actor))
    return await _read(db, actor, conversation, page, "client")


async def send_message(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, conversation_id: uuid.UUID, *, body: str
) -> SentMessage:
    conversation = await _conversation(db, conversation_id, _provider_sees(actor, group_id), for_update=True)
    return await _send(db, actor, conversation, body, "provider")


async def send_my_message(db: AsyncSession, actor: Actor, conversation_id: uuid.UUID, *, body: str) -> SentMessage:
    conversation = await _conversation(db, conversation_id, _client_sees(actor), for_update=True)
    return await _send(db, actor, conversation, body, "client")


async def _conversation(
    db: AsyncSession, conversation_id: uuid.UUID, visible: list[ColumnElement[bool]], *, for_update: bool = False
) -> Conversation:
    stmt = select(Conversation).where(Conversation.id == conversation_id, *visible)
    if for_update:
        # Sends in one conversation queue up: last_message_at and the mail throttle see each other.
        stmt = stmt.with_for_update()
    conversation = await db.scalar(stmt)
    if conversation is None:
        raise not_found("conversation")
    return conversation


async def _read(
    db: AsyncSession, actor: Actor, conversation: Conversation, page: PageParams, side: Side
) -> tuple[list[SentMessage], str | None]:
    _check_message_cursor(page)
    # Marked before the page is read: a message committed in between shows on the page and stays unread.
    newest_seen = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == conversation.id, _sent_by(_other(side)))
        .scalar_subquery()
    )
    marker = _read_marker(side)
    await db.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values({marker.key: func.greatest(marker, newest_seen)})
    )
    stmt = select(Message).where(Message.conversation_id == conversation.id)
    if side == "provider":
        # C10: a provider whose roster entry is archived reads what was written while the client was theirs.
        stmt = stmt.where(provider_reads(conversation.provider_user_id, conversation.client_id, Message.created_at))
    messages, next_cursor = await paginate(db, stmt, page, keys=(Message.id,), descending=True)
    await audit.record(
        db,
        actor,
        "conversation.messages_read",
        target_type="conversation",
        target_id=conversation.id,
        group_id=conversation.group_id,
        side=side,
        message_ids=[m.id for m in messages],
    )
    return [SentMessage(m, _side_of(conversation, m)) for m in messages], next_cursor


def _check_message_cursor(page: PageParams) -> None:
    # Message ids are integers: a forged cursor is a 422 here, not a driver error on the query.
    if page.cursor:
        [after] = decode_cursor(page.cursor, 1)
        if not isinstance(after, int) or isinstance(after, bool):
            raise _invalid_cursor()


def _side_of(conversation: Conversation, message: Message) -> Side:
    return "provider" if message.sender_user_id == conversation.provider_user_id else "client"


async def _send(db: AsyncSession, actor: Actor, conversation: Conversation, body: str, side: Side) -> SentMessage:
    is_open = await db.scalar(select(_open()).where(Conversation.id == conversation.id))
    if not is_open:
        raise conflict(
            "conversation_closed",
            "This conversation is closed: the client is no longer on the provider's roster, or the provider "
            "no longer practises in the group. It stays readable.",
        )
    # Stamped when written, not when the request's transaction began: read markers and unread counts
    # compare message times, and the statement's clock follows the order messages are written in.
    message = await db.scalar(
        insert(Message)
        .values(conversation_id=conversation.id, sender_user_id=actor.id, body=body, created_at=func.clock_timestamp())
        .returning(Message)
    )
    assert message is not None
    await db.execute(
        update(Conversation).where(Conversation.id == conversation.id).values(last_message_at=message.created_at)
    )
    notified = await _notify(db, conversation, message, side)
    await audit.record(
        db,
        actor,
        "conversation.message_sent",
        target_type="message",
        target_id=str(message.id),
        group_id=conversation.group_id,
        conversation_id=str(conversation.id),
        side=side,
        notified=notified,
    )
    return SentMessage(message, side)


async def _notify(db: AsyncSession, conversation: Conversation, message: Message, side: Side) -> bool:
    """Mail the other side that a message is waiting: never its body (PHI stays out of mail), no names.

    At most one such mail per conversation and recipient per hour: none when this side already wrote
    in the conversation within the hour (that earlier message mailed them, or one before it did).
    The conversation row is locked, so two sends cannot both decide to mail.
    """
    previous = await db.scalar(
        select(Message.created_at)
        .where(
            Message.conversation_id == conversation.id,
            Message.id < message.id,
            Message.sender_user_id == message.sender_user_id,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    if previous is not None and previous > message.created_at - NOTIFY_QUIET_PERIOD:
        return False
    if side == "provider":
        recipient = select(User.email).join(Client, Client.user_id == User.id).where(Client.id == conversation.client_id)
    else:
        recipient = select(User.email).where(User.id == conversation.provider_user_id)
    to = await db.scalar(recipient)
    if to is None:
        return False
    settings = get_settings()
    await send_mail(
        db,
        to=to,
        subject="You have a new message on Caseload",
        body=(
            "You have a new secure message on Caseload.\n\n"
            f"Log in at {settings.public_url}/login to read it. For your privacy, messages are never sent by email.\n"
        ),
        template="new_message",
    )
    return True
