"""Accounts and credentials (A1-A4): sign-up, email verification, login sessions."""

import uuid
from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.auth import passwords, two_factor
from app.auth.events import security_event
from app.core import audit, clock, throttle, tokens
from app.core.auth import Actor
from app.core.errors import Problem
from app.core.mail import send_mail
from app.core.passwords import hash_password, verify_password
from app.invitations.service import accept_account_invitations
from app.memberships.service import activate_verified_grants
from app.models import AuthSession, EmailVerificationToken, User
from app.users.service import create_user, find_user_by_email, issue_verification_token

log = structlog.get_logger("caseload.auth")


async def send_verification(db: AsyncSession, user: User, settings: Settings) -> None:
    secret = issue_verification_token(db, user)
    # An invited account has no password yet: its link is the invitation, where the password is chosen.
    action = "verify-email" if user.password_hash else "accept-invitation"
    link = f"{settings.public_url}/{action}?token={secret}"
    await send_mail(
        db,
        to=user.email,
        subject="Verify your email for Caseload",
        body=(
            f"Hello {user.first_name},\n\nConfirm this address to finish setting up your Caseload account:\n\n"
            f"{link}\n\nThe link works once and expires in {settings.verification_token_hours} hours.\n"
            f"Verification token: {secret}\n"
        ),
        template="verify_email",
    )


async def signup(
    db: AsyncSession, settings: Settings, *, email: str, password: str, first_name: str, last_name: str
) -> None:
    """A2. Answers the same whether or not the email is taken; the mailbox's owner learns which."""
    passwords.check_policy(password, email, "password")  # A5's policy, before anything is looked up
    existing = await find_user_by_email(db, email)
    if existing is None:
        user = await create_user(db, email=email, password=password, first_name=first_name, last_name=last_name)
        await send_verification(db, user, settings)
        await audit.record(db, None, "user.signup", target_type="user", target_id=user.id)
        return
    await hash_password(password)  # the same work as a new account, so timing does not tell either
    await send_mail(
        db,
        to=existing.email,
        subject="Someone tried to sign up with your email",
        body=(
            "Someone (perhaps you) tried to create a Caseload account with this address, which already has one.\n"
            f"Log in at {settings.public_url}/login, or reset your password there. If it was not you, ignore this mail.\n"
        ),
        template="signup_existing_account",
    )


async def verify_email(db: AsyncSession, secret: str, *, password: str | None = None) -> None:
    """A2: consume a verification (or invitation) token; an invited account also chooses its password."""
    token = await db.scalar(
        select(EmailVerificationToken)
        .where(EmailVerificationToken.token_hash == tokens.digest(secret))
        .with_for_update()
    )
    if token is None:
        raise Problem(404, "verification_token_unknown", "This verification link is not valid. Request a new one.")
    if token.used_at is not None:
        raise Problem(409, "verification_token_used", "This verification link was already used. Log in, or request a new link.")
    now = await db.scalar(select(func.now()))
    if token.expires_at <= now:
        raise Problem(410, "verification_token_expired", "This verification link has expired. Request a new one.")
    user = await db.get(User, token.user_id, with_for_update=True)
    assert user is not None
    if password is not None:
        if user.password_hash is not None:
            raise Problem(409, "invitation_already_accepted", "This account already has a password. Log in instead.")
        passwords.check_policy(password, user.email, "password")
        user.password_hash = await hash_password(password)
    elif user.password_hash is None:
        raise Problem(409, "password_required", "This is an invitation: accept it with POST /v1/auth/accept-invitation and a password.")
    token.used_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
    await db.flush()
    await audit.record(db, None, "user.email_verified", target_type="user", target_id=user.id)
    # A10: what practices asked together with this new account is accepted with it.
    await accept_account_invitations(db, user.id)
    # G4: admin rights that waited for this verification take effect now.
    await activate_verified_grants(db, user.id)


async def resend_verification(db: AsyncSession, settings: Settings, email: str) -> None:
    user = await find_user_by_email(db, email)
    if user is not None and not user.email_verified:
        await send_verification(db, user, settings)


class LoginFailed(Exception):
    """Wrong email, password or code: the router answers 401 after committing the audit record."""

    def __init__(self, code: str = "invalid_credentials") -> None:
        super().__init__(code)
        self.code = code


class SecondFactorNeeded(Exception):
    """A6: the password was right and the account has two-factor: the client answers the challenge."""

    def __init__(self, challenge: str, expires_at: datetime) -> None:
        super().__init__("second factor needed")
        self.challenge = challenge
        self.expires_at = expires_at


def _challenge_key(secret: str) -> str:
    return f"login-challenge:{tokens.digest(secret).hex()}"


