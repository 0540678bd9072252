"""Accounts and credentials (A1-A4): sign-up, email verification, login sessions."""

from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core import audit, throttle, tokens
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
    """Wrong email or password: the router answers 401 after committing the audit record."""


async def login(
    db: AsyncSession, redis: Redis, settings: Settings, *, email: str, password: str, ip: str | None
) -> tuple[str, datetime]:
    await throttle.check_login_allowed(redis, settings, email, ip)
    user = await find_user_by_email(db, email)
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        await throttle.record_login_failure(redis, settings, email, ip)
        await audit.record(
            db, None, "auth.login", target_type="user", target_id=user.id if user else None, outcome="failure"
        )
        raise LoginFailed
    await throttle.clear_login_failures(redis, email)
    secret = tokens.new_secret(tokens.SESSION_PREFIX)
    session = AuthSession(
        user_id=user.id,
        token_hash=tokens.digest(secret),
        expires_at=func.now() + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
    )
    db.add(session)
    await db.flush()
    await db.refresh(session, ["expires_at"])
    await audit.record(db, None, "auth.login", target_type="user", target_id=user.id)
    return secret, session.expires_at


async def logout(db: AsyncSession, actor: Actor) -> None:
    await db.execute(update(AuthSession).where(AuthSession.id == actor.session_id).values(revoked_at=func.now()))
    await audit.record(db, actor, "auth.logout", target_type="session", target_id=actor.session_id)
