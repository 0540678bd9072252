"""Every ORM model, imported here so Alembic (and `Base.metadata`) sees them all."""

from app.models.api_keys import ApiKey
from app.models.audit import AuditChainHead, AuditEvent
from app.models.availability import BookingSettings, ProviderAvailability, ProviderLicense, TimeOff, WeeklyHours
from app.models.clients import (
    Acknowledgement,
    BillingMethod,
    Client,
    ClientDocument,
    Conversation,
    InsurancePolicy,
    Message,
    PracticeInsurance,
    RosterEntry,
)
from app.models.groups import AdminGrant, CancellationPolicy, Group, Membership
from app.models.idempotency import IdempotencyRecord
from app.models.invitations import Invitation
from app.models.imports import ClientImport, ImportMapping, ImportRow
from app.models.outbox import MailMessage, OutboxJob
from app.models.payouts import EarningLine, Payout
from app.models.practice import BankAccount, BankAccountChange, IdentityVerification, Rate
from app.models.providers import IntakeForm, PracticeLocation, ProviderProfile
from app.models.sessions import SessionNotice, TherapySession
from app.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.models.users import AuthSession, EmailVerificationToken, PasswordResetToken, RecoveryCode, User
from app.core.db import Base
from app.models.foreign_key_indexes import index_foreign_keys

index_foreign_keys(Base.metadata)

__all__ = [
    "BookingSettings",
    "ProviderAvailability",
    "ProviderLicense",
    "TimeOff",
    "WeeklyHours",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Invitation",
    "PracticeInsurance",
    "SessionNotice",
    "TherapySession",
    "Payout",
    "EarningLine",
    "ImportRow",
    "ClientImport",
    "ImportMapping",
    "Acknowledgement",
    "BillingMethod",
    "Client",
    "ClientDocument",
    "Conversation",
    "InsurancePolicy",
    "Message",
    "RosterEntry",
    "AdminGrant",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "AuthSession",
    "PasswordResetToken",
    "RecoveryCode",
    "BankAccount",
    "BankAccountChange",
    "CancellationPolicy",
    "EmailVerificationToken",
    "Group",
    "IdempotencyRecord",
    "IdentityVerification",
    "IntakeForm",
    "MailMessage",
    "Membership",
    "OutboxJob",
    "PracticeLocation",
    "ProviderProfile",
    "Rate",
    "User",
]
