import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field

from app.core.auth import Actor
from app.core.schemas import Strict


class SignupRequest(Strict):
    email: EmailStr
    password: str = Field(min_length=12, max_length=128, description="At least 12 characters.")
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)


class Accepted(BaseModel):
    detail: str


class VerifyEmailRequest(Strict):
    token: str = Field(min_length=10, max_length=200, description="The token from the verification link.")


class AcceptInvitationRequest(VerifyEmailRequest):
    password: str = Field(min_length=12, max_length=128, description="At least 12 characters.")


class ResendVerificationRequest(Strict):
    email: EmailStr


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime = Field(description="Absolute expiry; the token also expires after an idle period.")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    is_staff: bool


class ApiKeyPrincipal(BaseModel):
    id: uuid.UUID
    name: str


class MembershipOut(BaseModel):
    group_id: uuid.UUID
    group_name: str
    roles: list[Literal["owner", "admin", "provider", "integration"]]


class MeResponse(BaseModel):
    kind: Literal["user", "api_key"]
    user: UserOut | None = None
    api_key: ApiKeyPrincipal | None = None
    memberships: list[MembershipOut]


def me_document(actor: Actor) -> dict[str, Any]:
    """`MeResponse` as plain data: /v1/me is the hottest route, so it skips building pydantic models."""
    memberships = [
        {"group_id": m.group_id, "group_name": m.group_name, "roles": m.roles}
        for m in sorted(actor.memberships.values(), key=lambda m: (m.group_name, m.group_id))
    ]
    if actor.kind == "api_key":
        api_key = {"id": actor.id, "name": actor.api_key_name or ""}
        return {"kind": "api_key", "user": None, "api_key": api_key, "memberships": memberships}
    user = {
        "id": actor.id,
        "email": actor.email or "",
        "first_name": actor.first_name or "",
        "last_name": actor.last_name or "",
        "email_verified": actor.email_verified,
        "is_staff": actor.is_staff,
    }
    return {"kind": "user", "user": user, "api_key": None, "memberships": memberships}
