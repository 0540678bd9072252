"""Password reset and change (A5): a mailed single-use link, or the current password; both end other logins."""

import uuid
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import password_policy
from app.auth.events import security_event
from app.config import Settings
from app.core import audit, clock, throttle, tokens
from app.core.auth import Actor
from app.core.errors import Problem
from app.core.mail import send_mail
from app.core.passwords import hash_password, verify_password
from app.models import AuthSession, PasswordResetToken, User
from app.users.service import normalize_email


class CurrentPasswordWrong(Exception):
    """The router answers 409 after committing the failed attempt's audit record."""


def check_policy(password: str, email: str | None, field: str) -> None:
    """The password policy as a 422 shaped like the request validator's."""
    found = password_policy.problems(password, email)
    if found:
        raise Problem(
            422,
            "validation_failed",
            "Some fields are missing or invalid; see `errors`.",
            title="Unprocessable Content",
            errors=[{"field": f"body.{field}", "message": message} for message in found],
        )


# One statement whatever the answer: the token, the mail and its delivery job are written only when the
# email has an account, but the database does the same lookup and runs the same statement either way.
_REQUEST_RESET = text("""
WITH person AS (SELECT id, email, first_name FROM users WHERE lower(email) = :email),
token AS (
    INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at)
    SELECT :token_id, id, :token_hash, :expires_at FROM person RETURNING user_id
),
mail AS (
    INSERT INTO mail_messages (id, to_address, subject, body_text, template)
    SELECT :mail_id, email, :subject, format(:body, first_name), 'password_reset' FROM person RETURNING id
),
job AS (
    INSERT INTO outbox_jobs (function, args, job_id)
    SELECT 'deliver_mail', jsonb_build_array(CAST(:mail_id AS text)), 'mail:' || CAST(:mail_id AS text) FROM person
)
SELECT id FROM person
""")


async def request_reset(db: AsyncSession, redis: Redis, settings: Settings, email: str, *, ip: str | None) -> None:
    """Mails a reset link when the email has an account. The caller cannot tell which: the same answer, and
    the same work (a token, one statement, the audit row) either way, so the timing does not tell either."""
    may_mail = await throttle.password_reset_budget(redis, settings, email, ip)
    secret = tokens.new_secret(tokens.RESET_PREFIX)
    link = f"{settings.public_url}/reset-password?token={secret}"
    body = (
        "Hello %s,\n\nSomeone (perhaps you) asked to reset the password of this Caseload account. "
        f"Choose a new one here:\n\n{link}\n\nThe link works once and expires in {settings.password_reset_minutes} minutes. "
        "If it was not you, ignore this mail: your password stays as it is.\n"
        f"Reset token: {secret}\n"
    )
    mail_id = uuid.uuid4()
    user_id = await db.scalar(
        _REQUEST_RESET,
        {
            # Past the email's budget the same statement runs and matches nobody.
            "email": normalize_email(email) if may_mail else "",
            "token_id": uuid.uuid4(),
            "token_hash": tokens.digest(secret),
            "expires_at": clock.now() + timedelta(minutes=settings.password_reset_minutes),
            "mail_id": mail_id,
            "subject": "Reset your Caseload password",
            "body": body,
        },
    )
    db.info["outbox_pending"] = True  # the relay runs either way: its work does not tell either
    await audit.record(
        db, None, "auth.password_reset_requested", target_type="user", target_id=user_id,
        outcome="success" if user_id else "unknown_email",
    )
    security_event("security.password_reset_requested", user_id=user_id)


async def confirm_reset(db: AsyncSession, redis: Redis, settings: Settings, secret: str, new_password: str) -> None:
    token = await db.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == tokens.digest(secret)).with_for_update()
    )
    if token is None:
        raise Problem(404, "reset_token_unknown", "This reset link is not valid. Request a new one (POST /v1/auth/password-reset).")
    if token.used_at is not None:
        raise Problem(409, "reset_token_used", "This reset link was already used. Request a new one if you need to.")
    now = clock.now()
    if token.expires_at <= now:
        raise Problem(410, "reset_token_expired", "This reset link has expired. Request a new one (POST /v1/auth/password-reset).")
    user = await db.get(User, token.user_id, with_for_update=True)
    assert user is not None
    check_policy(new_password, user.email, "new_password")
    user.password_hash = await hash_password(new_password)
    # A mailbox link proves the address: an invited account that resets has verified it too.
    if user.email_verified_at is None:
        user.email_verified_at = now
    # Every outstanding link of this account is spent with this one.
    await db.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    ended = await _end_logins(db, user.id, keep=None)
    await db.flush()
    await audit.record(db, None, "auth.password_reset", target_type="user", target_id=user.id, logins_ended=ended)
    security_event("security.password_reset", user_id=user.id, logins_ended=ended)
    # The owner has proved the mailbox: failures counted against the account from anywhere are forgiven.
    await throttle.clear_account_failures(redis, user.email)
    await _notify_changed(db, settings, user)


async def change_password(
    db: AsyncSession, redis: Redis, settings: Settings, actor: Actor, *, current: str, new: str, ip: str | None
) -> None:
    user = await db.get(User, actor.id, with_for_update=True)
    assert user is not None
    # A stolen login token must not become a way to guess the password: the same throttle as login.
    await throttle.check_login_allowed(redis, settings, user.email, ip)
    if not await verify_password(user.password_hash, current):
        await throttle.record_login_failure(redis, settings, user.email, ip)
        await audit.record(db, actor, "auth.password_changed", target_type="user", target_id=user.id, outcome="failure")
        security_event("security.password_change_failed", user_id=user.id)
        raise CurrentPasswordWrong
    check_policy(new, user.email, "new_password")
    user.password_hash = await hash_password(new)
    ended = await _end_logins(db, user.id, keep=actor.session_id)
    await db.flush()
    await audit.record(db, actor, "auth.password_changed", target_type="user", target_id=user.id, logins_ended=ended)
    security_event("security.password_changed", user_id=user.id, logins_ended=ended)
    await _notify_changed(db, settings, user)


async def _end_logins(db: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None) -> int:
    query = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ended = await db.execute(query.values(revoked_at=clock.now()).returning(AuthSession.id))
    return len(ended.all())


async def _notify_changed(db: AsyncSession, settings: Settings, user: User) -> None:
    await send_mail(
        db,
        to=user.email,
        subject="Your Caseload password was changed",
        body=(
            f"Hello {user.first_name},\n\nThe password of your Caseload account was just changed, and every other "
            "login was ended.\nIf this was not you, reset your password now at "
            f"{settings.public_url}/forgot-password and tell your practice.\n"
        ),
        template="password_changed",
    )
