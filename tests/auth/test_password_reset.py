"""Password reset and change, and the password policy: rules A5 (and A2 at sign-up)."""

import re
import statistics
import time
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.password_policy import common_passwords
from app.config import get_settings
from app.models import AuditEvent, AuthSession, User
from tests.auth.conftest import PASSWORD, login
from tests.fixtures.factories import bearer, make_user, user_headers
from tests.fixtures.mail import mails_to

NEW_PASSWORD = "correct horse battery staple"
RESET_TOKEN = re.compile(r"token=(cpr_[A-Za-z0-9_-]+)")


async def request_reset(client: httpx.AsyncClient, db: AsyncSession, email: str) -> str:
    response = await client.post("/v1/auth/password-reset", json={"email": email})
    assert response.status_code == 202, response.text
    mails = [m for m in await mails_to(db, email.lower()) if m.template == "password_reset"]
    match = RESET_TOKEN.search(mails[-1].body_text)
    assert match, "no reset link in the mail"
    return match.group(1)


async def confirm(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": password})


async def test_reset_by_mailed_link_sets_the_password_and_ends_every_login(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A5
    other_login = await user_headers(db, person)
    token = await request_reset(client, db, "Grace@Example.com")
    assert (await confirm(client, token)).status_code == 204
    assert (await login(client, "grace@example.com", PASSWORD)).status_code == 401
    assert (await login(client, "grace@example.com", NEW_PASSWORD)).status_code == 200
    assert (await client.get("/v1/me", headers=other_login)).status_code == 401  # every earlier login ended
    told = [m for m in await mails_to(db, "grace@example.com") if m.template == "password_changed"]
    assert len(told) == 1 and "changed" in told[0].subject
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(person.id)))).all()
    assert "auth.password_reset_requested" in actions and "auth.password_reset" in actions


