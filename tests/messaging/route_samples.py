"""Minimal valid bodies for the messaging routes, and the conversation the capability matrix
(tests/groups/test_capability_matrix.py) reaches them through. Checked by test_route_samples.py.

"$client_id" is replaced by the matrix with `ids["client_id"]`: a client on provider `ids["user_id"]`'s roster.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Conversation

SAMPLE_BODIES: dict[str, dict] = {
    "messaging-open_conversation": {"client_id": "$client_id"},
    "messaging-send_message": {"body": "Sample message."},
    "messaging-send_my_message": {"body": "Sample reply."},
}


async def extend_world(db: AsyncSession, ids: dict, storage: object) -> None:
    """A conversation between provider `user_id` and client `client_id` of group `group_id`."""
    key = {"group_id": ids["group_id"], "provider_user_id": ids["user_id"], "client_id": ids["client_id"]}
    await db.execute(pg_insert(Conversation).values(id=uuid.uuid4(), **key).on_conflict_do_nothing())
    ids["conversation_id"] = await db.scalar(select(Conversation.id).filter_by(**key))
