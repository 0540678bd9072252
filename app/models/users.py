"""People (A1) and what proves who they are: login sessions, email verification and password reset
tokens, two-factor secrets and recovery codes (A5-A7)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # A1: one account per email, whatever its case.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Null for an invited account that has not chosen a password yet.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = timestamp()
    is_staff: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # S12: the person's own choice to receive session reminders (booking, move and cancellation mail always go).
    session_reminders: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    created_at: Mapped[datetime] = stamped_now()
    # A6: the TOTP secret, AES-GCM encrypted (core/crypto.py); set at enrolment, in force once confirmed.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = timestamp()
    # The last 30-second step whose code was accepted: a code is never accepted twice (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class AuthSession(Base):
    """An opaque bearer token issued at login; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = stamped_now()
    last_seen_at: Mapped[datetime] = stamped_now()
    expires_at: Mapped[datetime] = timestamp(nullable=False)
    revoked_at: Mapped[datetime | None] = timestamp()
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # A6: a staff login without two-factor gets a session good only for enrolling in it.
    enrol_only: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)


class _MailedToken:
    """A mailed link's token: single-use, expiring; only its SHA-256 is stored."""

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = stamped_now()
    expires_at: Mapped[datetime] = timestamp(nullable=False)
    used_at: Mapped[datetime | None] = timestamp()


class EmailVerificationToken(_MailedToken, Base):
    """A2: the link that verifies an account's email."""

    __tablename__ = "email_verification_tokens"


class PasswordResetToken(_MailedToken, Base):
    """A5: the link to choose a new password."""

    __tablename__ = "password_reset_tokens"


class RecoveryCode(Base):
    """A6: one-time codes for when the authenticator is lost; shown once, only their SHA-256 is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = stamped_now()
    used_at: Mapped[datetime | None] = timestamp()
