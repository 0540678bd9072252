import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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
    two_factor_enabled: bool


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
        "two_factor_enabled": actor.two_factor,
    }
    return {"kind": "user", "user": user, "api_key": None, "memberships": memberships}


# --- password reset and change, two-factor, logins ------------------------------------------------

Password = Annotated[str, Field(min_length=12, max_length=128, description="At least 12 characters; not a common password, not containing the email.")]
Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=24,
        pattern=r"^[0-9A-Za-z -]+$",
        description="The 6-digit code from the authenticator app, or one of the recovery codes (`xxxx-xxxx-xxxx-xxxx`).",
    ),
]


class PasswordResetRequest(Strict):
    email: EmailStr


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=10, max_length=200, description="The token from the reset link.")
    new_password: Password


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password


class SecondFactorLogin(Strict):
    challenge_token: str = Field(min_length=10, max_length=200, description="`challenge_token` from the `otp_required` answer of `POST /v1/auth/token`.")
    code: Code


class TwoFactorCode(Strict):
    code: Code


class TwoFactorEnrolment(BaseModel):
    secret: str = Field(description="Base32 secret, for typing into an authenticator by hand.")
    otpauth_uri: str = Field(description="`otpauth://totp/...`: show it as a QR code for the authenticator to scan.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Ten one-time codes, shown this once: each signs in once instead of a code.")


class TwoFactorStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int


class LoginOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime = Field(description="Updated at most once a minute.")
    expires_at: datetime
    ip: str | None = Field(description="The address the login came from.")
    user_agent: str | None
    current: bool = Field(description="True for the login this request was made with.")


class LoginList(BaseModel):
    items: list[LoginOut]
    next_cursor: str | None = None
