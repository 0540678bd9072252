import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field, field_validator, model_validator

from app.core.schemas import omittable
from app.memberships.schemas import (
    AdminGrantOut,
    LicenseType,
    MemberOut,
    PersonRef,
    Role,
    Strict,
)
from app.models import Group
from app.timezones import validate_time_zone


class ProviderSetup(Strict):
    """G3: a provider of the group being set up, new to the platform or already on it."""

    email: EmailStr
    status: Literal["new", "existing"] = Field(
        description="What you believe: `existing` if the email already has a Caseload account. Either way the person "
        "is invited and becomes a provider on accepting."
    )
    full_name: str | None = Field(default=None, min_length=1, max_length=200, description="Required for a new provider.")
    license_type: LicenseType

    @model_validator(mode="after")
    def _new_needs_a_name(self) -> "ProviderSetup":
        if self.status == "new" and not self.full_name:
            raise ValueError("a new provider needs full_name")
        return self


class OwnerOnBehalf(Strict):
    full_name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class GroupCreate(Strict):
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Defaults to the owner's first and last name (G1)."
    )
    time_zone: str = Field(default="America/New_York", description="IANA time zone, e.g. America/Chicago.")
    owner_is_provider: bool = Field(default=True, description="A solo provider is the owner and only provider.")
    owner_license_type: LicenseType | None = Field(default=None, description="Required when the owner is a provider.")
    admins: list[PersonRef] = Field(default_factory=list, max_length=50)
    providers: list[ProviderSetup] = Field(default_factory=list, max_length=200)
    owner: OwnerOnBehalf | None = Field(
        default=None, description="Staff only: set the group up on this person's behalf; they become the owner."
    )

    _tz = field_validator("time_zone")(validate_time_zone)

    @model_validator(mode="after")
    def _consistent(self) -> "GroupCreate":
        if self.owner_is_provider and self.owner_license_type is None:
            raise ValueError("owner_license_type is required when the owner is a provider")
        emails = [p.email.lower() for p in self.providers]
        if len(emails) != len(set(emails)):
            raise ValueError("each provider may be listed once")
        admin_emails = [a.email.lower() for a in self.admins]
        if len(admin_emails) != len(set(admin_emails)):
            raise ValueError("each admin may be listed once")
        return self


class GroupUpdate(Strict):
    name: str = omittable(min_length=1, max_length=200)
    time_zone: str = omittable()

    _tz = field_validator("time_zone")(validate_time_zone)


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    time_zone: str
    created_at: datetime
    my_roles: list[Role | Literal["integration"]] = Field(description="The caller's roles in this group.")

    @classmethod
    def of(cls, group: Group, roles: list[str]) -> "GroupOut":
        return cls(id=group.id, name=group.name, time_zone=group.time_zone, created_at=group.created_at, my_roles=roles)  # type: ignore[arg-type]


class GroupSetupOut(BaseModel):
    group: GroupOut
    members: list[MemberOut]
    admin_grants: list[AdminGrantOut]
