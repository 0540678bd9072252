from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from app.auth.schemas import Accepted
from app.booking import link, schemas, service
from app.config import Settings, get_settings
from app.core.auth import Actor, authenticate, bearer_scheme, unauthenticated
from app.core.db import DB, Reader, get_reader
from app.core.errors import Problem, problem_responses
from app.core.middleware import client_ip
from app.core.redis import RedisDep
from app.core.routing import PUBLIC, allowed, router
from app.core.schemas import InstantQuery

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


@booking_router.get(
    "/{slug}/slots", summary="Open slots behind a booking link", response_model=schemas.LinkSlots,
    responses=problem_responses(404, 422),
    description="The provider's open slots for a new client, UTC with the provider's time zone echoed. `kind` defaults "
    "to what the practice offers first (a short phone consultation where it prefers one, else an intake of the "
    "practice's intake length). With `state` (where the person will be for telehealth), telehealth slots are left out "
    "when the provider holds no license there. `to` is at most 62 days after `from`.",
    **allowed(PUBLIC),
)
async def link_slots(
    slug: str, db: DB,
    start: Annotated[InstantQuery | None, Query(alias="from", description="Slots starting at or after; default: now.")] = None,
    end: Annotated[InstantQuery | None, Query(alias="to", description="...and before; default: 14 days after `from`.")] = None,
    kind: Annotated[schemas.LinkKind | None, Query(description="`intake` or `consultation` (where offered).")] = None,
    location: Annotated[str | None, Query(max_length=36, description="`telehealth` or a practice location id.")] = None,
    state: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="Your US state for telehealth, e.g. CA.")] = None,
) -> schemas.LinkSlots:
    return schemas.LinkSlots.model_validate(
        await link.link_slots(db, slug, start=start, end=end, kind=kind, location=location, state=state)
    )


@booking_router.post(
    "/{slug}/book",
    status_code=202,
    summary="Book a first session through a booking link",
    response_model=Accepted,
    responses={
        201: {"model": schemas.BookingBooked, "description": "A logged-in person's session is booked."},
        **problem_responses(401, 403, 404, 409, 422, 429),
    },
    description="A new client's details and one open slot (from `GET /v1/booking/{slug}/slots`): the account is made, "
    "the person put on the provider's roster and the session booked together, or nothing is. Someone not logged in "
    "always gets 202 and a mail (a verification link for a new account; a request to log in and book for an email that "
    "already has one). A logged-in person books as themselves: 201 with the session. A slot someone else took first is "
    "409 `slot_taken` with `next_slots`; a telehealth slot where the provider is not licensed in `telehealth_state` is "
    "409 `not_licensed_in_state`; a practice with an age range needs `date_of_birth` and refuses ages outside it (422 "
    "`outside_age_range`). Throttled per address like sign-ups.",
    **_PUBLIC_OPTIONAL_TOKEN,
)
async def book(
    slug: str, body: schemas.BookingRequest, request: Request, actor: OptionalPerson, db: DB, redis: RedisDep,
    settings: SettingsDep,
) -> Accepted | JSONResponse:
    session = await link.book(db, redis, settings, actor, slug, body, client_ip(request.scope))
    if session is None or actor is None:
        return Accepted(detail="Check your mail to continue: follow its link to confirm your address or to log in.")
    booked = schemas.BookingBooked(
        session_id=session.id, client_id=session.client_id, group_id=session.group_id, kind=session.kind,  # type: ignore[arg-type]
        starts_at=session.starts_at, ends_at=session.ends_at, telehealth=session.telehealth, location_id=session.location_id,
    )
    return JSONResponse(booked.model_dump(mode="json"), status_code=201)
