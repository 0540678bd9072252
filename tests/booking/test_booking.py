"""Booking links: rule C5 (sign-up lands the client on that provider's roster), A1/A2, R1, R2."""

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.memberships.service import make_provider
from app.models import (
    AuditEvent,
    Client,
    Group,
    Membership,
    PracticeLocation,
    ProviderProfile,
    RosterEntry,
    User,
)
from tests.fixtures.factories import (
    api_key,
    bearer,
    make_group,
    make_user,
    unique_email,
    user_headers,
)
from tests.fixtures.mail import mails_to, verification_token


@pytest.fixture
async def group(db: AsyncSession) -> Group:
    group = await make_group(db, name="Willow Counseling")
    group.intake_session_minutes = 75
    group.booking_preferences = {"default_to_phone_consults": True, "appointments_by_specialization": False}
    await db.flush()
    return group


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Pia", last_name="Provider", email=unique_email("pia"))
    await make_provider(db, group, user, "LCSW")
    return user


@pytest.fixture
async def profile(db: AsyncSession, group: Group, provider: User) -> ProviderProfile:
    profile = await db.get(ProviderProfile, (group.id, provider.id))
    assert profile is not None
    profile.display_name = "Dr. Pia Provider"
    profile.photo_url = "https://cdn.example.com/pia.jpg"
    profile.specializations = ["Anxiety", "Grief"]
    profile.languages = ["English", "Spanish"]
    profile.highlights = ["Evening sessions"]
    profile.bio = "Fifteen years of practice."
    profile.education = [{"degree": "MSW", "institution": "Columbia University", "year": 2009}]
    profile.demographics = {"gender": "female", "faith": "private detail"}
    for label, line, city, state, archived in (
        ("Main", "1 Main St", "Brooklyn", "NY", False),
        ("Annex", "9 Side St", "Brooklyn", "NY", False),
        ("Old", "5 Gone Ave", "Hoboken", "NJ", True),
        ("Jersey", "2 River Rd", "Jersey City", "NJ", False),
    ):
        db.add(
            PracticeLocation(
                group_id=group.id,
                provider_user_id=provider.id,
                label=label,
                address_line1=line,
                city=city,
                state=state,
                postal_code="11201",
                archived_at=func.now() if archived else None,
            )
        )
    await db.flush()
    return profile


def signup_body(**overrides: object) -> dict:
    return {
        "email": unique_email("newclient"),
        "password": "correct horse battery",
        "first_name": "Jordan",
        "last_name": "Blake",
        "phone": "(212) 555-0142",
        "billing_type": "insurance",
        **overrides,
    }


async def roster_of(db: AsyncSession, provider: User) -> list[Client]:
    rows = await db.scalars(
        select(Client)
        .join(RosterEntry, RosterEntry.client_id == Client.id)
        .where(RosterEntry.provider_user_id == provider.id, RosterEntry.archived_at.is_(None))
    )
    return list(rows)


async def booking_events(db: AsyncSession, group: Group) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(AuditEvent.group_id == group.id, AuditEvent.action == "booking.signup").order_by(AuditEvent.id)
    )
    return list(rows)


# --- the public profile ---------------------------------------------------------------------------


async def test_the_booking_link_shows_the_public_profile_only(
    client: httpx.AsyncClient, group: Group, provider: User, profile: ProviderProfile
) -> None:
    # rule C5: each provider has a booking link; it shows what they publish, nothing private
    response = await client.get(f"/v1/booking/{profile.booking_slug}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "slug": profile.booking_slug,
        "display_name": "Dr. Pia Provider",
        "photo_url": "https://cdn.example.com/pia.jpg",
        "license_type": "LCSW",
        "specializations": ["Anxiety", "Grief"],
        "languages": ["English", "Spanish"],
        "highlights": ["Evening sessions"],
        "bio": "Fifteen years of practice.",
        "education": [{"degree": "MSW", "institution": "Columbia University", "year": 2009}],
        "practice_name": "Willow Counseling",
        # City and state only, each once, archived locations left out.
        "locations": [{"city": "Jersey City", "state": "NJ"}, {"city": "Brooklyn", "state": "NY"}],
        "intake_session_minutes": 75,
        "booking_preferences": {"default_to_phone_consults": True, "appointments_by_specialization": False},
    }
    assert provider.email not in response.text and "private detail" not in response.text and "Main St" not in response.text


