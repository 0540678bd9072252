"""User accounts (A1): one per email whatever its case, and the tokens that prove a mailbox."""

import uuid
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import tokens
from app.core.passwords import hash_password
from app.models import EmailVerificationToken, User


def normalize_email(email: str) -> str:
    """The one spelling stored and compared: trimmed, lower case (A1: unique whatever the case)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return email.strip().lower()


async def find_user_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    first_name: str,
    last_name: str,
    password: str | None = None,
    verified: bool = False,
    is_staff: bool = False,
) -> User:
    """A new account; without a password it is an invited one, completed by accepting the invitation."""
    user = User(
        id=uuid.uuid4(),
        email=normalize_email(email),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        password_hash=await hash_password(password) if password else None,
        email_verified_at=func.now() if verified else None,
        is_staff=is_staff,
    )
    db.add(user)
    await db.flush()
    return user


def issue_verification_token(db: AsyncSession, user: User) -> str:
    """A2: a single-use, expiring token for the user's mailbox; returns the secret for the link."""
    secret = tokens.new_secret(tokens.VERIFICATION_PREFIX)
    db.add(
        EmailVerificationToken(
            user_id=user.id,
            token_hash=tokens.digest(secret),
            expires_at=func.now() + timedelta(hours=get_settings().verification_token_hours),
        )
    )
    return secret
