"""Booking links (C5): a provider's public profile, and sign-up that lands a client on their roster.

Public routes: a link that is unknown, hidden from search, or whose provider left the group is the
same 404, so the answers never tell which slugs exist. Sign-up never tells whether an email has an
account either: the mailbox's owner learns that, by mail.
"""

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import send_verification
from app.booking.ratelimit import count_in_window
from app.clients.service import enroll
from app.invitations.service import accept_client_invitations
from app.config import Settings
from app.core import audit
from app.core.auth import Actor
from app.core.errors import Problem, conflict, not_found
from app.core.mail import send_mail
from app.core.passwords import hash_password
from app.models import (
    Client,
    Group,
    Membership,
    PracticeLocation,
    ProviderProfile,
    User,
)
from app.users.service import create_user, find_user_by_email


@dataclass(frozen=True, slots=True)
class Bookable:
    profile: ProviderProfile
    group: Group
    provider: User

    @property
    def provider_name(self) -> str:
        return self.profile.display_name or f"{self.provider.first_name} {self.provider.last_name}".strip()


async def bookable(db: AsyncSession, slug: str) -> Bookable:
    """The provider behind a booking link, if the group is shown in search and they still provide there."""
    row = (
        await db.execute(
            select(ProviderProfile, Group, User)
            .join(Group, Group.id == ProviderProfile.group_id)
            .join(User, User.id == ProviderProfile.user_id)
            .join(
                Membership,
                and_(
                    Membership.group_id == ProviderProfile.group_id,
                    Membership.user_id == ProviderProfile.user_id,
                    Membership.ended_at.is_(None),
                    Membership.is_provider,
                ),
            )
            .where(ProviderProfile.booking_slug == slug, Group.shown_in_search)
        )
    ).first()
    if row is None:
        raise not_found("booking link")
    return Bookable(*row)


async def public_profile(db: AsyncSession, slug: str) -> dict[str, Any]:
    """What a prospective client sees: the published profile, never contact details or demographics."""
    found = await bookable(db, slug)
    profile, group = found.profile, found.group
    places = await db.execute(
        select(PracticeLocation.city, PracticeLocation.state)
        .where(
            PracticeLocation.group_id == group.id,
            PracticeLocation.provider_user_id == profile.user_id,
            PracticeLocation.archived_at.is_(None),
        )
        .distinct()
        .order_by(PracticeLocation.state, PracticeLocation.city)
    )
    return {
        "slug": profile.booking_slug,
        "display_name": found.provider_name,
        "photo_url": profile.photo_url,
        "license_type": profile.license_type,
        "specializations": profile.specializations,
        "languages": profile.languages,
        "highlights": profile.highlights,
        "bio": profile.bio,
        "education": profile.education,
        "practice_name": group.name,
        "locations": [{"city": city, "state": state} for city, state in places],
        "intake_session_minutes": group.intake_session_minutes,
        "booking_preferences": group.booking_preferences or {},
    }


