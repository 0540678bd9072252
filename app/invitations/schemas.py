import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.core.schemas import Strict
from app.models import Invitation

InvitationKind = Literal["client", "provider", "admin", "owner"]
InvitationStatus = Literal["pending", "accepted", "declined", "withdrawn"]


class InvitationToken(Strict):
    token: str = Field(min_length=10, max_length=200, description="The token of the mailed link.")


class InvitationOut(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    group_name: str
    kind: InvitationKind = Field(description="What the practice asks you to become: its client, provider, admin or owner.")
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None

    @classmethod
    def of(cls, invitation: Invitation, group_name: str) -> "InvitationOut":
        return cls(
            id=invitation.id, group_id=invitation.group_id, group_name=group_name, kind=invitation.kind,  # type: ignore[arg-type]
            status=invitation.status, created_at=invitation.created_at, expires_at=invitation.expires_at,  # type: ignore[arg-type]
            decided_at=invitation.decided_at,
        )


class InvitationAnswer(BaseModel):
    status: InvitationStatus
    kind: InvitationKind
