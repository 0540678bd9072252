"""Each provider's own settings: profile, practice locations, intake form (the provider column of the
capability table). A provider changes their own; an admin any provider's of the group.

The provider in the path must be an active provider of the group with a profile (made when the owner
adds them, G5); anyone else is not found, like any object the caller cannot see.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, not_found
from app.models import IntakeForm, Membership, PracticeLocation, ProviderProfile
from app.providers.schemas import Demographics, LocationIn, ProfilePatch, Question


def _invalid(*errors: tuple[str, str]) -> Problem:
    """A 422 shaped like the request validator's, for checks that need the database."""
    return Problem(
        422,
        "validation_failed",
        "Some fields are missing or invalid; see `errors`.",
        title="Unprocessable Content",
        errors=[{"field": field, "message": message} for field, message in errors],
    )


async def _provider_profile(
    db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> ProviderProfile:
    stmt = (
        select(ProviderProfile)
        .join(
            Membership,
            and_(Membership.group_id == ProviderProfile.group_id, Membership.user_id == ProviderProfile.user_id),
        )
        .where(
            ProviderProfile.group_id == group_id,
            ProviderProfile.user_id == user_id,
            Membership.is_provider,
            Membership.ended_at.is_(None),
        )
    )
    if lock:
        # Changes to one provider's settings run one after the other (locations are diffed).
        stmt = stmt.with_for_update(of=ProviderProfile)
    profile = await db.scalar(stmt)
    if profile is None:
        raise not_found("provider")
    return profile


# --- profile --------------------------------------------------------------------------------------


async def read_profile(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> ProviderProfile:
    require(actor, Capability.PROFILE, group_id, provider_user_id=user_id)
    return await _provider_profile(db, group_id, user_id)


async def update_profile(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, changes: ProfilePatch
) -> ProviderProfile:
    require(actor, Capability.PROFILE, group_id, provider_user_id=user_id)
    profile = await _provider_profile(db, group_id, user_id, lock=True)
    fields = changes.model_fields_set
    if not fields:
        return profile
    values: dict[str, Any] = changes.model_dump(include=fields - {"demographics"})
    if "demographics" in fields:
        demographics = Demographics.model_validate(profile.demographics or {}).model_dump(exclude_defaults=True)
        for key, value in changes.demographics.model_dump(exclude_unset=True).items():
            if value is None or value == []:
                demographics.pop(key, None)
            else:
                demographics[key] = value
        values["demographics"] = demographics
    for name, value in values.items():
        setattr(profile, name, value)
    profile.updated_at = datetime.now(UTC)
    await db.flush()
    await audit.record(
        db, actor, "provider_profile.updated", target_type="provider_profile", target_id=user_id, group_id=group_id,
        fields=sorted(fields),
    )
    return profile


# --- practice locations ---------------------------------------------------------------------------


async def _active_locations(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID) -> list[PracticeLocation]:
    rows = await db.scalars(
        select(PracticeLocation)
        .where(
            PracticeLocation.group_id == group_id,
            PracticeLocation.provider_user_id == user_id,
            PracticeLocation.archived_at.is_(None),
        )
        .order_by(PracticeLocation.created_at, PracticeLocation.label, PracticeLocation.id),
        execution_options={"populate_existing": True},
    )
    return list(rows)


async def read_locations(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> list[PracticeLocation]:
    require(actor, Capability.LOCATIONS, group_id, provider_user_id=user_id)
    await _provider_profile(db, group_id, user_id)
    return await _active_locations(db, group_id, user_id)


_LOCATION_FIELDS = ("label", "address_line1", "address_line2", "city", "state", "postal_code")


async def update_locations(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, locations: list[LocationIn]
) -> list[PracticeLocation]:
    """Listed locations are added (no id) or changed (id); active ones not listed are archived, never deleted:
    past sessions still point at them."""
    require(actor, Capability.LOCATIONS, group_id, provider_user_id=user_id)
    await _provider_profile(db, group_id, user_id, lock=True)
    active = {location.id: location for location in await _active_locations(db, group_id, user_id)}

    first_seen: dict[uuid.UUID, int] = {}
    errors = []
    for index, location in enumerate(locations):
        if location.id is None:
            continue
        if location.id in first_seen:
            errors.append((f"body.locations.{index}.id", f"repeats locations.{first_seen[location.id]}"))
        elif location.id not in active:
            errors.append(
                (f"body.locations.{index}.id", "is not an active location of this provider; leave id out to add a location")
            )
        first_seen.setdefault(location.id, index)
    if errors:
        raise _invalid(*errors)

    now = datetime.now(UTC)
    archived = [location_id for location_id in active if location_id not in first_seen]
    if archived:
        await db.execute(
            update(PracticeLocation)
            .where(
                PracticeLocation.group_id == group_id,
                PracticeLocation.provider_user_id == user_id,
                PracticeLocation.id.in_(archived),
            )
            .values(archived_at=now)
        )
    changed, created = [], []
    for location in locations:
        values = location.model_dump(include=set(_LOCATION_FIELDS))
        if location.id is None:
            row = PracticeLocation(id=uuid.uuid4(), group_id=group_id, provider_user_id=user_id, created_at=now, **values)
            db.add(row)
            created.append(row.id)
            continue
        row = active[location.id]
        if any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            changed.append(row.id)
    await db.flush()
    if archived or changed or created:
        await audit.record(
            db, actor, "practice_locations.updated", target_type="provider_profile", target_id=user_id,
            group_id=group_id, created=[str(i) for i in created], changed=[str(i) for i in changed],
            archived=[str(i) for i in archived],
        )
    return await _active_locations(db, group_id, user_id)


# --- intake form ----------------------------------------------------------------------------------


async def read_intake_form(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> IntakeForm | None:
    require(actor, Capability.INTAKE_FORM, group_id, provider_user_id=user_id)
    await _provider_profile(db, group_id, user_id)
    return await db.scalar(
        select(IntakeForm).where(IntakeForm.group_id == group_id, IntakeForm.provider_user_id == user_id)
    )


async def update_intake_form(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, questions: list[Question]
) -> IntakeForm:
    require(actor, Capability.INTAKE_FORM, group_id, provider_user_id=user_id)
    await _provider_profile(db, group_id, user_id, lock=True)
    values = {"questions": [question.model_dump(exclude_none=True) for question in questions], "updated_at": datetime.now(UTC)}
    form = await db.scalar(
        pg_insert(IntakeForm)
        .values(group_id=group_id, provider_user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[IntakeForm.group_id, IntakeForm.provider_user_id], set_=values)
        .returning(IntakeForm),
        execution_options={"populate_existing": True},
    )
    assert form is not None
    await audit.record(
        db, actor, "intake_form.updated", target_type="intake_form", target_id=user_id, group_id=group_id,
        questions=len(questions),
    )
    return form