async def test_a_profile_without_a_display_name_shows_the_persons_name(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User
) -> None:
    profile = await db.get(ProviderProfile, (group.id, provider.id))
    assert profile is not None
    profile.display_name = None
    await db.flush()
    body = (await client.get(f"/v1/booking/{profile.booking_slug}")).json()
    assert (body["display_name"], body["locations"], body["education"]) == ("Pia Provider", [], [])


async def test_hidden_unknown_and_former_providers_links_are_the_same_404(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, profile: ProviderProfile
) -> None:
    # shown or hidden in search (admin setting); the answer never tells whether a slug exists
    unknown = await client.get("/v1/booking/no-such-provider-abc123")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    await db.execute(update(Group).where(Group.id == group.id).values(shown_in_search=False))
    hidden = await client.get(f"/v1/booking/{profile.booking_slug}")
    assert hidden.status_code == 404 and hidden.content == unknown.content
    hidden_signup = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=signup_body())
    unknown_signup = await client.post("/v1/booking/no-such-provider-abc123/signup", json=signup_body())
    assert hidden_signup.status_code == unknown_signup.status_code == 404
    assert hidden_signup.content == unknown_signup.content == unknown.content

    await db.execute(update(Group).where(Group.id == group.id).values(shown_in_search=True))
    assert (await client.get(f"/v1/booking/{profile.booking_slug}")).status_code == 200
    await db.execute(
        update(Membership).where(Membership.group_id == group.id, Membership.user_id == provider.id).values(ended_at=func.now())
    )
    former = await client.get(f"/v1/booking/{profile.booking_slug}")
    assert former.status_code == 404 and former.content == unknown.content


# --- sign-up through the link (C5) ----------------------------------------------------------------


async def test_signing_up_lands_the_new_client_on_that_providers_roster(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, profile: ProviderProfile
) -> None:
    # rule C5, and A2: the new account gets a verification mail
    body = signup_body(email="Jordan.Blake@Example.com")
    response = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=body)
    assert response.status_code == 202, response.text
    user = await db.scalar(select(User).where(User.email == "jordan.blake@example.com"))
    assert user is not None and not user.email_verified and user.password_hash
    (record,) = await roster_of(db, provider)
    assert (record.user_id, record.group_id, record.billing_type, record.phone) == (user.id, group.id, "insurance", "+12125550142")
    (mail,) = await mails_to(db, user.email)
    assert mail.template == "verify_email" and verification_token(mail.body_text)
    (event,) = await booking_events(db, group)
    assert (event.target_type, event.target_id, event.actor_user_id, str(event.actor_ip)) == ("client", str(record.id), None, "203.0.113.7")
    assert event.details == {"provider_user_id": str(provider.id), "user_id": str(user.id), "new_account": True}
    # The verification link works: the account is the client's own from here.
    verified = await client.post("/v1/auth/verify-email", json={"token": verification_token(mail.body_text)})
    assert verified.status_code == 204


async def test_an_email_with_an_account_is_not_revealed_nor_enrolled(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, profile: ProviderProfile
) -> None:
    # A1 and C5: same answer as a new sign-up; the mailbox's owner is asked to log in and book
    existing = await make_user(db, email=unique_email("existing"), first_name="Erin")
    new = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=signup_body())
    taken = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=signup_body(email=existing.email.upper()))
    assert taken.status_code == new.status_code == 202
    assert taken.content == new.content
    assert await db.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == existing.email)) == 1
    assert existing.id not in {c.user_id for c in await roster_of(db, provider)}
    (mail,) = await mails_to(db, existing.email)
    assert mail.template == "booking_existing_account"
    assert "Log in to book with Dr. Pia Provider" == mail.subject and profile.booking_slug in mail.body_text
    assert [e.outcome for e in await booking_events(db, group)] == ["success", "existing_account"]