async def _throttle(redis: Redis, settings: Settings, ip: str | None) -> None:
    count, retry_after = await count_in_window(
        redis, f"booking-signup:ip:{ip or 'unknown'}", window_s=settings.booking_signup_window_s
    )
    if count > settings.booking_signups_per_address:
        raise Problem(
            429,
            "too_many_signups",
            f"Too many sign-ups from this address. Wait {retry_after} seconds and try again.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


def _missing_fields(fields: dict[str, Any]) -> Problem:
    return Problem(
        422,
        "validation_failed",
        "Some fields are missing or invalid; see `errors`.",
        title="Unprocessable Content",
        errors=[
            {"field": f"body.{name}", "message": "Field required (or send a bearer token to book as yourself)", "type": "missing"}
            for name, value in fields.items()
            if value is None
        ],
    )


async def signup(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    actor: Actor | None,
    slug: str,
    *,
    email: str | None,
    password: str | None,
    first_name: str | None,
    last_name: str | None,
    phone: str | None,
    billing_type: str,
    ip: str | None,
) -> tuple[Client, bool] | None:
    """C5. A logged-in person is put on the provider's roster at once: (client, added).

    Anyone else gets a new account (verification mailed) on that roster, or, when the email already
    has an account, a mail asking them to log in and book: None either way, so the answer is the same.
    """
    await _throttle(redis, settings, ip)
    found = await bookable(db, slug)
    group_id, provider_id = found.group.id, found.profile.user_id
    account = {"email": email, "password": password, "first_name": first_name, "last_name": last_name}
    if actor is not None:
        if any(value is not None for value in account.values()):
            raise Problem(
                422,
                "signed_in_signup",
                "You are logged in, so the booking is for your account: leave out email, password, first_name and last_name.",
                errors=[
                    {"field": f"body.{name}", "message": "leave out when logged in", "type": "extra_forbidden"}
                    for name, value in account.items()
                    if value is not None
                ],
            )
        return await _book_as(db, actor, found, phone=phone, billing_type=billing_type)
    if None in account.values():
        raise _missing_fields(account)
    assert email and password and first_name and last_name
    user = await _new_account(db, email=email, password=password, first_name=first_name, last_name=last_name)
    if user is None:
        await _mail_existing_account(db, settings, found, email)
        return None
    client, _ = await enroll(
        db, group_id=group_id, user=user, provider_user_id=provider_id, billing_type=billing_type, added_by=user.id, phone=phone
    )
    await send_verification(db, user, settings)
    await audit.record(
        db,
        None,
        "booking.signup",
        target_type="client",
        target_id=client.id,
        group_id=group_id,
        provider_user_id=str(provider_id),
        user_id=str(user.id),
        new_account=True,
    )
    return None


async def _new_account(db: AsyncSession, *, email: str, password: str, first_name: str, last_name: str) -> User | None:
    """A new account, or None when the email already has one (checked, and guarded by the unique index)."""
    if await find_user_by_email(db, email) is not None:
        await hash_password(password)  # the same work as a new account, so timing does not tell either
        return None
    try:
        async with db.begin_nested():
            return await create_user(db, email=email, password=password, first_name=first_name, last_name=last_name)
    except IntegrityError:  # the same email signed up a moment ago, in another request
        return None


async def _mail_existing_account(db: AsyncSession, settings: Settings, found: Bookable, email: str) -> None:
    existing = await find_user_by_email(db, email)
    assert existing is not None
    await send_mail(
        db,
        to=existing.email,
        subject=f"Log in to book with {found.provider_name}",
        body=(
            f"Hello {existing.first_name},\n\nSomeone (perhaps you) asked to book with {found.provider_name} "
            f"({found.group.name}) on Caseload using this address, which already has an account.\n"
            f"Log in at {settings.public_url}/login, then open {settings.public_url}/book/{found.profile.booking_slug} "
            "to book.\nIf you never chose a password, use the link in your invitation, or reset your password on the "
            "login page.\nIf it was not you, ignore this mail: nothing was changed.\n"
        ),
        template="booking_existing_account",
    )
    await audit.record(
        db,
        None,
        "booking.signup",
        target_type="user",
        target_id=existing.id,
        group_id=found.group.id,
        outcome="existing_account",
        provider_user_id=str(found.profile.user_id),
    )


async def _book_as(
    db: AsyncSession, actor: Actor, found: Bookable, *, phone: str | None, billing_type: str
) -> tuple[Client, bool]:
    if actor.user_id == found.profile.user_id:
        raise conflict("own_booking_link", "This is your own booking link: a provider cannot be their own client.")
    user = await db.get(User, actor.user_id)
    if user is None:
        raise not_found("account")
    client, added = await enroll(
        db,
        group_id=found.group.id,
        user=user,
        provider_user_id=found.profile.user_id,
        billing_type=billing_type,
        added_by=user.id,
        phone=phone,
    )
    if client.consented_at is None:
        # The practice had invited this person: booking with it themselves accepts (A10).
        await accept_client_invitations(db, actor, client.id)
        await db.refresh(client)
    await audit.record(
        db,
        actor,
        "booking.signup",
        target_type="client",
        target_id=client.id,
        group_id=found.group.id,
        provider_user_id=str(found.profile.user_id),
        user_id=str(user.id),
        added=added,
    )
    return client, added

