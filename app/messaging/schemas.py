import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, field_validator

from app.core.schemas import MultilineText, Strict

if TYPE_CHECKING:
    from app.messaging.service import ConversationRow, SentMessage

MAX_BODY_CHARS = 10_000


class ConversationOpen(Strict):
    client_id: uuid.UUID = Field(description="A client on the caller's active roster.")


class MessageSend(Strict):
    body: MultilineText = Field(min_length=1, max_length=MAX_BODY_CHARS, description="The message text, kept as written.")

    @field_validator("body")
    @classmethod
    def _has_text(cls, body: str) -> str:
        if not body.strip():
            raise ValueError("must contain more than whitespace")
        return body


class ClientRef(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str


class GroupRef(BaseModel):
    id: uuid.UUID
    name: str


class ProviderRef(BaseModel):
    user_id: uuid.UUID
    name: str = Field(description="The provider's display name in the group.")


class _ConversationBase(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_message_at: datetime | None
    unread_count: int = Field(description="Messages from the other side the caller has not read yet.")
    open: bool = Field(
        description="Whether new messages can be sent: the client is on the provider's active roster and the "
        "provider still practises in the group. Closed conversations stay readable."
    )


class ConversationOut(_ConversationBase):
    """A conversation as its provider sees it."""

    group_id: uuid.UUID
    client: ClientRef

    @classmethod
    def of(cls, row: "ConversationRow") -> "ConversationOut":
        c = row.conversation
        return cls(
            id=c.id,
            group_id=c.group_id,
            client=ClientRef(id=c.client_id, first_name=row.client_first_name or "", last_name=row.client_last_name or ""),
            created_at=c.created_at,
            last_message_at=c.last_message_at,
            unread_count=row.unread_count,
            open=row.open,
        )


class MyConversationOut(_ConversationBase):
    """A conversation as its client sees it."""

    group: GroupRef
    provider: ProviderRef

    @classmethod
    def of(cls, row: "ConversationRow") -> "MyConversationOut":
        c = row.conversation
        return cls(
            id=c.id,
            group=GroupRef(id=c.group_id, name=row.group_name or ""),
            provider=ProviderRef(user_id=c.provider_user_id, name=row.provider_name or ""),
            created_at=c.created_at,
            last_message_at=c.last_message_at,
            unread_count=row.unread_count,
            open=row.open,
        )


class MessageOut(BaseModel):
    id: int = Field(description="Increasing within a conversation: a later message has a larger id.")
    conversation_id: uuid.UUID
    sender_user_id: uuid.UUID
    sent_by: Literal["provider", "client"]
    body: str
    created_at: datetime

    @classmethod
    def of(cls, sent: "SentMessage") -> "MessageOut":
        m = sent.message
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            sender_user_id=m.sender_user_id,
            sent_by=sent.sent_by,
            body=m.body,
            created_at=m.created_at,
        )
