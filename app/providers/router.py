import uuid

from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.routing import allowed, router
from app.providers import schemas, service

providers_router = router("/v1/groups/{group_id}/providers/{user_id}", "providers")

_ERRORS = problem_responses(401, 403, 404, 422)


@providers_router.get("/profile", summary="Get a provider's profile", responses=_ERRORS, **allowed(Capability.PROFILE))
async def read_profile(group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.ProfileOut:
    """A provider's profile: their own, or any provider's of the group for an admin."""
    return schemas.ProfileOut.model_validate(await service.read_profile(db, actor, group_id, user_id))


@providers_router.patch("/profile", summary="Update a provider's profile", responses=_ERRORS, **allowed(Capability.PROFILE))
async def update_profile(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.ProfilePatch, actor: CurrentActor, db: DB
) -> schemas.ProfileOut:
    """Change a provider's profile (fields left out stay as they are; the license type is not editable)."""
    return schemas.ProfileOut.model_validate(await service.update_profile(db, actor, group_id, user_id, body))


@providers_router.get("/locations", summary="List a provider's locations", responses=_ERRORS, **allowed(Capability.LOCATIONS))
async def read_locations(
    group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.LocationsOut:
    """A provider's active practice locations."""
    locations = await service.read_locations(db, actor, group_id, user_id)
    return schemas.LocationsOut(locations=[schemas.LocationOut.model_validate(row) for row in locations])


@providers_router.patch("/locations", summary="Set a provider's locations", responses=_ERRORS, **allowed(Capability.LOCATIONS))
async def update_locations(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.LocationsPatch, actor: CurrentActor, db: DB
) -> schemas.LocationsOut:
    """Set a provider's practice locations: listed ones are added or changed, the others archived."""
    locations = await service.update_locations(db, actor, group_id, user_id, body.locations)
    return schemas.LocationsOut(locations=[schemas.LocationOut.model_validate(row) for row in locations])


@providers_router.get("/intake-form", summary="Get a provider's intake form", responses=_ERRORS, **allowed(Capability.INTAKE_FORM))
async def read_intake_form(
    group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB
) -> schemas.IntakeFormOut:
    """A provider's individual intake form (no questions until it is first saved)."""
    form = await service.read_intake_form(db, actor, group_id, user_id)
    if form is None:
        return schemas.IntakeFormOut(questions=[], updated_at=None)
    return schemas.IntakeFormOut.model_validate(form, from_attributes=True)


@providers_router.patch("/intake-form", summary="Replace a provider's intake form", responses=_ERRORS, **allowed(Capability.INTAKE_FORM))
async def update_intake_form(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.IntakeFormPatch, actor: CurrentActor, db: DB
) -> schemas.IntakeFormOut:
    """Replace a provider's intake form questions (at most 100, ids unique)."""
    form = await service.update_intake_form(db, actor, group_id, user_id, body.questions)
    return schemas.IntakeFormOut.model_validate(form, from_attributes=True)
