"""Two-factor sign-in (A6): enrolment, confirmation, recovery codes, disabling, and checking a code.

The TOTP secret is AES-GCM encrypted at rest (core/crypto.py); recovery codes are stored as SHA-256.
"""

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import totp
from app.auth.events import security_event
from app.config import Settings
from app.core import audit, clock, crypto, tokens
from app.core.auth import Actor
from app.core.errors import Problem
from app.core.mail import send_mail
from app.models import AuthSession, RecoveryCode, User

_PURPOSE = "totp_secret"


def _secret(user: User) -> str:
    assert user.totp_secret_encrypted is not None
    return crypto.decrypt(user.totp_secret_encrypted, purpose=_PURPOSE)


def _recovery_digest(code: str) -> bytes:
    return tokens.digest("recovery:" + totp.normalize_recovery_code(code))


async def _locked_user(db: AsyncSession, actor: Actor) -> User:
    user = await db.get(User, actor.id, with_for_update=True)
    assert user is not None
    return user


async def accept_code(db: AsyncSession, user: User, code: str) -> bool:
    """A code from the authenticator (never the same step twice) or an unused recovery code (used up)."""
    code = code.strip()
    if user.totp_secret_encrypted is None:
        return False
    if totp.looks_like_totp(code):
        step = totp.matching_step(_secret(user), code, clock.now())
        if step is None:
            return False
        # Conditional update: of two requests with the same code, exactly one wins (no replay).
        accepted = await db.scalar(
            update(User)
            .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step)
            .returning(User.id)
        )
        return accepted is not None
    used = await db.scalar(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
        .returning(RecoveryCode.id)
    )
    if used is None:
        return False
    await audit.record(db, None, "two_factor.recovery_code_used", target_type="user", target_id=user.id)
    security_event("security.recovery_code_used", user_id=user.id)
    return True


async def enrol(db: AsyncSession, actor: Actor) -> tuple[str, str]:
    """A new secret (replacing one not yet confirmed); returns it and its `otpauth://` URI."""
    user = await _locked_user(db, actor)
    if user.totp_enabled_at is not None:
        raise Problem(409, "two_factor_already_enabled", "Two-factor sign-in is already on. Disable it first to enrol a new authenticator.")
    secret = totp.new_secret()
    user.totp_secret_encrypted = crypto.encrypt(secret, purpose=_PURPOSE)
    user.totp_last_step = None
    await db.flush()
    await audit.record(db, actor, "two_factor.enrolment_started", target_type="user", target_id=user.id)
    return secret, totp.provisioning_uri(secret, user.email)


async def confirm(db: AsyncSession, settings: Settings, actor: Actor, code: str) -> list[str]:
    """Turns two-factor on with a first code; returns ten recovery codes (shown this once)."""
    user = await _locked_user(db, actor)
    if user.totp_enabled_at is not None:
        raise Problem(409, "two_factor_already_enabled", "Two-factor sign-in is already on.")
    if user.totp_secret_encrypted is None:
        raise Problem(409, "two_factor_not_enrolled", "Start with POST /v1/me/two-factor, then confirm with a code from the authenticator.")
    if not await accept_code(db, user, code):
        raise Problem(409, "invalid_otp", "That code is wrong or was already used. Enter the current code from the authenticator.")
    user.totp_enabled_at = clock.now()
    codes = await _replace_recovery_codes(db, user)
    # Every other login was opened with the password alone: it ends. This one proved the code. A staff
    # login made for enrolling becomes a full one.
    await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None), AuthSession.id != actor.session_id)
        .values(revoked_at=clock.now())
    )
    await db.execute(update(AuthSession).where(AuthSession.id == actor.session_id).values(enrol_only=False))
    await db.flush()
    await audit.record(db, actor, "two_factor.enabled", target_type="user", target_id=user.id)
    security_event("security.two_factor_enabled", user_id=user.id)
    await _notify(db, settings, user, "Two-factor sign-in is on", "Two-factor sign-in was turned on for your Caseload account.")
    return codes


async def disable(db: AsyncSession, settings: Settings, actor: Actor, code: str) -> None:
    user = await _locked_user(db, actor)
    if user.totp_enabled_at is None:
        raise Problem(409, "two_factor_not_enabled", "Two-factor sign-in is not on for this account.")
    if user.is_staff:
        raise Problem(409, "two_factor_required_for_staff", "Staff accounts keep two-factor sign-in. To change authenticator, ask another staff member.")
    if not await accept_code(db, user, code):
        raise Problem(409, "invalid_otp", "That code is wrong or was already used. Enter the current code, or a recovery code.")
    user.totp_enabled_at = None
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await db.flush()
    await audit.record(db, actor, "two_factor.disabled", target_type="user", target_id=user.id)
    security_event("security.two_factor_disabled", user_id=user.id)
    await _notify(
        db, settings, user, "Two-factor sign-in is off",
        "Two-factor sign-in was turned off for your Caseload account. If this was not you, reset your password now.",
    )


async def regenerate_recovery_codes(db: AsyncSession, actor: Actor, code: str) -> list[str]:
    user = await _locked_user(db, actor)
    if user.totp_enabled_at is None:
        raise Problem(409, "two_factor_not_enabled", "Two-factor sign-in is not on for this account.")
    if not await accept_code(db, user, code):
        raise Problem(409, "invalid_otp", "That code is wrong or was already used. Enter the current code from the authenticator.")
    codes = await _replace_recovery_codes(db, user)
    await audit.record(db, actor, "two_factor.recovery_codes_replaced", target_type="user", target_id=user.id)
    security_event("security.recovery_codes_replaced", user_id=user.id)
    return codes


async def status(db: AsyncSession, actor: Actor) -> tuple[bool, int]:
    user = await db.get(User, actor.id)
    assert user is not None
    left = await db.scalar(
        select(func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return user.totp_enabled_at is not None, int(left or 0)


async def _replace_recovery_codes(db: AsyncSession, user: User) -> list[str]:
    codes = totp.new_recovery_codes()
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await db.execute(insert(RecoveryCode), [{"user_id": user.id, "code_hash": _recovery_digest(c)} for c in codes])
    return codes


async def _notify(db: AsyncSession, settings: Settings, user: User, subject: str, line: str) -> None:
    await send_mail(
        db,
        to=user.email,
        subject=subject,
        body=f"Hello {user.first_name},\n\n{line}\n\nManage sign-in at {settings.public_url}/account/security.\n",
        template="two_factor_changed",
    )
