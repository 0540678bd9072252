"""Every ORM model, imported here so Alembic (and `Base.metadata`) sees them all."""

from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.groups import Group, Membership
from app.models.idempotency import IdempotencyRecord
from app.models.outbox import MailMessage, OutboxJob
from app.models.users import AuthSession, EmailVerificationToken, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "EmailVerificationToken",
    "Group",
    "IdempotencyRecord",
    "MailMessage",
    "Membership",
    "OutboxJob",
    "User",
]