async def test_a_reset_link_works_once(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A5: single use
    token = await request_reset(client, db, "grace@example.com")
    assert (await confirm(client, token)).status_code == 204
    again = await confirm(client, token, "another fine passphrase")
    assert again.status_code == 409
    assert again.json()["code"] == "reset_token_used"
    assert (await login(client, "grace@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_new_password_spends_every_other_outstanding_link(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A5: an older link mailed earlier cannot undo the reset
    first = await request_reset(client, db, "grace@example.com")
    second = await request_reset(client, db, "grace@example.com")
    assert (await confirm(client, second)).status_code == 204
    assert (await confirm(client, first, "another fine passphrase")).json()["code"] == "reset_token_used"


async def test_a_reset_link_expires_after_30_minutes(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A5: expiring
    issued_at = frozen.now
    late = await request_reset(client, db, "grace@example.com")
    in_time = await request_reset(client, db, "grace@example.com")
    frozen.now = issued_at + timedelta(minutes=30)
    expired = await confirm(client, late)
    assert expired.status_code == 410
    assert expired.json()["code"] == "reset_token_expired"
    frozen.now = issued_at + timedelta(minutes=29, seconds=59)
    assert (await confirm(client, in_time)).status_code == 204


async def test_an_unknown_reset_token_is_404(client: httpx.AsyncClient) -> None:
    response = await confirm(client, "cpr_" + "x" * 43)
    assert response.status_code == 404
    assert response.json()["code"] == "reset_token_unknown"


async def test_the_reset_request_answers_the_same_for_an_unknown_email(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A5: no enumeration (status and body), and nobody is mailed for an unknown address
    known = await client.post("/v1/auth/password-reset", json={"email": "grace@example.com"})
    unknown = await client.post("/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers["content-type"] == unknown.headers["content-type"]
    assert await mails_to(db, "nobody@example.com") == []


async def test_the_reset_request_takes_the_same_time_for_an_unknown_email(client: httpx.AsyncClient, db: AsyncSession, person, monkeypatch) -> None:
    # rule A5: no enumeration by timing: medians of interleaved requests within a few milliseconds
    monkeypatch.setattr(get_settings(), "password_resets_per_address", 1000)
    monkeypatch.setattr(get_settings(), "password_resets_per_email", 1000)  # every known request mails
    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await client.post("/v1/auth/password-reset", json={"email": email})
        assert response.status_code == 202
        return time.perf_counter() - started

    for _ in range(3):  # warm up both paths
        await timed("grace@example.com")
        await timed("nobody@example.com")
    known, unknown = [], []
    for _ in range(25):
        known.append(await timed("grace@example.com"))
        unknown.append(await timed("nobody@example.com"))
    difference_ms = abs(statistics.median(known) - statistics.median(unknown)) * 1000
    assert difference_ms < 5, f"medians differ by {difference_ms:.2f} ms"


async def test_reset_refuses_a_common_password_and_one_containing_the_email(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A5: the password policy
    token = await request_reset(client, db, "grace@example.com")
    common = next(p for p in sorted(common_passwords()) if len(p) >= 12)
    refused = await confirm(client, token, common)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.new_password"
    assert "common" in refused.json()["errors"][0]["message"]
    refused = await confirm(client, token, "Grace-has-a-new-password")
    assert refused.status_code == 422
    assert "email" in refused.json()["errors"][0]["message"]
    assert (await confirm(client, token)).status_code == 204  # the refusals did not spend the link


async def test_signup_applies_the_same_password_policy(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A5's policy at sign-up (A2)
    body = {"email": "ada.lovelace@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    common = next(p for p in sorted(common_passwords()) if len(p) >= 12)
    for password in (common, "ada.lovelace-2027!"):
        response = await client.post("/v1/auth/signup", json=body | {"password": password})
        assert response.status_code == 422, password
        assert response.json()["errors"][0]["field"] == "body.password"
    assert (await client.post("/v1/auth/signup", json=body | {"password": NEW_PASSWORD})).status_code == 202


async def test_change_password_needs_the_current_one_and_ends_the_other_logins(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A5: a logged-in person changes it by giving the current one; every other login ends
    current = bearer((await login(client, "grace@example.com", PASSWORD)).json()["access_token"])
    other = bearer((await login(client, "grace@example.com", PASSWORD)).json()["access_token"])
    wrong = await client.post("/v1/me/password", headers=current, json={"current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "current_password_wrong"
    changed = await client.post("/v1/me/password", headers=current, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 204, changed.text
    assert (await client.get("/v1/me", headers=current)).status_code == 200  # this login stays
    assert (await client.get("/v1/me", headers=other)).status_code == 401
    assert (await login(client, "grace@example.com", NEW_PASSWORD)).status_code == 200
    assert [m.template for m in await mails_to(db, "grace@example.com")] == ["password_changed"]
    outcomes = (await db.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "auth.password_changed").order_by(AuditEvent.id))).all()
    assert outcomes == ["failure", "success"]


async def test_change_password_applies_the_policy(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    headers = await user_headers(db, person)
    refused = await client.post("/v1/me/password", headers=headers, json={"current_password": PASSWORD, "new_password": "grace-is-my-name-1"})
    assert refused.status_code == 422
    assert (await db.get(User, person.id)).password_hash == person.password_hash


async def test_guessing_the_current_password_is_throttled_like_login(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A8: a stolen login token is not a way around the login throttle
    headers = await user_headers(db, person)
    for _ in range(5):
        response = await client.post("/v1/me/password", headers=headers, json={"current_password": "a wrong guess", "new_password": NEW_PASSWORD})
        assert response.status_code == 409
    response = await client.post("/v1/me/password", headers=headers, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 429


async def test_an_invited_person_resetting_verifies_the_address(client: httpx.AsyncClient, db: AsyncSession, frozen) -> None:
    invited = await make_user(db, email="invited@example.com", verified=False)
    token = await request_reset(client, db, "invited@example.com")
    assert (await confirm(client, token)).status_code == 204
    await db.refresh(invited)
    assert invited.email_verified and invited.password_hash
    assert await db.scalar(select(AuthSession.id).where(AuthSession.user_id == invited.id)) is None


async def test_reset_mails_are_limited_per_email_without_telling(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A5: nobody floods a mailbox with reset links; past the budget the answer is unchanged
    answers = [await client.post("/v1/auth/password-reset", json={"email": "grace@example.com"}) for _ in range(5)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert len([m for m in await mails_to(db, "grace@example.com") if m.template == "password_reset"]) == 3


async def test_many_reset_requests_from_one_address_are_refused(from_address, person) -> None:
    # rule A5 with A8's throttle: one client cannot mail the world
    async with from_address("198.51.100.60") as caller:
        for n in range(20):
            assert (await caller.post("/v1/auth/password-reset", json={"email": f"p{n}@example.com"})).status_code == 202
        refused = await caller.post("/v1/auth/password-reset", json={"email": "grace@example.com"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_reset_requests" and int(refused.headers["Retry-After"]) > 0
    async with from_address("192.0.2.61") as owner:
        assert (await owner.post("/v1/auth/password-reset", json={"email": "grace@example.com"})).status_code == 202
