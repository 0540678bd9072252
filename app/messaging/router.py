import uuid

from fastapi import Response

from app.core.auth import CurrentActor, PersonActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import PERSON, allowed, router
from app.messaging import schemas, service

# The provider's side: their own conversations in a group. Admins (the owner too, unless they are the
# conversation's provider) and API keys never read messages.
messaging_router = router("/v1/groups/{group_id}/conversations", "messaging")
# The client's side: the calling person's conversations as a client, in every group.
my_messaging_router = router("/v1/me/conversations", "messaging")


@messaging_router.get("", summary="List your conversations with clients", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.MESSAGING))
async def list_conversations(
    group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery
) -> Page[schemas.ConversationOut]:
    """The caller's own conversations with their clients, most recent activity first, with unread counts."""
    rows, next_cursor = await service.list_conversations(db, actor, group_id, page)
    return Page(items=[schemas.ConversationOut.of(row) for row in rows], next_cursor=next_cursor)


@messaging_router.post(
    "", summary="Open a conversation with a client",
    status_code=201,
    dependencies=[Idempotent],
    responses={
        200: {"description": "The conversation already existed.", "model": schemas.ConversationOut},
        **problem_responses(401, 403, 404, 409, 422),
    },
    **allowed(Capability.MESSAGING),
)
async def open_conversation(
    group_id: uuid.UUID, body: schemas.ConversationOpen, actor: CurrentActor, db: DB, response: Response
) -> schemas.ConversationOut:
    """Open a conversation with a client on the caller's active roster (201), or return the existing one (200)."""
    row, created = await service.open_conversation(db, actor, group_id, client_id=body.client_id)
    if not created:
        response.status_code = 200
    return schemas.ConversationOut.of(row)


@messaging_router.get(
    "/{conversation_id}/messages", summary="List a conversation's messages",
    responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.MESSAGING),
)
async def list_messages(
    group_id: uuid.UUID, conversation_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery
) -> Page[schemas.MessageOut]:
    """A page of the conversation's messages, newest first (`next_cursor` goes back); marks it read for the provider."""
    messages, next_cursor = await service.list_messages(db, actor, group_id, conversation_id, page)
    return Page(items=[schemas.MessageOut.of(m) for m in messages], next_cursor=next_cursor)


@messaging_router.post(
    "/{conversation_id}/messages", summary="Send a message to a client",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.MESSAGING),
)
async def send_message(
    group_id: uuid.UUID, conversation_id: uuid.UUID, body: schemas.MessageSend, actor: CurrentActor, db: DB
) -> schemas.MessageOut:
    """Send a message to the conversation's client (they are mailed a notice, never the text)."""
    sent = await service.send_message(db, actor, group_id, conversation_id, body=body.body)
    return schemas.MessageOut.of(sent)


@my_messaging_router.get("", summary="List your conversations with providers", responses=problem_responses(401, 403, 422), **allowed(PERSON))
async def list_my_conversations(actor: PersonActor, db: DB, page: PageQuery) -> Page[schemas.MyConversationOut]:
    """The caller's conversations with their providers, as a client, most recent activity first."""
    rows, next_cursor = await service.list_my_conversations(db, actor, page)
    return Page(items=[schemas.MyConversationOut.of(row) for row in rows], next_cursor=next_cursor)


@my_messaging_router.get(
    "/{conversation_id}/messages", summary="List messages of your conversation",
    responses=problem_responses(401, 403, 404, 422),
    **allowed(PERSON),
)
async def list_my_messages(
    conversation_id: uuid.UUID, actor: PersonActor, db: DB, page: PageQuery
) -> Page[schemas.MessageOut]:
    """A page of one of the caller's conversations, newest first (`next_cursor` goes back); marks it read for the client."""
    messages, next_cursor = await service.list_my_messages(db, actor, conversation_id, page)
    return Page(items=[schemas.MessageOut.of(m) for m in messages], next_cursor=next_cursor)


@my_messaging_router.post(
    "/{conversation_id}/messages", summary="Reply to your provider",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(PERSON),
)
async def send_my_message(
    conversation_id: uuid.UUID, body: schemas.MessageSend, actor: PersonActor, db: DB
) -> schemas.MessageOut:
    """Answer in one of the caller's conversations (their provider is mailed a notice, never the text)."""
    sent = await service.send_my_message(db, actor, conversation_id, body=body.body)
    return schemas.MessageOut.of(sent)
