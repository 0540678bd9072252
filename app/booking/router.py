from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from app.auth.schemas import Accepted
from app.booking import schemas, service
from app.config import Settings, get_settings
from app.core.auth import Actor, authenticate, bearer_scheme, unauthenticated
from app.core.db import DB, Reader, get_reader
from app.core.errors import Problem, problem_responses
from app.core.middleware import client_ip
from app.core.redis import RedisDep
from app.core.routing import PUBLIC, allowed, router

booking_router = router("/v1/booking", "booking")
SettingsDep = Annotated[Settings, Depends(get_settings)]
_ACCEPTED = "If the address can receive mail, a message is on its way. Follow its link to continue."


async def optional_person(
    request: Request,
    bearer: Annotated[str | None, Depends(bearer_scheme)],
    reader: Annotated[Reader, Depends(get_reader)],
) -> Actor | None:
    """The logged-in person booking for themselves, or None for someone new. A token that is sent must work."""
    if not bearer:
        return None
    actor = await authenticate(reader, bearer)
    if actor is None:
        raise unauthenticated("The token is unknown, expired or revoked. Log in again, or sign up without it.")
    if actor.kind != "user":
        raise Problem(403, "people_only", "This is for people: log in instead of using an API key.")
    request.state.actor = actor
    return actor


OptionalPerson = Annotated[Actor | None, Depends(optional_person)]
# The bearer token is optional here: `{}` in the security list says so.
_PUBLIC_OPTIONAL_TOKEN: dict[str, Any] = {"openapi_extra": {**allowed(PUBLIC)["openapi_extra"], "security": [{}]}}


@booking_router.get("/{slug}", summary="Get a booking link's provider profile", responses=problem_responses(404), **allowed(PUBLIC))
async def read_booking_profile(slug: str, db: DB) -> schemas.BookingProfile:
    """A provider's public profile behind their booking link (only while their group is shown in search)."""
    return schemas.BookingProfile.model_validate(await service.public_profile(db, slug))


@booking_router.post(
    "/{slug}/signup", summary="Sign up through a booking link",
    status_code=202,
    response_model=Accepted,
    responses={
        201: {"model": schemas.BookingEnrolled, "description": "A logged-in person is now on the provider's roster."},
        **problem_responses(401, 403, 404, 409, 422, 429),
    },
    **_PUBLIC_OPTIONAL_TOKEN,
)
async def signup(
    slug: str,
    body: schemas.BookingSignup,
    request: Request,
    actor: OptionalPerson,
    db: DB,
    redis: RedisDep,
    settings: SettingsDep,
) -> Accepted | JSONResponse:
    """Sign up through a booking link and land on that provider's roster (202); logged in, book as yourself (201)."""
    booked = await service.signup(
        db,
        redis,
        settings,
        actor,
        slug,
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        phone=body.phone,
        billing_type=body.billing_type,
        ip=client_ip(request.scope),
    )
    if booked is None:
        return Accepted(detail=_ACCEPTED)
    client, added = booked
    enrolled = schemas.BookingEnrolled(client_id=client.id, group_id=client.group_id, already_on_roster=not added)
    return JSONResponse(enrolled.model_dump(mode="json"), status_code=201)
