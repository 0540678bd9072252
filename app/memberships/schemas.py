import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from app.core.auth import GroupRole
from app.core.schemas import Strict
from app.models import Membership, User


class LicenseType(StrEnum):
    """US mental-health licenses (G3); `Other` for the rest, named in the provider's profile."""

    LCSW = "LCSW"
    LICSW = "LICSW"
    LMSW = "LMSW"
    LPC = "LPC"
    LPCC = "LPCC"
    LCPC = "LCPC"
    LMHC = "LMHC"
    LCMHC = "LCMHC"
    LMFT = "LMFT"
    PSYD = "PsyD"
    PHD = "PhD"
    EDD = "EdD"
    MD = "MD"
    DO = "DO"
    NP = "NP"
    PMHNP = "PMHNP"
    APRN = "APRN"
    PA = "PA"
    LADC = "LADC"
    BCBA = "BCBA"
    OTHER = "Other"


Role = Literal["owner", "admin", "provider"]


class PersonRef(Strict):
    full_name: str = Field(min_length=1, max_length=200, examples=["Maya Chen"])
    email: EmailStr


class ProviderAdd(PersonRef):
    license_type: LicenseType


class AdminGrantRequest(Strict):
    email: EmailStr
    full_name: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="Used in the invitation when the person is new to Caseload; their own account's name otherwise.",
    )


class GrantDecision(Strict):
    reason: str | None = Field(default=None, max_length=500)


class OwnershipTransfer(Strict):
    user_id: uuid.UUID = Field(description="An active member with a verified account.")


class MemberOut(BaseModel):
    user_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    email_verified: bool
    roles: list[Role]
    license_type: str | None = None
    joined_at: datetime

    @classmethod
    def of(cls, membership: Membership, user: User, license_type: str | None) -> "MemberOut":
        role = GroupRole(membership.group_id, "", membership.is_owner, membership.is_admin, membership.is_provider)
        return cls(
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
            email_verified=user.email_verified,
            roles=role.roles,  # type: ignore[arg-type]
            license_type=license_type,
            joined_at=membership.created_at,
        )


class ProviderAddOut(BaseModel):
    """The provider as the owner typed them until they accept the invitation (`invited`): the answer is the same
    whether or not the email has an account."""

    status: Literal["invited", "active"] = Field(
        description="invited: the person was mailed an invitation and becomes a provider on accepting it; "
        "active: already a member of the group, now a provider too."
    )
    user_id: uuid.UUID | None = Field(description="Known once the person is a member.")
    first_name: str
    last_name: str
    email: str
    email_verified: bool
    roles: list[Role]
    license_type: str | None = None
    joined_at: datetime | None


class AdminGrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    user_id: uuid.UUID | None = Field(description="The person's account, shown once the grant took effect.")
    status: Literal["pending_approval", "pending_verification", "active", "rejected", "revoked"] = Field(
        description="pending_approval: waits for the owner; pending_verification: approved, waits for the "
        "person to accept the invitation (and verify their account); active: in effect."
    )
    requested_by_user_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None
    activated_at: datetime | None
    reason: str | None

    @model_validator(mode="after")
    def _no_account_before_acceptance(self) -> "AdminGrantOut":
        # A10: until the person accepted, nothing tells whether the email had an account.
        if self.activated_at is None:
            self.user_id = None
        return self