async def login(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    email: str,
    password: str,
    otp: str | None = None,
    ip: str | None,
    user_agent: str | None = None,
) -> tuple[str, datetime]:
    """A3/A8: a session for the right password (and code, with two-factor), throttled per account and address."""
    await throttle.check_login_allowed(redis, settings, email, ip)
    user = await find_user_by_email(db, email)
    valid = await verify_password(user.password_hash if user else None, password)
    if not valid and user is not None and user.totp_enabled_at is not None and otp is None and _ends_with_code(password):
        # Swagger UI's password flow has no field for the code: it may be typed after the password.
        valid = await verify_password(user.password_hash, password[:-6])
        otp = password[-6:] if valid else None
    if not valid or user is None:
        await _login_failed(db, redis, settings, email, ip, user.id if user else None, "password")
        raise LoginFailed
    if user.totp_enabled_at is not None:
        if not otp:
            raise await _challenge(redis, settings, user.id)
        if not await two_factor.accept_code(db, user, otp):
            await _login_failed(db, redis, settings, email, ip, user.id, "code")
            raise LoginFailed("invalid_otp")
    await throttle.clear_login_failures(redis, email, ip)
    return await _open_session(db, settings, user, ip=ip, user_agent=user_agent)


async def complete_login(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    *,
    challenge: str,
    code: str,
    ip: str | None,
    user_agent: str | None = None,
) -> tuple[str, datetime]:
    """A6, second step: the challenge from the password step and a code (authenticator or recovery)."""
    key = _challenge_key(challenge)
    user_id = await throttle.guarded(lambda: redis.hget(key, "user_id"))
    user = await db.get(User, uuid.UUID(user_id.decode() if isinstance(user_id, bytes) else user_id)) if user_id else None
    if user is None or user.totp_enabled_at is None:
        raise Problem(401, "challenge_invalid", "This sign-in challenge is unknown or expired. Log in again with email and password.")
    await throttle.check_login_allowed(redis, settings, user.email, ip)
    if not await two_factor.accept_code(db, user, code):
        await _login_failed(db, redis, settings, user.email, ip, user.id, "code")
        tries = await throttle.guarded(lambda: redis.hincrby(key, "tries", 1))
        if tries >= MAX_CHALLENGE_TRIES:
            await throttle.guarded(lambda: redis.delete(key))
        raise LoginFailed("invalid_otp")
    await throttle.guarded(lambda: redis.delete(key))
    await throttle.clear_login_failures(redis, user.email, ip)
    return await _open_session(db, settings, user, ip=ip, user_agent=user_agent)


MAX_CHALLENGE_TRIES = 5


def _ends_with_code(password: str) -> bool:
    return len(password) > 6 and password[-6:].isdigit()


async def _challenge(redis: Redis, settings: Settings, user_id: uuid.UUID) -> SecondFactorNeeded:
    secret = tokens.new_secret(tokens.CHALLENGE_PREFIX)
    key = _challenge_key(secret)

    async def store() -> None:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user_id": str(user_id), "tries": 0}).expire(key, settings.login_challenge_seconds)
            await pipe.execute()

    await throttle.guarded(store)
    return SecondFactorNeeded(secret, clock.now() + timedelta(seconds=settings.login_challenge_seconds))


async def _login_failed(
    db: AsyncSession, redis: Redis, settings: Settings, email: str, ip: str | None, user_id: uuid.UUID | None, factor: str
) -> None:
    await throttle.record_login_failure(redis, settings, email, ip)
    await audit.record(db, None, "auth.login", target_type="user", target_id=user_id, outcome="failure", factor=factor)
    security_event("security.login_failed", user_id=user_id, factor=factor)


async def _open_session(
    db: AsyncSession, settings: Settings, user: User, *, ip: str | None, user_agent: str | None
) -> tuple[str, datetime]:
    secret = tokens.new_secret(tokens.SESSION_PREFIX)
    # A6: staff must have two-factor; without it, this login is good only for enrolling.
    enrol_only = user.is_staff and user.totp_enabled_at is None
    session = AuthSession(
        user_id=user.id,
        token_hash=tokens.digest(secret),
        expires_at=func.now() + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
        enrol_only=enrol_only,
    )
    db.add(session)
    await db.flush()
    await db.refresh(session, ["expires_at"])
    await audit.record(db, None, "auth.login", target_type="user", target_id=user.id, session_id=str(session.id))
    return secret, session.expires_at


async def logout(db: AsyncSession, actor: Actor) -> None:
    await db.execute(update(AuthSession).where(AuthSession.id == actor.session_id).values(revoked_at=func.now()))
    await audit.record(db, actor, "auth.logout", target_type="session", target_id=actor.session_id)
