"""Sign-up and email verification: rules A1, A2."""

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EmailVerificationToken, User
from tests.fixtures.mail import mails_to, verification_token

SIGNUP = {"email": "Ada.Lovelace@Example.com", "password": "correct horse battery", "first_name": "Ada", "last_name": "Lovelace"}


async def signup(client: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    return await client.post("/v1/auth/signup", json={**SIGNUP, **overrides})


async def test_signup_creates_an_unverified_account_and_mails_a_link(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A1, A2
    response = await signup(client)
    assert response.status_code == 202
    user = await db.scalar(select(User).where(User.email == "ada.lovelace@example.com"))
    assert user is not None and not user.email_verified
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    [mail] = await mails_to(db, "ada.lovelace@example.com")
    assert mail.template == "verify_email"
    assert verification_token(mail.body_text).startswith("cev_")


async def test_signup_does_not_reveal_a_taken_email(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A1: unique whatever the case; the answer is the same, the mailbox owner is told
    first = await signup(client)
    second = await signup(client, email="  ADA.LOVELACE@example.COM ", first_name="Mallory")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert await db.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == "ada.lovelace@example.com")) == 1
    templates = [m.template for m in await mails_to(db, "ada.lovelace@example.com")]
    assert templates == ["verify_email", "signup_existing_account"]


async def test_signup_refuses_weak_passwords_and_unknown_fields(client: httpx.AsyncClient) -> None:
    short = await signup(client, password="Tr0ub4dor")
    assert short.status_code == 422
    assert short.json()["code"] == "validation_failed"
    assert [e["field"] for e in short.json()["errors"]] == ["body.password"]
    assert "Tr0ub4dor" not in short.text  # the submitted value is never echoed
    extra = await client.post("/v1/auth/signup", json={**SIGNUP, "is_staff": True})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "body.is_staff"


async def test_verification_link_verifies_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A2: single-use
    await signup(client)
    [mail] = await mails_to(db, "ada.lovelace@example.com")
    token = verification_token(mail.body_text)
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 204
    user = await db.scalar(select(User).where(User.email == "ada.lovelace@example.com"))
    await db.refresh(user)
    assert user.email_verified
    again = await client.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 409
    assert again.json()["code"] == "verification_token_used"


async def test_expired_verification_link_is_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A2: expiring
    await signup(client)
    [mail] = await mails_to(db, "ada.lovelace@example.com")
    await db.execute(update(EmailVerificationToken).values(expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1)))
    response = await client.post("/v1/auth/verify-email", json={"token": verification_token(mail.body_text)})
    assert response.status_code == 410
    assert response.json()["code"] == "verification_token_expired"
    user = await db.scalar(select(User).where(User.email == "ada.lovelace@example.com"))
    assert not user.email_verified


async def test_unknown_verification_token_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/verify-email", json={"token": "cev_" + "x" * 43})
    assert response.status_code == 404
    assert response.json()["code"] == "verification_token_unknown"


async def test_resend_mails_a_fresh_link_only_to_unverified_accounts(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A2
    await signup(client)
    assert (await client.post("/v1/auth/resend-verification", json={"email": "ada.lovelace@example.com"})).status_code == 202
    mails = await mails_to(db, "ada.lovelace@example.com")
    assert [m.template for m in mails] == ["verify_email", "verify_email"]
    # the newest link works even though an older one exists
    assert (await client.post("/v1/auth/verify-email", json={"token": verification_token(mails[1].body_text)})).status_code == 204
    await client.post("/v1/auth/resend-verification", json={"email": "ada.lovelace@example.com"})
    assert len(await mails_to(db, "ada.lovelace@example.com")) == 2  # verified: nothing more sent
    unknown = await client.post("/v1/auth/resend-verification", json={"email": "nobody@example.com"})
    assert unknown.status_code == 202  # same answer: existence is not revealed