async def test_a_logged_in_person_books_as_themselves(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, profile: ProviderProfile
) -> None:
    # rule C5: a person with an account logs in and lands on the roster at once
    person = await make_user(db, first_name="Lee", last_name="Loggedin")
    headers = await user_headers(db, person)
    url = f"/v1/booking/{profile.booking_slug}/signup"
    first = await client.post(url, json={"billing_type": "private_pay", "phone": "+14155550123"}, headers=headers)
    assert first.status_code == 201, first.text
    (record,) = await roster_of(db, provider)
    assert first.json() == {"client_id": str(record.id), "group_id": str(group.id), "already_on_roster": False}
    assert (record.user_id, record.billing_type, record.phone) == (person.id, "private_pay", "+14155550123")
    again = await client.post(url, json={"billing_type": "private_pay"}, headers=headers)
    assert again.status_code == 201 and again.json()["already_on_roster"] is True
    assert len(await roster_of(db, provider)) == 1
    events = await booking_events(db, group)
    assert [(e.actor_user_id, e.details["added"]) for e in events] == [(person.id, True), (person.id, False)]
    assert await mails_to(db, person.email) == []


async def test_a_logged_in_person_does_not_send_account_fields(
    client: httpx.AsyncClient, db: AsyncSession, profile: ProviderProfile
) -> None:
    headers = await user_headers(db, await make_user(db))
    response = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=signup_body(), headers=headers)
    assert (response.status_code, response.json()["code"]) == (422, "signed_in_signup")
    assert {e["field"] for e in response.json()["errors"]} == {"body.email", "body.password", "body.first_name", "body.last_name"}


async def test_a_provider_cannot_book_themselves(
    client: httpx.AsyncClient, db: AsyncSession, provider: User, profile: ProviderProfile
) -> None:
    response = await client.post(
        f"/v1/booking/{profile.booking_slug}/signup", json={"billing_type": "private_pay"}, headers=await user_headers(db, provider)
    )
    assert (response.status_code, response.json()["code"]) == (409, "own_booking_link")


async def test_tokens_that_do_not_work_are_refused_not_ignored(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, profile: ProviderProfile
) -> None:
    url = f"/v1/booking/{profile.booking_slug}/signup"
    unknown = await client.post(url, json={"billing_type": "private_pay"}, headers=bearer("cs_not-a-real-token"))
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unauthenticated")
    keyed = await client.post(url, json={"billing_type": "private_pay"}, headers=bearer(await api_key(db, group)))
    assert (keyed.status_code, keyed.json()["code"]) == (403, "people_only")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "too short"}, "body.password"),
        ({"phone": "12345"}, "body.phone"),
        ({"billing_type": "cash"}, "body.billing_type"),
        ({"email": "not-an-email"}, "body.email"),
        ({"first_name": "   "}, "body.first_name"),
        ({"role": "admin"}, "body.role"),
    ],
)
async def test_invalid_sign_ups_are_refused_field_by_field(
    client: httpx.AsyncClient, db: AsyncSession, provider: User, profile: ProviderProfile, overrides: dict, field: str
) -> None:
    response = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json=signup_body(**overrides))
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await roster_of(db, provider) == []


async def test_someone_new_must_send_the_account_fields(
    client: httpx.AsyncClient, profile: ProviderProfile
) -> None:
    response = await client.post(f"/v1/booking/{profile.booking_slug}/signup", json={"billing_type": "insurance", "email": "a@example.com"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    assert {e["field"] for e in response.json()["errors"]} == {"body.password", "body.first_name", "body.last_name"}


async def test_sign_ups_are_throttled_per_address(
    client: httpx.AsyncClient, db: AsyncSession, provider: User, profile: ProviderProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 an hour per address by default; probing unknown links counts too
    monkeypatch.setattr(get_settings(), "booking_signups_per_address", 3)
    url = f"/v1/booking/{profile.booking_slug}/signup"
    assert (await client.post(url, json=signup_body())).status_code == 202
    assert (await client.post("/v1/booking/guess-1/signup", json=signup_body())).status_code == 404
    assert (await client.post(url, json=signup_body())).status_code == 202
    refused = await client.post(url, json=signup_body())
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_signups"
    assert 0 < int(refused.headers["retry-after"]) <= get_settings().booking_signup_window_s
    assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
    assert len(await roster_of(db, provider)) == 2
